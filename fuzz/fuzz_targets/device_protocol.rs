//! Arbitrary bytes through the device worker's protocol (latchkeyd ↔ `latchkey-device-worker`,
//! `crates/worker/src/protocol/device.rs` on `latchkey_ctap`'s canonical CBOR), both directions:
//! the worker reads requests from latchkeyd, and latchkeyd reads replies from a worker that meets
//! hostile security keys first and may have been taken over by one.
//!
//! Properties: no panic; no allocation beyond what the input bounds (libFuzzer's
//! `-rss_limit_mb` and `-malloc_limit_mb` catch that); a message longer than the limit is refused
//! as too large; a decoded message has exactly one encoding, the input itself (canonical CBOR
//! only, unknown keys refused) and keeps every field within its bound (key requests and answers,
//! spec lists and specs, names, failure codes). Then the input, cut at each 0xff byte into
//! messages, is decoded piece by piece as a stream of replies, as latchkeyd's reader takes them.
#![no_main]

use latchkey_worker::protocol::device::{
    DeviceReply, DeviceRequest, MAX_KEY_REQUEST, MAX_NAME, MAX_SPEC, MAX_SPECS,
};
use latchkey_worker::protocol::{Message, ProtocolError, MAX_MESSAGE};
use libfuzzer_sys::fuzz_target;

fn check_request(request: &DeviceRequest) {
    match request {
        DeviceRequest::Acquire { specs, .. } => {
            assert!(specs.len() <= MAX_SPECS);
            assert!(specs.iter().all(|s| !s.0.is_empty() && s.0.len() <= MAX_SPEC));
        }
        DeviceRequest::Cbor { request, .. } => {
            assert!(!request.is_empty() && request.len() <= MAX_KEY_REQUEST)
        }
        DeviceRequest::Msg { apdu, .. } => {
            assert!(!apdu.is_empty() && apdu.len() <= MAX_KEY_REQUEST)
        }
        DeviceRequest::Stop {} | DeviceRequest::Cancel { .. } | DeviceRequest::Close { .. } => {}
    }
}

fn check_reply(reply: &DeviceReply) {
    match reply {
        DeviceReply::Opened {
            name,
            path,
            transport,
            ..
        } => {
            assert!(name.len() <= MAX_NAME && path.len() <= MAX_SPEC);
            assert!((1..=3).contains(transport));
        }
        DeviceReply::Failed { code, .. } => assert!((1..=8).contains(code)),
        DeviceReply::Answer { response } => assert!(!response.is_empty()),
        DeviceReply::Ready { .. } | DeviceReply::Listed {} | DeviceReply::Keepalive { .. } => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let request = Message::<DeviceRequest>::decode(data);
    let reply = Message::<DeviceReply>::decode(data);
    if data.len() > MAX_MESSAGE {
        let too_large = ProtocolError::TooLarge {
            len: data.len(),
            max: MAX_MESSAGE,
        };
        assert!(matches!(request, Err(ref m) if m.error == too_large));
        assert!(matches!(reply, Err(ref m) if m.error == too_large));
        return;
    }
    if let Ok(message) = request {
        check_request(&message.body);
        assert_eq!(message.encode().as_deref(), Ok(data), "one encoding per request");
    }
    if let Ok(message) = reply {
        check_reply(&message.body);
        assert_eq!(message.encode().as_deref(), Ok(data), "one encoding per reply");
    }
    for part in data.split(|b| *b == 0xff) {
        if let Ok(message) = Message::<DeviceReply>::decode(part) {
            check_reply(&message.body);
            assert_eq!(message.encode().as_deref(), Ok(part));
        }
    }
});
