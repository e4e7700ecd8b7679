use super::*;

#[test]
fn origin_serialization_is_canonical() {
    let o = Origin::parse("https://EXAMPLE.com:443").unwrap();
    assert_eq!(o.serialize(), "https://example.com");
    let o = Origin::parse("https://Bücher.example:8443/").unwrap();
    assert_eq!(o.serialize(), "https://xn--bcher-kva.example:8443");
    assert_eq!(
        Origin::parse("app:org.gnome.Fractal").unwrap().serialize(),
        "app:org.gnome.Fractal"
    );
}

#[test]
fn error_names() {
    let e: WebAuthnError = Origin::parse("null").unwrap_err().into();
    assert_eq!(e.name(), "NotAllowedError");
    let e: WebAuthnError = Origin::parse("http://example.com").unwrap_err().into();
    assert_eq!(e.name(), "SecurityError");
    assert_eq!(
        e.message(),
        "origin \"http://example.com\" is not https (http is only allowed for localhost)"
    );
}

#[test]
fn rp_id_canonicalisation() {
    assert_eq!(
        RpId::parse("Bücher.Example").unwrap().as_str(),
        "xn--bcher-kva.example"
    );
    assert_eq!(RpId::parse("EXAMPLE.COM").unwrap().as_str(), "example.com");
    assert!(RpId::parse("1.2.3.4").is_err());
    assert!(RpId::parse("[::1]").is_err());
    assert!(RpId::parse("a..b").is_err());
    assert!(RpId::parse("").is_err());
    assert!(RpId::parse("under_score.example").is_err());
    assert!(RpId::parse(&format!("{}.com", "a".repeat(64))).is_err());
}

#[test]
fn rp_id_hash_is_sha256_of_ascii() {
    // rpIdHash of "example.org" from the W3C test vectors (L3 §16).
    assert_eq!(
        hex::encode(RpId::parse("example.org").unwrap().hash()),
        "bfabc37432958b063360d3ad6461c9c4735ae7f8edd46592a5e0f01452b2e4b5"
    );
}

#[test]
fn html_table_for_domains() {
    let t = |s: &str, h: &str| is_registrable_suffix_or_equal(&RpId::parse(s).unwrap(), h);
    assert!(t("example.com", "example.com"));
    assert!(!t("example.com", "example.com."));
    assert!(!t("example.com.", "example.com"));
    assert!(t("example.com", "www.example.com"));
    assert!(!t("com", "example.com"));
    assert!(t("example", "example"));
    assert!(!t("compute.amazonaws.com", "example.compute.amazonaws.com"));
    assert!(!t(
        "example.compute.amazonaws.com",
        "www.example.compute.amazonaws.com"
    ));
    assert!(!t("amazonaws.com", "www.example.compute.amazonaws.com"));
    assert!(t("amazonaws.com", "test.amazonaws.com"));
}

#[test]
fn app_origins_need_policy() {
    let o = Origin::parse("app:org.example.App").unwrap();
    let e = AuthorizedRpId::check_origin(&o, Some("example.org")).unwrap_err();
    assert_eq!(WebAuthnError::from(e).name(), "SecurityError");
    let Origin::App(app) = o else { panic!() };
    let a = AuthorizedRpId::bound_by_policy(app, RpId::parse("example.org").unwrap());
    assert_eq!(a.via(), Authorization::AppPolicy);
    assert!(AppId::new("").is_err());
    assert!(AppId::new("a b").is_err());
}
