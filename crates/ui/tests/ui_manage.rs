#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The Passkeys window (`latchkey-ui --manage`) and remembered site decisions, through the real
//! latchkeyd (its platform worker and file store), driven through AT-SPI as a person would: a
//! consent answered with "Always allow" makes the next sign-in from the same browser skip the
//! consent dialog but not the PIN; the Passkeys window lists the site and the passkey, revokes
//! the one (the next sign-in asks again) and deletes the other after its confirmation (the store
//! no longer has it: `ListCredentials` is empty and signing in with it fails). webauthn-rs
//! verifies every response. Screenshots of the window, light and dark, go to
//! `target/ui-screenshots/`.

mod gui;

use gui::latchkeyd::person;
use gui::session::{create_pin, Session};
use gui::{Desktop, Driver, Scheme, UiProcess};
use latchkey_api::Kind;
use latchkey_testkit::rp;
use serde_json::json;
use webauthn_rs_core::proto::{AuthenticatorAttachment, UserVerificationPolicy};

const PIN: &str = "482916";
const PASSKEYS: &str = latchkey_ui::manage::PROGRAM_NAME;

/// Opens the Passkeys window with `scheme`; returns it and a driver reading it.
fn passkeys_window(d: &Desktop, scheme: Scheme) -> (UiProcess, Driver) {
    let ui = d.start_ui(scheme, &["--manage"]);
    let mut at = d.driver().for_app(PASSKEYS);
    at.call(json!({"op": "wait_window", "timeout": 60}));
    at.wait_text("Passkeys on this device");
    (ui, at)
}

/// Answers what the prompt asks until its window is gone: the consent (if `consent`), then the
/// PIN whenever it is asked.
fn answer(at: &mut Driver, consent: Option<&str>) {
    if let Some(headline) = consent {
        at.wait_text(headline);
        at.press("Continue");
    }
    for _ in 0..200 {
        if at.try_call(json!({"op": "wait_gone", "timeout": 1}))["ok"] == json!(true) {
            return;
        }
        let (texts, _) = at.try_texts();
        if texts.iter().any(|t| t == "Enter your device PIN") {
            at.set_text("PIN", PIN);
            at.press("Continue");
        }
    }
    panic!("the prompt never went away:\n{}", at.tree());
}

#[test]
fn always_allow_skips_consent_not_the_pin_and_the_passkeys_window_revokes_and_deletes() {
    let s = Session::start(true);
    let (d, lk, core) = (&s.d, &s.lk, &s.core);

    // Create a passkey (discoverable: the Passkeys window lists those), ticking "Always allow …
    // for example.com" in the consent dialog.
    let reg = rp::registration_with(
        core,
        Some(AuthenticatorAttachment::Platform),
        UserVerificationPolicy::Required,
        None,
        true,
    );
    let gui = person(d.driver(), |at| {
        at.wait_text("Create a passkey for example.com");
        let (texts, _) = at.texts();
        let always = texts
            .iter()
            .find(|t| {
                t.starts_with("Always allow ") && t.ends_with(" to use passkeys for example.com")
            })
            .unwrap_or_else(|| panic!("no Always allow offered: {texts:?}"))
            .clone();
        at.press(&always);
        at.press("Continue");
        create_pin(at, PIN);
    });
    let out = s.call(Kind::Create, &reg.json, &rp::web());
    let at = gui.join().unwrap();
    let (cred, _) = rp::verify_registration(core, &reg, &rp::ok_json(&out));
    let sites = s
        .block_on(s.client().proxy().list_remembered_sites(Default::default()))
        .unwrap();
    assert_eq!(sites.len(), 1, "{sites:?}\n{}", lk.log());
    let on_disk = std::fs::read_to_string(lk.dir.path().join("state/remembered.json")).unwrap();
    assert!(
        on_disk.contains("\"Test Browser\"") && on_disk.contains("\"example.com\""),
        "{on_disk}"
    );

    // Sign in from the same browser: no consent dialog, the PIN is asked first.
    let gui = person(at, |at| {
        at.wait_text("Enter your device PIN");
        let (texts, _) = at.texts();
        assert!(
            !texts.iter().any(|t| t == "Sign in to example.com"),
            "{texts:?}"
        );
        at.set_text("PIN", PIN);
        at.press("Continue");
        at.wait_gone();
    });
    let (_, result) = s.sign_in(&cred, UserVerificationPolicy::Preferred);
    let at = gui.join().unwrap();
    assert!(result.user_verified());

    // The Passkeys window: the site and the passkey are listed, light and dark.
    let (dark, mut pk) = passkeys_window(d, Scheme::Dark);
    pk.wait_text("Sites always allowed");
    d.screenshot_of(PASSKEYS, Some("Passkeys"), "manage-dark");
    drop(pk);
    drop(dark);
    let (_window, mut pk) = passkeys_window(d, Scheme::Light);
    pk.wait_text("Sites always allowed");
    let (texts, buttons) = pk.texts();
    assert!(texts.iter().any(|t| t == "example.com"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "alice@example.com"), "{texts:?}");
    d.screenshot_of(PASSKEYS, Some("Passkeys"), "manage-light");
    let revoke = buttons
        .iter()
        .find(|b| b.starts_with("Stop always allowing ") && b.ends_with(" for example.com"))
        .unwrap_or_else(|| panic!("no revoke button: {buttons:?}"))
        .clone();

    // Revoke: latchkeyd forgets it, and the next sign-in asks for consent again.
    pk.press(&revoke);
    pk.wait_text("No site is always allowed.");
    let sites = s
        .block_on(s.client().proxy().list_remembered_sites(Default::default()))
        .unwrap();
    assert!(sites.is_empty(), "{sites:?}");
    let gui = person(at, |at| answer(at, Some("Sign in to example.com")));
    let (_, result) = s.sign_in(&cred, UserVerificationPolicy::Required);
    let at = gui.join().unwrap();
    assert!(result.user_verified());

    // Delete, after the confirmation.
    pk.press("Delete the passkey of alice@example.com");
    pk.wait_text("Delete this passkey?");
    d.screenshot_of(PASSKEYS, None, "manage-delete-confirm-light");
    pk.press("Delete");
    pk.wait_text("No passkeys are saved on this device yet.");
    let left = s
        .block_on(s.client().proxy().list_credentials(Default::default()))
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    // Signing in with it fails.
    let gui = person(at, |at| answer(at, Some("Sign in to example.com")));
    let builder = core
        .new_challenge_authenticate_builder(
            vec![cred.clone()],
            Some(UserVerificationPolicy::Required),
        )
        .unwrap();
    let (rcr, _state) = core.generate_challenge_authenticate(builder).unwrap();
    let out = s.call(
        Kind::Get,
        &serde_json::to_string(&rcr.public_key).unwrap(),
        &rp::web(),
    );
    gui.join().unwrap();
    assert_eq!(
        out.error_name().as_deref(),
        Some("NotAllowedError"),
        "{:?}\n{}",
        out.message(),
        lk.log()
    );
}

#[test]
fn the_platform_pin_is_changed_from_the_passkeys_window() {
    let s = Session::start(true);
    let (d, lk) = (&s.d, &s.lk);
    let (at, cred) = s.create_with_new_pin(d.driver(), PIN);

    // "Change PIN" in the window: latchkeyd asks for both PINs in the trusted prompt.
    let (_window, mut pk) = passkeys_window(d, Scheme::Light);
    pk.wait_text("PIN of this device");
    let gui = person(at, |at| {
        at.wait_text("Change the PIN of this device");
        at.set_text("Current PIN", PIN);
        at.set_text("New PIN", "246810");
        at.set_text("Confirm PIN", "246810");
        at.press("Continue");
        at.wait_gone();
    });
    pk.press("Change PIN");
    let at = gui.join().unwrap();
    pk.wait_text("PIN of this device");
    assert!(lk.log().contains("platform PIN changed"), "{}", lk.log());

    // The old PIN no longer works; the new one does, and webauthn-rs sees the user verified.
    let gui = person(at, |at| {
        at.wait_text("Sign in to example.com");
        at.press("Continue");
        at.wait_text("Enter your device PIN");
        at.set_text("PIN", PIN);
        at.press("Continue");
        at.wait_text("Wrong PIN. 7 tries left.");
        at.set_text("PIN", "246810");
        at.press("Continue");
        at.wait_gone();
    });
    let (_, result) = s.sign_in(&cred, UserVerificationPolicy::Required);
    gui.join().unwrap();
    assert!(result.user_verified());
}
