//! Response codecs: round trips, a hand-checked GetInfo vector, status handling.

use super::*;
use crate::authdata::AttestationStatement;
use crate::cbor::MapBuilder;
use crate::cose::P256Point;
use crate::entity::{
    CoseAlgorithm, CredentialDescriptor, CredentialParameters, RpEntity, UserEntity, UserId,
};
use crate::extensions::CredProtect;
use crate::status::StatusCode;
use std::collections::BTreeMap;

fn point() -> P256Point {
    P256Point {
        x: [0x11; 32],
        y: [0x22; 32],
    }
}

pub(crate) fn sample_get_info() -> GetInfoResponse {
    let mut options = BTreeMap::new();
    options.insert("rk".to_owned(), true);
    options.insert("up".to_owned(), true);
    options.insert("plat".to_owned(), false);
    options.insert("clientPin".to_owned(), false);
    GetInfoResponse {
        versions: vec!["U2F_V2".into(), "FIDO_2_0".into(), "FIDO_2_1".into()],
        extensions: Some(vec!["credProtect".into(), "hmac-secret".into()]),
        aaguid: Aaguid([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
        options: Some(options),
        max_msg_size: Some(1200),
        pin_uv_auth_protocols: Some(vec![2, 1]),
        algorithms: Some(vec![CredentialParameters {
            alg: CoseAlgorithm::ES256,
        }]),
        min_pin_length: Some(4),
        firmware_version: Some(0x0001_0203),
        ..GetInfoResponse::default()
    }
}

#[test]
fn get_info_encodes_to_a_hand_checked_vector() {
    let text = |s: &str| -> Vec<u8> { [&[0x60 | s.len() as u8][..], s.as_bytes()].concat() };
    let mut expected = vec![0x00, 0xa9]; // status OK, map of 9
    expected.extend([0x01, 0x83]);
    expected.extend(text("U2F_V2"));
    expected.extend(text("FIDO_2_0"));
    expected.extend(text("FIDO_2_1"));
    expected.extend([0x02, 0x82]);
    expected.extend(text("credProtect"));
    expected.extend(text("hmac-secret"));
    expected.extend([0x03, 0x50]);
    expected.extend(0u8..16);
    // options: "rk" < "up" (same length, bytewise) < "plat" < "clientPin" (length first).
    expected.extend([0x04, 0xa4]);
    expected.extend(text("rk"));
    expected.push(0xf5);
    expected.extend(text("up"));
    expected.push(0xf5);
    expected.extend(text("plat"));
    expected.push(0xf4);
    expected.extend(text("clientPin"));
    expected.push(0xf4);
    expected.extend([0x05, 0x19, 0x04, 0xb0]); // 1200
    expected.extend([0x06, 0x82, 0x02, 0x01]);
    expected.extend([0x0a, 0x81, 0xa2]);
    expected.extend(text("alg"));
    expected.push(0x26); // -7
    expected.extend(text("type"));
    expected.extend(text("public-key"));
    expected.extend([0x0d, 0x04]);
    expected.extend([0x0e, 0x1a, 0x00, 0x01, 0x02, 0x03]);
    let info = sample_get_info();
    assert_eq!(Response::GetInfo(info.clone()).encode(), expected);
    assert_eq!(decode_response::<GetInfoResponse>(&expected).unwrap(), info);
    assert_eq!(info.option("rk"), Some(true));
    assert_eq!(info.option("uv"), None);
}

#[test]
fn every_response_round_trips() {
    fn rt<T: FromValue + ToValue + PartialEq + core::fmt::Debug>(
        r: T,
        wrap: fn(T) -> Response,
    ) -> T {
        let bytes = wrap(r).encode();
        let back: T = decode_response(&bytes).unwrap();
        back
    }
    let mc = MakeCredentialResponse {
        auth_data: vec![1; 37],
        att_stmt: AttestationStatement::Packed {
            alg: CoseAlgorithm::ES256,
            sig: vec![2; 70],
            x5c: Some(vec![vec![3; 100]]),
        },
        ep_att: Some(false),
        large_blob_key: Some(vec![4; 32]),
        unsigned_extension_outputs: Some(MapBuilder::new().insert("x", 1).build()),
    };
    assert_eq!(rt(mc.clone(), Response::MakeCredential), mc);
    let ga = GetAssertionResponse {
        credential: Some(CredentialDescriptor::public_key(vec![5; 16])),
        auth_data: vec![1; 37],
        signature: vec![6; 71],
        user: Some(UserEntity {
            id: UserId::new(vec![7]).unwrap(),
            name: Some("a".into()),
            display_name: None,
        }),
        number_of_credentials: Some(2),
        user_selected: Some(true),
        large_blob_key: None,
        unsigned_extension_outputs: None,
    };
    assert_eq!(rt(ga.clone(), Response::GetAssertion), ga);
    let pin = ClientPinResponse {
        key_agreement: Some(point()),
        pin_uv_auth_token: Some(vec![1; 48]),
        pin_retries: Some(8),
        power_cycle_state: Some(false),
        uv_retries: Some(3),
    };
    assert_eq!(rt(pin.clone(), Response::ClientPin), pin);
    let cm = CredentialManagementResponse {
        existing_resident_credentials_count: Some(3),
        max_possible_remaining_resident_credentials_count: Some(22),
        rp: Some(RpEntity {
            id: "example.com".into(),
            name: None,
        }),
        rp_id_hash: Some([9; 32]),
        total_rps: Some(1),
        user: None,
        credential_id: Some(CredentialDescriptor::public_key(vec![5; 16])),
        public_key: Some(crate::cose::CoseKey::Ed25519([8; 32])),
        total_credentials: Some(1),
        cred_protect: Some(CredProtect::UserVerificationOptional),
        large_blob_key: Some(vec![1; 32]),
        third_party_payment: Some(false),
    };
    assert_eq!(rt(cm.clone(), Response::CredentialManagement), cm);
    let lb = LargeBlobsResponse {
        config: Some(vec![0x80, 1, 2]),
    };
    assert_eq!(rt(lb.clone(), Response::LargeBlobs), lb);
    // Empty responses: one status byte, decoding to the all-absent default.
    assert_eq!(Response::Empty.encode(), vec![0x00]);
    assert_eq!(
        decode_response::<ClientPinResponse>(&[0x00]).unwrap(),
        ClientPinResponse::default()
    );
    assert_eq!(
        Response::ClientPin(ClientPinResponse::default()).encode(),
        vec![0x00]
    );
    // Error statuses surface as such.
    assert_eq!(encode_error(StatusCode::PinInvalid), vec![0x31]);
    assert_eq!(
        decode_response::<GetInfoResponse>(&[0x31]).unwrap_err(),
        crate::ResponseError::Status(StatusCode::PinInvalid)
    );
    assert!(matches!(
        decode_response::<GetInfoResponse>(&[0x00, 0xa0]).unwrap_err(),
        crate::ResponseError::Malformed(crate::Error::MissingParameter { field: "versions" })
    ));
}

#[test]
fn lenient_response_decoding_accepts_unsorted_get_info() {
    // {3: aaguid, 1: ["FIDO_2_0"]}: keys out of order, as some authenticators send.
    let mut message = vec![0x00, 0xa2, 0x03, 0x50];
    message.extend_from_slice(&[0xab; 16]);
    message.extend_from_slice(&[0x01, 0x81, 0x68]);
    message.extend_from_slice(b"FIDO_2_0");
    assert!(matches!(
        decode_response::<GetInfoResponse>(&message).unwrap_err(),
        crate::ResponseError::Malformed(crate::Error::Cbor(crate::CborError::UnsortedMapKeys))
    ));
    let info: GetInfoResponse = decode_response_lenient(&message).unwrap();
    assert_eq!(info.versions, vec!["FIDO_2_0".to_owned()]);
    assert_eq!(info.aaguid, Aaguid([0xab; 16]));
    assert_eq!(
        decode_response_lenient::<GetInfoResponse>(&[0x2e]).unwrap_err(),
        crate::ResponseError::Status(StatusCode::NoCredentials)
    );
}

/// Every CTAP 2.2 getInfo member (0x16..=0x1E) and CTAP 2.3's 0x1F, in key order and back.
#[test]
fn get_info_ctap22_members_encode_in_key_order_and_round_trip() {
    let info = GetInfoResponse {
        attestation_formats: Some(vec!["packed".into(), "none".into()]),
        uv_count_since_last_pin_entry: Some(2),
        long_touch_for_reset: Some(false),
        enc_identifier: Some(vec![0x19; 32]),
        transports_for_reset: Some(vec!["usb".into()]),
        pin_complexity_policy: Some(false),
        pin_complexity_policy_url: Some(b"https://example.com/pin".to_vec()),
        max_pin_length: Some(63),
        enc_cred_store_state: Some(vec![0x1e; 32]),
        authenticator_config_commands: Some(vec![2, 3]),
        ..sample_get_info()
    };
    let bytes = Response::GetInfo(info.clone()).encode();
    assert_eq!(decode_response::<GetInfoResponse>(&bytes).unwrap(), info);
    // The tail of the map: 0x1D maxPINLength 63, 0x1E encCredStoreState (32 bytes), 0x1F [2, 3].
    let mut tail = vec![0x18, 0x1d, 0x18, 0x3f, 0x18, 0x1e, 0x58, 0x20];
    tail.extend([0x1e; 32]);
    tail.extend([0x18, 0x1f, 0x82, 0x02, 0x03]);
    assert!(bytes.ends_with(&tail), "{}", hex::encode(&bytes));
    // A wrong type is the member's error.
    let wrong = MapBuilder::new()
        .insert(0x01, Value::Array(vec![Value::text("FIDO_2_2")]))
        .insert(0x03, vec![0u8; 16])
        .insert(0x1E, "state")
        .build();
    assert_eq!(
        GetInfoResponse::from_value(wrong, "info").unwrap_err(),
        crate::Error::UnexpectedType {
            field: "encCredStoreState",
            expected: "byte string"
        }
    );
}
