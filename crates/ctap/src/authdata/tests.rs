use super::*;
use crate::cbor::{MapBuilder, Value};
use crate::cose::P256Point;
use crate::entity::CoseAlgorithm;
use crate::extensions::{CredProtect, HmacSecretOutput};
use crate::status::StatusCode;

fn full() -> AuthenticatorData {
    AuthenticatorData {
        rp_id_hash: [7; 32],
        flags: Flags(Flags::UP | Flags::UV | Flags::BE | Flags::BS),
        sign_count: 0x0102_0304,
        attested_credential_data: Some(AttestedCredentialData {
            aaguid: Aaguid([0xaa; 16]),
            credential_id: vec![0xcc; 3],
            public_key: CoseKey::Es256(P256Point {
                x: [1; 32],
                y: [2; 32],
            }),
        }),
        extensions: Some(ExtensionOutputs {
            cred_protect: Some(CredProtect::UserVerificationRequired),
            hmac_secret: Some(HmacSecretOutput::Created(true)),
            ..ExtensionOutputs::default()
        }),
    }
}

#[test]
fn minimal_authdata_round_trips() {
    let ad = AuthenticatorData {
        rp_id_hash: [7; 32],
        flags: Flags(Flags::UP),
        sign_count: 0x01020304,
        attested_credential_data: None,
        extensions: None,
    };
    let bytes = ad.to_bytes();
    assert_eq!(bytes.len(), 37);
    assert_eq!(&bytes[32..], &[0x01, 1, 2, 3, 4]);
    assert_eq!(AuthenticatorData::parse(&bytes).unwrap(), ad);
}

#[test]
fn full_authdata_has_the_webauthn_layout() {
    let ad = full();
    let bytes = ad.to_bytes();
    assert_eq!(&bytes[..32], &[7; 32]);
    assert_eq!(bytes[32], 0x01 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80);
    assert_eq!(&bytes[33..37], &[1, 2, 3, 4]);
    assert_eq!(&bytes[37..53], &[0xaa; 16]);
    assert_eq!(&bytes[53..55], &[0x00, 0x03]);
    assert_eq!(&bytes[55..58], &[0xcc; 3]);
    let key = ad
        .attested_credential_data
        .as_ref()
        .unwrap()
        .public_key
        .to_bytes();
    assert_eq!(&bytes[58..58 + key.len()], key.as_slice());
    let ext = &bytes[58 + key.len()..];
    // {"credProtect": 3, "hmac-secret": true}
    let mut expected_ext = vec![0xa2, 0x6b];
    expected_ext.extend_from_slice(b"credProtect");
    expected_ext.extend_from_slice(&[0x03, 0x6b]);
    expected_ext.extend_from_slice(b"hmac-secret");
    expected_ext.push(0xf5);
    assert_eq!(ext, expected_ext.as_slice());
    let mut parsed = AuthenticatorData::parse(&bytes).unwrap();
    assert!(parsed.flags.has(Flags::AT | Flags::ED));
    parsed.flags = ad.flags;
    assert_eq!(parsed.to_bytes(), bytes);
}

#[test]
fn malformed_authdata_is_rejected() {
    let bytes = full().to_bytes();
    // Truncated at every length.
    for len in 0..bytes.len() {
        assert!(
            AuthenticatorData::parse(&bytes[..len]).is_err(),
            "len {len}"
        );
    }
    // Trailing byte.
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(
        AuthenticatorData::parse(&trailing).unwrap_err(),
        crate::Error::Cbor(crate::CborError::TrailingBytes(1))
    );
    // ED flag without extensions / AT flag without data.
    let mut minimal = AuthenticatorData {
        extensions: None,
        attested_credential_data: None,
        ..full()
    }
    .to_bytes();
    minimal[32] |= Flags::ED;
    assert!(AuthenticatorData::parse(&minimal).is_err());
    minimal[32] = Flags::AT;
    assert_eq!(
        AuthenticatorData::parse(&minimal).unwrap_err().status(),
        StatusCode::InvalidLength
    );
    // Extension data present but flag clear: trailing bytes.
    let mut no_ed = bytes.clone();
    no_ed[32] &= !Flags::ED;
    assert!(AuthenticatorData::parse(&no_ed).is_err());
    // A credential ID length of 1024 is over the WebAuthn limit.
    let mut long_id = bytes[..37].to_vec();
    long_id.extend_from_slice(&[0xaa; 16]);
    long_id.extend_from_slice(&[0x04, 0x00]);
    long_id.extend_from_slice(&[0; 1024]);
    assert_eq!(
        AuthenticatorData::parse(&long_id).unwrap_err().status(),
        StatusCode::InvalidLength
    );
}

#[test]
fn attestation_objects_round_trip_for_every_format() {
    let auth_data = full().to_bytes();
    for stmt in [
        AttestationStatement::None,
        AttestationStatement::Packed {
            alg: CoseAlgorithm::ES256,
            sig: vec![1; 70],
            x5c: None,
        },
        AttestationStatement::Packed {
            alg: CoseAlgorithm::EDDSA,
            sig: vec![1; 64],
            x5c: Some(vec![vec![2; 300], vec![3; 200]]),
        },
        AttestationStatement::FidoU2f {
            sig: vec![4; 71],
            x5c: vec![5; 250],
        },
        AttestationStatement::Other {
            fmt: "tpm".into(),
            stmt: MapBuilder::new().insert("ver", "2.0").build(),
        },
    ] {
        let obj = AttestationObject {
            auth_data: auth_data.clone(),
            att_stmt: stmt,
        };
        let bytes = obj.to_bytes();
        assert_eq!(AttestationObject::from_bytes(&bytes).unwrap(), obj);
    }
}

#[test]
fn attestation_object_none_bytes() {
    let obj = AttestationObject {
        auth_data: vec![0xab],
        att_stmt: AttestationStatement::None,
    };
    let mut expected = vec![0xa3, 0x63];
    expected.extend_from_slice(b"fmt");
    expected.push(0x64);
    expected.extend_from_slice(b"none");
    expected.push(0x67);
    expected.extend_from_slice(b"attStmt");
    expected.push(0xa0);
    expected.push(0x68);
    expected.extend_from_slice(b"authData");
    expected.extend_from_slice(&[0x41, 0xab]);
    assert_eq!(obj.to_bytes(), expected);
    // The same keys in a different order are not canonical.
    let mut reordered = vec![0xa3, 0x68];
    reordered.extend_from_slice(b"authData");
    reordered.extend_from_slice(&[0x41, 0xab, 0x63]);
    reordered.extend_from_slice(b"fmt");
    reordered.push(0x64);
    reordered.extend_from_slice(b"none");
    reordered.push(0x67);
    reordered.extend_from_slice(b"attStmt");
    reordered.push(0xa0);
    assert_eq!(
        AttestationObject::from_bytes(&reordered)
            .unwrap_err()
            .status(),
        StatusCode::InvalidCbor
    );
}

#[test]
fn attestation_statement_shape_errors() {
    let fido_two_certs = MapBuilder::new()
        .insert("sig", vec![1u8])
        .insert(
            "x5c",
            Value::Array(vec![Value::bytes(vec![1]), Value::bytes(vec![2])]),
        )
        .build();
    assert_eq!(
        AttestationStatement::decode("fido-u2f", fido_two_certs)
            .unwrap_err()
            .status(),
        StatusCode::InvalidParameter
    );
    let packed_no_sig = MapBuilder::new().insert("alg", -7).build();
    assert_eq!(
        AttestationStatement::decode("packed", packed_no_sig)
            .unwrap_err()
            .status(),
        StatusCode::MissingParameter
    );
    let none_not_empty = MapBuilder::new().insert("x", 1).build();
    assert!(AttestationStatement::decode("none", none_not_empty).is_err());
    assert_eq!(
        AttestationStatement::decode("packed", Value::Null)
            .unwrap_err()
            .status(),
        StatusCode::CborUnexpectedType
    );
}
