use super::*;

#[test]
fn kinds_round_trip_through_their_words() {
    for k in [
        ChoiceKind::Platform,
        ChoiceKind::SecurityKey,
        ChoiceKind::Hybrid,
        ChoiceKind::Provider,
    ] {
        assert_eq!(ChoiceKind::parse(k.as_str()), Some(k));
    }
    assert_eq!(ChoiceKind::parse("phone"), None);
    let all = [
        StatusKind::InsertKey,
        StatusKind::TouchKey,
        StatusKind::SelectKey,
        StatusKind::Fingerprint,
        StatusKind::FingerprintRetry,
        StatusKind::Working,
        StatusKind::PinSet,
        StatusKind::Error,
        StatusKind::Info,
    ];
    for k in all {
        assert_eq!(StatusKind::parse(k.as_str()), Some(k));
    }
    // The words are the XML's.
    for k in all {
        assert!(crate::INTERFACE_XML.contains(k.as_str()), "{k:?}");
    }
}

#[test]
fn version_1_prompts_get_the_sentences_latchkeyd_always_sent() {
    assert_eq!(Status::new(StatusKind::TouchKey).v1_text(), TOUCH_KEY);
    assert_eq!(Status::new(StatusKind::InsertKey).v1_text(), INSERT_KEY);
    assert_eq!(Status::new(StatusKind::Working).v1_text(), "Working…");
    assert_eq!(
        Status::new(StatusKind::PinSet).v1_text(),
        "Your new PIN is set"
    );
    let fp = Status {
        authenticator: "key A".into(),
        retries: Some(2),
        ..Status::new(StatusKind::FingerprintRetry)
    };
    assert_eq!(
        fp.v1_text(),
        "Not recognised (2 tries left). Verify yourself on key A (fingerprint)"
    );
    assert_eq!(Status::info("no PIN here").v1_text(), "no PIN here");
    let d = fp.dict();
    assert_eq!(d.get("kind"), Some(&Value::from("fingerprint-retry")));
    assert_eq!(d.get("retries"), Some(&Value::from(2u32)));
    assert!(!d.contains_key("message"));
}

#[test]
fn consent_results_read_remember_only_when_it_is_true() {
    let mut r: HashMap<String, OwnedValue> = HashMap::new();
    assert_eq!(
        ConsentResults::parse(&r),
        ConsentResults { remember: false }
    );
    r.insert("remember".into(), OwnedValue::from(true));
    assert!(ConsentResults::parse(&r).remember);
    r.insert("remember".into(), OwnedValue::from(1u32));
    assert!(!ConsentResults::parse(&r).remember);
}

#[test]
fn choices_carry_label_and_detail_only_when_given() {
    let offer = ChoiceOffer {
        kind: "create",
        rp_id: "example.com".into(),
        choices: vec![
            Choice {
                id: "platform".into(),
                kind: ChoiceKind::Platform,
                label: String::new(),
                detail: String::new(),
            },
            Choice {
                id: "keys".into(),
                kind: ChoiceKind::SecurityKey,
                label: String::new(),
                detail: "2 keys present".into(),
            },
        ],
    };
    let e = offer.entries();
    assert_eq!(e[0].len(), 2);
    assert_eq!(e[1].get("detail"), Some(&Value::from("2 keys present")));
    assert_eq!(e[1].get("kind"), Some(&Value::from("security-key")));
    assert_eq!(offer.position("keys"), Some(1));
    assert_eq!(offer.position("hybrid"), None);
    assert_eq!(
        offer.details().get("rp_id"),
        Some(&Value::from("example.com"))
    );
}

#[test]
fn parent_windows_are_empty_x11_or_wayland_handles() {
    assert_eq!(ParentWindow::parse(""), Ok(None));
    for good in ["x11:1e00007", "x11:0x2a", "wayland:abc-123_XYZ"] {
        assert_eq!(
            ParentWindow::parse(good).unwrap().unwrap().as_str(),
            good,
            "{good}"
        );
    }
    let long = format!("wayland:{}", "a".repeat(257));
    for bad in [
        "x11:",
        "x11:0",
        "x11:zz",
        "x11:+1",
        "x11:100000000",
        "wayland:",
        "wayland:a b",
        "wayland:\u{202e}x",
        long.as_str(),
        "mir:1",
        "1e00007",
    ] {
        assert_eq!(ParentWindow::parse(bad), Err(BadParentWindow), "{bad:?}");
    }
}
