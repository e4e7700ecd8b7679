use super::*;
use crate::cbor::Value;
use crate::cose::P256Point;
use crate::entity::{
    CoseAlgorithm, CredentialDescriptor, CredentialParameters, RpEntity, UserEntity, UserId,
};
use crate::extensions::{
    CredProtect, GetAssertionExtensions, HmacSecretInput, MakeCredentialExtensions,
};
use crate::pin::{Permissions, PinUvAuthProtocol};

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
            third_party_payment: Some(true),
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
            third_party_payment: Some(false),
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
