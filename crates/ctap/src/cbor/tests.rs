use super::*;
use crate::error::{CborError, Error};
use crate::status::StatusCode;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn cbor_err(bytes: &[u8]) -> CborError {
    match decode(bytes) {
        Err(Error::Cbor(e)) => e,
        other => panic!("expected a CBOR error for {bytes:02x?}, got {other:?}"),
    }
}

#[test]
fn integers_round_trip_at_every_width() {
    let cases: &[(i128, &str)] = &[
        (0, "00"),
        (23, "17"),
        (24, "1818"),
        (255, "18ff"),
        (256, "190100"),
        (65535, "19ffff"),
        (65536, "1a00010000"),
        (4294967295, "1affffffff"),
        (4294967296, "1b0000000100000000"),
        (18446744073709551615, "1bffffffffffffffff"),
        (-1, "20"),
        (-24, "37"),
        (-25, "3818"),
        (-256, "38ff"),
        (-257, "390100"),
        (-18446744073709551616, "3bffffffffffffffff"),
    ];
    for (n, enc) in cases {
        let v = Value::Int(Int::try_from(*n).unwrap());
        assert_eq!(encode(&v), hex(enc), "{n}");
        assert_eq!(decode(&hex(enc)).unwrap(), v, "{n}");
    }
}

#[test]
fn non_shortest_integers_and_lengths_are_invalid_cbor() {
    for enc in [
        "1817",
        "190017",
        "1900ff",
        "1a0000ffff",
        "1b00000000ffffffff",
        "3817",
        "5801aa",
        "780161",
        "9800",
        "b800",
    ] {
        assert_eq!(cbor_err(&hex(enc)), CborError::NonCanonicalInteger, "{enc}");
    }
    assert_eq!(
        decode(&hex("1817")).unwrap_err().status(),
        StatusCode::InvalidCbor
    );
}

#[test]
fn indefinite_lengths_are_rejected() {
    for enc in ["5f41aaff", "7f6161ff", "9f01ff", "bf0101ff", "ff", "1f"] {
        assert!(
            matches!(cbor_err(&hex(enc)), CborError::IndefiniteLength),
            "{enc}"
        );
    }
}

#[test]
fn tags_floats_and_undefined_are_rejected() {
    assert_eq!(cbor_err(&hex("c11a514b67b0")), CborError::Tag);
    assert_eq!(cbor_err(&hex("f93c00")), CborError::UnsupportedSimple(25));
    assert_eq!(
        cbor_err(&hex("fb3ff0000000000000")),
        CborError::UnsupportedSimple(27)
    );
    assert_eq!(cbor_err(&hex("f7")), CborError::UnsupportedSimple(23));
    assert_eq!(cbor_err(&hex("1c")), CborError::ReservedAdditionalInfo(28));
    assert_eq!(decode(&hex("f4")).unwrap(), Value::Bool(false));
    assert_eq!(decode(&hex("f5")).unwrap(), Value::Bool(true));
    assert_eq!(decode(&hex("f6")).unwrap(), Value::Null);
}

#[test]
fn truncated_input_and_oversized_declared_lengths() {
    assert_eq!(cbor_err(&[]), CborError::Truncated);
    assert_eq!(cbor_err(&hex("19 01")), CborError::Truncated);
    assert_eq!(cbor_err(&hex("43 0102")), CborError::Truncated);
    // A declared length of 2^64-1 must fail before anything is allocated.
    assert_eq!(
        cbor_err(&hex("5b ffffffffffffffff 00")),
        CborError::Truncated
    );
    assert_eq!(
        cbor_err(&hex("9b ffffffffffffffff 00")),
        CborError::Truncated
    );
    assert_eq!(
        cbor_err(&hex("bb 7fffffffffffffff 00")),
        CborError::Truncated
    );
    // A map of 2 entries needs at least 4 bytes.
    assert_eq!(cbor_err(&hex("a2 0102 03")), CborError::Truncated);
}

#[test]
fn trailing_bytes_are_rejected_but_decode_prefix_reports_the_split() {
    assert_eq!(cbor_err(&hex("01 02")), CborError::TrailingBytes(1));
    let (v, used) = decode_prefix(&hex("a10102 ff")).unwrap();
    assert_eq!(used, 3);
    assert_eq!(v, MapBuilder::new().insert(1, 2).build());
}

#[test]
fn invalid_utf8_is_rejected() {
    assert_eq!(cbor_err(&hex("62 c328")), CborError::InvalidUtf8);
    assert_eq!(decode(&hex("62 c3a9")).unwrap(), Value::text("é"));
}

#[test]
fn map_keys_must_be_sorted_and_unique() {
    assert_eq!(cbor_err(&hex("a2 0201 0102")), CborError::UnsortedMapKeys);
    assert_eq!(cbor_err(&hex("a2 0101 0102")), CborError::DuplicateMapKey);
    assert_eq!(
        cbor_err(&hex("a2 6162 01 6161 02")),
        CborError::UnsortedMapKeys
    );
    // Shorter text sorts first even when its first byte is larger: "b" < "aa".
    assert_eq!(
        cbor_err(&hex("a2 626161 01 6162 02")),
        CborError::UnsortedMapKeys
    );
    assert!(decode(&hex("a2 6162 01 626161 02")).is_ok());
    // Positive integers (major 0) sort before negative ones (major 1), whatever the length.
    assert!(decode(&hex("a2 1818 01 20 02")).is_ok());
    assert_eq!(
        cbor_err(&hex("a2 20 02 1818 01")),
        CborError::UnsortedMapKeys
    );
    // Keys that are neither integers nor text.
    assert_eq!(cbor_err(&hex("a1 41aa 01")), CborError::UnsupportedMapKey);
    assert_eq!(cbor_err(&hex("a1 f5 01")), CborError::UnsupportedMapKey);
}

#[test]
fn canonical_encoding_sorts_mixed_keys() {
    // Built in scrambled order: text keys of several lengths, positive and negative ints.
    let v = MapBuilder::new()
        .insert("aa", 1)
        .insert(-1, 2)
        .insert(1000, 3)
        .insert("b", 4)
        .insert(24, 5)
        .insert(1, 6)
        .insert(-25, 7)
        .insert("", 8)
        .build();
    let expected = hex(concat!(
        "a8",
        "01 06",     // 1
        "1818 05",   // 24
        "1903e8 03", // 1000
        "20 02",     // -1
        "3818 07",   // -25
        "60 08",     // ""
        "6162 04",   // "b"
        "626161 01"  // "aa"
    ));
    assert_eq!(encode(&v), expected);
    assert_eq!(decode(&expected).unwrap(), v);
    // encode sorts even a Value::Map built by hand in the wrong order.
    let unsorted = Value::Map(vec![
        (Value::from(2), Value::Null),
        (Value::from(1), Value::Null),
    ]);
    assert_eq!(encode(&unsorted), hex("a2 01f6 02f6"));
    // Out of order only late, and nested in an array: the partly written map is rewritten.
    let late = Value::Array(vec![Value::Map(vec![
        (Value::from(1), Value::from(1)),
        (Value::from("b"), Value::from(2)),
        (Value::from(-1), Value::from(3)),
    ])]);
    assert_eq!(encode(&late), hex("81 a3 0101 2003 616202"));
    // A duplicate key is not in order either: both entries are written, sorted, as before.
    let twice = Value::Map(vec![
        (Value::from(2), Value::from(1)),
        (Value::from(2), Value::from(0)),
    ]);
    assert_eq!(encode(&twice), hex("a2 0201 0200"));
    // Every map the builder made encodes to the bytes it decodes from.
    assert_eq!(encode(&decode(&expected).unwrap()), expected);
}

#[test]
fn nesting_is_limited_to_four_levels() {
    assert!(decode(&hex("81818181 01")).is_ok());
    assert_eq!(cbor_err(&hex("8181818181 01")), CborError::TooDeep);
    assert!(decode(&hex("a101 a101 a101 a101 01")).is_ok());
    assert_eq!(
        cbor_err(&hex("a101 a101 a101 a101 a101 01")),
        CborError::TooDeep
    );
    // Deep nesting far beyond the limit must not recurse: it stops at level 5.
    let mut deep = vec![0x81; 100_000.min(MAX_MESSAGE_SIZE - 1)];
    deep.push(0x01);
    assert_eq!(cbor_err(&deep), CborError::TooDeep);
}

#[test]
fn messages_over_the_limit_are_invalid_length() {
    let mut big = vec![0x59, 0x1d, 0xb6]; // byte string of 7606 bytes: total 7609
    big.resize(MAX_MESSAGE_SIZE, 0);
    assert!(decode(&big).is_ok());
    let mut too_big = vec![0x59, 0x1d, 0xb7];
    too_big.resize(MAX_MESSAGE_SIZE + 1, 0);
    let err = decode(&too_big).unwrap_err();
    assert_eq!(
        err,
        Error::MessageTooLong {
            len: 7610,
            max: 7609
        }
    );
    assert_eq!(err.status(), StatusCode::InvalidLength);
}

#[test]
fn typed_accessors_report_the_right_status() {
    let v = decode(&hex("a3 01 6161 02 41ff 03 20")).unwrap();
    let mut m = IntMap::parse(v, "test").unwrap();
    let e = m.required::<Vec<u8>>(1, "one").unwrap_err();
    assert_eq!(
        e,
        Error::UnexpectedType {
            field: "one",
            expected: "byte string"
        }
    );
    assert_eq!(e.status(), StatusCode::CborUnexpectedType);
    assert_eq!(m.required::<[u8; 1]>(2, "two").unwrap(), [0xff]);
    assert_eq!(
        m.required::<u64>(3, "three").unwrap_err().status(),
        StatusCode::CborUnexpectedType
    );
    assert_eq!(
        m.required::<u64>(4, "four").unwrap_err(),
        Error::MissingParameter { field: "four" }
    );
    assert_eq!(m.optional::<u64>(4, "four").unwrap(), None);
    let wrong_len = decode(&hex("a1 01 42 0102")).unwrap();
    let e = IntMap::parse(wrong_len, "t")
        .unwrap()
        .required::<[u8; 3]>(1, "x")
        .unwrap_err();
    assert_eq!(e.status(), StatusCode::InvalidLength);
    assert_eq!(
        IntMap::parse(Value::Null, "t").unwrap_err().status(),
        StatusCode::CborUnexpectedType
    );
}

#[test]
fn value_debug_is_diagnostic_notation() {
    let v = MapBuilder::new()
        .insert(1, Value::bytes(vec![0, 0xff]))
        .insert("up", true)
        .insert(2, Value::Array(vec![Value::Null, Value::from(-3)]))
        .build();
    assert_eq!(
        format!("{v:?}"),
        r#"{1: h'00ff', 2: [null, -3], "up": true}"#
    );
}

#[test]
fn lenient_decoding_tolerates_only_order_and_width() {
    // Unsorted keys and a non-shortest integer: rejected strictly, accepted leniently and
    // put in canonical order.
    let quirky = hex("a2 02 1801 01 f5");
    assert_eq!(cbor_err(&quirky), CborError::NonCanonicalInteger);
    assert_eq!(cbor_err(&hex("a2 02 01 01 f5")), CborError::UnsortedMapKeys);
    let v = decode_lenient(&quirky).unwrap();
    assert_eq!(v, MapBuilder::new().insert(1, true).insert(2, 1).build());
    assert_eq!(encode(&v), hex("a2 01 f5 02 01"));
    // Duplicates (even spelled differently), indefinite lengths, tags, trailing bytes,
    // depth: still rejected.
    for (bytes, err) in [
        ("a2 01 f5 1801 f4", CborError::DuplicateMapKey),
        ("a2 02 f5 02 f4", CborError::DuplicateMapKey),
        ("9f 01 ff", CborError::IndefiniteLength),
        ("c1 01", CborError::Tag),
        ("01 01", CborError::TrailingBytes(1)),
        ("8181818181 01", CborError::TooDeep),
        ("f9 3c00", CborError::UnsupportedSimple(25)),
    ] {
        assert_eq!(
            decode_lenient(&hex(bytes)),
            Err(Error::Cbor(err)),
            "{bytes}"
        );
    }
}

#[test]
fn other_limits_bound_depth_items_strings_and_size() {
    let limits = Limits {
        max_size: 64,
        max_depth: 2,
        max_items: 6,
        max_string: 4,
    };
    // {1: [h'00010203']}: 5 items, depth 2, a 4-byte string, 9 bytes.
    let ok = hex("a1 01 81 4400010203");
    assert!(decode_with(&ok, &limits).is_ok());
    let err = |b: &[u8]| match decode_with(b, &limits) {
        Err(Error::Cbor(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(err(&hex("a1 01 81 81 00")), CborError::TooDeep);
    // Seven items: the map, three keys and three values.
    assert_eq!(
        err(&hex("a3 01 00 02 00 03 00")),
        CborError::TooManyItems { max: 6 }
    );
    assert_eq!(
        err(&hex("65 6162636465")),
        CborError::StringTooLong { len: 5, max: 4 }
    );
    assert_eq!(
        err(&hex("45 0001020304")),
        CborError::StringTooLong { len: 5, max: 4 }
    );
    assert_eq!(
        decode_with(&[0x40; 65], &limits),
        Err(Error::MessageTooLong { len: 65, max: 64 })
    );
    // The canonical rules hold whatever the limits: a non-shortest integer, unsorted keys.
    assert_eq!(err(&hex("1801")), CborError::NonCanonicalInteger);
    assert_eq!(err(&hex("a2 02 00 01 00")), CborError::UnsortedMapKeys);
    // CTAP's own limits are unchanged.
    assert_eq!(Limits::CTAP.max_size, MAX_MESSAGE_SIZE);
    assert_eq!(Limits::CTAP.max_depth, MAX_DEPTH);
    let mut big = vec![0x59, 0x1d, 0xb6];
    big.resize(MAX_MESSAGE_SIZE, 0);
    assert_eq!(decode_with(&big, &Limits::CTAP), decode(&big));
}
