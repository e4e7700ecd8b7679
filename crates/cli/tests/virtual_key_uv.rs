#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! `latchkey virtual-key --uv`: the emulated fingerprint reader, driven by `latchkey create`.

use std::process::{Command, Stdio};

use latchkey_testkit::keys::KeyProcess;

const LATCHKEY: &str = env!("CARGO_BIN_EXE_latchkey");

fn create(spec: &str) -> (bool, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("options.json");
    let options = serde_json::json!({
        "rp": {"id": "example.com", "name": "Example"},
        "user": {"id": "AQIDBA", "name": "bob", "displayName": "Bob"},
        "challenge": "dGhlIGNoYWxsZW5nZQ",
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "authenticatorSelection": {"residentKey": "discouraged", "userVerification": "required"},
    });
    std::fs::write(&file, options.to_string()).unwrap();
    let out = Command::new(LATCHKEY)
        .args(["create", "--device", spec, "--options"])
        .arg(&file)
        .args(["--origin", "https://example.com", "--json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.success(), json, stderr)
}

fn flags(reg: &serde_json::Value) -> u8 {
    let data = latchkey_webauthn::b64::decode(
        "authenticatorData",
        reg["response"]["authenticatorData"].as_str().unwrap(),
    )
    .unwrap();
    data[32]
}

#[test]
fn a_finger_recognised_on_the_second_try_verifies_the_user_without_a_pin() {
    let key = KeyProcess::unix(&["--uv", "no-match,match", "--uv-retries", "3"]);
    let (ok, reg, err) = create(&key.spec);
    assert!(ok, "{err}");
    assert_eq!(flags(&reg) & 0x05, 0x05, "UP and UV");
    let log = key.log();
    assert_eq!(
        log.matches("fingerprint not recognised").count(),
        1,
        "{log}"
    );
    assert_eq!(log.matches("fingerprint recognised").count(), 1, "{log}");
}

#[test]
fn without_a_finger_that_matches_and_without_a_pin_the_ceremony_fails() {
    let key = KeyProcess::unix(&["--uv", "no-match", "--uv-retries", "2"]);
    let (ok, _, err) = create(&key.spec);
    assert!(!ok);
    assert!(err.contains("did not recognise"), "{err}");
    assert_eq!(key.log().matches("fingerprint not recognised").count(), 2);
}

#[test]
fn a_bad_uv_spec_is_refused() {
    let out = Command::new(LATCHKEY)
        .args([
            "virtual-key",
            "--unix",
            "/nonexistent/x.sock",
            "--uv",
            "maybe",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"maybe\" is not a fingerprint outcome"),
        "{err}"
    );
}
