#![cfg(feature = "pcsc")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! NFC keys through the whole real stack: `latchkey virtual-key --vpcd` is a contactless card in
//! vsmartcard's virtual reader inside a private pcscd started by each test; `latchkey devices`,
//! `pin`, `create` and `get` (in process) reach it through libpcsclite, and webauthn-rs
//! verifies what they return. Also: the card pulled mid-ceremony, and cards that break the
//! protocol, each ending the ceremony with a named error.

use latchkey_testkit::pcscd;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use webauthn_rs_core::proto::{
    COSEAlgorithm, PublicKeyCredential, RegisterPublicKeyCredential, UserVerificationPolicy,
};
use webauthn_rs_core::WebauthnCore;

const LATCHKEY: &str = env!("CARGO_BIN_EXE_latchkey");
const ORIGIN: &str = "https://example.com";
const PIN: &str = "314159";

fn card_spec() -> String {
    format!("pcsc:{}", pcscd::READER)
}

/// A `latchkey virtual-key --vpcd` process: the card on the reader until dropped (pulled).
struct Card {
    child: Child,
}

impl Card {
    fn insert(pcscd: &pcscd::Pcscd, extra: &[&str]) -> Self {
        let mut child = Command::new(LATCHKEY)
            .args(["virtual-key", "--vpcd", &pcscd.vpcd()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("serving on vpcd"), "{line}");
        let card = Self { child };
        card.wait_until_present(pcscd);
        card
    }

    /// Waits until `latchkey devices` sees the card (pcscd polls its readers for cards).
    fn wait_until_present(&self, pcscd: &pcscd::Pcscd) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = latchkey(pcscd, &["devices", "--json"], "");
            if out.ok && entry(&out.stdout).is_some() {
                return;
            }
            assert!(Instant::now() < deadline, "the card never showed: {out:?}");
            // pcscd finds the card when its own polling of the reader does: a real process's
            // timer, which nothing outside pcscd announces, so this asks again after a pause.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Card {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Out {
    ok: bool,
    stdout: serde_json::Value,
    stderr: String,
}

fn command(pcscd: &pcscd::Pcscd, args: &[&str]) -> Command {
    let mut cmd = Command::new(LATCHKEY);
    cmd.args(args)
        .env(pcscd::SOCKET_ENV, &pcscd.socket)
        .env("XDG_CONFIG_HOME", pcscd.dir().join("config"))
        .env("XDG_DATA_HOME", pcscd.dir().join("data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `latchkey ARGS` against the private pcscd with `stdin` on standard input.
fn latchkey(pcscd: &pcscd::Pcscd, args: &[&str], stdin: &str) -> Out {
    let mut child = command(pcscd, args).spawn().unwrap();
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

/// The card's entry in `latchkey devices --json`, if listed without an error.
fn entry(list: &serde_json::Value) -> Option<&serde_json::Value> {
    list.as_array()?
        .iter()
        .find(|k| k["path"] == card_spec().as_str() && k["error"].is_null())
}

fn write_options(dir: &Path, name: &str, options: Vec<u8>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, options).unwrap();
    path.to_str().unwrap().to_owned()
}

fn rp() -> WebauthnCore {
    WebauthnCore::new_unsafe_experts_only(
        "Example",
        "example.com",
        vec![url::Url::parse(ORIGIN).unwrap()],
        Duration::from_secs(60),
        None,
        None,
    )
}

#[test]
fn the_card_is_listed_gets_a_pin_and_its_ceremonies_pass_webauthn_rs() {
    let Some(pcscd) = pcscd::Pcscd::start() else {
        return;
    };
    let _card = Card::insert(&pcscd, &[]);
    let spec = card_spec();

    let out = latchkey(&pcscd, &["devices", "--json"], "");
    assert!(out.ok, "{}", out.stderr);
    let card = entry(&out.stdout).unwrap();
    assert_eq!(card["connection"], "nfc", "{card}");
    assert_eq!(card["name"], format!("NFC key on {}", pcscd::READER));
    assert!(card["versions"]
        .as_array()
        .unwrap()
        .contains(&"FIDO_2_1".into()));
    assert_eq!(card["pinSet"], false);

    let out = latchkey(
        &pcscd,
        &["pin", "set", "--device", &spec, "--pin-fd", "0", "--json"],
        &format!("{PIN}\n"),
    );
    assert!(out.ok, "{}", out.stderr);
    let out = latchkey(&pcscd, &["devices", "--json", "--device", &spec], "");
    let card = entry(&out.stdout).unwrap();
    assert_eq!(
        (card["pinSet"].clone(), card["pinRetries"].clone()),
        (true.into(), 8.into())
    );

    let core = rp();
    let builder = core
        .new_challenge_register_builder(b"carol-id-0001", "carol@example.com", "Carol")
        .unwrap()
        .user_verification_policy(UserVerificationPolicy::Required)
        .require_resident_key(true)
        .credential_algorithms(vec![COSEAlgorithm::ES256]);
    let (ccr, reg_state) = core.generate_challenge_register(builder).unwrap();
    let options = write_options(
        pcscd.dir(),
        "create.json",
        serde_json::to_vec(&ccr.public_key).unwrap(),
    );
    let out = {
        let args = [
            "create", "--device", &spec, "--origin", ORIGIN, "--pin-fd", "0",
        ];
        let mut child = command(&pcscd, &args)
            .args(["--options", &options])
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{PIN}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let registration: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        registration["response"]["transports"],
        serde_json::json!(["nfc"])
    );
    assert_eq!(registration["authenticatorAttachment"], "cross-platform");
    let parsed: RegisterPublicKeyCredential = serde_json::from_slice(&out.stdout).unwrap();
    let credential = core.register_credential(&parsed, &reg_state, None).unwrap();

    let builder = core
        .new_challenge_authenticate_builder(
            vec![credential],
            Some(UserVerificationPolicy::Required),
        )
        .unwrap();
    let (rcr, auth_state) = core.generate_challenge_authenticate(builder).unwrap();
    let options = write_options(
        pcscd.dir(),
        "get.json",
        serde_json::to_vec(&rcr.public_key).unwrap(),
    );
    let mut child = command(&pcscd, &["get", "--device", &spec, "--origin", ORIGIN])
        .args(["--pin-fd", "0", "--options", &options])
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PIN}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let parsed: PublicKeyCredential = serde_json::from_slice(&out.stdout).unwrap();
    let result = core.authenticate_credential(&parsed, &auth_state).unwrap();
    assert!(result.user_verified());
    assert!(result.counter() >= 1);
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
fn pulling_the_card_mid_ceremony_ends_it_with_a_named_error() {
    let Some(pcscd) = pcscd::Pcscd::start() else {
        return;
    };
    // Nobody touches: the card answers status updates (UPNEEDED) until it is pulled.
    let card = Card::insert(&pcscd, &["--presence", "wait"]);
    let options = write_options(
        pcscd.dir(),
        "create.json",
        creation().to_string().into_bytes(),
    );
    let mut child = command(
        &pcscd,
        &["create", "--device", &card_spec(), "--origin", ORIGIN],
    )
    .args(["--options", &options])
    .stdin(Stdio::null())
    .spawn()
    .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert_eq!(
        line, "Touch your security key.\n",
        "the ceremony waits for the user"
    );
    drop(card);
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        rest.starts_with("NotAllowedError: the authenticator is gone: "),
        "{rest}"
    );
    assert!(rest.contains(pcscd::READER), "{rest}");
}

/// `latchkey create` on a card that breaks the protocol `how`: the error it ends with, and
/// pcscd's log.
fn against_misbehaving_card(pcscd: &pcscd::Pcscd, how: &str) -> (serde_json::Value, String) {
    let _card = Card::insert(pcscd, &["--misbehave", how]);
    let options = write_options(
        pcscd.dir(),
        "create.json",
        creation().to_string().into_bytes(),
    );
    let args = [
        "create",
        "--device",
        &card_spec(),
        "--origin",
        ORIGIN,
        "--json",
    ];
    let mut child = command(pcscd, &args)
        .args(["--options", &options])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!out.success(), "{how}: {stderr}");
    (serde_json::from_str(stderr.trim()).unwrap(), pcscd.log())
}

#[test]
fn cards_that_break_the_protocol_end_the_ceremony_with_named_errors() {
    // One pcscd for every card, each put on the reader in turn.
    let Some(pcscd) = pcscd::Pcscd::start() else {
        return;
    };
    for (how, says) in [
        (
            "truncated",
            "the card sent a 1-byte answer, shorter than a status word",
        ),
        ("wrong-status", "the card answered status word 6A80"),
        (
            "endless-chain",
            "the card announced more data after 1024 GET RESPONSE rounds",
        ),
        ("oversized", "the card's answer is longer than 65536 bytes"),
        ("silent", "the authenticator did not answer in time"),
    ] {
        let (error, log) = against_misbehaving_card(&pcscd, how);
        assert_eq!(error["name"], "NotAllowedError", "{how}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(says), "{how}: {message}\npcscd:\n{log}");
    }
}
