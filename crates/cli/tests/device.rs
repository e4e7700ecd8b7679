#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! `latchkey create` / `get` on `latchkey virtual-key` processes over UDP, including a choice
//! between two keys where only one accepts the touch.

use std::process::{Command, Stdio};

use latchkey_testkit::keys::KeyProcess;

const LATCHKEY: &str = env!("CARGO_BIN_EXE_latchkey");

fn run(args: &[&str], options: &serde_json::Value) -> (bool, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("options.json");
    std::fs::write(&file, options.to_string()).unwrap();
    let out = Command::new(LATCHKEY)
        .args(args)
        .arg("--options")
        .arg(&file)
        .args(["--origin", "https://example.com", "--json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.success(), json, stderr)
}

fn creation() -> serde_json::Value {
    serde_json::json!({
        "rp": {"id": "example.com", "name": "Example"},
        "user": {"id": "AQIDBA", "name": "bob", "displayName": "Bob"},
        "challenge": "dGhlIGNoYWxsZW5nZQ",
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "authenticatorSelection": {"residentKey": "discouraged", "userVerification": "discouraged"},
    })
}

#[test]
fn create_then_get_on_a_udp_virtual_key() {
    let key = KeyProcess::udp("auto");
    let (ok, reg, err) = run(&["create", "--device", &key.spec], &creation());
    assert!(ok, "{err}");
    assert_eq!(reg["type"], "public-key");
    assert_eq!(reg["authenticatorAttachment"], "cross-platform");
    assert_eq!(reg["response"]["transports"], serde_json::json!(["usb"]));
    assert_eq!(reg["response"]["publicKeyAlgorithm"], -7);
    let id = reg["id"].as_str().unwrap().to_owned();
    let request = serde_json::json!({
        "challenge": "YW5vdGhlciBjaGFsbGVuZ2U",
        "rpId": "example.com",
        "allowCredentials": [{"type": "public-key", "id": id}],
        "userVerification": "discouraged",
    });
    let (ok, assertion, err) = run(&["get", "--device", &key.spec], &request);
    assert!(ok, "{err}");
    assert_eq!(assertion["id"], id);
    assert!(assertion["response"]["signature"].as_str().unwrap().len() > 40);
}

#[test]
fn of_two_keys_the_one_that_accepts_the_touch_is_used() {
    let refusing = KeyProcess::udp("deny");
    let accepting = KeyProcess::udp("auto");
    let (ok, reg, err) = run(
        &[
            "create",
            "--device",
            &refusing.spec,
            "--device",
            &accepting.spec,
        ],
        &creation(),
    );
    assert!(ok, "{err}");
    assert_eq!(reg["type"], "public-key");
    // A key that refuses every touch, alone, makes the ceremony fail with NotAllowedError.
    let (ok, _, err) = run(&["create", "--device", &refusing.spec], &creation());
    assert!(!ok);
    let err: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(err["name"], "NotAllowedError", "{err}");
}
