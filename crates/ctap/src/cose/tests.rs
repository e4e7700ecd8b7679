use super::*;
use crate::status::StatusCode;

#[test]
fn es256_key_encodes_in_canonical_label_order() {
    let key = CoseKey::Es256(P256Point {
        x: [0x11; 32],
        y: [0x22; 32],
    });
    let bytes = key.to_bytes();
    // {1: 2, 3: -7, -1: 1, -2: x, -3: y}
    let mut expected = hex::decode("a5010203262001215820").unwrap();
    expected.extend_from_slice(&[0x11; 32]);
    expected.extend_from_slice(&hex::decode("225820").unwrap());
    expected.extend_from_slice(&[0x22; 32]);
    assert_eq!(bytes, expected);
    assert_eq!(CoseKey::from_bytes(&bytes).unwrap(), key);
}

#[test]
fn key_agreement_and_ed25519_keys() {
    let ka = CoseKey::EcdhEsHkdf256(P256Point {
        x: [3; 32],
        y: [4; 32],
    });
    let bytes = ka.to_bytes();
    assert_eq!(&bytes[..6], &[0xa5, 0x01, 0x02, 0x03, 0x38, 0x18]); // alg -25
    assert_eq!(CoseKey::from_bytes(&bytes).unwrap(), ka);
    let ed = CoseKey::Ed25519([9; 32]);
    let bytes = ed.to_bytes();
    // {1: 1, 3: -8, -1: 6, -2: x}
    assert_eq!(
        &bytes[..10],
        &[0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21, 0x58, 0x20]
    );
    assert_eq!(CoseKey::from_bytes(&bytes).unwrap(), ed);
    assert_eq!(ed.alg(), CoseAlgorithm::EDDSA);
}

#[test]
fn malformed_keys_are_rejected() {
    let good = CoseKey::Es256(P256Point {
        x: [1; 32],
        y: [2; 32],
    })
    .to_value();
    let Value::Map(entries) = good else { panic!() };
    let without = |label: i64| {
        Value::Map(
            entries
                .iter()
                .filter(|(k, _)| *k != Value::from(label))
                .cloned()
                .collect(),
        )
    };
    for label in [LABEL_KTY, LABEL_ALG, LABEL_CRV, LABEL_X, LABEL_Y] {
        let err = CoseKey::from_value(without(label), "key").unwrap_err();
        assert_eq!(err.status(), StatusCode::MissingParameter, "label {label}");
    }
    let with = |label: i64, v: Value| {
        let mut e: Vec<_> = entries
            .iter()
            .filter(|(k, _)| *k != Value::from(label))
            .cloned()
            .collect();
        e.push((Value::from(label), v));
        Value::Map(e)
    };
    assert_eq!(
        CoseKey::from_value(with(LABEL_X, Value::bytes(vec![1; 31])), "k")
            .unwrap_err()
            .status(),
        StatusCode::InvalidLength
    );
    assert_eq!(
        CoseKey::from_value(with(LABEL_CRV, Value::from(2)), "k")
            .unwrap_err()
            .status(),
        StatusCode::UnsupportedAlgorithm
    );
    assert_eq!(
        CoseKey::from_value(with(LABEL_KTY, Value::text("EC2")), "k")
            .unwrap_err()
            .status(),
        StatusCode::CborUnexpectedType
    );
    // An RS256 key is kept as an unknown key, not rejected.
    let rsa = with(LABEL_KTY, Value::from(3));
    let rsa = match rsa {
        Value::Map(mut e) => {
            e.retain(|(k, _)| *k != Value::from(LABEL_ALG));
            e.push((Value::from(LABEL_ALG), Value::from(-257)));
            Value::Map(e)
        }
        _ => unreachable!(),
    };
    let parsed = CoseKey::from_value(rsa.clone(), "k").unwrap();
    assert_eq!(parsed.alg(), CoseAlgorithm::RS256);
    assert_eq!(
        crate::cbor::encode(&parsed.to_value()),
        crate::cbor::encode(&rsa)
    );
    // ClientPIN key agreement insists on alg -25.
    assert_eq!(
        CoseKey::key_agreement(Value::Map(entries.clone()), "keyAgreement")
            .unwrap_err()
            .status(),
        StatusCode::InvalidParameter
    );
    // SEC1 conversions.
    let p = P256Point {
        x: [5; 32],
        y: [6; 32],
    };
    assert_eq!(P256Point::from_sec1(&p.to_sec1()), Some(p));
    assert_eq!(P256Point::from_sec1(&[4; 64]), None);
}
