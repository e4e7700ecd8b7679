use super::*;
use crate::authdata::AttestationStatement;
use crate::cbor::{self, MapBuilder, Value};
use crate::cose::P256Point;
use crate::entity::{
    CoseAlgorithm, CredentialDescriptor, CredentialParameters, RpEntity, UserEntity, UserId,
};
use crate::extensions::{
    CredProtect, GetAssertionExtensions, HmacSecretInput, MakeCredentialExtensions,
};
use crate::pin::{Permissions, PinUvAuthProtocol};
use crate::status::StatusCode;
use std::collections::BTreeMap;

fn point() -> P256Point {
    P256Point {
        x: [0x11; 32],
        y: [0x22; 32],
    }
}

pub(crate) fn sample_make_credential() -> MakeCredentialRequest {
    MakeCredentialRequest {
        client_data_hash: ClientDataHash([0xcd; 32]),
        rp: RpEntity {
            id: "example.com".into(),
            name: Some("Example".into()),
        },
        user: UserEntity {
            id: UserId::new(vec![1, 2, 3, 4]).unwrap(),
            name: Some("alice".into()),
            display_name: Some("Alice".into()),
        },
        pub_key_cred_params: vec![
            CredentialParameters {
                alg: CoseAlgorithm::ES256,
            },
            CredentialParameters {
                alg: CoseAlgorithm::EDDSA,
            },
        ],
        exclude_list: Some(vec![CredentialDescriptor {
            transports: Some(vec!["usb".into(), "nfc".into()]),
            ..CredentialDescriptor::public_key(vec![9; 16])
        }]),
        extensions: Some(MakeCredentialExtensions {
            cred_protect: Some(CredProtect::UserVerificationRequired),
            hmac_secret: Some(true),
            cred_blob: Some(vec![1, 2]),
            large_blob_key: Some(true),
            min_pin_length: Some(true),
            unknown: vec![("vendorExt".into(), Value::from(5))],
            hmac_secret_mc: None,
        }),
        options: MakeCredentialOptions {
            rk: Some(true),
            up: None,
            uv: Some(false),
        },
        pin_uv_auth_param: Some(vec![0xaa; 32]),
        pin_uv_auth_protocol: Some(PinUvAuthProtocol::Two),
        enterprise_attestation: Some(1),
        attestation_formats_preference: Some(vec!["packed".into()]),
    }
}

pub(crate) fn sample_get_assertion() -> GetAssertionRequest {
    GetAssertionRequest {
        rp_id: "example.com".into(),
        client_data_hash: ClientDataHash([0xcd; 32]),
        allow_list: Some(vec![CredentialDescriptor::public_key(vec![1; 32])]),
        extensions: Some(GetAssertionExtensions {
            hmac_secret: Some(HmacSecretInput {
                key_agreement: point(),
                salt_enc: vec![3; 48],
                salt_auth: vec![4; 32],
                pin_uv_auth_protocol: Some(PinUvAuthProtocol::Two),
            }),
            cred_blob: Some(true),
            large_blob_key: None,
            unknown: vec![],
        }),
        options: GetAssertionOptions {
            rk: None,
            up: Some(false),
            uv: None,
        },
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    }
}

fn round_trip(request: Request) {
    let bytes = request.encode();
    let decoded = Request::decode(&bytes).unwrap();
    assert_eq!(decoded, request);
    assert_eq!(decoded.encode(), bytes, "re-encoding is byte-identical");
}

#[test]
fn every_request_round_trips() {
    round_trip(Request::MakeCredential(sample_make_credential()));
    round_trip(Request::GetAssertion(sample_get_assertion()));
    round_trip(Request::GetInfo);
    round_trip(Request::Reset);
    round_trip(Request::GetNextAssertion);
    round_trip(Request::Selection);
    let protocol = PinUvAuthProtocol::One;
    for pin in [
        ClientPinRequest::GetPinRetries { protocol: None },
        ClientPinRequest::GetPinRetries {
            protocol: Some(protocol),
        },
        ClientPinRequest::GetKeyAgreement { protocol },
        ClientPinRequest::SetPin {
            protocol,
            key_agreement: point(),
            new_pin_enc: vec![1; 64],
            pin_uv_auth_param: vec![2; 16],
        },
        ClientPinRequest::ChangePin {
            protocol,
            key_agreement: point(),
            pin_hash_enc: vec![3; 16],
            new_pin_enc: vec![1; 64],
            pin_uv_auth_param: vec![2; 16],
        },
        ClientPinRequest::GetPinToken {
            protocol,
            key_agreement: point(),
            pin_hash_enc: vec![3; 16],
        },
        ClientPinRequest::GetPinUvAuthTokenUsingUvWithPermissions {
            protocol,
            key_agreement: point(),
            permissions: Permissions::GET_ASSERTION,
            rp_id: Some("example.com".into()),
        },
        ClientPinRequest::GetUvRetries,
        ClientPinRequest::GetPinUvAuthTokenUsingPinWithPermissions {
            protocol,
            key_agreement: point(),
            pin_hash_enc: vec![3; 16],
            permissions: Permissions::MAKE_CREDENTIAL | Permissions::CREDENTIAL_MANAGEMENT,
            rp_id: None,
        },
    ] {
        round_trip(Request::ClientPin(pin));
    }
    let user = UserEntity {
        id: UserId::new(vec![7; 64]).unwrap(),
        name: None,
        display_name: Some("Bob".into()),
    };
    for sub in [
        CredentialManagementSubcommand::GetCredsMetadata,
        CredentialManagementSubcommand::EnumerateRpsBegin,
        CredentialManagementSubcommand::EnumerateRpsGetNextRp,
        CredentialManagementSubcommand::EnumerateCredentialsBegin {
            rp_id_hash: [5; 32],
        },
        CredentialManagementSubcommand::EnumerateCredentialsGetNextCredential,
        CredentialManagementSubcommand::DeleteCredential {
            credential_id: CredentialDescriptor::public_key(vec![8; 20]),
        },
        CredentialManagementSubcommand::UpdateUserInformation {
            credential_id: CredentialDescriptor::public_key(vec![8; 20]),
            user: user.clone(),
        },
    ] {
        let mut req = CredentialManagementRequest::new(sub);
        req.pin_uv_auth_protocol = Some(PinUvAuthProtocol::Two);
        req.pin_uv_auth_param = Some(vec![1; 32]);
        // What the authenticator decodes carries the received params bytes.
        let bytes = Request::CredentialManagement(req.clone()).encode();
        let Request::CredentialManagement(got) = Request::decode(&bytes).unwrap() else {
            panic!()
        };
        assert_eq!(got.subcommand, req.subcommand);
        assert_eq!(got.auth_message(), req.auth_message());
        assert_eq!(Request::CredentialManagement(got).encode(), bytes);
        let mut preview = bytes.clone();
        preview[0] = 0x41;
        assert!(matches!(
            Request::decode(&preview).unwrap(),
            Request::CredentialManagementPreview(_)
        ));
    }
    round_trip(Request::LargeBlobs(LargeBlobsRequest::Get {
        offset: 0,
        get: 1024,
    }));
    round_trip(Request::LargeBlobs(LargeBlobsRequest::Set {
        offset: 0,
        set: vec![0x80; 40],
        length: Some(40),
        pin_uv_auth_param: Some(vec![1; 32]),
        pin_uv_auth_protocol: Some(PinUvAuthProtocol::Two),
    }));
    for sub in [
        ConfigSubcommand::EnableEnterpriseAttestation,
        ConfigSubcommand::ToggleAlwaysUv,
        ConfigSubcommand::SetMinPinLength {
            new_min_pin_length: Some(6),
            min_pin_length_rp_ids: Some(vec!["example.com".into()]),
            force_change_pin: Some(true),
        },
        ConfigSubcommand::VendorPrototype {
            vendor_command_id: 0x1234,
        },
    ] {
        let req = ConfigRequest::new(sub);
        let bytes = Request::Config(req.clone()).encode();
        let Request::Config(got) = Request::decode(&bytes).unwrap() else {
            panic!()
        };
        assert_eq!(got.subcommand, req.subcommand);
        assert_eq!(got.auth_message(), req.auth_message());
    }
}

#[test]
fn make_credential_encoding_is_canonical_bytes() {
    let req = MakeCredentialRequest {
        client_data_hash: ClientDataHash([0; 32]),
        rp: RpEntity {
            id: "a".into(),
            name: None,
        },
        user: UserEntity {
            id: UserId::new(vec![1]).unwrap(),
            name: None,
            display_name: None,
        },
        pub_key_cred_params: vec![CredentialParameters {
            alg: CoseAlgorithm::ES256,
        }],
        exclude_list: None,
        extensions: None,
        options: MakeCredentialOptions {
            rk: Some(true),
            up: None,
            uv: None,
        },
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
        enterprise_attestation: None,
        attestation_formats_preference: None,
    };
    let mut expected = vec![0x01, 0xa5, 0x01, 0x58, 0x20];
    expected.extend_from_slice(&[0; 32]);
    expected.extend_from_slice(&[0x02, 0xa1, 0x62, b'i', b'd', 0x61, b'a']);
    expected.extend_from_slice(&[0x03, 0xa1, 0x62, b'i', b'd', 0x41, 0x01]);
    expected.extend_from_slice(&[0x04, 0x81, 0xa2, 0x63, b'a', b'l', b'g', 0x26, 0x64]);
    expected.extend_from_slice(b"type");
    expected.push(0x6a);
    expected.extend_from_slice(b"public-key");
    expected.extend_from_slice(&[0x07, 0xa1, 0x62, b'r', b'k', 0xf5]);
    assert_eq!(Request::MakeCredential(req).encode(), expected);
}

fn status_of(message: &[u8]) -> StatusCode {
    Request::decode(message).unwrap_err().status()
}

fn mc_with(edit: impl FnOnce(&mut Vec<(Value, Value)>)) -> Vec<u8> {
    let Value::Map(mut entries) = sample_make_credential().to_value() else {
        panic!()
    };
    edit(&mut entries);
    let mut out = vec![0x01];
    cbor::encode_into(&Value::Map(entries), &mut out);
    out
}

fn set(entries: &mut Vec<(Value, Value)>, key: i64, value: Option<Value>) {
    entries.retain(|(k, _)| *k != Value::from(key));
    if let Some(v) = value {
        entries.push((Value::from(key), v));
    }
}

#[test]
fn malformed_requests_get_the_right_status() {
    assert_eq!(status_of(&[]), StatusCode::InvalidLength);
    assert_eq!(status_of(&[0x03]), StatusCode::InvalidCommand);
    assert_eq!(status_of(&[0x09, 0xa0]), StatusCode::InvalidCommand);
    assert_eq!(status_of(&[0x01]), StatusCode::MissingParameter);
    assert_eq!(status_of(&[0x01, 0x01]), StatusCode::CborUnexpectedType);
    // Non-canonical, trailing, indefinite.
    assert_eq!(
        status_of(&[0x01, 0xa1, 0x18, 0x01, 0x00]),
        StatusCode::InvalidCbor
    );
    assert_eq!(status_of(&[0x04, 0xa0, 0x00]), StatusCode::InvalidCbor);
    assert_eq!(status_of(&[0x06, 0xbf, 0xff]), StatusCode::InvalidCbor);
    let mut long = vec![0x01; cbor::MAX_MESSAGE_SIZE + 1];
    long[0] = 0x01;
    assert_eq!(status_of(&long), StatusCode::InvalidLength);

    assert_eq!(
        status_of(&mc_with(|e| set(e, 1, None))),
        StatusCode::MissingParameter
    );
    assert_eq!(
        status_of(&mc_with(|e| set(e, 2, None))),
        StatusCode::MissingParameter
    );
    assert_eq!(
        status_of(&mc_with(|e| set(e, 3, None))),
        StatusCode::MissingParameter
    );
    assert_eq!(
        status_of(&mc_with(|e| set(e, 4, None))),
        StatusCode::MissingParameter
    );
    assert_eq!(
        status_of(&mc_with(|e| set(e, 1, Some(Value::text("x"))))),
        StatusCode::CborUnexpectedType
    );
    assert_eq!(
        status_of(&mc_with(|e| set(e, 1, Some(Value::bytes(vec![0; 31]))))),
        StatusCode::InvalidLength
    );
    assert_eq!(
        status_of(&mc_with(|e| set(e, 2, Some(Value::Array(vec![]))))),
        StatusCode::CborUnexpectedType
    );
    let rp_without_id = MapBuilder::new().insert("name", "x").build();
    assert_eq!(
        status_of(&mc_with(|e| set(e, 2, Some(rp_without_id)))),
        StatusCode::MissingParameter
    );
    let long_user = MapBuilder::new().insert("id", vec![0u8; 65]).build();
    assert_eq!(
        status_of(&mc_with(|e| set(e, 3, Some(long_user)))),
        StatusCode::InvalidLength
    );
    let bad_alg = Value::Array(vec![MapBuilder::new()
        .insert("alg", "ES256")
        .insert("type", "public-key")
        .build()]);
    assert_eq!(
        status_of(&mc_with(|e| set(e, 4, Some(bad_alg)))),
        StatusCode::CborUnexpectedType
    );
    let bad_option = MapBuilder::new().insert("rk", 1).build();
    assert_eq!(
        status_of(&mc_with(|e| set(e, 7, Some(bad_option)))),
        StatusCode::CborUnexpectedType
    );
    assert_eq!(
        status_of(&mc_with(|e| set(e, 9, Some(Value::from(3))))),
        StatusCode::InvalidParameter
    );
    assert_eq!(
        status_of(&mc_with(|e| set(e, 9, Some(Value::from(-1))))),
        StatusCode::CborUnexpectedType
    );
    let bad_ext = MapBuilder::new().insert("credProtect", 4).build();
    assert_eq!(
        status_of(&mc_with(|e| set(e, 6, Some(bad_ext)))),
        StatusCode::InvalidParameter
    );
    let bad_hmac = MapBuilder::new().insert("hmac-secret", "yes").build();
    assert_eq!(
        status_of(&mc_with(|e| set(e, 6, Some(bad_hmac)))),
        StatusCode::CborUnexpectedType
    );

    // ClientPIN.
    let pin = |m: MapBuilder| {
        let mut out = vec![0x06];
        cbor::encode_into(&m.build(), &mut out);
        Request::decode(&out)
    };
    assert_eq!(
        pin(MapBuilder::new().insert(1, 1)).unwrap_err().status(),
        StatusCode::MissingParameter
    );
    assert_eq!(
        pin(MapBuilder::new().insert(1, 1).insert(2, 8))
            .unwrap_err()
            .status(),
        StatusCode::InvalidSubcommand
    );
    assert_eq!(
        pin(MapBuilder::new().insert(2, 2)).unwrap_err().status(),
        StatusCode::MissingParameter
    );
    assert_eq!(
        pin(MapBuilder::new().insert(1, 1).insert(2, 5)).unwrap_err(),
        crate::Error::MissingParameter {
            field: "keyAgreement"
        }
    );
    let es256 = crate::cose::CoseKey::Es256(point()).to_value();
    assert_eq!(
        pin(MapBuilder::new()
            .insert(1, 1)
            .insert(2, 5)
            .insert(3, es256)
            .insert(6, vec![0u8; 16]))
        .unwrap_err()
        .status(),
        StatusCode::InvalidParameter
    );

    // Large blobs shape rules.
    let lb = |m: MapBuilder| {
        let mut out = vec![0x0c];
        cbor::encode_into(&m.build(), &mut out);
        status_of(&out)
    };
    assert_eq!(
        lb(MapBuilder::new()
            .insert(1, 10)
            .insert(2, vec![1u8])
            .insert(3, 0)),
        StatusCode::InvalidParameter
    );
    assert_eq!(
        lb(MapBuilder::new().insert(3, 0)),
        StatusCode::InvalidParameter
    );
    assert_eq!(
        lb(MapBuilder::new().insert(1, 10)),
        StatusCode::MissingParameter
    );
    assert_eq!(
        lb(MapBuilder::new().insert(1, 10).insert(3, 0).insert(4, 5)),
        StatusCode::InvalidParameter
    );

    // Subcommands.
    let cm = {
        let mut out = vec![0x0a];
        cbor::encode_into(&MapBuilder::new().insert(1, 0x20).build(), &mut out);
        out
    };
    assert_eq!(status_of(&cm), StatusCode::InvalidSubcommand);
    let cm_missing = {
        let mut out = vec![0x0a];
        cbor::encode_into(&MapBuilder::new().insert(1, 4).build(), &mut out);
        out
    };
    assert_eq!(status_of(&cm_missing), StatusCode::MissingParameter);
    let cfg = {
        let mut out = vec![0x0d];
        cbor::encode_into(&MapBuilder::new().insert(1, 0x04).build(), &mut out);
        out
    };
    assert_eq!(status_of(&cfg), StatusCode::InvalidSubcommand);
}

#[test]
fn unknown_parameters_are_ignored_but_still_strictly_parsed() {
    let with_extra = mc_with(|e| set(e, 0x20, Some(Value::Array(vec![Value::Null]))));
    assert_eq!(
        Request::decode(&with_extra).unwrap(),
        Request::MakeCredential(sample_make_credential())
    );
    let with_text_key = mc_with(|e| e.push((Value::text("future"), Value::from(1))));
    assert!(Request::decode(&with_text_key).is_ok());
    // An unknown member that is itself not canonical still fails.
    let mut bad = mc_with(|e| set(e, 0x17, Some(Value::from(1))));
    let pos = bad.windows(2).position(|w| w == [0x17, 0x01]).unwrap();
    bad.splice(pos + 1..pos + 2, [0x18, 0x01]);
    assert_eq!(status_of(&bad), StatusCode::InvalidCbor);
    // pubKeyCredParams entries of other types are skipped, unknown algorithms kept.
    let params = Value::Array(vec![
        MapBuilder::new()
            .insert("alg", -7)
            .insert("type", "future-type")
            .build(),
        MapBuilder::new()
            .insert("alg", -65535)
            .insert("type", "public-key")
            .build(),
    ]);
    let Request::MakeCredential(mc) =
        Request::decode(&mc_with(|e| set(e, 4, Some(params)))).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        mc.pub_key_cred_params,
        vec![CredentialParameters {
            alg: CoseAlgorithm(-65535)
        }]
    );
    // Parameterless commands accept an empty body or any well-formed CBOR, nothing else.
    assert_eq!(Request::decode(&[0x07, 0xa0]).unwrap(), Request::Reset);
    assert_eq!(status_of(&[0x0b, 0x1c]), StatusCode::InvalidCbor);
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

/// The body python-fido2 2.2.1 (`fido2.ctap2.base.args` + `fido2.cbor.encode`) produces for
/// this makeCredential: an independent canonical encoder must agree byte for byte.
#[test]
fn make_credential_matches_python_fido2_bytes() {
    let python_fido2 = hex::decode(concat!(
        "a9015820cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd02a26269646b65",
        "78616d706c652e636f6d646e616d65674578616d706c6503a362696443010203646e616d6565616c6963",
        "656b646973706c61794e616d6565416c6963650482a263616c672664747970656a7075626c69632d6b65",
        "79a263616c672764747970656a7075626c69632d6b65790581a362696450090909090909090909090909",
        "0909090964747970656a7075626c69632d6b65796a7472616e73706f7274738263757362636e666306a2",
        "6b6372656450726f74656374036b686d61632d736563726574f507a162726bf5085820aaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0902"
    ))
    .unwrap();
    let req = MakeCredentialRequest {
        user: UserEntity {
            id: UserId::new(vec![1, 2, 3]).unwrap(),
            ..sample_make_credential().user
        },
        extensions: Some(MakeCredentialExtensions {
            cred_protect: Some(CredProtect::UserVerificationRequired),
            hmac_secret: Some(true),
            ..MakeCredentialExtensions::default()
        }),
        options: MakeCredentialOptions {
            rk: Some(true),
            up: None,
            uv: None,
        },
        enterprise_attestation: None,
        attestation_formats_preference: None,
        ..sample_make_credential()
    };
    let encoded = Request::MakeCredential(req.clone()).encode();
    assert_eq!(encoded[0], 0x01);
    assert_eq!(hex::encode(&encoded[1..]), hex::encode(&python_fido2));
    let mut message = vec![0x01];
    message.extend_from_slice(&python_fido2);
    assert_eq!(
        Request::decode(&message).unwrap(),
        Request::MakeCredential(req)
    );
}
