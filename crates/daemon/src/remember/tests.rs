use std::os::unix::fs::PermissionsExt as _;

use super::*;

fn facts(rp_id: &str) -> Facts<'_> {
    Facts {
        privileged_browser: Some("Firefox"),
        verified: true,
        top_level: true,
        own_domain: true,
        trusted_prompt: true,
        rp_id,
    }
}

fn key(rp_id: &str) -> Eligible {
    Eligible::check(facts(rp_id)).expect("eligible")
}

#[test]
fn only_a_verified_top_level_browser_request_in_the_trusted_prompt_is_eligible() {
    assert!(Eligible::check(facts("example.com")).is_some());
    let refused = [
        Facts {
            privileged_browser: None,
            ..facts("example.com")
        },
        Facts {
            verified: false,
            ..facts("example.com")
        },
        Facts {
            top_level: false,
            ..facts("example.com")
        },
        Facts {
            own_domain: false,
            ..facts("example.com")
        },
        Facts {
            trusted_prompt: false,
            ..facts("example.com")
        },
        Facts {
            privileged_browser: Some(""),
            ..facts("example.com")
        },
    ];
    for f in refused {
        assert_eq!(Eligible::check(f), None, "{f:?}");
    }
    let long = "a".repeat(MAX_RP_ID_CHARS + 1);
    assert_eq!(Eligible::check(facts(&long)), None);
}

#[test]
fn remembers_revokes_and_persists_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let (store, err) = Remembered::in_dir(dir.path());
    assert!(err.is_none());
    assert!(!store.contains(&key("example.com")));
    store.remember(&key("example.com"), 1000).unwrap();
    store.remember(&key("example.com"), 2000).unwrap();
    store.remember(&key("example.org"), 3000).unwrap();
    assert!(store.contains(&key("example.com")));
    let file = dir.path().join(FILE_NAME);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        on_disk,
        serde_json::json!({"version": 1, "decisions": [
            {"browser": "Firefox", "rp_id": "example.com", "created": 1000},
            {"browser": "Firefox", "rp_id": "example.org", "created": 3000},
        ]})
    );
    // Another browser's decision is its own.
    let chromium = Eligible::check(Facts {
        privileged_browser: Some("Chromium"),
        ..facts("example.com")
    })
    .unwrap();
    assert!(!store.contains(&chromium));

    let (again, err) = Remembered::in_dir(dir.path());
    assert!(err.is_none());
    assert_eq!(again.list(), store.list());
    assert!(again.revoke("Firefox", "example.com").unwrap());
    assert!(!again.revoke("Firefox", "example.com").unwrap());
    assert!(!again.contains(&key("example.com")));
    let (third, _) = Remembered::in_dir(dir.path());
    assert_eq!(
        third.list(),
        vec![Decision {
            browser: "Firefox".into(),
            rp_id: "example.org".into(),
            created: 3000
        }]
    );
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from(FILE_NAME)]);
}

#[test]
fn a_malformed_file_is_reported_ignored_and_kept_aside() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(FILE_NAME);
    for (text, expect) in [
        (&b"{not json"[..], "malformed"),
        (br#"{"version":2,"decisions":[]}"#, "within bounds"),
        (
            br#"{"version":1,"decisions":[{"browser":"","rp_id":"a","created":1}]}"#,
            "within bounds",
        ),
        (br#"{"version":1,"decisions":[],"extra":1}"#, "malformed"),
    ] {
        std::fs::write(&file, text).unwrap();
        let (store, err) = Remembered::in_dir(dir.path());
        let err = err.expect("reported").to_string();
        assert!(err.contains(expect), "{err}");
        assert!(store.list().is_empty());
        assert!(!store.contains(&key("a")));
    }
    // Saving moves the bad file aside, byte for byte, and writes a good one.
    let (store, _) = Remembered::in_dir(dir.path());
    store.remember(&key("example.com"), 5).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("remembered.json.malformed")).unwrap(),
        br#"{"version":1,"decisions":[],"extra":1}"#
    );
    let (again, err) = Remembered::in_dir(dir.path());
    assert!(err.is_none());
    assert_eq!(again.list().len(), 1);
}

#[test]
fn an_oversized_file_is_ignored_and_the_list_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(FILE_NAME);
    std::fs::write(&file, vec![b' '; MAX_FILE_BYTES as usize + 1]).unwrap();
    let (store, err) = Remembered::in_dir(dir.path());
    assert!(matches!(err, Some(LoadError::TooLarge(_))), "{err:?}");
    assert!(store.list().is_empty());

    let store = Remembered::in_memory();
    for i in 0..=MAX_DECISIONS {
        store
            .remember(&key(&format!("site{i}.example")), i as u64)
            .unwrap();
    }
    let list = store.list();
    assert_eq!(list.len(), MAX_DECISIONS);
    assert_eq!(list[0].rp_id, "site1.example", "the oldest was forgotten");
    assert!(store.contains(&key(&format!("site{MAX_DECISIONS}.example"))));
}

#[test]
fn a_missing_file_is_no_decision_and_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let (store, err) = Remembered::in_dir(&dir.path().join("not-yet"));
    assert!(err.is_none());
    store.remember(&key("example.com"), 1).unwrap();
    assert!(dir.path().join("not-yet").join(FILE_NAME).exists());
}
