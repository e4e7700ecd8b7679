#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Routing ceremonies to security keys: the real `latchkeyd` on a private bus with
//! `--device unix:PATH` virtual keys served by the test; webauthn-rs (an RP library we did not
//! write) makes the options and verifies every response.

mod common;

use std::time::{Duration, Instant};

use common::*;
use latchkey_api::Kind;
use latchkey_api::{CallOptions, CredentialsClient};
use latchkey_testkit::keys::*;
use latchkey_testkit::latchkeyd::{latchkeyd_bin, Latchkeyd};
use latchkey_testkit::one_key::{client, key_create, start_key_create, OneKey};
use latchkey_testkit::rp::*;
use webauthn_rs_core::proto::{
    AuthenticatorAttachment, PublicKeyCredential, PublicKeyCredentialHints, UserVerificationPolicy,
};
use webauthn_rs_core::WebauthnCore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_platform_create_lands_on_the_key_and_its_allow_list_signs_there() {
    let OneKey {
        client,
        prompt,
        latchkeyd: d,
        key,
        bus: _bus,
    } = OneKey::start(Presence::Touch, "approve\n").await;
    let core = rp();

    let reg = registration(
        &core,
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    let response = ok_json(&out);
    let (cred, aaguid) = verify_registration(&core, &reg, &response);
    assert_eq!(aaguid, KEY_AAGUID);
    assert_eq!(response["authenticatorAttachment"], "cross-platform");
    assert_eq!(key.touches(), 1);

    // Not in the platform store, transports "usb": the key signs.
    let (response, _) = sign_in(
        &client,
        &core,
        &cred,
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    )
    .await;
    assert_eq!(response["authenticatorAttachment"], "cross-platform");
    // The allowList pre-flight is silent; the assertion itself is the second touch.
    assert_eq!(key.touches(), 2);
    assert_eq!(prompt.calls("Consent").len(), 2);
    let log = d.log();
    assert!(
        log.contains("attachment cross-platform")
            && log.contains("allowList credential not in the platform"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_create_lands_on_the_platform_authenticator_not_the_key() {
    let bus = TestBus::start();
    let key = TestKey::start(&bus.dir.path().join("key.sock"), Presence::Touch);
    let d = Latchkeyd::start(
        &bus,
        &policy_privileged_self(),
        &[format!("--device={}", key.spec())],
    )
    .await;
    // First use of the platform store: a new PIN, then the PIN to verify.
    let prompt = Prompt::spawn(&bus, "approve\npin 271828\n", false);
    let client = client(&bus).await;
    let core = rp();

    let reg = registration_with(
        &core,
        Some(AuthenticatorAttachment::Platform),
        UserVerificationPolicy::Required,
        None,
        true,
    );
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    let response = ok_json(&out);
    let (cred, aaguid) = verify_registration(&core, &reg, &response);
    assert_eq!(aaguid, latchkey_client::platform::AAGUID);
    assert_ne!(aaguid, KEY_AAGUID);
    assert_eq!(response["authenticatorAttachment"], "platform");
    // The platform authenticator is latchkeyd's one child, the sandboxed worker, and the
    // credential it made is in the store directory the worker alone writes.
    let children = d.children();
    assert_eq!(children.len(), 1, "{children:?}");
    let (_, name, status) = &children[0];
    assert_eq!(name, "latchkey-platform-worker");
    for line in ["NoNewPrivs:\t1", "Seccomp:\t2"] {
        assert!(status.lines().any(|l| l == line), "{line} not in {status}");
    }
    let stored = std::fs::read_dir(d.home.path().join("store"))
        .unwrap()
        .count();
    assert!(stored > 0, "the store directory is empty");

    // The allowList credential is found in the platform store: the platform signs.
    let (response, _) = sign_in(&client, &core, &cred, UserVerificationPolicy::Required).await;
    assert_eq!(response["authenticatorAttachment"], "platform");
    assert_eq!(key.touches(), 0, "the key was never used");
    let log = d.log();
    assert!(
        log.contains("attachment platform") && log.contains("allowList credential in the platform"),
        "{log}"
    );

    // Signals reach the platform store through the router: the RP disowns the credential.
    let caps = client.proxy().get_client_capabilities().await.unwrap();
    assert_eq!(
        [
            caps["signalUnknownCredential"],
            caps["signalAllAcceptedCredentials"],
            caps["signalCurrentUserDetails"]
        ],
        [true, true, true]
    );

    // The same user at another RP: a second platform credential with the same user handle.
    let other_origin = "https://other.example";
    let other = WebauthnCore::new_unsafe_experts_only(
        "Other",
        "other.example",
        vec![url::Url::parse(other_origin).unwrap()],
        Duration::from_secs(60),
        None,
        None,
    );
    let reg = registration_with(
        &other,
        Some(AuthenticatorAttachment::Platform),
        UserVerificationPolicy::Required,
        None,
        true,
    );
    let at_other = CallOptions {
        origin: Some(other_origin.into()),
        ..Default::default()
    };
    let out = client
        .call(Kind::Create, &reg.json, &at_other)
        .await
        .unwrap();
    verify_registration(&other, &reg, &ok_json(&out));
    let before = listed_names(&client).await;
    assert_eq!(
        before,
        [
            ("example.com", "alice@example.com", "Alice"),
            ("other.example", "alice@example.com", "Alice"),
        ]
        .map(|(r, n, d)| (r.to_owned(), n.to_owned(), d.to_owned()))
    );

    // signalCurrentUserDetails renames the user's credentials at example.com only, in the
    // worker's store, silently.
    let user_id = latchkey_webauthn::b64::encode(&[7; 16]);
    let at_example =
        || std::collections::HashMap::from([("origin", zbus::zvariant::Value::from(ORIGIN))]);
    client
        .proxy()
        .signal_current_user_details(
            &format!(
                r#"{{"rpId":"example.com","userId":"{user_id}","name":"alice@new.example","displayName":"Alice N."}}"#
            ),
            at_example(),
        )
        .await
        .unwrap();
    assert_eq!(
        listed_names(&client).await,
        [
            ("example.com", "alice@new.example", "Alice N."),
            ("other.example", "alice@example.com", "Alice"),
        ]
        .map(|(r, n, d)| (r.to_owned(), n.to_owned(), d.to_owned()))
    );
    // A caller at https://example.com may not signal for other.example: SecurityError, and the
    // other RP's names stay.
    let e = client
        .proxy()
        .signal_current_user_details(
            &format!(
                r#"{{"rpId":"other.example","userId":"{user_id}","name":"mallory","displayName":"M"}}"#
            ),
            at_example(),
        )
        .await
        .unwrap_err();
    let e = latchkey_api::ClientError::from(e).webauthn_error();
    assert_eq!(e.name(), "SecurityError", "{}", e.message());
    assert_eq!(
        listed_names(&client).await[1],
        (
            "other.example".to_owned(),
            "alice@example.com".to_owned(),
            "Alice".to_owned()
        )
    );
    assert_eq!(prompt_consents(&prompt), 3, "signals ask the user nothing");

    let id = latchkey_webauthn::b64::encode(cred.cred_id.as_ref());
    client
        .proxy()
        .signal_unknown_credential(
            &format!(r#"{{"rpId":"example.com","credentialId":"{id}"}}"#),
            std::collections::HashMap::from([("origin", zbus::zvariant::Value::from(ORIGIN))]),
        )
        .await
        .unwrap();
    assert_eq!(
        listed_names(&client).await,
        [(
            "other.example".to_owned(),
            "alice@example.com".to_owned(),
            "Alice".to_owned()
        )]
    );
    assert_eq!(key.touches(), 0);
}

/// (rpId, user.name, user.displayName) of every credential ListCredentials returns, sorted.
async fn listed_names(client: &CredentialsClient) -> Vec<(String, String, String)> {
    let text = |c: &std::collections::HashMap<String, zbus::zvariant::OwnedValue>, key: &str| {
        <&str>::try_from(&*c[key]).unwrap().to_owned()
    };
    let mut out: Vec<_> = client
        .proxy()
        .list_credentials(Default::default())
        .await
        .unwrap()
        .iter()
        .map(|c| {
            (
                text(c, "rp_id"),
                text(c, "user_name"),
                text(c, "user_display_name"),
            )
        })
        .collect();
    out.sort();
    out
}

/// How many consents the prompt was asked for.
fn prompt_consents(prompt: &Prompt) -> usize {
    prompt.calls("Consent").len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_protected_key_takes_its_pin_from_the_prompt_with_retries_after_a_wrong_one() {
    let OneKey {
        client,
        prompt,
        latchkeyd: d,
        key: _key,
        bus: _bus,
    } = OneKey::start_with_pin(Presence::Touch, "4321", "approve\npin 999999\npin 4321\n").await;
    let core = rp();

    let reg = registration(
        &core,
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Required,
    );
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    let response = ok_json(&out);
    let (cred, aaguid) = verify_registration(&core, &reg, &response);
    assert_eq!(aaguid, KEY_AAGUID);
    assert!(cred.user_verified);

    let pins = prompt.calls("RequestPin");
    assert_eq!(pins.len(), 2, "{pins:?}");
    assert_eq!(pins[0]["details"]["wrong_pin"], false);
    assert_eq!(pins[0]["details"]["new_pin"], false);
    assert_eq!(pins[0]["details"]["retries"], 8);
    assert_eq!(pins[1]["details"]["wrong_pin"], true);
    assert_eq!(pins[1]["details"]["retries"], 7);
    assert!(pins[1]["details"]["authenticator"]
        .as_str()
        .unwrap()
        .contains("virtual key"));
    let record = std::fs::read_to_string(&prompt.record).unwrap();
    assert!(!record.contains("4321") && !record.contains("999999"));
    let log = d.log();
    for pin in ["4321", "999999"] {
        let lines = latchkey_testkit::secret::leaks(&log, pin);
        assert!(lines.is_empty(), "the PIN leaked into the log: {lines:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_request_while_the_key_waits_for_a_touch_cancels_it_on_the_key() {
    let OneKey {
        client,
        prompt,
        latchkeyd: _d,
        key,
        bus: _bus,
    } = OneKey::start(Presence::Wait, "approve\n").await;
    let core = rp();
    let (_, pending) = start_key_create(&client, &core).await;
    key.until_waiting().await;
    // The keepalives said "touch needed": the prompt was told once.
    prompt
        .until("the touch notice", || {
            prompt
                .status_lines()
                .iter()
                .any(|n| n == "Touch your security key")
        })
        .await;
    let t = Instant::now();
    pending.close().await.unwrap();
    key.until("CTAPHID_CANCEL at the key", || key.cancels() == 1)
        .await;
    eprintln!("Close() to CTAPHID_CANCEL at the key: {:?}", t.elapsed());
    assert!(!key.waiting());

    // The next request runs on the same key.
    key.set_presence(Presence::Touch);
    assert_eq!(key_create(&client, &core).await, KEY_AAGUID);
    assert_eq!(key.cancels(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_keys_the_one_touched_wins_and_the_other_is_cancelled() {
    let bus = TestBus::start();
    let other = TestKey::start(&bus.dir.path().join("a.sock"), Presence::Wait);
    let chosen = TestKey::start(&bus.dir.path().join("b.sock"), Presence::Wait);
    // One key named on the command line, the other in devices.toml.
    let _d = Latchkeyd::start_with_config(
        &bus,
        &policy_privileged_self(),
        &[format!("--device={}", other.spec())],
        Some(&format!("devices = [\"{}\"]\n", chosen.spec())),
    )
    .await;
    let _prompt = Prompt::spawn(&bus, "approve\n", false);
    let client = client(&bus).await;
    let core = rp();

    // Both keys blink; the user touches one of them.
    let race = |n: usize| {
        let (other, chosen) = (&other, &chosen);
        async move {
            other.until_waiting().await;
            chosen.until_waiting().await;
            // Each blinked once more: the other one for the n-th time.
            assert_eq!(other.touches(), n);
            chosen.set_presence(Presence::Touch);
            chosen.touch();
            other
                .until("CTAPHID_CANCEL at the other key", || other.cancels() == n)
                .await;
        }
    };
    let (reg, pending) = start_key_create(&client, &core).await;
    race(1).await;
    let out = tokio::time::timeout(Duration::from_secs(20), pending.response())
        .await
        .unwrap()
        .unwrap();
    let (cred, aaguid) = verify_registration(&core, &reg, &ok_json(&out));
    assert_eq!(aaguid, KEY_AAGUID);
    // The chosen key: the selection touch and the registration's; the other only blinked.
    assert_eq!((chosen.touches(), other.touches()), (2, 1));

    // Signing in races them again; only the chosen key holds the credential, and it signs.
    chosen.set_presence(Presence::Wait);
    let builder = core
        .new_challenge_authenticate_builder(
            vec![cred],
            Some(UserVerificationPolicy::Discouraged_DO_NOT_USE),
        )
        .unwrap();
    let (rcr, state) = core.generate_challenge_authenticate(builder).unwrap();
    let json = serde_json::to_string(&rcr.public_key).unwrap();
    let pending = client.start(Kind::Get, &json, &web()).await.unwrap();
    race(2).await;
    let out = tokio::time::timeout(Duration::from_secs(20), pending.response())
        .await
        .unwrap()
        .unwrap();
    let parsed: PublicKeyCredential = serde_json::from_value(ok_json(&out)).unwrap();
    core.authenticate_credential(&parsed, &state).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_whose_socket_dies_mid_ceremony_fails_the_request_and_latchkeyd_lives_on() {
    let OneKey {
        client,
        prompt: _prompt,
        latchkeyd: mut d,
        mut key,
        bus: _bus,
    } = OneKey::start(Presence::Wait, "approve\n").await;
    let core = rp();
    let (_, pending) = start_key_create(&client, &core).await;
    key.until_waiting().await;
    key.stop();
    let out = tokio::time::timeout(Duration::from_secs(20), pending.response())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.code, 2);
    assert_eq!(out.error_name().as_deref(), Some("NotAllowedError"));
    let message = out.message().unwrap();
    assert!(
        message.contains("the authenticator is gone")
            && message.contains("creating the credential"),
        "{message}"
    );
    assert!(d.running());
    // Still serving: capabilities say keys are usable, and never hybrid.
    let caps = client.proxy().get_client_capabilities().await.unwrap();
    assert_eq!(caps.get("extension:prf"), Some(&true));
    assert_eq!(caps.get("hybridTransport"), Some(&false));
    assert_eq!(caps.get("passkeyPlatformAuthenticator"), Some(&true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_key_present_the_prompt_asks_for_one_and_the_key_plugged_in_is_used() {
    let bus = TestBus::start();
    let path = bus.dir.path().join("later.sock");
    let _d = Latchkeyd::start(
        &bus,
        &policy_privileged_self(),
        &[format!("--device=unix:{}", path.display())],
    )
    .await;
    let prompt = Prompt::spawn(&bus, "approve\n", false);
    let client = client(&bus).await;
    let core = rp();
    let (reg, pending) = start_key_create(&client, &core).await;
    prompt
        .until("the insert notice", || {
            prompt
                .status_lines()
                .iter()
                .any(|n| n == "Insert your security key")
        })
        .await;
    // The key appears only now.
    let key = TestKey::start(&path, Presence::Touch);
    let t = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(20), pending.response())
        .await
        .unwrap()
        .unwrap();
    eprintln!("key plugged in to registration: {:?}", t.elapsed());
    let (_, aaguid) = verify_registration(&core, &reg, &ok_json(&out));
    assert_eq!(aaguid, KEY_AAGUID);
    assert_eq!(key.touches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_systemd_latchkeyd_logs_to_the_journal_or_says_why_not() {
    let bus = TestBus::start();
    let d = Latchkeyd::start_with_env(
        &bus,
        &policy_privileged_self(),
        &[],
        None,
        &[("JOURNAL_STREAM", Some("8:12345"))],
    )
    .await;
    let log = d.log();
    if std::path::Path::new("/run/systemd/journal/socket").exists() {
        // The journal took the records: nothing of them on stderr.
        assert!(!log.contains("latchkeyd serving"), "{log}");
    } else {
        // The bus hands the name out before latchkeyd's line saying so reaches its log.
        d.until_logged("latchkeyd serving logged", || {
            d.log().contains("latchkeyd serving")
        })
        .await;
        let log = d.log();
        assert!(
            log.contains("the journal is not reachable") && log.contains("latchkeyd serving"),
            "{log}"
        );
        // systemd stamps its own time: the stderr lines carry none.
        let serving = log
            .lines()
            .find(|l| l.contains("latchkeyd serving"))
            .unwrap();
        assert!(serving.trim_start().starts_with("INFO"), "{serving}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_with_a_fingerprint_reader_is_announced_to_the_prompt_with_attempts_left() {
    let OneKey {
        client,
        prompt,
        latchkeyd: _d,
        key: _key,
        bus: _bus,
    } = OneKey::start_with(
        |path| {
            let key = TestKey::start_with_fingers(path, Presence::Touch, Some("no-match,match"));
            key.set_pin("4321");
            key
        },
        "approve\npin deny\n",
    )
    .await;
    let core = rp();
    let reg = registration(
        &core,
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Required,
    );
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    let (cred, aaguid) = verify_registration(&core, &reg, &ok_json(&out));
    assert_eq!(aaguid, KEY_AAGUID);
    assert!(cred.user_verified);
    // The finger, not the PIN: the prompt was told to use the reader, then how many tries are
    // left after the miss, and never asked for a PIN.
    let notices: Vec<String> = prompt.status_lines();
    let uv: Vec<&String> = notices
        .iter()
        .filter(|n| n.contains("fingerprint"))
        .collect();
    assert_eq!(uv.len(), 2, "{notices:?}");
    assert!(
        uv[0].starts_with("Verify yourself on virtual key"),
        "{}",
        uv[0]
    );
    assert!(uv[1].starts_with("Not recognised ("), "{}", uv[1]);
    assert!(uv[1].contains("tries left"), "{}", uv[1]);
    assert!(prompt.calls("RequestPin").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_key_hint_and_a_discoverable_get_the_platform_cannot_answer_go_to_the_key() {
    let OneKey {
        client,
        prompt: _prompt,
        latchkeyd: d,
        key: _key,
        bus: _bus,
    } = OneKey::start(Presence::Touch, "approve\n").await;
    let core = rp();
    // No attachment; the hint asks for a security key.
    let reg = registration_with(
        &core,
        None,
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
        Some(vec![PublicKeyCredentialHints::SecurityKey]),
        true,
    );
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    let (cred, aaguid) = verify_registration(&core, &reg, &ok_json(&out));
    assert_eq!(aaguid, KEY_AAGUID);

    // A discoverable get without hints: the platform holds nothing for example.com, so the key.
    let builder = core
        .new_challenge_authenticate_builder(
            vec![],
            Some(UserVerificationPolicy::Discouraged_DO_NOT_USE),
        )
        .unwrap();
    let (rcr, mut state) = core.generate_challenge_authenticate(builder).unwrap();
    let json = serde_json::to_string(&rcr.public_key).unwrap();
    assert!(!json.contains("hints\":[\""), "{json}");
    let out = client.call(Kind::Get, &json, &web()).await.unwrap();
    let response = ok_json(&out);
    assert_eq!(response["authenticatorAttachment"], "cross-platform");
    assert_eq!(
        response["response"]["userHandle"],
        latchkey_webauthn::b64::encode(&[7; 16])
    );
    let parsed: PublicKeyCredential = serde_json::from_value(response).unwrap();
    state.set_allowed_credentials(vec![cred]);
    core.authenticate_credential(&parsed, &state).unwrap();
    let log = d.log();
    assert!(
        log.contains("hint security-key") && log.contains("platform holds no passkey for the RP"),
        "{log}"
    );
}

#[test]
fn a_device_that_is_not_a_key_name_stops_latchkeyd_with_the_reason() {
    let out = std::process::Command::new(latchkeyd_bin())
        .args([
            "--address=unix:path=/nonexistent",
            "--no-usb",
            "--device=tcp:1",
        ])
        .env_remove("JOURNAL_STREAM")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--device tcp:1"), "{stderr}");
}

/// A discoverable registration on the key for `user` (raw options: webauthn-rs gives every
/// registration the same user).
async fn discoverable_on_the_key(client: &CredentialsClient, user: &[u8], uv: &str) -> String {
    let json = serde_json::json!({
        "rp": {"id": "example.com", "name": "Example"},
        "user": {"id": latchkey_webauthn::b64::encode(user), "name": format!("user{}", user[0]), "displayName": "A User"},
        "challenge": latchkey_webauthn::b64::encode(&[9; 32]),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "authenticatorSelection": {"authenticatorAttachment": "cross-platform", "residentKey": "required", "userVerification": uv},
        "attestation": "none",
    });
    let out = client
        .call(Kind::Create, &json.to_string(), &web())
        .await
        .unwrap();
    ok_json(&out)["id"].as_str().unwrap().to_owned()
}

/// The signature counter in a response's authenticatorData (L3 §6.1: bytes 33..37).
fn sign_count(response: &serde_json::Value) -> u32 {
    let data = latchkey_webauthn::b64::decode(
        "authenticatorData",
        response["response"]["authenticatorData"].as_str().unwrap(),
    )
    .unwrap();
    u32::from_be_bytes(data[33..37].try_into().unwrap())
}

/// The key's PIN retries, read on a connection of its own once latchkeyd let go of the key.
async fn pin_retries(key: &TestKey) -> Option<u64> {
    let path = key.path.clone();
    let read = tokio::task::spawn_blocking(move || {
        let mut dev = latchkey_client::hid::open_unix(&path).unwrap();
        latchkey_client::pinuv::pin_retries(&mut dev).unwrap()
    });
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("latchkeyd never let go of the key")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_with_several_accounts_signs_with_one_touch_and_its_counter_moves_by_one() {
    let OneKey {
        client,
        prompt,
        latchkeyd: _d,
        key,
        bus: _bus,
    } = OneKey::start(Presence::Touch, "approve\nchoose 1\n").await;
    let first = discoverable_on_the_key(&client, &[1; 16], "discouraged").await;
    let second = discoverable_on_the_key(&client, &[2; 16], "discouraged").await;
    assert_ne!(first, second);
    assert_eq!(key.touches(), 2);

    // A discoverable get: both accounts answer the one getAssertion, the user picks one.
    let json = serde_json::json!({
        "challenge": latchkey_webauthn::b64::encode(&[5; 32]),
        "rpId": "example.com",
        "userVerification": "discouraged",
    });
    let out = client
        .call(Kind::Get, &json.to_string(), &web())
        .await
        .unwrap();
    let response = ok_json(&out);
    let offered = prompt.calls("ChooseAccount");
    assert_eq!(offered.len(), 1, "{offered:?}");
    // Newest first: index 1 is the first account.
    assert_eq!(response["id"], first.as_str());
    assert_eq!(
        response["response"]["userHandle"],
        latchkey_webauthn::b64::encode(&[1; 16])
    );
    assert_eq!(key.touches(), 3, "one touch for the sign-in");
    assert_eq!(sign_count(&response), 1, "signed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pin_then_the_right_one_costs_one_retry_and_one_touch() {
    let OneKey {
        client,
        prompt,
        latchkeyd: _d,
        key,
        bus: _bus,
    } = OneKey::start_with_pin(Presence::Touch, "4321", "approve\npin 999999\npin 4321\n").await;
    discoverable_on_the_key(&client, &[1; 16], "required").await;
    assert_eq!(
        prompt.pin_retries_asked(),
        [
            (serde_json::json!(8), serde_json::json!(false)),
            (serde_json::json!(7), serde_json::json!(true))
        ]
    );
    assert_eq!(key.touches(), 1, "the PIN comes before the one touch");
    // The right PIN restored the retries: the wrong one cost exactly one.
    assert_eq!(pin_retries(&key).await, Some(8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_while_the_pin_is_asked_leaves_the_key_untouched() {
    let bus = TestBus::start();
    let key = TestKey::start(&bus.dir.path().join("key.sock"), Presence::Touch);
    key.set_pin("4321");
    let d = Latchkeyd::start(
        &bus,
        &policy_privileged_self(),
        &[format!("--device={}", key.spec())],
    )
    .await;
    // The user cancels the PIN dialog; the next time the caller closes the request while the
    // prompt still asks.
    let prompt = Prompt::spawn(&bus, "approve\npin deny\ndelay 60000 pin 4321\n", false);
    let client = client(&bus).await;
    let reg = registration(
        &rp(),
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Required,
    );
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    assert_eq!(
        out.error_name().as_deref(),
        Some("NotAllowedError"),
        "{:?}",
        out.message()
    );
    assert_eq!(key.touches(), 0);

    let pending = client.start(Kind::Create, &reg.json, &web()).await.unwrap();
    prompt
        .until("the second PIN question", || {
            prompt.calls("RequestPin").len() == 2
        })
        .await;
    pending.close().await.unwrap();
    d.until_logged("the request cancelled", || {
        d.log().contains("request cancelled")
    })
    .await;
    assert_eq!(pin_retries(&key).await, Some(8), "no PIN was tried");
    assert_eq!(key.touches(), 0);
}

/// The router looks in the platform store for a get only when the answer could send it
/// elsewhere: with security keys configured it looks once per get (the allowList credential is
/// the platform's, so the get goes there); with none, every get goes to the platform whatever it
/// holds, and the store is not looked in. Both gets sign on the platform.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_looks_in_the_platform_store_only_when_keys_are_configured() {
    for keys_enabled in [true, false] {
        let platform = latchkey_testkit::platform::memory_platform();
        let store = std::sync::Arc::new(CountingStore::new(platform.clone()));
        let (d, _prompt) = routed(
            platform,
            store.clone(),
            keys_enabled,
            "approve\npin 482916\npin 482916\n",
        )
        .await;
        let allow = create_then_allow(&d.client).await;
        assert_eq!(store.lists(), 0, "a create looks up nothing");
        let out = d.client.call(Kind::Get, &allow, &web()).await.unwrap();
        assert_eq!(
            out.code,
            0,
            "keys {keys_enabled}: {:?}: {:?}",
            out.error_name(),
            out.message()
        );
        assert_eq!(
            store.lists(),
            usize::from(keys_enabled),
            "keys configured: {keys_enabled}"
        );
    }
}
