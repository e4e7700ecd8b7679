#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! `latchkey demo` and the ceremony commands, run as a user would run them.

use std::io::Write;
use std::process::{Command, Stdio};

const LATCHKEY: &str = env!("CARGO_BIN_EXE_latchkey");

#[test]
fn demo_registers_signs_in_and_verifies_both() {
    let out = Command::new(LATCHKEY).arg("demo").output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "origin https://demo.latchkey.dev, RP ID demo.latchkey.dev",
        "the demo sets the demo PIN",
        "authenticator asked: authenticatorClientPIN (setPIN)",
        "authenticator asked: authenticatorMakeCredential (rk=true, pinUvAuthParam present",
        "flags: UP=1 UV=1 BE=0 BS=0",
        "public key algorithm: -7 (ES256)",
        "sign count: 0",
        "credProps.rk: true",
        "relying party: registration verified",
        "authenticator asked: authenticatorGetAssertion (up=true, allowList 0, pinUvAuthParam present)",
        "sign count: 1",
        "relying party: assertion verified",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    // The two steps name the same credential.
    let ids: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("credential ID: "))
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1]);
    // The throwaway store is gone.
    let store = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Credential store: "))
        .unwrap();
    assert!(
        !std::path::Path::new(store).exists(),
        "{store} was left behind"
    );
}

#[test]
fn demo_keeps_a_given_store_and_credentials_list_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = Command::new(LATCHKEY)
        .args(["demo", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = Command::new(LATCHKEY)
        .args(["credentials", "list", "--json", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["rpId"], "demo.latchkey.dev");
    assert_eq!(list[0]["userName"], "alice@demo.latchkey.dev");
    assert_eq!(list[0]["discoverable"], true);
    // Delete it; the list is then empty.
    let id = list[0]["id"].as_str().unwrap();
    let out = Command::new(LATCHKEY)
        .args(["credentials", "delete", id, "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(LATCHKEY)
        .args(["credentials", "list", "--json", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn create_with_bad_options_fails_with_a_named_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(LATCHKEY)
        .args([
            "create",
            "--origin",
            "https://example.com",
            "--json",
            "--store",
        ])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"rp\": 1}")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["name"], "TypeError", "{err}");
}

#[test]
fn help_explains_the_first_command() {
    let out = Command::new(LATCHKEY).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("latchkey demo"), "{text}");
    for sub in ["demo", "create", "get", "credentials", "pin", "virtual-key"] {
        assert!(text.contains(sub), "{sub} missing from --help");
    }
}
