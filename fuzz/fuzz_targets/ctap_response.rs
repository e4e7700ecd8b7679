//! Arbitrary bytes as a security key's answers, read where latchkeyd reads them: the device
//! worker relays a key's bytes unchanged, so a hostile key's CTAP2 responses, authenticator data,
//! COSE keys, attestation objects and U2F answers are parsed in latchkeyd itself.
//!
//! The first byte chooses what the rest is read as. Properties: no panic; no allocation beyond
//! what the input bounds (libFuzzer's `-rss_limit_mb` and `-malloc_limit_mb` catch that); a
//! response the strict reader accepts, the lenient reader (the one used for keys that write
//! unsorted maps) accepts as the same value; a response either reader accepts re-encodes to
//! canonical bytes that read back to it; so do authenticator data, COSE keys and attestation
//! objects; a U2F answer that parses re-encodes to the input.
#![no_main]

use std::fmt::Debug;

use latchkey_ctap::authdata::{AttestationObject, AuthenticatorData};
use latchkey_ctap::cbor::{self, FromValue, ToValue};
use latchkey_ctap::command::{
    decode_response, decode_response_lenient, ClientPinResponse, CredentialManagementResponse,
    GetAssertionResponse, GetInfoResponse, LargeBlobsResponse, MakeCredentialResponse,
};
use latchkey_ctap::cose::CoseKey;
use latchkey_ctap::u2f::{AuthenticateResponse, RegisterResponse};
use latchkey_ctap::StatusCode;
use libfuzzer_sys::fuzz_target;

/// One response type through both readers, then through its own encoding.
fn response<T: FromValue + ToValue + PartialEq + Debug>(message: &[u8]) {
    let strict = decode_response::<T>(message);
    let lenient = decode_response_lenient::<T>(message);
    if let Ok(value) = &strict {
        assert_eq!(lenient.as_ref().ok(), Some(value), "the readers disagree");
    }
    if let Ok(value) = lenient {
        let mut again = vec![u8::from(StatusCode::Ok)];
        cbor::encode_into(&value.to_value(), &mut again);
        assert_eq!(decode_response::<T>(&again).as_ref(), Ok(&value));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 10 {
        0 => response::<GetInfoResponse>(rest),
        1 => {
            response::<MakeCredentialResponse>(rest);
            // What the client does next with a makeCredential answer: read its authData.
            if let Ok(made) = decode_response_lenient::<MakeCredentialResponse>(rest) {
                let _ = AuthenticatorData::parse(&made.auth_data);
            }
        }
        2 => {
            response::<GetAssertionResponse>(rest);
            if let Ok(got) = decode_response_lenient::<GetAssertionResponse>(rest) {
                let _ = AuthenticatorData::parse(&got.auth_data);
            }
        }
        3 => response::<ClientPinResponse>(rest),
        4 => response::<CredentialManagementResponse>(rest),
        5 => response::<LargeBlobsResponse>(rest),
        6 => {
            // Extension outputs the client does not know are dropped, so the re-encoding may be
            // shorter than the input (the client signs and sends the bytes as received); read
            // again, it is the same.
            if let Ok(parsed) = AuthenticatorData::parse(rest) {
                assert_eq!(AuthenticatorData::parse(&parsed.to_bytes()), Ok(parsed));
            }
        }
        7 => {
            if let Ok(key) = CoseKey::from_bytes(rest) {
                assert_eq!(CoseKey::from_bytes(&cbor::encode(&key.to_value())), Ok(key));
            }
        }
        8 => {
            if let Ok(att) = AttestationObject::from_bytes(rest) {
                let _ = AuthenticatorData::parse(&att.auth_data);
                assert_eq!(AttestationObject::from_bytes(&att.to_bytes()), Ok(att));
            }
        }
        _ => {
            if let Ok(r) = RegisterResponse::parse(rest) {
                assert_eq!(r.to_bytes(), rest);
            }
            if let Ok(r) = AuthenticateResponse::parse(rest) {
                assert_eq!(r.to_bytes(), rest);
            }
        }
    }
});
