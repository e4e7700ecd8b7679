use super::*;

fn ccd(s: &str) -> String {
    let mut v = Vec::new();
    ccd_to_string(&mut v, s);
    String::from_utf8(v).unwrap()
}

#[test]
fn ccd_escapes_exactly_quote_backslash_and_c0() {
    assert_eq!(ccd("plain"), "\"plain\"");
    assert_eq!(ccd("a\"b"), "\"a\\\"b\"");
    assert_eq!(ccd("a\\b"), "\"a\\\\b\"");
    assert_eq!(
        ccd("\n\t\r\u{0}\u{1f}"),
        "\"\\u000a\\u0009\\u000d\\u0000\\u001f\""
    );
    // U+007F, U+2028 and non-ASCII are not escaped: UTF-8 as is.
    assert_eq!(ccd("\u{7f}"), "\"\u{7f}\"");
    assert_eq!(ccd("\u{2028}"), "\"\u{2028}\"");
    assert_eq!(ccd("bücher 😀"), "\"bücher 😀\"");
    assert_eq!(ccd("/ ! #"), "\"/ ! #\"");
}

#[test]
fn serializes_same_origin() {
    let cd = CollectedClientData::new(
        CeremonyType::Get,
        &Challenge::new(vec![0xfb, 0xff]),
        "https://example.org",
        Ancestry::SameOrigin,
    );
    assert_eq!(
        String::from_utf8(cd.to_json_bytes()).unwrap(),
        r#"{"type":"webauthn.get","challenge":"-_8","origin":"https://example.org","crossOrigin":false}"#
    );
}

#[test]
fn serializes_cross_origin_with_top_origin() {
    let cd = CollectedClientData::new(
        CeremonyType::Create,
        &Challenge::new(b"abc".to_vec()),
        "https://a.example",
        Ancestry::CrossOrigin {
            top_origin: Some("https://top.example:8443".into()),
        },
    );
    assert_eq!(
        String::from_utf8(cd.to_json_bytes()).unwrap(),
        r#"{"type":"webauthn.create","challenge":"YWJj","origin":"https://a.example","crossOrigin":true,"topOrigin":"https://top.example:8443"}"#
    );
}

#[test]
fn serialized_output_is_valid_json_that_round_trips() {
    let cd = CollectedClientData::new(
        CeremonyType::Create,
        &Challenge::new(vec![1, 2, 3]),
        "app:org.example.\"odd\\app\n",
        Ancestry::SameOrigin,
    );
    let parsed = ParsedClientData::parse(&cd.to_json_bytes()).unwrap();
    assert_eq!(parsed.origin, "app:org.example.\"odd\\app\n");
    assert_eq!(parsed.ty, "webauthn.create");
    assert_eq!(parsed.cross_origin, Some(false));
}

#[test]
fn limited_verification_accepts_own_output_and_rejects_changes() {
    let ch = Challenge::new(vec![9; 16]);
    let cd = CollectedClientData::new(
        CeremonyType::Get,
        &ch,
        "https://x.example",
        Ancestry::CrossOrigin {
            top_origin: Some("https://t.example".into()),
        },
    );
    let j = cd.to_json_bytes();
    let ok = |j: &[u8], o: &str, t: Option<&str>| {
        limited_verify(j, CeremonyType::Get, ch.as_bytes(), o, t, true)
    };
    assert!(ok(&j, "https://x.example", Some("https://t.example")));
    assert!(!ok(&j, "https://y.example", Some("https://t.example")));
    assert!(!ok(&j, "https://x.example", Some("https://u.example")));
    assert!(!ok(&j, "https://x.example", None));
    assert!(!limited_verify(
        &j,
        CeremonyType::Create,
        ch.as_bytes(),
        "https://x.example",
        Some("https://t.example"),
        true
    ));
    // Truncation after the expected prefix fails.
    assert!(!ok(
        &j[..j.len() - 1],
        "https://x.example",
        Some("https://t.example")
    ));
}

#[test]
fn built_for_an_authorized_origin() {
    let a =
        crate::origin::authorize("https://Login.Example.com:8443", Some("example.com")).unwrap();
    let top = match crate::origin::Origin::parse("https://portal.example").unwrap() {
        crate::origin::Origin::Web(w) => w,
        crate::origin::Origin::App(_) => unreachable!(),
    };
    let cd = CollectedClientData::for_authorized(
        CeremonyType::Get,
        &Challenge::new(vec![0; 3]),
        &a,
        Ancestry::framed_by(&top),
    );
    assert_eq!(
        String::from_utf8(cd.to_json_bytes()).unwrap(),
        r#"{"type":"webauthn.get","challenge":"AAAA","origin":"https://login.example.com:8443","crossOrigin":true,"topOrigin":"https://portal.example"}"#
    );
}

#[test]
fn parse_drops_a_byte_order_mark() {
    let with_bom = b"\xef\xbb\xbf{\"type\":\"webauthn.get\",\"challenge\":\"AA\",\"origin\":\"https://a.example\"}";
    let p = ParsedClientData::parse(with_bom).unwrap();
    assert_eq!(p.origin, "https://a.example");
    assert_eq!(p.cross_origin, None);
    assert_eq!(
        ParsedClientData::parse(b"[1]").unwrap_err().name(),
        "EncodingError"
    );
}
