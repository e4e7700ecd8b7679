#![cfg(feature = "pcsc")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! NFC security keys through the real `latchkeyd`: a private pcscd with vsmartcard's vpcd reader
//! (started by the test), `latchkey virtual-key --vpcd` as the card, latchkeyd following pcscd's
//! readers; webauthn-rs makes the options and verifies every response.
//!
//! Each test runs its steps on one pcscd, started once.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use latchkey_api::{CredentialsClient, Kind};
use latchkey_testkit::keys::KeyProcess;
use latchkey_testkit::latchkeyd::Latchkeyd;
use latchkey_testkit::pcscd::{self, Pcscd};
use latchkey_testkit::rp::*;
use webauthn_rs_core::proto::{AuthenticatorAttachment, UserVerificationPolicy};

/// Sets the PIN of the card `spec` with `latchkey pin set`, once pcscd has seen the card.
fn set_pin(pcscd: &Pcscd, spec: &str, pin: &str) {
    use std::io::Write as _;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut child = std::process::Command::new(bin("latchkey"))
            .args(["pin", "set", "--device", spec, "--pin-fd", "0", "--json"])
            .env(pcscd::SOCKET_ENV, &pcscd.socket)
            .env("XDG_CONFIG_HOME", pcscd.dir().join("config"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let _ = writeln!(child.stdin.take().unwrap(), "{pin}");
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            return;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(Instant::now() < deadline, "latchkey pin set: {stderr}");
        // pcscd finds the card when its own polling of the reader does: a real process's timer,
        // which nothing outside pcscd announces, so this asks again after a pause.
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until `latchkey devices` lists the card `spec` without an error (pcscd polls its
/// readers for cards).
fn wait_until_listed(pcscd: &Pcscd, spec: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = std::process::Command::new(bin("latchkey"))
            .args(["devices", "--json", "--device", spec])
            .env(pcscd::SOCKET_ENV, &pcscd.socket)
            .env("XDG_CONFIG_HOME", pcscd.dir().join("config"))
            .output()
            .unwrap();
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let listed = list.as_array().is_some_and(|keys| {
            keys.iter()
                .any(|k| k["path"] == spec && k["error"].is_null())
        });
        if listed {
            return;
        }
        assert!(Instant::now() < deadline, "the card never showed: {list}");
        // pcscd's own polling of the reader finds the card (see `set_pin`): a sleep that stays.
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How many status lines the prompt got saying `details`.
fn notices(prompt: &Prompt, details: &str) -> usize {
    prompt
        .status_lines()
        .iter()
        .filter(|n| *n == details)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_put_on_a_reader_joins_the_ceremony_and_a_card_pulled_ends_one() {
    let Some(pcscd) = Pcscd::start() else {
        return;
    };
    let bus = TestBus::start();
    let socket = pcscd.socket.to_str().unwrap().to_owned();
    let d = Latchkeyd::start_with_env(
        &bus,
        &policy_privileged_self(),
        &[],
        None,
        &[(pcscd::SOCKET_ENV, Some(&socket))],
    )
    .await;
    let prompt = Prompt::spawn(
        &bus,
        "approve\napprove\napprove\npin 999999\npin 271828\napprove\n",
        false,
    );
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let core = rp();

    // No card on any reader: the prompt asks for a key, and the card put on the reader then is
    // the one used (pcscd's reader events, the same selection as a USB key plugged in).
    let reg = registration(
        &core,
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    let pending = client.start(Kind::Create, &reg.json, &web()).await.unwrap();
    prompt
        .until("the insert notice", || {
            notices(&prompt, "Insert your security key") == 1
        })
        .await;
    let card = KeyProcess::vpcd(&pcscd.vpcd(), pcscd::READER, &[]);
    let out = tokio::time::timeout(Duration::from_secs(30), pending.response())
        .await
        .unwrap()
        .unwrap();
    let response = ok_json(&out);
    let (cred, _) = verify_registration(&core, &reg, &response);
    assert_eq!(
        response["response"]["transports"],
        serde_json::json!(["nfc"])
    );
    assert_eq!(response["authenticatorAttachment"], "cross-platform");
    let log = d.log();
    assert!(log.contains(&card.spec), "latchkeyd names the card: {log}");

    // The card on the reader now: found among the keys present, it signs.
    let (response, result) = sign_in(
        &client,
        &core,
        &cred,
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    )
    .await;
    assert_eq!(response["authenticatorAttachment"], "cross-platform");
    assert!(result.counter() >= 1, "{result:?}");
    drop(card);

    // A card with a PIN: latchkeyd asks the prompt for it, with the retries the card counts,
    // and again after a wrong one, as for a USB key.
    let card = KeyProcess::vpcd(&pcscd.vpcd(), pcscd::READER, &[]);
    set_pin(&pcscd, &card.spec, "271828");
    let reg = registration(
        &core,
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Required,
    );
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    let (cred, _) = verify_registration(&core, &reg, &ok_json(&out));
    assert!(cred.user_verified);
    let pins = prompt.calls("RequestPin");
    assert_eq!(pins.len(), 2, "{pins:?}");
    assert_eq!(
        (
            &pins[0]["details"]["retries"],
            &pins[0]["details"]["wrong_pin"]
        ),
        (&8.into(), &false.into())
    );
    assert_eq!(
        (
            &pins[1]["details"]["retries"],
            &pins[1]["details"]["wrong_pin"]
        ),
        (&7.into(), &true.into())
    );
    assert_eq!(
        pins[1]["details"]["authenticator"],
        format!("NFC key on {}", pcscd::READER)
    );
    let record = std::fs::read_to_string(&prompt.record).unwrap();
    assert!(!record.contains("271828") && !record.contains("999999"));
    let log = d.log();
    let lines = latchkey_testkit::secret::leaks(&log, "271828");
    assert!(lines.is_empty(), "the PIN leaked into the log: {lines:?}");
    drop(card);

    // A card that waits for a touch, pulled while it waits: the ceremony ends with a named
    // error and latchkeyd lives on.
    let touches = notices(&prompt, "Touch your security key");
    let card = KeyProcess::vpcd(&pcscd.vpcd(), pcscd::READER, &["--presence", "wait"]);
    let reg = registration(
        &core,
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    let pending = client.start(Kind::Create, &reg.json, &web()).await.unwrap();
    prompt
        .until("the touch notice", || {
            notices(&prompt, "Touch your security key") > touches
        })
        .await;
    drop(card);
    let out = tokio::time::timeout(Duration::from_secs(30), pending.response())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        out.error_name().as_deref(),
        Some("NotAllowedError"),
        "{out:?}"
    );
    let message = out.message().unwrap_or_default();
    assert!(
        message.contains("the authenticator is gone") && message.contains(pcscd::READER),
        "{message}"
    );
    let mut d = d;
    assert!(d.running());
}

/// Creation options from webauthn-rs with the ceremony's deadline `timeout_ms`.
fn with_timeout(reg: &Registering, timeout_ms: u64) -> String {
    let mut options: serde_json::Value = serde_json::from_str(&reg.json).unwrap();
    options["timeout"] = timeout_ms.into();
    options.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_that_break_the_protocol_end_the_ceremony_with_named_errors_and_nothing_hangs() {
    let Some(pcscd) = Pcscd::start() else {
        return;
    };
    // latchkeyd in this process (its timeouts let a request ask for seconds, not 30 s), on the
    // cards of this pcscd; libpcsclite reads the variable at its first use, which is below.
    std::env::set_var(pcscd::SOCKET_ENV, &pcscd.socket);
    let bus = TestBus::start();
    let sources = latchkey_daemon::keys::KeySources {
        pcsc: true,
        ..Default::default()
    };
    let backends = latchkey_daemon::server::Backends {
        ceremonies: Arc::new(latchkey_daemon::keys::KeyBackend::new(
            sources,
            test_timeouts(),
        )),
        store: platform_authenticator(),
        keys: None,
    };
    let _d = start_daemon(&bus, &policy_privileged_self(), backends).await;
    let _prompt = Prompt::spawn(&bus, &"approve\n".repeat(16), false);
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let core = rp();

    // Each answer: what the error says. The ceremony's deadline is 10 s, or 3 s for the card
    // that answers "still working" for ever (the exchange's own cap is 120 s: the deadline
    // ends it first).
    let cases: [(&str, u64, &str); 6] = [
        (
            "truncated",
            10_000,
            "the card sent a 1-byte answer, shorter than a status word",
        ),
        ("wrong-status", 10_000, "the card answered status word 6A80"),
        (
            "endless-chain",
            10_000,
            "the card announced more data after 1024 GET RESPONSE rounds",
        ),
        (
            "oversized",
            10_000,
            "the card's answer is longer than 65536 bytes",
        ),
        ("silent", 10_000, "the authenticator did not answer in time"),
        ("endless-updates", 3_000, "the request timed out after 3 s"),
    ];
    for (how, timeout_ms, says) in cases {
        let card = KeyProcess::vpcd(&pcscd.vpcd(), pcscd::READER, &["--misbehave", how]);
        let reg = registration(
            &core,
            Some(AuthenticatorAttachment::CrossPlatform),
            UserVerificationPolicy::Discouraged_DO_NOT_USE,
        );
        let json = with_timeout(&reg, timeout_ms);
        // A guard against a hang, far beyond the deadline: the answer comes by the deadline.
        let out = tokio::time::timeout(
            Duration::from_secs(60),
            client.call(Kind::Create, &json, &web()),
        )
        .await
        .unwrap_or_else(|_| panic!("{how}: the ceremony hung"))
        .unwrap();
        assert_eq!(
            out.error_name().as_deref(),
            Some("NotAllowedError"),
            "{how}: {out:?}"
        );
        let message = out.message().unwrap_or_default();
        assert!(
            message.contains(says),
            "{how}: {message}\npcscd:\n{}",
            pcscd.log()
        );
        drop(card);
    }

    // latchkeyd lives on: a card that keeps the protocol is served next.
    let card = KeyProcess::vpcd(&pcscd.vpcd(), pcscd::READER, &[]);
    let reg = registration(
        &core,
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        client.call(Kind::Create, &with_timeout(&reg, 10_000), &web()),
    )
    .await
    .unwrap()
    .unwrap();
    verify_registration(&core, &reg, &ok_json(&out));
    drop(card);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_and_another_key_race_in_one_selection_and_the_one_touched_wins() {
    let Some(pcscd) = Pcscd::start() else {
        return;
    };
    let bus = TestBus::start();
    // A key nobody touches (named, as a USB key found by discovery would be) and a card on the
    // reader that the user touches at once.
    let other = latchkey_testkit::keys::TestKey::start(
        &bus.dir.path().join("other.sock"),
        latchkey_testkit::keys::Presence::Wait,
    );
    let socket = pcscd.socket.to_str().unwrap().to_owned();
    let _d = Latchkeyd::start_with_env(
        &bus,
        &policy_privileged_self(),
        &[format!("--device={}", other.spec())],
        None,
        &[(pcscd::SOCKET_ENV, Some(&socket))],
    )
    .await;
    let _prompt = Prompt::spawn(&bus, "approve\n", false);
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let core = rp();
    let reg = registration(
        &core,
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    // Both on hand when the ceremony starts: each is asked for a touch.
    let card = KeyProcess::vpcd(&pcscd.vpcd(), pcscd::READER, &[]);
    wait_until_listed(&pcscd, &card.spec);
    let pending = client.start(Kind::Create, &reg.json, &web()).await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), pending.response())
        .await
        .unwrap()
        .unwrap();
    let response = ok_json(&out);
    let (_, aaguid) = verify_registration(&core, &reg, &response);
    assert_ne!(
        aaguid,
        latchkey_testkit::keys::KEY_AAGUID,
        "the card made it"
    );
    assert_eq!(
        response["response"]["transports"],
        serde_json::json!(["nfc"])
    );
    // The other key only blinked, and was told to stop.
    other
        .until("a cancel at the other key", || other.cancels() > 0)
        .await;
    assert_eq!(other.touches(), 1);
}
