//! Native messaging framing: each message is UTF-8 JSON preceded by its length as a 32-bit
//! unsigned integer in native byte order.
//!
//! Specs: Chrome "Native messaging protocol"
//! (<https://developer.chrome.com/docs/extensions/develop/concepts/native-messaging#native-messaging-host-protocol>)
//! and MDN "Native messaging — App side"
//! (<https://developer.mozilla.org/en-US/docs/Mozilla/Add-ons/WebExtensions/Native_messaging#app_side>).
//! Browsers accept at most 1 MB from the host and send at most 64 MiB to it. Our requests carry
//! options latchkeyd caps at 64 KiB, so we refuse anything over [`MAX_INCOMING`] long before the
//! browser's limit, and never emit a frame over [`MAX_OUTGOING`]. A refused message is read and
//! thrown away, so the stream stays in step and one oversized request fails alone; memory grows
//! with the bytes that arrive, never with a length a peer announces.

use std::io::{ErrorKind, Read, Write};

/// Largest message the host accepts from the browser (1 MiB; latchkeyd caps options at 64 KiB).
pub const MAX_INCOMING: usize = 1 << 20;
/// Largest message the host sends (Chromium and Firefox drop host messages over 1 MB).
pub const MAX_OUTGOING: usize = 1_000_000;

/// The most body bytes [`read_frame`] reserves before they arrive.
const INITIAL_BODY: usize = 64 * 1024;

/// A framing failure.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A message longer than we accept. When reading, its body has been read and discarded: the
    /// next read starts at the next message.
    #[error("message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The announced or actual length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The stream ended inside a length prefix or message body.
    #[error("the stream ended inside a message")]
    Truncated,
    /// Reading or writing stdio failed.
    #[error("stdio: {0}")]
    Io(#[from] std::io::Error),
}

/// Frames `json` for the browser.
pub fn encode(json: &[u8]) -> Result<Vec<u8>, FrameError> {
    if json.len() > MAX_OUTGOING {
        return Err(FrameError::TooLarge {
            len: json.len(),
            max: MAX_OUTGOING,
        });
    }
    let len = u32::try_from(json.len()).map_err(|_| FrameError::TooLarge {
        len: json.len(),
        max: MAX_OUTGOING,
    })?;
    let mut out = Vec::with_capacity(4 + json.len());
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(json);
    Ok(out)
}

/// Writes one framed message and flushes.
pub fn write_frame<W: Write>(w: &mut W, json: &[u8]) -> Result<(), FrameError> {
    let frame = encode(json)?;
    w.write_all(&frame)?;
    w.flush()?;
    Ok(())
}

/// Reads one message; `Ok(None)` at a clean end of stream (the browser closed the port). A
/// message over [`MAX_INCOMING`] is skipped and reported as [`FrameError::TooLarge`]; after
/// [`FrameError::Truncated`] or [`FrameError::Io`] the stream is unusable.
pub fn read_frame<R: Read>(r: &mut R) -> Result<Option<Vec<u8>>, FrameError> {
    read_frame_limited(r, MAX_INCOMING)
}

/// [`read_frame`] with another limit than [`MAX_INCOMING`] (for tests and fuzzing).
pub fn read_frame_limited<R: Read>(r: &mut R, max: usize) -> Result<Option<Vec<u8>>, FrameError> {
    let mut prefix = [0u8; 4];
    let mut got = 0;
    while got < prefix.len() {
        match r.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let announced = u64::from(u32::from_ne_bytes(prefix));
    let len = usize::try_from(announced).unwrap_or(usize::MAX);
    if len > max {
        let skipped = std::io::copy(&mut r.by_ref().take(announced), &mut std::io::sink())?;
        if skipped < announced {
            return Err(FrameError::Truncated);
        }
        return Err(FrameError::TooLarge { len, max });
    }
    let mut body = Vec::with_capacity(len.min(INITIAL_BODY));
    r.by_ref().take(announced).read_to_end(&mut body)?;
    if body.len() < len {
        return Err(FrameError::Truncated);
    }
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn round_trips_in_native_byte_order() {
        let frame = encode(br#"{"a":1}"#).unwrap();
        assert_eq!(&frame[..4], &7u32.to_ne_bytes());
        assert_eq!(&frame[4..], br#"{"a":1}"#);
        let mut two = frame.clone();
        two.extend_from_slice(&encode(b"[]").unwrap());
        let mut r = Cursor::new(two);
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), br#"{"a":1}"#);
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), b"[]");
        assert!(read_frame(&mut r).unwrap().is_none());
    }

    #[test]
    fn skips_an_oversized_message_and_reads_the_next() {
        let len = MAX_INCOMING + 1;
        let mut bytes = u32::try_from(len).unwrap().to_ne_bytes().to_vec();
        bytes.extend(std::iter::repeat_n(b'x', len));
        bytes.extend_from_slice(&encode(br#"{"id":2}"#).unwrap());
        let mut r = Cursor::new(bytes);
        match read_frame(&mut r) {
            Err(FrameError::TooLarge { len, max }) => {
                assert_eq!(len, MAX_INCOMING + 1);
                assert_eq!(max, MAX_INCOMING);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), br#"{"id":2}"#);
        assert!(read_frame(&mut r).unwrap().is_none());
    }

    #[test]
    fn an_announced_length_without_its_bytes_is_truncated_not_allocated() {
        // The browser's own 64 MiB bound is far above ours; 4 GiB announced, 3 bytes sent.
        let mut bytes = u32::MAX.to_ne_bytes().to_vec();
        bytes.extend_from_slice(b"abc");
        assert!(matches!(
            read_frame(&mut Cursor::new(bytes)),
            Err(FrameError::Truncated)
        ));
        let mut bytes = 1000u32.to_ne_bytes().to_vec();
        bytes.extend_from_slice(b"abc");
        assert!(matches!(
            read_frame_limited(&mut Cursor::new(bytes), 2000),
            Err(FrameError::Truncated)
        ));
    }

    #[test]
    fn a_lower_limit_applies_the_same_way() {
        let mut bytes = encode(b"12345").unwrap();
        bytes.extend_from_slice(&encode(b"1234").unwrap());
        let mut r = Cursor::new(bytes);
        assert!(matches!(
            read_frame_limited(&mut r, 4),
            Err(FrameError::TooLarge { len: 5, max: 4 })
        ));
        assert_eq!(read_frame_limited(&mut r, 4).unwrap().unwrap(), b"1234");
    }

    #[test]
    fn accepts_exactly_the_incoming_limit() {
        let body = vec![b' '; MAX_INCOMING];
        let mut bytes = u32::try_from(MAX_INCOMING).unwrap().to_ne_bytes().to_vec();
        bytes.extend_from_slice(&body);
        assert_eq!(
            read_frame(&mut Cursor::new(bytes)).unwrap().unwrap().len(),
            MAX_INCOMING
        );
    }

    #[test]
    fn refuses_oversized_outgoing() {
        assert!(encode(&vec![b'x'; MAX_OUTGOING]).is_ok());
        assert!(matches!(
            encode(&vec![b'x'; MAX_OUTGOING + 1]),
            Err(FrameError::TooLarge { len, max: MAX_OUTGOING }) if len == MAX_OUTGOING + 1
        ));
    }

    #[test]
    fn truncated_prefix_and_body_are_errors() {
        let mut r = Cursor::new(vec![5, 0]);
        assert!(matches!(read_frame(&mut r), Err(FrameError::Truncated)));
        let mut bytes = 5u32.to_ne_bytes().to_vec();
        bytes.extend_from_slice(b"ab");
        assert!(matches!(
            read_frame(&mut Cursor::new(bytes)),
            Err(FrameError::Truncated)
        ));
    }
}
