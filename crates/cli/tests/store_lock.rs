#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! `latchkey` on a platform store that another process holds: refused, with who holds it, and
//! nothing changed; the holder's work is intact once it finishes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use latchkey_testkit::files::snapshot;

const LATCHKEY: &str = env!("CARGO_BIN_EXE_latchkey");

fn latchkey(args: &[&str], store: &Path) -> Output {
    Command::new(LATCHKEY)
        .args(args)
        .arg("--store")
        .arg(store)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `latchkey virtual-key --state DIR`: a software security key that holds its store in `DIR`
/// for as long as it runs. Returns once it serves, its store open.
fn holder(store: &Path) -> Child {
    let mut child = Command::new(LATCHKEY)
        .args(["virtual-key", "--udp", "127.0.0.1:0", "--state"])
        .arg(store)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("serving on udp"), "{line}");
    child
}

#[test]
fn a_store_held_by_another_process_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let options = dir.path().join("create.json");
    std::fs::write(
        &options,
        r#"{"rp":{"id":"example.com","name":"Example"},"user":{"id":"AQIDBA","name":"alice","displayName":"Alice"},"challenge":"AAECAwQFBgcICQoLDA0ODw","pubKeyCredParams":[{"type":"public-key","alg":-7}]}"#,
    )
    .unwrap();
    let mut held = holder(&store);
    let pid = held.id();
    let before = snapshot(&store);

    let options_arg = options.to_str().unwrap();
    for args in [
        &["credentials", "list", "--json"][..],
        &["credentials", "delete", "AQIDBA", "--json", "--local"],
        &[
            "create",
            "--origin",
            "https://example.com",
            "--json",
            "--local",
            "--options",
            options_arg,
        ],
    ] {
        let out = latchkey(args, &store);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
        assert_eq!(err["name"], "NotAllowedError", "{args:?}: {err}");
        assert_eq!(
            err["message"],
            format!(
                "the credential store at {} is in use by process {pid} (latchkey); try again \
                 when it has finished",
                store.display()
            ),
            "{args:?}"
        );
    }
    assert_eq!(
        snapshot(&store),
        before,
        "a refused command changed the store"
    );

    // Killed, the holder leaves the store free: a new one opens it.
    held.kill().unwrap();
    held.wait().unwrap();
    let mut again = holder(&store);
    again.kill().unwrap();
    again.wait().unwrap();
}
