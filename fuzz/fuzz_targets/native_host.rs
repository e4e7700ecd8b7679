//! Arbitrary bytes as the browser's side of the native messaging stream
//! (`crates/native-host/src/framing.rs`, `message.rs`): length-prefixed frames read one after
//! another until the stream ends or breaks, each frame through the request parser. The stream is
//! read twice: with the host's limit, and with a limit of 64 bytes so that skipping an oversized
//! frame is exercised within libFuzzer's input sizes.
//!
//! Properties: no panic; no allocation beyond what the input bounds (libFuzzer's
//! `-malloc_limit_mb` catches a buffer sized from an announced length); every frame read is
//! within the limit and consumes exactly its prefix and body; an oversized frame is skipped
//! whole, so the next read starts right after it; a truncated stream is reported at its end; a
//! frame the parser refuses gets an error reply of bounded size carrying the frame's `id` when
//! it has one; a parsed request's id is the one in the frame.
#![no_main]

use std::io::Cursor;

use latchkey_native_host::framing::{self, FrameError, MAX_INCOMING};
use latchkey_native_host::message::{self, MAX_ERROR_MESSAGE};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn read_all(data: &[u8], max: usize) {
    let mut r = Cursor::new(data);
    let end = data.len() as u64;
    loop {
        let start = r.position();
        match framing::read_frame_limited(&mut r, max) {
            Ok(None) => {
                assert_eq!(start, end, "a clean end only at the end");
                return;
            }
            Ok(Some(frame)) => {
                assert!(frame.len() <= max);
                assert_eq!(r.position() - start, 4 + frame.len() as u64);
                check_request(&frame);
            }
            Err(FrameError::TooLarge { len, max: m }) => {
                assert_eq!(m, max);
                assert!(len > max);
                assert_eq!(r.position() - start, 4 + len as u64, "skipped whole");
            }
            Err(FrameError::Truncated) => {
                assert_eq!(r.position(), end, "truncated only at the end");
                return;
            }
            Err(FrameError::Io(e)) => panic!("reading a slice failed: {e}"),
        }
    }
}

fn check_request(frame: &[u8]) {
    let id_in_frame = serde_json::from_slice::<Value>(frame)
        .ok()
        .and_then(|v| v.get("id").and_then(Value::as_u64));
    match message::parse_request(frame) {
        Ok(request) => assert_eq!(Some(request.id().0), id_in_frame),
        Err(reply) => {
            assert_eq!(reply["type"], "error");
            assert_eq!(reply["name"], "TypeError");
            assert_eq!(reply["id"].as_u64(), id_in_frame);
            let message = reply["message"].as_str().unwrap_or_default();
            assert!(message.len() <= MAX_ERROR_MESSAGE);
            let bytes = serde_json::to_vec(&reply).unwrap_or_default();
            // The message escaped as JSON (at most 6 bytes a byte), the id and the members.
            assert!(bytes.len() <= 6 * MAX_ERROR_MESSAGE + 128, "{}", bytes.len());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    read_all(data, MAX_INCOMING);
    read_all(data, 64);
});
