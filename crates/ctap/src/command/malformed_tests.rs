//! Malformed requests: each class of defect gets its exact status code; unknown members are
//! ignored but still parsed strictly.

use super::tests::sample_make_credential;
use super::*;
use crate::cbor::{self, MapBuilder, Value};
use crate::cose::P256Point;
use crate::entity::{CoseAlgorithm, CredentialParameters};
use crate::status::StatusCode;

fn point() -> P256Point {
    P256Point {
        x: [0x11; 32],
        y: [0x22; 32],
    }
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

#[test]
fn a_deprecated_icon_of_the_wrong_type_is_unexpected_type() {
    let rp = |icon: Value| {
        MapBuilder::new()
            .insert("id", "example.com")
            .insert("name", "Example")
            .insert("icon", icon)
            .build()
    };
    let user = |icon: Value| {
        MapBuilder::new()
            .insert("id", Value::bytes(vec![1; 8]))
            .insert("name", "alice")
            .insert("icon", icon)
            .build()
    };
    // A text icon (WebAuthn L1) is accepted and dropped.
    let Ok(Request::MakeCredential(r)) = Request::decode(&mc_with(|e| {
        set(e, 2, Some(rp(Value::text("https://example.com/i.png"))));
        set(e, 3, Some(user(Value::text("https://example.com/u.png"))));
    })) else {
        panic!("a text icon is fine")
    };
    assert_eq!(r.rp.id, "example.com");
    // Any other type is refused, on rp and on user.
    for bad in [Value::from(8u64), Value::bytes(vec![1]), Value::from(true)] {
        assert_eq!(
            status_of(&mc_with(|e| set(e, 2, Some(rp(bad.clone()))))),
            StatusCode::CborUnexpectedType
        );
        assert_eq!(
            status_of(&mc_with(|e| set(e, 3, Some(user(bad.clone()))))),
            StatusCode::CborUnexpectedType
        );
    }
}
