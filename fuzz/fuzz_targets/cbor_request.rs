//! Arbitrary bytes through the CTAP2 request parser (`command byte ‖ CBOR`).
//!
//! Properties: no panic; no allocation beyond what the input bounds (libFuzzer's
//! `-rss_limit_mb` and `-malloc_limit_mb` catch that); the CBOR reader accepts only canonical
//! input and the lenient reader agrees with it there; an accepted request re-encodes to bytes that parse to the same request.
#![no_main]

use latchkey_ctap::cbor;
use latchkey_ctap::command::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(body) = data.get(1..) {
        let lenient = cbor::decode_lenient(body);
        if let Ok(value) = cbor::decode(body) {
            assert_eq!(cbor::encode(&value), body);
            assert_eq!(lenient.as_ref(), Ok(&value));
        } else if let Ok(value) = lenient {
            assert_eq!(cbor::decode(&cbor::encode(&value)), Ok(value));
        }
    }
    if let Ok(request) = Request::decode(data) {
        let encoded = request.encode();
        let again = Request::decode(&encoded);
        assert_eq!(again.as_ref(), Ok(&request));
    }
});
