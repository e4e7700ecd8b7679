#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Ceremonies through the real latchkeyd, answered in latchkey-ui as a person would, through
//! AT-SPI: latchkeyd (the binary, with its platform worker and file store) starts the prompt by
//! D-Bus activation, the test reads the RP ID and the caller from the dialog, types the PIN and
//! presses "Continue", and webauthn-rs (an RP library we did not write) verifies the response.

mod gui;

use std::time::{Duration, Instant};

use gui::latchkeyd::{person, test_browser};
use gui::session::{create_pin, Session};
use latchkey_api::{CallOptions, Kind};
use latchkey_testkit::keys::{Presence, TestKey, KEY_AAGUID};
use latchkey_testkit::rp;
use webauthn_rs_core::proto::{AuthenticatorAttachment, UserVerificationPolicy};

#[test]
fn create_then_sign_in_with_a_new_pin_verified_by_webauthn_rs() {
    let s = Session::start(true);

    // Create: consent (the RP ID and the caller as latchkeyd identified it), then the first-use
    // PIN of the platform authenticator.
    let reg = rp::registration(
        &s.core,
        Some(AuthenticatorAttachment::Platform),
        UserVerificationPolicy::Required,
    );
    // latchkeyd names a privileged client that is not a native host by its executable.
    let me = std::env::current_exe().unwrap().display().to_string();
    let gui = person(s.d.driver(), move |at| {
        at.wait_text("Create a passkey for example.com");
        let (texts, _) = at.texts();
        assert!(texts.iter().any(|t| t == "example.com"), "{texts:?}");
        assert!(texts.contains(&me), "{texts:?}");
        assert!(texts.iter().any(|t| t == "alice@example.com"), "{texts:?}");
        assert!(!texts.iter().any(|t| t == "Unverified app"));
        at.press("Continue");
        create_pin(at, "482916");
    });
    let out = s.call(Kind::Create, &reg.json, &rp::web());
    let at = gui.join().unwrap();
    let response = rp::ok_json(&out);
    let (cred, _aaguid) = rp::verify_registration(&s.core, &reg, &response);

    // Sign in: consent, then the PIN just set; webauthn-rs checks UV and the signature.
    let gui = person(at, |at| {
        at.wait_text("Sign in to example.com");
        at.press("Continue");
        at.wait_text("Enter your device PIN");
        at.set_text("PIN", "482916");
        at.press("Continue");
        at.wait_gone();
    });
    let (_, result) = s.sign_in(&cred, UserVerificationPolicy::Required);
    gui.join().unwrap();
    assert!(result.user_verified(), "{}", s.lk.log());
}

#[test]
fn cancel_is_not_allowed_and_a_wrong_pin_shows_the_tries_left() {
    let s = Session::start(true);
    let reg = rp::registration(
        &s.core,
        Some(AuthenticatorAttachment::Platform),
        UserVerificationPolicy::Required,
    );

    // Cancel at consent: the caller gets NotAllowedError.
    let gui = person(s.d.driver(), |at| {
        at.wait_text("Create a passkey for example.com");
        at.press("Cancel");
        at.wait_gone();
    });
    let out = s.call(Kind::Create, &reg.json, &rp::web());
    let at = gui.join().unwrap();
    assert_eq!(out.error_name().as_deref(), Some("NotAllowedError"));

    // Create with a PIN, then sign in with a wrong one: the dialog says how many tries are left;
    // then the right one.
    let (at, cred) = s.create_with_new_pin(at, "135790");
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
    let (_, result) = s.sign_in(&cred, UserVerificationPolicy::Required);
    gui.join().unwrap();
    assert!(result.user_verified());
}

#[test]
fn an_unverified_caller_is_shown_as_such() {
    let s = Session::start(false);
    let reg = rp::registration(
        &s.core,
        Some(AuthenticatorAttachment::Platform),
        UserVerificationPolicy::Required,
    );
    let exe = std::env::current_exe().unwrap();
    let name = exe.file_name().unwrap().to_string_lossy().into_owned();
    let gui = person(s.d.driver(), move |at| {
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
    let out = s.call(Kind::Create, &reg.json, &CallOptions::default());
    gui.join().unwrap();
    assert_eq!(out.error_name().as_deref(), Some("NotAllowedError"));
}

/// latchkeyd asks where to go (a security key is configured and the options leave it open); the
/// person picks "This device", creates the platform PIN (asked twice), and webauthn-rs verifies a
/// platform passkey; the key was never used.
#[test]
fn latchkeyd_asks_where_and_this_device_makes_the_passkey() {
    let keys = tempfile::tempdir().unwrap();
    let key = TestKey::start(&keys.path().join("key.sock"), Presence::Touch);
    let s = Session::start_with(&test_browser(), &[format!("--device={}", key.spec())]);
    let reg = rp::registration(&s.core, None, UserVerificationPolicy::Required);
    let gui = person(s.d.driver(), |at| {
        at.wait_text("Create a passkey for example.com");
        at.press("Continue");
        at.wait_text("Where do you want to save your passkey for example.com?");
        let (texts, _) = at.texts();
        assert!(texts.iter().any(|t| t == "A security key"), "{texts:?}");
        at.press("This device");
        create_pin(at, "482916");
    });
    let out = s.call(Kind::Create, &reg.json, &rp::web());
    gui.join().unwrap();
    let (cred, aaguid) = rp::verify_registration(&s.core, &reg, &rp::ok_json(&out));
    assert_ne!(aaguid, KEY_AAGUID, "{}", s.lk.log());
    assert!(cred.user_verified);
    assert_eq!(key.touches(), 0);
    assert!(s.lk.log().contains("the user chose"), "{}", s.lk.log());
}

/// A window of the test's own on the desktop's display, as a caller's would be; it stays while
/// the returned connection lives.
fn caller_window(display: &str) -> (x11rb::rust_connection::RustConnection, u32) {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::xproto::{ConnectionExt as _, CreateWindowAux, WindowClass};
    let (conn, screen) = x11rb::connect(Some(display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let id = conn.generate_id().unwrap();
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        id,
        root,
        0,
        0,
        800,
        600,
        0,
        WindowClass::INPUT_OUTPUT,
        x11rb::COPY_FROM_PARENT,
        &CreateWindowAux::new(),
    )
    .unwrap()
    .check()
    .unwrap();
    conn.map_window(id).unwrap().check().unwrap();
    conn.flush().unwrap();
    (conn, id)
}

/// The caller names its X11 window as `parent_window`: latchkeyd passes it on and every page of
/// the request's dialog (the consent, then the PIN) is transient for it; a malformed handle is a
/// TypeError before anything is shown.
#[test]
fn the_dialog_is_transient_for_the_callers_x11_window() {
    let s = Session::start(true);
    let (_x, parent) = caller_window(&s.d.display);
    let reg = rp::registration(
        &s.core,
        Some(AuthenticatorAttachment::Platform),
        UserVerificationPolicy::Required,
    );
    let camera = s.d.camera();
    let gui = person(s.d.driver(), move |at| {
        at.wait_text("Create a passkey for example.com");
        let dialog = camera.window("latchkey-ui", None);
        assert_eq!(camera.transient_for(&dialog), Some(parent), "{dialog}");
        at.press("Continue");
        at.wait_text("Create a PIN for this device");
        let dialog = camera.window("latchkey-ui", None);
        assert_eq!(camera.transient_for(&dialog), Some(parent), "{dialog}");
        at.set_text("New PIN", "482916");
        at.set_text("Confirm PIN", "482916");
        at.press("Continue");
        at.wait_gone();
    });
    let opts = CallOptions {
        parent_window: Some(format!("x11:{parent:x}")),
        ..rp::web()
    };
    let out = s.call(Kind::Create, &reg.json, &opts);
    gui.join().unwrap();
    rp::verify_registration(&s.core, &reg, &rp::ok_json(&out));

    let bad = CallOptions {
        parent_window: Some("x11:not-a-window".into()),
        ..rp::web()
    };
    let refused = s.block_on(s.client().call(Kind::Create, &reg.json, &bad));
    let e = refused.unwrap_err();
    assert_eq!(
        e.dbus_name(),
        Some("dev.latchkey.Credentials1.Error.InvalidArgument"),
        "{e}"
    );
    assert_eq!(e.webauthn_error().name(), "TypeError");
}
