#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Origin / RP ID pairs: accepted (with the canonical RP ID) or refused with the DOMException name
//! a browser raises. Sources: L3 §4 "RP ID" examples, HTML's "is a registrable domain suffix of
//! or is equal to" table, Public Suffix List entries (ICANN and private), IDNs, IP literals,
//! ports, schemes, localhost, opaque origins.

use latchkey_webauthn::origin::authorize;

enum Want {
    Ok(&'static str),
    Err(&'static str),
}
use Want::*;

const SEC: Want = Err("SecurityError");
const NOT_ALLOWED: Want = Err("NotAllowedError");

const TABLE: &[(&str, Option<&str>, Want)] = &[
    // L3 §4 "RP ID": origin https://login.example.com:1337.
    (
        "https://login.example.com:1337",
        Some("login.example.com"),
        Ok("login.example.com"),
    ),
    (
        "https://login.example.com:1337",
        Some("example.com"),
        Ok("example.com"),
    ),
    (
        "https://login.example.com:1337",
        Some("m.login.example.com"),
        SEC,
    ),
    ("https://login.example.com:1337", Some("com"), SEC),
    (
        "https://login.example.com:1337",
        None,
        Ok("login.example.com"),
    ),
    ("http://localhost:8000", Some("localhost"), Ok("localhost")),
    // Equal, parent, child, sibling, look-alike suffixes.
    (
        "https://example.com",
        Some("example.com"),
        Ok("example.com"),
    ),
    ("https://example.com", Some("evil.com"), SEC),
    ("https://example.com", Some("notexample.com"), SEC),
    ("https://notexample.com", Some("example.com"), SEC),
    ("https://example.com", Some("sub.example.com"), SEC),
    ("https://a.example.com", Some("b.example.com"), SEC),
    (
        "https://a.b.example.com",
        Some("example.com"),
        Ok("example.com"),
    ),
    // Public suffixes, ICANN section.
    (
        "https://www.example.co.uk",
        Some("example.co.uk"),
        Ok("example.co.uk"),
    ),
    ("https://www.example.co.uk", Some("co.uk"), SEC),
    ("https://example.co.uk", Some("uk"), SEC),
    // Public suffixes, private section (github.io, blogspot, wildcard amazonaws).
    ("https://foo.github.io", Some("github.io"), SEC),
    (
        "https://foo.github.io",
        Some("foo.github.io"),
        Ok("foo.github.io"),
    ),
    (
        "https://bar.foo.github.io",
        Some("foo.github.io"),
        Ok("foo.github.io"),
    ),
    ("https://bar.github.io", Some("foo.github.io"), SEC),
    ("https://myblog.blogspot.com", Some("blogspot.com"), SEC),
    (
        "https://www.example.compute.amazonaws.com",
        Some("example.compute.amazonaws.com"),
        SEC,
    ),
    (
        "https://www.example.compute.amazonaws.com",
        Some("amazonaws.com"),
        SEC,
    ),
    (
        "https://test.amazonaws.com",
        Some("amazonaws.com"),
        Ok("amazonaws.com"),
    ),
    // IDNs: Unicode and punycode, both canonicalised to A-labels.
    (
        "https://bücher.example",
        Some("bücher.example"),
        Ok("xn--bcher-kva.example"),
    ),
    (
        "https://xn--bcher-kva.example",
        Some("bücher.example"),
        Ok("xn--bcher-kva.example"),
    ),
    (
        "https://shop.bücher.example",
        Some("xn--bcher-kva.example"),
        Ok("xn--bcher-kva.example"),
    ),
    (
        "https://shop.пример.рф",
        Some("пример.рф"),
        Ok("xn--e1afmkfd.xn--p1ai"),
    ),
    ("https://пример.рф", Some("рф"), SEC),
    (
        "https://xn--bcher-kva.example",
        None,
        Ok("xn--bcher-kva.example"),
    ),
    // IP literals are never valid domains.
    ("https://127.0.0.1", Some("127.0.0.1"), SEC),
    ("https://192.168.1.10:8443", None, SEC),
    ("https://[::1]", Some("[::1]"), SEC),
    ("https://example.com", Some("93.184.216.34"), SEC),
    // Ports do not matter.
    (
        "https://example.com:8443",
        Some("example.com"),
        Ok("example.com"),
    ),
    ("https://example.com:443", None, Ok("example.com")),
    // Schemes: https only, http for localhost and *.localhost.
    ("http://example.com", Some("example.com"), SEC),
    ("http://localhost", None, Ok("localhost")),
    (
        "http://app.localhost:3000",
        Some("app.localhost"),
        Ok("app.localhost"),
    ),
    ("http://app.localhost", Some("localhost"), SEC),
    (
        "http://localhost.example.com",
        Some("localhost.example.com"),
        SEC,
    ),
    ("ftp://example.com", Some("example.com"), SEC),
    ("wss://example.com", Some("example.com"), SEC),
    // Trailing dots are significant; case is not.
    (
        "https://example.com.",
        Some("example.com."),
        Ok("example.com."),
    ),
    ("https://example.com.", Some("example.com"), SEC),
    ("https://example.com", Some("example.com."), SEC),
    (
        "https://EXAMPLE.COM",
        Some("Example.Com"),
        Ok("example.com"),
    ),
    (
        "https://Sub.Example.com",
        Some("EXAMPLE.com"),
        Ok("example.com"),
    ),
    // Malformed RP IDs and origins.
    ("https://example.com", Some(""), SEC),
    ("https://example.com", Some(".example.com"), SEC),
    ("https://example.com", Some("exa mple.com"), SEC),
    ("https://my_host.example.com", Some("example.com"), SEC),
    ("https://user:pass@example.com", Some("example.com"), SEC),
    ("https://example.com/login", Some("example.com"), SEC),
    ("example.com", Some("example.com"), SEC),
    // Opaque origins.
    ("null", Some("example.com"), NOT_ALLOWED),
    (
        "file:///home/user/index.html",
        Some("localhost"),
        NOT_ALLOWED,
    ),
    ("data:text/html,hello", Some("example.com"), NOT_ALLOWED),
    // Applications need a policy binding.
    ("app:org.example.Chat", Some("example.com"), SEC),
    ("app:", Some("example.com"), SEC),
];

#[test]
fn rp_id_table() {
    assert!(TABLE.len() >= 40, "{} pairs", TABLE.len());
    let mut failures = Vec::new();
    for (origin, rp_id, want) in TABLE {
        let got = authorize(origin, *rp_id);
        let ok = match (want, &got) {
            (Ok(canon), Result::Ok(a)) => a.rp_id().as_str() == *canon,
            (Err(name), Result::Err(e)) => e.name() == *name && !e.message().is_empty(),
            _ => false,
        };
        if !ok {
            failures.push(format!("{origin} / {rp_id:?}: got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} pairs wrong:\n{}",
        failures.len(),
        TABLE.len(),
        failures.join("\n")
    );
}

#[test]
fn origin_serialization_in_authorization() {
    let a = authorize("https://Shop.Bücher.example:443", Some("bücher.example")).unwrap();
    assert_eq!(a.origin().serialize(), "https://shop.xn--bcher-kva.example");
    let a = authorize("http://localhost:8000", None).unwrap();
    assert_eq!(a.origin().serialize(), "http://localhost:8000");
}

#[test]
fn error_messages_say_what_was_wrong() {
    let e = authorize("https://example.com", Some("evil.com")).unwrap_err();
    assert_eq!(
        e.message(),
        "RP ID \"evil.com\" is not equal to or a registrable domain suffix of \"example.com\""
    );
    let e = authorize("https://127.0.0.1", None).unwrap_err();
    assert_eq!(
        e.message(),
        "the effective domain of \"https://127.0.0.1\" is not a valid domain"
    );
}
