#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The Passkeys window's "Security keys" section through the real latchkeyd, with a virtual
//! security key (served by this test, named in latchkeyd's devices.toml), driven through AT-SPI
//! as a person would: the key is listed; a passkey made on it through latchkeyd (webauthn-rs
//! verifies) is listed after the key's PIN, which latchkey-ui's prompt asks; its PIN is changed
//! (the old one then fails on the key, the new one works); a reset is refused because the key was
//! plugged in too long ago, and the window explains the 10-second rule; the passkey is deleted
//! after its confirmation. Screenshots, light and dark, go to `target/ui-screenshots/`.

mod gui;

use gui::latchkeyd::{desktop, person, Latchkeyd};
use gui::{Desktop, Driver, Scheme, UiProcess};
use latchkey_api::{CredentialsClient, Kind};
use latchkey_client::manage;
use latchkey_client::ScriptedUi;
use latchkey_testkit::keys::{Presence, TestKey};
use latchkey_testkit::rp;
use latchkey_ui::text::{shown, NAME_CHARS};
use serde_json::json;
use webauthn_rs_core::proto::{AuthenticatorAttachment, UserVerificationPolicy};

const PIN: &str = "482916";
const NEW_PIN: &str = "975310";
const PASSKEYS: &str = latchkey_ui::manage::PROGRAM_NAME;
const RULE: &str = "A security key can be reset only within 10 seconds of being plugged in. Unplug the key, plug it back in, then choose Reset right away and touch the key when it asks.";

fn passkeys_window(d: &Desktop, scheme: Scheme) -> (UiProcess, Driver) {
    let ui = d.start_ui(scheme, &["--manage"]);
    let mut at = d.driver().for_app(PASSKEYS);
    at.call(json!({"op": "wait_window", "timeout": 60}));
    at.wait_text("Security keys");
    (ui, at)
}

/// The user names of the passkeys on `key`, listed straight from the key with `pin`.
fn on_key(key: &TestKey, pin: &str) -> Result<Vec<String>, String> {
    let mut dev = latchkey_client::hid::open_unix(&key.path).unwrap();
    let mut ui = ScriptedUi::with_pins([pin]);
    manage::list_device(&mut dev, &mut ui)
        .map(|l| {
            l.into_iter()
                .map(|c| c.user_name.unwrap_or_default())
                .collect()
        })
        .map_err(|e| e.message().to_owned())
}

/// Answers the prompt's "Enter your security key PIN" with `pin`, until its window is gone.
fn enter_key_pin(at: &mut Driver, pin: &str) {
    at.wait_text("Enter your security key PIN");
    at.set_text("PIN", pin);
    at.press("Continue");
    at.wait_gone();
}

#[test]
fn a_security_key_is_listed_its_passkey_shown_after_the_pin_its_pin_changed_and_a_late_reset_explained(
) {
    let (d, _services) = desktop();
    let keys_dir = tempfile::tempdir().unwrap();
    // A key plugged in "long ago": it refuses every reset.
    let key = TestKey::start_with_reset_window(
        &keys_dir.path().join("key.sock"),
        Presence::Touch,
        std::time::Duration::ZERO,
    );
    key.set_pin(PIN);
    let lk = Latchkeyd::start_with_keys(&d, true, &[key.spec()]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _inside = rt.enter();
    let client = rt
        .block_on(CredentialsClient::connect(Some(&d.bus_address)))
        .unwrap();
    let core = rp::rp();

    // A passkey made on the key through latchkeyd, its PIN entered in latchkey-ui's prompt.
    let reg = rp::registration_with(
        &core,
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Required,
        None,
        true,
    );
    let gui = person(d.driver(), |at| {
        at.wait_text("Create a passkey for example.com");
        at.press("Continue");
        enter_key_pin(at, PIN);
    });
    let out = rt
        .block_on(client.call(Kind::Create, &reg.json, &rp::web()))
        .unwrap();
    let at = gui.join().unwrap();
    rp::verify_registration(&core, &reg, &rp::ok_json(&out));
    assert_eq!(on_key(&key, PIN).unwrap(), ["alice@example.com"]);

    // The key as the window names it.
    let listed = rt
        .block_on(client.proxy().list_security_keys(Default::default()))
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}\n{}", lk.log());
    let name = String::try_from(listed[0]["name"].try_clone().unwrap()).unwrap();
    let name = shown(&name, NAME_CHARS);

    // Dark first, then light.
    let (dark, mut pk) = passkeys_window(&d, Scheme::Dark);
    pk.wait_text(&name);
    d.screenshot_of(PASSKEYS, Some("Passkeys"), "manage-keys-dark");
    drop(pk);
    drop(dark);
    let (_window, mut pk) = passkeys_window(&d, Scheme::Light);
    pk.wait_text(&name);
    pk.wait_text("Virtual key · PIN set, 8 tries left");
    let (texts, _) = pk.texts();
    assert!(
        !texts.iter().any(|t| t == "alice@example.com"),
        "listed before the PIN: {texts:?}"
    );
    d.screenshot_of(PASSKEYS, Some("Passkeys"), "manage-keys-light");

    // Its passkeys, after the PIN asked by the trusted prompt.
    let gui = person(at, |at| enter_key_pin(at, PIN));
    pk.press(&format!("Show the passkeys on {name}"));
    let at = gui.join().unwrap();
    pk.wait_text("alice@example.com");
    pk.wait_text("example.com");
    d.screenshot_of(PASSKEYS, Some("Passkeys"), "manage-keys-passkeys-light");

    // Change its PIN: the prompt asks the current and the new one; the old one then fails.
    let gui = person(at, |at| {
        at.wait_text("Change the PIN of your security key");
        at.set_text("Current PIN", PIN);
        at.set_text("New PIN", NEW_PIN);
        at.set_text("Confirm PIN", NEW_PIN);
        at.press("Continue");
        at.wait_gone();
    });
    pk.press(&format!("Change the PIN of {name}"));
    let at = gui.join().unwrap();
    pk.wait_text("Virtual key · PIN set, 8 tries left");
    assert!(
        lk.log().contains("security key PIN changed: done"),
        "{}",
        lk.log()
    );
    assert!(on_key(&key, PIN).is_err());
    assert_eq!(on_key(&key, NEW_PIN).unwrap(), ["alice@example.com"]);

    // Reset: the confirmation explains the 10-second rule; the key refuses (plugged in too long
    // ago) and the window says what to do. Nothing is erased.
    let touches = key.touches();
    pk.press(&format!("Reset {name}"));
    pk.wait_text("Reset this security key?");
    d.screenshot_of(PASSKEYS, None, "manage-keys-reset-confirm-light");
    let (texts, _) = pk.all_texts();
    assert!(
        texts.iter().any(|t| t.contains(RULE)),
        "no 10-second rule in {texts:?}"
    );
    pk.press("Reset");
    pk.wait_text("Too late to reset this key");
    pk.wait_text(RULE);
    d.screenshot_of(
        PASSKEYS,
        Some("Passkeys"),
        "manage-keys-reset-too-late-light",
    );
    assert_eq!(key.touches(), touches, "the key never asked for a touch");
    assert_eq!(on_key(&key, NEW_PIN).unwrap(), ["alice@example.com"]);

    // Delete the passkey, after its confirmation and the key's (new) PIN.
    pk.press(&format!(
        "Delete the passkey of alice@example.com from {name}"
    ));
    pk.wait_text("Delete this passkey?");
    let gui = person(at, |at| enter_key_pin(at, NEW_PIN));
    pk.press("Delete");
    gui.join().unwrap();
    pk.wait_text("No passkeys are saved on this key.");
    assert_eq!(on_key(&key, NEW_PIN).unwrap(), Vec::<String>::new());
}

#[test]
fn a_key_just_plugged_in_is_reset_from_the_window_after_a_touch() {
    let (d, _services) = desktop();
    let keys_dir = tempfile::tempdir().unwrap();
    // A key whose reset window stays open for the whole test (a real key's: 10 seconds), and
    // which waits for the touch.
    let key = TestKey::start_with_reset_window(
        &keys_dir.path().join("key.sock"),
        Presence::Wait,
        std::time::Duration::from_secs(3600),
    );
    key.set_pin(PIN);
    let lk = Latchkeyd::start_with_keys(&d, true, &[key.spec()]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _inside = rt.enter();
    let client = rt
        .block_on(CredentialsClient::connect(Some(&d.bus_address)))
        .unwrap();
    let listed = rt
        .block_on(client.proxy().list_security_keys(Default::default()))
        .unwrap();
    let name = String::try_from(listed[0]["name"].try_clone().unwrap()).unwrap();
    let name = shown(&name, NAME_CHARS);

    // The window dark this time, so that its reset confirmation is seen in both styles.
    let (_window, mut pk) = passkeys_window(&d, Scheme::Dark);
    pk.wait_text("Virtual key · PIN set, 8 tries left");
    let mut at = d.driver();

    // Cancelled in the prompt while the key waits for the touch: the key is told
    // (CTAPHID_CANCEL), nothing is erased, and the window has nothing to report.
    pk.press(&format!("Reset {name}"));
    pk.wait_text("Reset this security key?");
    d.screenshot_of(PASSKEYS, None, "manage-keys-reset-confirm-dark");
    pk.press("Reset");
    at.wait_text("Touch your security key");
    at.press("Cancel");
    at.wait_gone();
    for _ in 0..600 {
        if lk.log().contains("security key reset: failed") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        lk.log().contains("security key reset: failed"),
        "{}",
        lk.log()
    );
    assert_eq!(key.cancels(), 1);
    pk.wait_text("Virtual key · PIN set, 8 tries left");
    let (texts, _) = pk.texts();
    assert!(
        !texts.iter().any(|t| t == "Nothing was changed"),
        "{texts:?}"
    );
    assert_eq!(on_key(&key, PIN).unwrap(), Vec::<String>::new());

    // Again, and the key is touched while the trusted prompt says what it waits for.
    pk.press(&format!("Reset {name}"));
    pk.wait_text("Reset this security key?");
    pk.press("Reset");
    at.wait_text("Touch your security key");
    d.screenshot(None, "manage-keys-reset-touch-light");
    assert!(key.waiting());
    key.touch();
    at.wait_gone();
    pk.wait_text("Virtual key · No PIN set");
    // The key itself has no PIN any more.
    let mut dev = latchkey_client::hid::open_unix(&key.path).unwrap();
    let report = manage::describe(&mut dev).unwrap();
    assert_eq!(report.info.option("clientPin"), Some(false));
    let after = rt
        .block_on(client.proxy().list_security_keys(Default::default()))
        .unwrap();
    assert!(!bool::try_from(&after[0]["pin_set"]).unwrap());
}
