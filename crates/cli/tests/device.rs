#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! `latchkey create` / `get` on `latchkey virtual-key` processes over UDP, including a choice
//! between two keys where only one accepts the touch.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const LATCHKEY: &str = env!("CARGO_BIN_EXE_latchkey");

struct Key {
    child: Child,
    spec: String,
}

impl Key {
    fn start(presence: &str) -> Self {
        let mut child = Command::new(LATCHKEY)
            .args([
                "virtual-key",
                "--udp",
                "127.0.0.1:0",
                "--presence",
                presence,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(line.contains("serving on udp"), "{line}");
        Self {
            child,
            spec: format!("udp:{addr}"),
        }
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
    let key = Key::start("auto");
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
    let refusing = Key::start("deny");
    let accepting = Key::start("auto");
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
