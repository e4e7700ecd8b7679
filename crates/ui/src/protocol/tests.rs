use zbus::zvariant::{OwnedValue, Str, Value};

use super::*;

fn dict(entries: &[(&str, Value<'static>)]) -> Dict {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), OwnedValue::try_from(v.clone()).unwrap()))
        .collect()
}

fn s(text: &str) -> Value<'static> {
    Value::Str(Str::from(text.to_owned()))
}

#[test]
fn consent_from_latchkeyd_version_1() {
    let d = dict(&[
        ("kind", s("create")),
        ("rp_id", s("example.com")),
        ("origin", s("https://example.com")),
        ("caller", s("Chromium (via native messaging host)")),
        ("native_host", s("/usr/libexec/latchkey-native-host")),
        ("app_id", s("chromium")),
        ("caller_verified", Value::Bool(true)),
        ("caller_class", s("privileged")),
        ("user_name", s("ada")),
    ]);
    let c = Consent::parse(&d).unwrap();
    assert_eq!(c.kind, Kind::Create);
    assert_eq!(c.rp_id, "example.com");
    assert_eq!(c.caller, "Chromium");
    assert_eq!(c.caller_class, CallerClass::Privileged);
    assert!(c.caller_verified);
    assert_eq!(c.user_name.as_deref(), Some("ada"));
    assert_eq!(c.top_origin, None);
    assert!(!c.remember_offer);
}

#[test]
fn consent_defaults_err_on_the_safe_side() {
    let d = dict(&[
        ("kind", s("get")),
        ("rp_id", s("example.com")),
        ("origin", s("https://example.com")),
        ("caller", s("tool (via native messaging host)")),
        ("caller_class", s("privileged-but-new")),
    ]);
    let c = Consent::parse(&d).unwrap();
    // No flag: unverified. Unknown class: the least trusted. No host: the name is kept whole.
    assert!(!c.caller_verified);
    assert_eq!(c.caller_class, CallerClass::Unknown);
    assert_eq!(c.caller, "tool (via native messaging host)");
}

#[test]
fn malformed_consent_is_an_error() {
    let base = [
        ("rp_id", s("example.com")),
        ("origin", s("https://example.com")),
    ];
    let mut d = dict(&base);
    assert_eq!(Consent::parse(&d), Err(ProtocolError::Missing("kind")));
    d.insert("kind".into(), OwnedValue::from(7u32));
    assert_eq!(Consent::parse(&d), Err(ProtocolError::Missing("kind")));
    d.insert("kind".into(), OwnedValue::try_from(s("delete")).unwrap());
    assert_eq!(Consent::parse(&d), Err(ProtocolError::Unknown("kind")));
    d.insert("kind".into(), OwnedValue::try_from(s("get")).unwrap());
    d.insert(
        "caller".into(),
        OwnedValue::try_from(s(&"x".repeat(MAX_STRING + 1))).unwrap(),
    );
    assert_eq!(Consent::parse(&d), Err(ProtocolError::TooLong("caller")));
}

#[test]
fn parent_windows() {
    assert_eq!(
        ParentWindow::parse("x11:1e00007"),
        Some(ParentWindow::X11(0x1e00007))
    );
    assert_eq!(
        ParentWindow::parse("x11:0x2a"),
        Some(ParentWindow::X11(0x2a))
    );
    assert_eq!(ParentWindow::parse("x11:0"), None);
    assert_eq!(ParentWindow::parse("x11:zz"), None);
    assert_eq!(
        ParentWindow::parse("wayland:abc-123"),
        Some(ParentWindow::Wayland("abc-123".into()))
    );
    assert_eq!(ParentWindow::parse("wayland:a b"), None);
    assert_eq!(ParentWindow::parse("wayland:"), None);
    assert_eq!(ParentWindow::parse(""), None);
    assert_eq!(ParentWindow::parse("mir:1"), None);
}

#[test]
fn pin_requests() {
    let p = PinRequest::parse(&dict(&[
        ("authenticator", s("YubiKey 5")),
        ("retries", Value::U32(2)),
        ("wrong_pin", Value::Bool(true)),
        ("new_pin", Value::Bool(false)),
        ("min_length", Value::U32(0)),
    ]))
    .unwrap();
    assert_eq!(p.retries, Some(2));
    assert!(p.wrong_pin && !p.blocked && !p.platform);
    assert_eq!(p.min_length, DEFAULT_MIN_PIN);
    // Version 1 names its platform authenticator instead of saying its kind.
    let v1 = PinRequest::parse(&dict(&[("authenticator", s(PLATFORM_NAME_V1))])).unwrap();
    assert!(v1.platform);
    let blocked = PinRequest::parse(&dict(&[("retries", Value::U32(0))])).unwrap();
    assert!(blocked.blocked);
    let new = PinRequest::parse(&dict(&[
        ("new_pin", Value::Bool(true)),
        ("min_length", Value::U32(6)),
        ("authenticator_kind", s("platform")),
    ]))
    .unwrap();
    assert!(new.new_pin && new.platform);
    assert_eq!(new.min_length, 6);
    assert_eq!(
        PinRequest::parse(&dict(&[("authenticator_kind", s("phone"))])),
        Err(ProtocolError::Unknown("authenticator_kind"))
    );
}

#[test]
fn accounts_newest_first_keeping_indexes() {
    let list = vec![
        dict(&[("name", s("old")), ("created", Value::U64(100))]),
        dict(&[("name", s("unknown"))]),
        dict(&[("name", s("new")), ("created", Value::U64(300))]),
        dict(&[("name", s("mid")), ("created", Value::U64(200))]),
    ];
    let accounts = Account::parse_list(&list).unwrap();
    assert_eq!(display_order(&accounts), vec![2, 3, 0, 1]);
    let too_many = vec![Dict::new(); MAX_ENTRIES + 1];
    assert_eq!(
        Account::parse_list(&too_many),
        Err(ProtocolError::TooLong("accounts"))
    );
}

#[test]
fn choices_and_statuses() {
    let list = vec![
        dict(&[("id", s("platform")), ("kind", s("platform"))]),
        dict(&[
            ("id", s("keys")),
            ("kind", s("security-key")),
            ("detail", s("2 keys")),
        ]),
    ];
    let c = Choice::parse_list(&list).unwrap();
    assert_eq!(c[1].kind, ChoiceKind::SecurityKey);
    assert_eq!(c[1].detail, "2 keys");
    assert_eq!(
        Choice::parse_list(&[]),
        Err(ProtocolError::Missing("choices"))
    );
    assert_eq!(
        Choice::parse_list(&[dict(&[("id", s("x")), ("kind", s("carrier-pigeon"))])]),
        Err(ProtocolError::Unknown("kind"))
    );
    let st = Status::parse(&dict(&[
        ("kind", s("fingerprint-retry")),
        ("retries", Value::U32(3)),
    ]))
    .unwrap();
    assert_eq!(st.kind, StatusKind::Fingerprint { retry: true });
    assert_eq!(st.retries, Some(3));
    assert_eq!(
        Status::from_notice("Touch your security key").kind,
        StatusKind::TouchKey
    );
    assert_eq!(
        Status::from_notice("Not recognised (2 tries left). Verify yourself on K (fingerprint)")
            .kind,
        StatusKind::Fingerprint { retry: true }
    );
    assert_eq!(Status::from_notice("<b>hi</b>").kind, StatusKind::Info);
}
