#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! A client we did not write drives the authenticator: python-fido2's `Ctap2`, `ClientPin`,
//! `CredentialManagement`, `LargeBlobs` and `Config`, and its packed attestation verifier
//! and `Ctap1` (tests/interop/fido2_client.py), over a length-prefixed pipe to `handle_cbor` and
//! `handle_u2f`.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use common::*;

/// The Python with python-fido2: the pinned environment `scripts/test.sh` prepares, else `python3`.
fn python() -> String {
    let venv = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/python/.venv/bin/python"
    );
    std::env::var("LATCHKEY_PYTHON").unwrap_or_else(|_| {
        if std::path::Path::new(venv).exists() {
            venv.to_string()
        } else {
            "python3".to_string()
        }
    })
}

/// Whether python-fido2 is there; without it the test is skipped (unless peers are required).
fn peer_available(python: &str) -> bool {
    let available = Command::new(python)
        .args(["-c", "import fido2"])
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        // The test command always provides the peer; only an ad-hoc `cargo test` may lack it.
        assert!(
            std::env::var_os("LATCHKEY_REQUIRE_PEERS").is_none(),
            "python-fido2 is required (LATCHKEY_REQUIRE_PEERS is set) but {python} lacks it"
        );
        eprintln!(
            "SKIPPED: {python} has no fido2 (run scripts/test.sh for the pinned environment)"
        );
    }
    available
}

/// Runs `script` (in tests/interop) against `h` over the pipe; returns its stderr and how many
/// messages it sent, after checking that it succeeded.
fn drive(python: &str, h: &mut Harness, script: &str) -> (String, usize) {
    let script = format!("{}/tests/interop/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_child = child.stdin.take().unwrap();
    let mut from_child = child.stdout.take().unwrap();
    let mut messages = 0;
    loop {
        let mut len = [0u8; 4];
        if from_child.read_exact(&mut len).is_err() {
            break;
        }
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 {
            break;
        }
        let mut msg = vec![0u8; len];
        from_child.read_exact(&mut msg).unwrap();
        let response = match msg.split_first() {
            Some((0x10, body)) => h.auth.handle_cbor(body),
            Some((0x03, apdu)) => h.auth.handle_u2f(apdu),
            other => panic!("unexpected message {other:?}"),
        };
        messages += 1;
        to_child
            .write_all(&(response.len() as u32).to_be_bytes())
            .unwrap();
        to_child.write_all(&response).unwrap();
        to_child.flush().unwrap();
    }
    drop(to_child);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "python-fido2 failed:\n{stderr}");
    (stderr, messages)
}

#[test]
fn python_fido2_drives_every_command() {
    let python = python();
    if !peer_available(&python) {
        return;
    }
    let mut h = Harness::with_config(latchkey_authenticator::Config {
        attestation: latchkey_authenticator::AttestationMode::PackedSelf,
        ..latchkey_authenticator::Config::default()
    });
    let (stderr, messages) = drive(&python, &mut h, "fido2_client.py");
    assert!(
        stderr.contains("python-fido2 drove every command"),
        "{stderr}"
    );
    assert!(messages > 30, "only {messages} messages");
}

#[test]
fn python_fido2_gets_tokens_by_fingerprint() {
    use latchkey_authenticator::env::UvMatch;
    let python = python();
    if !peer_available(&python) {
        return;
    }
    let mut h = Harness::with_config(latchkey_authenticator::Config {
        built_in_uv: latchkey_authenticator::BuiltInUv::Configured,
        max_uv_retries: 4,
        preferred_platform_uv_attempts: 3,
        ..latchkey_authenticator::Config::default()
    });
    h.user.fingers(&[
        Ok(UvMatch::NoMatch),
        Ok(UvMatch::Matched),
        Ok(UvMatch::Matched),
    ]);
    let (stderr, _) = drive(&python, &mut h, "fido2_uv.py");
    assert!(
        stderr.contains("python-fido2 verified the user by fingerprint"),
        "{stderr}"
    );
    assert_eq!(h.user.uv_prompts(), 3);
    assert_eq!(h.user.prompts(), 0, "every touch was a finger");
}
