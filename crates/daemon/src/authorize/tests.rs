use super::*;
use latchkey_webauthn::origin::Authorization;

fn caller(flatpak: Option<&str>) -> CallerIdentity {
    CallerIdentity {
        pid: 42,
        ppid: 1,
        start_time: 1,
        executable: Some("/usr/bin/some-app".into()),
        executable_file: None,
        same_mount_namespace: flatpak.is_none(),
        flatpak_app_id: flatpak.map(str::to_owned),
        snap_name: None,
        systemd_unit: None,
        cgroup_path: None,
    }
}

fn claims<'a>(origin: Option<&'a str>, rp_id: Option<&'a str>) -> OriginClaims<'a> {
    OriginClaims {
        origin,
        top_origin: None,
        rp_id,
    }
}

fn err_name(r: Result<Grant, AuthorizeError>) -> &'static str {
    match r {
        Err(AuthorizeError::WebAuthn(e)) => e.name(),
        Err(AuthorizeError::TryRelatedOrigins { error, .. }) => error.name(),
        Ok(g) => panic!("granted {g:?}"),
    }
}

#[test]
fn privileged_may_vouch_for_https_origins() {
    let p = CallerClass::Privileged {
        name: "browser".into(),
        via_native_host: None,
    };
    let g = authorize(
        &p,
        &caller(None),
        &claims(Some("https://login.example.com"), Some("example.com")),
    )
    .unwrap();
    assert!(matches!(g, Grant::Allowed(..)));
    assert_eq!(
        g.authorized().origin().serialize(),
        "https://login.example.com"
    );
    assert_eq!(g.authorized().rp_id().as_str(), "example.com");
    assert_eq!(g.authorized().via(), Authorization::EffectiveDomain);
    assert_eq!(
        err_name(authorize(
            &p,
            &caller(None),
            &claims(Some("http://example.com"), None)
        )),
        "SecurityError"
    );
    assert_eq!(
        err_name(authorize(
            &p,
            &caller(None),
            &claims(Some("app:org.x.Y"), Some("x.org"))
        )),
        "SecurityError"
    );
    // A suffix mismatch is a candidate for related origins, and SecurityError if not.
    let r = authorize(
        &p,
        &caller(None),
        &claims(Some("https://example.co.uk"), Some("example.com")),
    );
    assert!(matches!(r, Err(AuthorizeError::TryRelatedOrigins { .. })));
    assert_eq!(err_name(r), "SecurityError");
    assert_eq!(
        err_name(authorize(
            &p,
            &caller(None),
            &claims(None, Some("example.com"))
        )),
        "SecurityError"
    );
}

#[test]
fn top_origin_only_from_privileged() {
    let p = CallerClass::Privileged {
        name: "b".into(),
        via_native_host: None,
    };
    let c = OriginClaims {
        origin: Some("https://a.example"),
        top_origin: Some("https://top.example"),
        rp_id: None,
    };
    let g = authorize(&p, &caller(None), &c).unwrap();
    assert_eq!(
        *g.ancestry(),
        Ancestry::CrossOrigin {
            top_origin: Some("https://top.example".into())
        }
    );
    let u = CallerClass::Unknown;
    assert_eq!(err_name(authorize(&u, &caller(None), &c)), "SecurityError");
    // The same origin written another way is the same origin: not cross-origin.
    for (origin, top) in [
        ("https://EXAMPLE.com", "https://example.com"),
        ("https://example.com:443", "https://example.com"),
        ("https://example.com/", "https://Example.com:443"),
    ] {
        let c = OriginClaims {
            origin: Some(origin),
            top_origin: Some(top),
            rp_id: None,
        };
        let g = authorize(&p, &caller(None), &c).unwrap();
        assert_eq!(*g.ancestry(), Ancestry::SameOrigin, "{origin} in {top}");
    }
}

#[test]
fn unprivileged_may_not_vouch_unless_bound() {
    let unknown = CallerClass::Unknown;
    assert_eq!(
        err_name(authorize(
            &unknown,
            &caller(None),
            &claims(Some("https://example.com"), None)
        )),
        "SecurityError"
    );
    let bound = CallerClass::Bound {
        name: "chat".into(),
        rp_ids: vec!["example.com".into()],
    };
    let g = authorize(
        &bound,
        &caller(Some("com.example.Chat")),
        &claims(Some("https://example.com"), None),
    )
    .unwrap();
    assert!(matches!(g, Grant::Allowed(..)));
    assert_eq!(
        err_name(authorize(
            &bound,
            &caller(Some("com.example.Chat")),
            &claims(Some("https://other.org"), None)
        )),
        "SecurityError"
    );
    let g = authorize(
        &bound,
        &caller(Some("com.example.Chat")),
        &claims(None, Some("EXAMPLE.com")),
    )
    .unwrap();
    assert_eq!(g.authorized().origin().serialize(), "app:com.example.Chat");
    assert_eq!(g.authorized().via(), Authorization::AppPolicy);
    assert_eq!(
        err_name(authorize(
            &bound,
            &caller(None),
            &claims(None, Some("bank.com"))
        )),
        "SecurityError"
    );
}

#[test]
fn unknown_needs_approval_and_denied_is_not_allowed() {
    let g = authorize(
        &CallerClass::Unknown,
        &caller(None),
        &claims(None, Some("example.com")),
    )
    .unwrap();
    assert!(matches!(g, Grant::NeedsApproval(..)));
    assert_eq!(g.authorized().origin().serialize(), "app:some-app");
    assert_eq!(
        err_name(authorize(
            &CallerClass::Unknown,
            &caller(None),
            &claims(None, None)
        )),
        "SecurityError"
    );
    assert_eq!(
        err_name(authorize(
            &CallerClass::Denied,
            &caller(None),
            &claims(None, Some("example.com"))
        )),
        "NotAllowedError"
    );
}
