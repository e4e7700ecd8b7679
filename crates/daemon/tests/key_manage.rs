#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Security keys managed through latchkeyd's API (`ListSecurityKeys`,
//! `ListSecurityKeyCredentials`, `DeleteSecurityKeyCredential`, `ChangeSecurityKeyPin`,
//! `ResetSecurityKey`): the real `latchkeyd` on a private bus with `--device unix:PATH` virtual
//! keys served by the test, the scripted prompt as the trusted prompt, and the key itself asked
//! afterwards through the client crate.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use latchkey_api::client::ClientError;
use latchkey_api::{CredentialsClient, Kind};
use latchkey_client::manage;
use latchkey_client::ScriptedUi;
use latchkey_testkit::keys::*;
use latchkey_testkit::latchkeyd::Latchkeyd;
use latchkey_testkit::one_key::{client, latchkeyd_with, start_key_create, OneKey};
use latchkey_testkit::rp::*;
use webauthn_rs_core::proto::{AuthenticatorAttachment, UserVerificationPolicy};
use zbus::zvariant::OwnedValue;

type Entry = HashMap<String, OwnedValue>;

fn text(e: &Entry, key: &str) -> String {
    String::try_from(e[key].try_clone().unwrap()).unwrap()
}

fn flag(e: &Entry, key: &str) -> bool {
    bool::try_from(&e[key]).unwrap()
}

fn method_error(e: zbus::Error) -> (String, String) {
    let e = ClientError::from(e);
    let ClientError::Method { name, message } = e else {
        panic!("not a method error: {e}")
    };
    (name, message)
}

/// The passkeys on `key`, listed by the client crate straight from the key with `pin`.
fn on_key(key: &TestKey, pin: &str) -> Result<Vec<String>, latchkey_webauthn::WebAuthnError> {
    let mut dev = latchkey_client::hid::open_unix(&key.path).unwrap();
    let mut ui = ScriptedUi::with_pins([pin]);
    manage::list_device(&mut dev, &mut ui).map(|l| {
        l.into_iter()
            .map(|c| c.user_name.unwrap_or_default())
            .collect()
    })
}

/// A key with PIN "1234" whose reset window is `window` and whose touch is `presence`, listed
/// once (as `key1`) by a privileged caller, with a scripted prompt answering `script`.
type Resetting = OneKey;

async fn resetting(presence: Presence, window: Duration, script: &str) -> Resetting {
    let one = OneKey::start_with(
        |path| {
            let key = TestKey::start_with_reset_window(path, presence, window);
            key.set_pin("1234");
            key
        },
        script,
    )
    .await;
    one.client
        .proxy()
        .list_security_keys(HashMap::new())
        .await
        .unwrap();
    one
}

/// The D-Bus error of resetting `key1`, which must fail.
async fn reset_error(client: &CredentialsClient) -> (String, String) {
    method_error(
        client
            .proxy()
            .reset_security_key("key1", HashMap::new())
            .await
            .unwrap_err(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_passkeys_are_listed_after_its_pin_and_one_is_deleted() {
    let OneKey {
        client,
        prompt,
        latchkeyd: _d,
        key,
        bus: _bus,
    } = OneKey::start_with_pin(Presence::Touch, "1234", "approve\npin 1234\n").await;

    // A passkey made on the key through latchkeyd.
    let core = rp();
    let reg = registration_with(
        &core,
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Required,
        None,
        true,
    );
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    let (_, aaguid) = verify_registration(&core, &reg, &ok_json(&out));
    assert_eq!(aaguid, KEY_AAGUID);

    let keys = client
        .proxy()
        .list_security_keys(HashMap::new())
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let k = &keys[0];
    assert_eq!(text(k, "handle"), "key1");
    assert_eq!(text(k, "transport"), "virtual");
    assert_eq!(text(k, "aaguid"), "6c617463-686b-6579-2d74-6573746b6579");
    assert!(text(k, "name").contains("key.sock"), "{}", text(k, "name"));
    assert!(flag(k, "pin_set"));
    assert!(flag(k, "credential_management"));
    assert_eq!(u32::try_from(&k["pin_retries"]).unwrap(), 8);
    assert_eq!(u32::try_from(&k["min_pin_length"]).unwrap(), 4);
    // Listing keys asks nothing of the user.
    let pins_before = prompt.calls("RequestPin").len();

    let listed = client
        .proxy()
        .list_security_key_credentials("key1", HashMap::new())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(text(&listed[0], "rp_id"), "example.com");
    assert_eq!(text(&listed[0], "user_name"), "alice@example.com");
    assert_eq!(text(&listed[0], "user_display_name"), "Alice");
    let pins = prompt.calls("RequestPin");
    assert_eq!(pins.len(), pins_before + 1, "{pins:?}");
    let asked = &pins[pins_before]["details"];
    assert_eq!(asked["authenticator_kind"], "security-key");
    assert_eq!(asked["new_pin"], false);
    assert_eq!(asked["retries"], 8);
    // The prompt's dialog for it is closed afterwards.
    let id = pins[pins_before]["request_id"].clone();
    assert!(
        prompt
            .calls("Dismiss")
            .iter()
            .any(|r| r["request_id"] == id),
        "{:?}",
        prompt.shown()
    );

    // An unknown ID is NotFound, and nothing is deleted.
    let (name, _) = method_error(
        client
            .proxy()
            .delete_security_key_credential("key1", "AAAA")
            .await
            .unwrap_err(),
    );
    assert_eq!(name, "dev.latchkey.Credentials1.Error.NotFound");
    assert_eq!(on_key(&key, "1234").unwrap(), ["alice@example.com"]);

    let id = text(&listed[0], "credential_id");
    client
        .proxy()
        .delete_security_key_credential("key1", &id)
        .await
        .unwrap();
    assert_eq!(on_key(&key, "1234").unwrap(), Vec::<String>::new());
    let listed = client
        .proxy()
        .list_security_key_credentials("key1", HashMap::new())
        .await
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");

    // A handle no key has is NotFound.
    let (name, _) = method_error(
        client
            .proxy()
            .list_security_key_credentials("key7", HashMap::new())
            .await
            .unwrap_err(),
    );
    assert_eq!(name, "dev.latchkey.Credentials1.Error.NotFound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pin_for_a_keys_passkeys_is_asked_again_with_the_retries_left_and_costs_one() {
    let OneKey {
        client,
        prompt,
        latchkeyd: _d,
        key: _key,
        bus: _bus,
    } = OneKey::start_with_pin(Presence::Touch, "1234", "approve\npin 9999\npin 1234\n").await;
    let keys = client
        .proxy()
        .list_security_keys(HashMap::new())
        .await
        .unwrap();
    assert_eq!(text(&keys[0], "handle"), "key1");

    let listed = client
        .proxy()
        .list_security_key_credentials("key1", HashMap::new())
        .await
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    let pins = prompt.calls("RequestPin");
    assert_eq!(
        prompt.pin_retries_asked(),
        [
            (serde_json::json!(8), serde_json::json!(false)),
            (serde_json::json!(7), serde_json::json!(true))
        ]
    );
    // Both questions belong to one operation, one prompt request.
    assert_eq!(pins[0]["request_id"], pins[1]["request_id"]);
    // The right PIN restored the retries: the wrong one cost exactly one.
    let keys = client
        .proxy()
        .list_security_keys(HashMap::new())
        .await
        .unwrap();
    assert_eq!(u32::try_from(&keys[0]["pin_retries"]).unwrap(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_pin_is_changed_through_the_trusted_prompt_and_the_old_one_then_fails() {
    let OneKey {
        client,
        prompt,
        latchkeyd: _d,
        key,
        bus: _bus,
    } = OneKey::start_with_pin(Presence::Touch, "1234", "change 1234 97531\n").await;
    client
        .proxy()
        .list_security_keys(HashMap::new())
        .await
        .unwrap();
    client
        .proxy()
        .change_security_key_pin("key1", HashMap::new())
        .await
        .unwrap();
    let change = prompt.calls("ChangePin");
    assert_eq!(change.len(), 1, "{:?}", prompt.shown());
    assert_eq!(change[0]["details"]["authenticator_kind"], "security-key");
    assert_eq!(change[0]["details"]["retries"], 8);
    assert!(on_key(&key, "1234").is_err());
    assert_eq!(on_key(&key, "97531").unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_current_pin_changes_nothing_and_says_so() {
    let OneKey {
        client,
        prompt: _prompt,
        latchkeyd: _d,
        key,
        bus: _bus,
    } = OneKey::start_with_pin(Presence::Touch, "1234", "change 4321 97531\n").await;
    client
        .proxy()
        .list_security_keys(HashMap::new())
        .await
        .unwrap();
    let (name, message) = method_error(
        client
            .proxy()
            .change_security_key_pin("key1", HashMap::new())
            .await
            .unwrap_err(),
    );
    assert_eq!(name, "dev.latchkey.Credentials1.Error.CallerRefused");
    assert!(message.to_lowercase().contains("pin"), "{message}");
    assert!(on_key(&key, "97531").is_err());
    assert_eq!(on_key(&key, "1234").unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_a_pin_gets_its_first_one() {
    let OneKey {
        client,
        prompt,
        latchkeyd: _d,
        key,
        bus: _bus,
    } = OneKey::start(Presence::Touch, "pin 246810\n").await;
    let keys = client
        .proxy()
        .list_security_keys(HashMap::new())
        .await
        .unwrap();
    assert!(!flag(&keys[0], "pin_set"));
    assert!(!keys[0].contains_key("pin_retries"));
    client
        .proxy()
        .change_security_key_pin("key1", HashMap::new())
        .await
        .unwrap();
    let pins = prompt.calls("RequestPin");
    assert_eq!(pins.len(), 1, "{:?}", prompt.shown());
    assert_eq!(pins[0]["details"]["new_pin"], true);
    assert!(prompt.calls("ChangePin").is_empty());
    assert_eq!(on_key(&key, "246810").unwrap(), Vec::<String>::new());
    let keys = client
        .proxy()
        .list_security_keys(HashMap::new())
        .await
        .unwrap();
    assert!(flag(&keys[0], "pin_set"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_after_the_keys_first_seconds_is_too_late_and_erases_nothing() {
    let Resetting {
        bus: _bus,
        key,
        latchkeyd: _d,
        prompt: _prompt,
        client,
    } = resetting(Presence::Touch, Duration::ZERO, "approve\n").await;
    let (name, message) = reset_error(&client).await;
    assert_eq!(name, "dev.latchkey.Credentials1.Error.TooLate");
    assert!(
        message.contains("10 seconds") && message.contains("plug it back in"),
        "{message}"
    );
    assert_eq!(key.touches(), 0);
    // The PIN is still set.
    assert_eq!(on_key(&key, "1234").unwrap(), Vec::<String>::new());
    let e = ClientError::Method {
        name,
        message: String::new(),
    };
    assert_eq!(e.webauthn_error().name(), "NotAllowedError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_within_the_window_asks_for_a_touch_and_erases_the_key() {
    let Resetting {
        bus: _bus,
        key,
        latchkeyd: _d,
        prompt: _prompt,
        client,
    } = resetting(Presence::Touch, Duration::from_secs(3600), "approve\n").await;
    client
        .proxy()
        .reset_security_key("key1", HashMap::new())
        .await
        .unwrap();
    assert_eq!(key.touches(), 1);
    let keys = client
        .proxy()
        .list_security_keys(HashMap::new())
        .await
        .unwrap();
    assert!(!flag(&keys[0], "pin_set"), "the PIN is gone");
    // The same key in the same place keeps its handle.
    assert_eq!(text(&keys[0], "handle"), "key1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_touch_erases_nothing() {
    let Resetting {
        bus: _bus,
        key,
        latchkeyd: _d,
        prompt: _prompt,
        client,
    } = resetting(Presence::Refuse, Duration::from_secs(3600), "approve\n").await;
    let (name, _) = reset_error(&client).await;
    assert_eq!(name, "dev.latchkey.Credentials1.Error.CallerRefused");
    assert_eq!(on_key(&key, "1234").unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_policy_refuses_may_not_manage_keys() {
    let bus = TestBus::start();
    let key = TestKey::start(&bus.dir.path().join("key.sock"), Presence::Touch);
    key.set_pin("1234");
    let policy = format!(
        "[[deny]]\nexecutable = \"{}\"\n{}",
        std::env::current_exe().unwrap().display(),
        trusted_prompt()
    );
    let _d = Latchkeyd::start(&bus, &policy, &[format!("--device={}", key.spec())]).await;
    let prompt = Prompt::spawn(&bus, "approve\npin 1234\nchange 1234 5678\n", false);
    let client = client(&bus).await;
    let p = client.proxy();
    let none = HashMap::new;
    let refused = [
        p.list_security_keys(none()).await.map(drop),
        p.list_security_key_credentials("key1", none())
            .await
            .map(drop),
        p.delete_security_key_credential("key1", "AAAA").await,
        p.change_security_key_pin("key1", none()).await,
        p.reset_security_key("key1", none()).await,
    ];
    for r in refused {
        let (name, _) = method_error(r.unwrap_err());
        assert_eq!(name, "dev.latchkey.Credentials1.Error.AccessDenied");
    }
    assert!(prompt.shown().is_empty(), "{:?}", prompt.shown());
    assert_eq!(on_key(&key, "1234").unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_pin_is_never_asked_through_a_prompt_the_caller_controls() {
    let bus = TestBus::start();
    let key = TestKey::start(&bus.dir.path().join("key.sock"), Presence::Touch);
    key.set_pin("1234");
    let _d = latchkeyd_with(&bus, &key).await;
    let prompt = Prompt::spawn(&bus, "approve\npin 1234\nchange 1234 5678\n", true);
    let client = client(&bus).await;
    let p = client.proxy();
    p.list_security_keys(HashMap::new()).await.unwrap();
    for r in [
        p.list_security_key_credentials("key1", HashMap::new())
            .await
            .map(drop),
        p.change_security_key_pin("key1", HashMap::new()).await,
    ] {
        let (name, _) = method_error(r.unwrap_err());
        assert_eq!(name, "dev.latchkey.Credentials1.Error.CallerRefused");
    }
    assert!(prompt.shown().is_empty(), "{:?}", prompt.shown());
    assert_eq!(on_key(&key, "1234").unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_in_a_ceremony_is_not_managed_meanwhile() {
    let OneKey {
        client,
        prompt: _prompt,
        latchkeyd: _d,
        key,
        bus: _bus,
    } = OneKey::start(Presence::Wait, "approve\n").await;
    let core = rp();
    let (_, pending) = start_key_create(&client, &core).await;
    key.until_waiting().await;
    let (name, message) = method_error(
        client
            .proxy()
            .list_security_keys(HashMap::new())
            .await
            .unwrap_err(),
    );
    assert_eq!(name, "dev.latchkey.Credentials1.Error.Busy");
    assert!(message.contains("in use"), "{message}");
    key.touch();
    let out = pending.response().await.unwrap();
    ok_json(&out);
    let keys = client
        .proxy()
        .list_security_keys(HashMap::new())
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_the_user_cancels_in_the_prompt_stops_the_keys_wait_and_erases_nothing() {
    let Resetting {
        bus: _bus,
        key,
        latchkeyd: _d,
        prompt,
        client,
    } = resetting(
        Presence::Wait,
        Duration::from_secs(3600),
        "cancel on touch-key\n",
    )
    .await;
    let (name, message) = reset_error(&client).await;
    assert_eq!(name, "dev.latchkey.Credentials1.Error.CallerRefused");
    assert!(message.contains("cancelled"), "{message}");
    assert_eq!(key.cancels(), 1, "the key got CTAPHID_CANCEL");
    let shown: Vec<_> = prompt.calls("ShowStatus");
    assert!(
        shown.iter().any(|r| r["details"]["kind"] == "touch-key"),
        "{:?}",
        prompt.shown()
    );
    assert_eq!(on_key(&key, "1234").unwrap(), Vec::<String>::new());
}
