//! PINs over file descriptors: latchkeyd makes a pipe, passes the write end to the prompt, and
//! reads at most [`MAX_PIN`] bytes from the non-blocking read end into zeroising memory.

use std::io::{self, Read as _};
use std::os::fd::OwnedFd;

use zeroize::Zeroizing;

use crate::Pin;

/// Longest PIN accepted (CTAP 2.1 §6.5.5.5 allows 63 bytes; a little slack to detect overlong).
pub const MAX_PIN: usize = 255;

/// A pipe whose read end is non-blocking and both ends close-on-exec: `(reader, writer)`.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    rustix::fs::fcntl_setfl(&r, rustix::fs::OFlags::NONBLOCK)?;
    Ok((r, w))
}

/// Reads the PIN the prompt wrote; never blocks (a prompt that keeps the pipe open without
/// writing yields an empty, refused PIN).
pub fn read_pin(reader: OwnedFd) -> io::Result<Pin> {
    let mut file = std::fs::File::from(reader);
    let mut buf = Zeroizing::new(vec![0u8; MAX_PIN + 1]);
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    if len == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "empty PIN"));
    }
    if len > MAX_PIN {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "PIN too long"));
    }
    let pin = Zeroizing::new(buf[..len].to_vec());
    Ok(Pin::new(pin))
}

/// Writes `pin` into a sink fd received over D-Bus and closes it (the prompt side).
pub fn write_pin(sink: OwnedFd, pin: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::File::from(sink);
    f.write_all(pin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let (r, w) = pipe().unwrap();
        write_pin(w, b"1234").unwrap();
        assert_eq!(read_pin(r).unwrap().expose(), b"1234");
        assert_eq!(
            format!("{:?}", Pin::new(Zeroizing::new(b"1234".to_vec()))),
            "Pin(<redacted>)"
        );

        let (r, w) = pipe().unwrap();
        write_pin(w, &[b'9'; MAX_PIN + 1]).unwrap();
        assert_eq!(read_pin(r).unwrap_err().kind(), io::ErrorKind::InvalidData);

        // A writer that never writes nor closes: no hang, refused.
        let (r, _w) = pipe().unwrap();
        assert_eq!(read_pin(r).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
