#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Ceremonies through the real latchkeyd, answered in latchkey-ui as a person would, through
//! AT-SPI: latchkeyd (the binary, with its platform worker and file store) starts the prompt by
//! D-Bus activation, the test reads the RP ID and the caller from the dialog, types the PIN and
//! presses "Continue", and webauthn-rs (an RP library we did not write) verifies the response.

mod gui;

use std::time::{Duration, Instant};

use gui::latchkeyd::{desktop, person, Latchkeyd};
use latchkey_api::{CallOptions, CredentialsClient, Kind};
use latchkey_testkit::rp;
use webauthn_rs_core::proto::{AuthenticatorAttachment, UserVerificationPolicy};

#[test]
fn create_then_sign_in_with_a_new_pin_verified_by_webauthn_rs() {
    let (d, _services) = desktop();
    let lk = Latchkeyd::start(&d, true);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _inside = rt.enter();
    let client = rt
        .block_on(CredentialsClient::connect(Some(&d.bus_address)))
        .unwrap();
    let core = rp::rp();

    // Create: consent (the RP ID and the caller as latchkeyd identified it), then the first-use
    // PIN of the platform authenticator.
    let reg = rp::registration(
        &core,
        Some(AuthenticatorAttachment::Platform),
        UserVerificationPolicy::Required,
    );
    // latchkeyd names a privileged client that is not a native host by its executable.
    let me = std::env::current_exe().unwrap().display().to_string();
    let gui = person(d.driver(), move |at| {
        at.wait_text("Create a passkey for example.com");
        let (texts, _) = at.texts();
        assert!(texts.iter().any(|t| t == "example.com"), "{texts:?}");
        assert!(texts.contains(&me), "{texts:?}");
        assert!(texts.iter().any(|t| t == "alice@example.com"), "{texts:?}");
        assert!(!texts.iter().any(|t| t == "Unverified app"));
        at.press("Continue");
        at.wait_text("Create a PIN for this device");
        at.set_text("New PIN", "482916");
        at.set_text("Confirm PIN", "482916");
        at.press("Continue");
        at.wait_gone();
    });
    let out = rt
        .block_on(client.call(Kind::Create, &reg.json, &rp::web()))
        .unwrap();
    let at = gui.join().unwrap();
    let response = rp::ok_json(&out);
    let (cred, _aaguid) = rp::verify_registration(&core, &reg, &response);

    // Sign in: consent, then the PIN just set; webauthn-rs checks UV and the signature.
    let gui = person(at, |at| {
        at.wait_text("Sign in to example.com");
        at.press("Continue");
        at.wait_text("Enter your device PIN");
        at.set_text("PIN", "482916");
        at.press("Continue");
        at.wait_gone();
    });
    let (_, result) = rt.block_on(rp::sign_in(
        &client,
        &core,
        &cred,
        UserVerificationPolicy::Required,
    ));
    gui.join().unwrap();
    assert!(result.user_verified(), "{}", lk.log());
}

#[test]
fn cancel_is_not_allowed_and_a_wrong_pin_shows_the_tries_left() {
    let (d, _services) = desktop();
    let _lk = Latchkeyd::start(&d, true);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _inside = rt.enter();
    let client = rt
        .block_on(CredentialsClient::connect(Some(&d.bus_address)))
        .unwrap();
    let core = rp::rp();
    let reg = rp::registration(
        &core,
        Some(AuthenticatorAttachment::Platform),
        UserVerificationPolicy::Required,
    );

    // Cancel at consent: the caller gets NotAllowedError.
    let gui = person(d.driver(), |at| {
        at.wait_text("Create a passkey for example.com");
        at.press("Cancel");
        at.wait_gone();
    });
    let out = rt
        .block_on(client.call(Kind::Create, &reg.json, &rp::web()))
        .unwrap();
    let at = gui.join().unwrap();
    assert_eq!(out.error_name().as_deref(), Some("NotAllowedError"));

    // Create with a PIN, then sign in with a wrong one: the dialog says how many tries are left;
    // then the right one.
    let gui = person(at, |at| {
        at.wait_text("Create a passkey for example.com");
        at.press("Continue");
        at.wait_text("Create a PIN for this device");
        at.set_text("New PIN", "135790");
        at.set_text("Confirm PIN", "135790");
        at.press("Continue");
        at.wait_gone();
    });
    let out = rt
        .block_on(client.call(Kind::Create, &reg.json, &rp::web()))
        .unwrap();
    let at = gui.join().unwrap();
    let (cred, _) = rp::verify_registration(&core, &reg, &rp::ok_json(&out));
    let started = Instant::now();
    let gui = person(at, move |at| {
        at.wait_text("Sign in to example.com");
        at.press("Continue");
        at.wait_text("Enter your device PIN");
        at.set_text("PIN", "000000");
        at.press("Continue");
        at.wait_text("Wrong PIN. 7 tries left.");
        at.set_text("PIN", "135790");
        at.press("Continue");
        at.wait_gone();
        assert!(started.elapsed() < Duration::from_secs(120));
    });
    let (_, result) = rt.block_on(rp::sign_in(
        &client,
        &core,
        &cred,
        UserVerificationPolicy::Required,
    ));
    gui.join().unwrap();
    assert!(result.user_verified());
}

#[test]
fn an_unverified_caller_is_shown_as_such() {
    let (d, _services) = desktop();
    let _lk = Latchkeyd::start(&d, false);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _inside = rt.enter();
    let client = rt
        .block_on(CredentialsClient::connect(Some(&d.bus_address)))
        .unwrap();
    let core = rp::rp();
    let reg = rp::registration(
        &core,
        Some(AuthenticatorAttachment::Platform),
        UserVerificationPolicy::Required,
    );
    let exe = std::env::current_exe().unwrap();
    let name = exe.file_name().unwrap().to_string_lossy().into_owned();
    let gui = person(d.driver(), move |at| {
        at.wait_text("Create a passkey for example.com");
        let (texts, _) = at.texts();
        assert!(texts.iter().any(|t| t == "Unverified app"), "{texts:?}");
        assert!(
            texts
                .iter()
                .any(|t| t.contains(&name[..name.len().min(20)])),
            "{texts:?}"
        );
        at.press("Cancel");
        at.wait_gone();
    });
    let out = rt
        .block_on(client.call(Kind::Create, &reg.json, &CallOptions::default()))
        .unwrap();
    gui.join().unwrap();
    assert_eq!(out.error_name().as_deref(), Some("NotAllowedError"));
}
