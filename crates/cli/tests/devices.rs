#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! `latchkey devices`, `reset`, `pin` and `--device all` against `latchkey virtual-key`
//! processes, asserting on the JSON they print.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use latchkey_testkit::keys::KeyProcess;

const LATCHKEY: &str = env!("CARGO_BIN_EXE_latchkey");

struct Out {
    ok: bool,
    stdout: serde_json::Value,
    stderr: String,
}

/// Runs `latchkey ARGS --json` with `config` as $XDG_CONFIG_HOME and `stdin` on standard input.
fn latchkey(args: &[&str], config: &Path, stdin: &str) -> Out {
    let mut child = Command::new(LATCHKEY)
        .args(args)
        .arg("--json")
        .env("XDG_CONFIG_HOME", config)
        .env("XDG_DATA_HOME", config.join("data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that exits without reading its input closes the pipe first.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    let out = child.wait_with_output().unwrap();
    Out {
        ok: out.status.success(),
        stdout: serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn config_with(specs: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("latchkey")).unwrap();
    let list: Vec<String> = specs.iter().map(|s| format!("{s:?}")).collect();
    std::fs::write(
        dir.path().join("latchkey/devices.toml"),
        format!("devices = [{}]\n", list.join(", ")),
    )
    .unwrap();
    dir
}

fn entry<'a>(listing: &'a serde_json::Value, spec: &str) -> &'a serde_json::Value {
    listing
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["path"] == spec)
        .unwrap_or_else(|| panic!("{spec} not in {listing}"))
}

#[test]
fn devices_lists_the_keys_of_the_config_file_with_their_info() {
    let key = KeyProcess::udp("auto");
    let config = config_with(&[&key.spec]);
    let out = latchkey(&["devices"], config.path(), "");
    assert!(out.ok, "{}", out.stderr);
    let k = entry(&out.stdout, &key.spec);
    assert_eq!(k["connection"], "virtual");
    assert_eq!(k["pinSet"], false);
    assert_eq!(k["pinRetries"], serde_json::Value::Null);
    let aaguid = k["aaguid"].as_str().unwrap();
    assert_eq!(aaguid.len(), 36, "{aaguid}");
    assert_eq!(aaguid.matches('-').count(), 4, "{aaguid}");
    assert!(k["versions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == "FIDO_2_1"));
    assert_eq!(k["options"]["clientPin"], false);
    assert!(k["transports"].as_array().unwrap().contains(&"usb".into()));
}

#[test]
fn an_unreachable_key_is_listed_with_its_error() {
    let config = config_with(&["unix:/nonexistent/latchkey-key"]);
    let out = latchkey(&["devices"], config.path(), "");
    assert!(out.ok, "{}", out.stderr);
    let k = entry(&out.stdout, "unix:/nonexistent/latchkey-key");
    assert!(
        k["error"].as_str().unwrap().contains("gone"),
        "{}",
        out.stdout
    );
}

#[test]
fn pin_set_then_devices_shows_the_pin_and_eight_retries_then_reset_clears_it() {
    let key = KeyProcess::udp("auto");
    let config = config_with(&[]);
    let out = latchkey(
        &["pin", "set", "--device", &key.spec, "--pin-fd", "0"],
        config.path(),
        "424242\n",
    );
    assert!(out.ok, "{}", out.stderr);
    let out = latchkey(&["devices", "--device", &key.spec], config.path(), "");
    assert!(out.ok, "{}", out.stderr);
    let k = entry(&out.stdout, &key.spec);
    assert_eq!(k["pinSet"], true, "{k}");
    assert_eq!(k["pinRetries"], 8, "{k}");
    let out = latchkey(
        &["pin", "change", "--device", &key.spec, "--pin-fd", "0"],
        config.path(),
        "424242\n135791\n",
    );
    assert!(out.ok, "{}", out.stderr);

    let out = latchkey(
        &["reset", "--device", &key.spec, "--yes"],
        config.path(),
        "",
    );
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(out.stdout["reset"], key.spec.as_str());
    let out = latchkey(&["devices", "--device", &key.spec], config.path(), "");
    let k = entry(&out.stdout, &key.spec);
    assert_eq!(k["pinSet"], false, "{k}");
}

#[test]
fn reset_without_a_terminal_or_yes_refuses_and_erases_nothing() {
    let key = KeyProcess::udp("auto");
    let config = config_with(&[]);
    let out = latchkey(
        &["pin", "set", "--device", &key.spec, "--pin-fd", "0"],
        config.path(),
        "424242\n",
    );
    assert!(out.ok, "{}", out.stderr);
    let out = latchkey(&["reset", "--device", &key.spec], config.path(), "yes\n");
    assert!(!out.ok);
    let err: serde_json::Value = serde_json::from_str(out.stderr.trim()).unwrap();
    assert_eq!(err["name"], "NotAllowedError");
    assert!(err["message"].as_str().unwrap().contains("--yes"), "{err}");
    let out = latchkey(&["devices", "--device", &key.spec], config.path(), "");
    assert_eq!(entry(&out.stdout, &key.spec)["pinSet"], true);
    // `all` is not a key to reset.
    let out = latchkey(&["reset", "--device", "all", "--yes"], config.path(), "");
    assert!(!out.ok);
    assert!(out.stderr.contains("exactly one key"), "{}", out.stderr);
}

#[test]
fn reset_refused_by_the_key_says_it_works_only_after_plugging_in() {
    // A key that refuses the touch answers OPERATION_DENIED or NOT_ALLOWED: either way nothing
    // is erased and the message says why.
    let key = KeyProcess::udp("deny");
    let config = config_with(&[]);
    let out = latchkey(
        &["reset", "--device", &key.spec, "--yes"],
        config.path(),
        "",
    );
    assert!(!out.ok);
    let err: serde_json::Value = serde_json::from_str(out.stderr.trim()).unwrap();
    assert_eq!(err["name"], "NotAllowedError", "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("10 seconds") || message.contains("nothing was erased"),
        "{message}"
    );
}

#[test]
fn credentials_list_and_delete_on_a_key_as_json() {
    let key = KeyProcess::udp("auto");
    let config = config_with(&[&key.spec]);
    let out = latchkey(
        &["pin", "set", "--device", &key.spec, "--pin-fd", "0"],
        config.path(),
        "424242\n",
    );
    assert!(out.ok, "{}", out.stderr);
    let dir = tempfile::tempdir().unwrap();
    let options = dir.path().join("options.json");
    std::fs::write(
        &options,
        serde_json::json!({
            "rp": {"id": "example.com", "name": "Example"},
            "user": {"id": "AQIDBA", "name": "bob", "displayName": "Bob"},
            "challenge": "dGhlIGNoYWxsZW5nZQ",
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
            "authenticatorSelection": {"residentKey": "required", "userVerification": "required"},
        })
        .to_string(),
    )
    .unwrap();
    // `--device all`: the config file's key (and any USB key present) is used.
    let out = latchkey(
        &[
            "create",
            "--device",
            "all",
            "--pin-fd",
            "0",
            "--origin",
            "https://example.com",
            "--options",
            options.to_str().unwrap(),
        ],
        config.path(),
        "424242\n",
    );
    assert!(out.ok, "{}", out.stderr);
    let id = out.stdout["id"].as_str().unwrap().to_owned();
    let out = latchkey(
        &[
            "credentials",
            "list",
            "--device",
            &key.spec,
            "--pin-fd",
            "0",
        ],
        config.path(),
        "424242\n",
    );
    assert!(out.ok, "{}", out.stderr);
    let listed = out.stdout.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{}", out.stdout);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["rpId"], "example.com");
    let out = latchkey(
        &[
            "credentials",
            "delete",
            &id,
            "--device",
            &key.spec,
            "--pin-fd",
            "0",
        ],
        config.path(),
        "424242\n",
    );
    assert!(out.ok, "{}", out.stderr);
    let out = latchkey(
        &[
            "credentials",
            "list",
            "--device",
            &key.spec,
            "--pin-fd",
            "0",
        ],
        config.path(),
        "424242\n",
    );
    assert_eq!(out.stdout, serde_json::json!([]));
}
