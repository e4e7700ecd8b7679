//! Arbitrary bytes through the platform worker's message decoders (latchkeyd ↔
//! `latchkey-platform-worker`, `crates/worker/src/protocol.rs`), both directions: the
//! worker reads requests from latchkeyd, latchkeyd reads replies from a worker that may have been
//! compromised.
//!
//! Properties: no panic; no allocation beyond what the input bounds (libFuzzer's
//! `-rss_limit_mb` and `-malloc_limit_mb` catch that); a message that breaks a rule is refused
//! with a reason, and one longer than the message limit is refused as too large; a decoded
//! message re-encodes within the message limit to bytes that decode to the same message.
#![no_main]

use latchkey_worker::protocol::{Message, Reason, Reply, Request, MAX_MESSAGE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = Request::decode(data);
    let reply = Reply::decode(data);
    if data.len() > MAX_MESSAGE {
        assert!(matches!(request, Err(ref m) if m.reason == Reason::TooLarge(data.len())));
        assert!(matches!(reply, Err(ref m) if m.reason == Reason::TooLarge(data.len())));
        return;
    }
    if let Ok(Message { seq, body }) = request {
        assert!(seq >= 1, "a request's seq is at least 1");
        let bytes = body.encode(seq);
        assert!(bytes.len() <= MAX_MESSAGE);
        assert_eq!(Request::decode(&bytes), Ok(Message { seq, body }));
    }
    if let Ok(Message { seq, body }) = reply {
        let bytes = body.encode(seq);
        assert!(bytes.len() <= MAX_MESSAGE);
        assert_eq!(Reply::decode(&bytes), Ok(Message { seq, body }));
    }
});
