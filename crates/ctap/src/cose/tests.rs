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
fn write_into_appends_what_to_bytes_gives_and_the_hint_is_the_ec2_length() {
    let es256 = CoseKey::Es256(P256Point {
        x: [0x11; 32],
        y: [0x22; 32],
    });
    let es384 = CoseKey::Es384(P384Point {
        x: [0x33; 48],
        y: [0x44; 48],
    });
    let ed = CoseKey::Ed25519([9; 32]);
    for key in [&es256, &es384, &ed] {
        let mut out = b"prefix".to_vec();
        key.write_into(&mut out);
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(&out[6..], key.to_bytes().as_slice());
    }
    // {1: 2, 3: -7, -1: 1, -2: x, -3: y} is 77 bytes: the hint covers it without a second
    // allocation.
    assert_eq!(es256.size_hint(), 80);
    assert_eq!(es256.to_bytes().len(), 77);
    assert!(es384.size_hint() >= es384.to_bytes().len());
    assert_eq!(ed.size_hint(), 0);
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

#[test]
fn es384_key_round_trips_in_canonical_order() {
    let key = CoseKey::Es384(P384Point {
        x: [0x33; 48],
        y: [0x44; 48],
    });
    let bytes = key.to_bytes();
    // {1: 2, 3: -35, -1: 2, -2: x, -3: y}
    let mut expected = hex::decode("a501020338222002215830").unwrap();
    expected.extend_from_slice(&[0x33; 48]);
    expected.extend_from_slice(&hex::decode("225830").unwrap());
    expected.extend_from_slice(&[0x44; 48]);
    assert_eq!(bytes, expected);
    assert_eq!(CoseKey::from_bytes(&bytes).unwrap(), key);
    assert_eq!(key.alg(), CoseAlgorithm::ES384);
    let p = P384Point {
        x: [5; 48],
        y: [6; 48],
    };
    assert_eq!(P384Point::from_sec1(&p.to_sec1()), Some(p));
    assert_eq!(P384Point::from_sec1(&p.to_sec1()[..96]), None);
    // A P-256 curve under alg -35, and 32-byte coordinates, are refused.
    let mut wrong_curve = bytes.clone();
    wrong_curve[7] = 0x01;
    assert_eq!(
        CoseKey::from_bytes(&wrong_curve).unwrap_err().status(),
        StatusCode::UnsupportedAlgorithm
    );
    let short = MapBuilder::new()
        .insert(LABEL_KTY, KTY_EC2)
        .insert(LABEL_ALG, -35)
        .insert(LABEL_CRV, CRV_P384)
        .insert(LABEL_X, vec![1u8; 32])
        .insert(LABEL_Y, vec![2u8; 32])
        .build();
    assert_eq!(
        CoseKey::from_value(short, "k").unwrap_err().status(),
        StatusCode::InvalidLength
    );
}

#[test]
fn ml_dsa_keys_are_akp_with_a_raw_public_key() {
    for (set, alg, len, sig) in [
        (MlDsa::Ml44, -48, 1312, 2420),
        (MlDsa::Ml65, -49, 1952, 3309),
        (MlDsa::Ml87, -50, 2592, 4627),
    ] {
        assert_eq!(set.alg(), CoseAlgorithm(alg));
        assert_eq!(MlDsa::from_alg(CoseAlgorithm(alg)), Some(set));
        assert_eq!(set.public_key_len(), len);
        assert_eq!(set.signature_len(), sig);
        let key = CoseKey::MlDsa {
            set,
            public: vec![0x5a; len],
        };
        let bytes = key.to_bytes();
        // {1: 7, 3: alg, -1: h'…'}: kty AKP, the algorithm, then `pub` as a two-byte-length
        // byte string.
        let [hi, lo] = (len as u16).to_be_bytes();
        let head = [
            0xa3,
            0x01,
            0x07,
            0x03,
            0x38,
            (-1 - alg) as u8,
            0x20,
            0x59,
            hi,
            lo,
        ];
        assert_eq!(&bytes[..10], &head);
        assert_eq!(bytes.len(), 10 + len);
        assert_eq!(CoseKey::from_bytes(&bytes).unwrap(), key);
        assert_eq!(key.alg(), CoseAlgorithm(alg));

        // One byte short, or long: the wrong length for the parameter set.
        for wrong in [len - 1, len + 1] {
            let bad = MapBuilder::new()
                .insert(LABEL_KTY, KTY_AKP)
                .insert(LABEL_ALG, alg)
                .insert(LABEL_AKP_PUB, vec![0u8; wrong])
                .build();
            assert_eq!(
                CoseKey::from_value(bad, "k").unwrap_err().status(),
                StatusCode::InvalidLength
            );
        }
        // No `pub`, or `pub` of the wrong type.
        let missing = MapBuilder::new()
            .insert(LABEL_KTY, KTY_AKP)
            .insert(LABEL_ALG, alg)
            .build();
        assert_eq!(
            CoseKey::from_value(missing, "k").unwrap_err().status(),
            StatusCode::MissingParameter
        );
        let text = MapBuilder::new()
            .insert(LABEL_KTY, KTY_AKP)
            .insert(LABEL_ALG, alg)
            .insert(LABEL_AKP_PUB, "key")
            .build();
        assert_eq!(
            CoseKey::from_value(text, "k").unwrap_err().status(),
            StatusCode::CborUnexpectedType
        );
        // An ML-DSA algorithm under the EC2 key type.
        let ec2 = MapBuilder::new()
            .insert(LABEL_KTY, KTY_EC2)
            .insert(LABEL_ALG, alg)
            .insert(LABEL_AKP_PUB, vec![0u8; len])
            .build();
        assert_eq!(
            CoseKey::from_value(ec2, "k").unwrap_err().status(),
            StatusCode::UnsupportedAlgorithm
        );
    }
    // ES256 under the AKP key type is refused too; an unknown AKP algorithm is kept.
    let es256_akp = MapBuilder::new()
        .insert(LABEL_KTY, KTY_AKP)
        .insert(LABEL_ALG, -7)
        .insert(LABEL_AKP_PUB, vec![0u8; 64])
        .build();
    assert_eq!(
        CoseKey::from_value(es256_akp, "k").unwrap_err().status(),
        StatusCode::UnsupportedAlgorithm
    );
    let other = MapBuilder::new()
        .insert(LABEL_KTY, KTY_AKP)
        .insert(LABEL_ALG, -51)
        .insert(LABEL_AKP_PUB, vec![0u8; 3])
        .build();
    assert_eq!(
        CoseKey::from_value(other, "k").unwrap().alg(),
        CoseAlgorithm(-51)
    );
}

#[test]
fn ec2_keys_written_straight_out_are_the_bytes_of_their_value() {
    let p256 = P256Point {
        x: core::array::from_fn(|i| i as u8),
        y: core::array::from_fn(|i| 0xff - i as u8),
    };
    let p384 = P384Point {
        x: core::array::from_fn(|i| 0x80 | i as u8),
        y: core::array::from_fn(|i| i as u8),
    };
    for key in [
        CoseKey::Es256(p256),
        CoseKey::EcdhEsHkdf256(p256),
        CoseKey::Es384(p384),
    ] {
        let bytes = key.to_bytes();
        assert_eq!(bytes, crate::cbor::encode(&key.to_value()), "{key:?}");
        // Canonical: the strict reader takes it back as the same key.
        assert_eq!(CoseKey::from_bytes(&bytes).unwrap(), key);
    }
}
