#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Keys with a fingerprint reader (the virtual key's emulated built-in user verification):
//! a pinUvAuthToken from the finger instead of the PIN (CTAP 2.1 §6.5.5.7.3), retries told to
//! the user (getUVRetries), the PIN once built-in UV blocks or is not set up, and `uv: true` in
//! the request on a key that issues no tokens (CTAP 2.0).

mod common;

use common::*;
use latchkey_authenticator::uv::UvScript;
use latchkey_authenticator::{BuiltInUv, Config};
use latchkey_client::{Device, ScriptedUi, UvReason};
use latchkey_webauthn::ErrorName;
use serde_json::json;

const PIN: &str = "1234";

fn fingerprint_key(fingers: &str, max_uv_retries: u8, preferred: u8) -> VirtualKeyServer {
    let server = VirtualKeyServer::start_with(Config {
        built_in_uv: BuiltInUv::Configured,
        max_uv_retries,
        preferred_platform_uv_attempts: preferred,
        ..Config::default()
    });
    *server.fingers.lock().unwrap() = fingers.parse::<UvScript>().unwrap();
    server
}

fn set_pin(dev: &mut dyn Device) {
    let mut ui = ScriptedUi::with_pins([PIN]);
    latchkey_client::manage::set_pin(dev, &mut ui).unwrap();
}

fn register(dev: &mut dyn Device, ui: &mut ScriptedUi, uv: &str) -> latchkey_client::Registration {
    let user = random(8);
    let (options, challenge) = create_options(&user, "discouraged", uv, &[], json!({}));
    let reg = latchkey_client::register(dev, &create_request(&options), ui).unwrap();
    rp_register(&reg, &challenge, uv == "required");
    reg
}

fn uv_log(ui: &ScriptedUi) -> Vec<(UvReason, Option<u64>)> {
    ui.uv_requests
        .iter()
        .map(|r| (r.reason, r.retries_left))
        .collect()
}

#[test]
fn a_recognised_finger_replaces_the_pin_and_the_touch() {
    let server = fingerprint_key("match", 5, 3);
    let mut dev = server.open();
    set_pin(&mut *dev);
    let mut ui = ScriptedUi::default();
    let reg = register(&mut *dev, &mut ui, "required");
    assert_eq!(flags(&reg.authenticator_data) & (UP | UV), UP | UV);
    assert!(ui.pin_requests.is_empty(), "{:?}", ui.pin_requests);
    assert_eq!(uv_log(&ui), [(UvReason::Verify, None)]);
    assert_eq!(server.uv_attempts.count(), 1);
    assert_eq!(server.touches.count(), 0, "the finger was the touch");

    // Signing in: the same, and the counter moves once.
    let (options, _) = get_options(
        std::slice::from_ref(&reg.credential_id),
        "required",
        json!({}),
    );
    let a = latchkey_client::authenticate(&mut *dev, &get_request(&options), &mut ui).unwrap();
    assert_eq!(flags(&a.authenticator_data) & (UP | UV), UP | UV);
    assert_eq!(&a.authenticator_data[33..37], &[0, 0, 0, 1]);
    assert!(ui.pin_requests.is_empty());
    assert_eq!(server.uv_attempts.count(), 2);
    assert_eq!(server.touches.count(), 0);
}

#[test]
fn a_finger_not_recognised_is_tried_again_telling_the_attempts_left() {
    let server = fingerprint_key("no-match,no-match,match", 5, 3);
    let mut dev = server.open();
    set_pin(&mut *dev);
    let mut ui = ScriptedUi::default();
    let reg = register(&mut *dev, &mut ui, "required");
    assert_eq!(flags(&reg.authenticator_data) & UV, UV);
    assert_eq!(
        uv_log(&ui),
        [
            (UvReason::Verify, None),
            (UvReason::Retry, Some(4)),
            (UvReason::Retry, Some(3)),
        ]
    );
    assert!(ui.pin_requests.is_empty());
    assert_eq!(server.uv_attempts.count(), 3);
}

#[test]
fn once_built_in_uv_blocks_the_pin_takes_over() {
    let server = fingerprint_key("no-match", 2, 3);
    let mut dev = server.open();
    set_pin(&mut *dev);
    let mut ui = ScriptedUi::with_pins([PIN]);
    let reg = register(&mut *dev, &mut ui, "required");
    assert_eq!(flags(&reg.authenticator_data) & UV, UV);
    // One miss (1 left), the second blocks: UV_BLOCKED, then the PIN.
    assert_eq!(
        uv_log(&ui),
        [(UvReason::Verify, None), (UvReason::Retry, Some(1))]
    );
    assert_eq!(ui.pin_requests.len(), 1);
    assert_eq!(
        ui.pin_requests[0].reason,
        latchkey_client::PinReason::Verify
    );
    assert_eq!(server.uv_attempts.count(), 2);
    // The right PIN restored the reader's attempts: the next ceremony tries the finger again.
    *server.fingers.lock().unwrap() = "match".parse().unwrap();
    let mut ui = ScriptedUi::default();
    register(&mut *dev, &mut ui, "required");
    assert_eq!(uv_log(&ui), [(UvReason::Verify, None)]);
    assert!(ui.pin_requests.is_empty());
}

#[test]
fn without_a_pin_a_blocked_finger_fails_clearly() {
    let server = fingerprint_key("no-match", 2, 3);
    let mut dev = server.open();
    let mut ui = ScriptedUi::default();
    let user = random(8);
    let (options, _) = create_options(&user, "discouraged", "required", &[], json!({}));
    let err = latchkey_client::register(&mut *dev, &create_request(&options), &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert!(
        err.message().contains("did not recognise"),
        "{}",
        err.message()
    );
    assert!(ui.pin_requests.is_empty());
    assert_eq!(server.uv_attempts.count(), 2);
}

#[test]
fn a_reader_with_no_finger_enrolled_leaves_it_to_the_pin() {
    let server = VirtualKeyServer::start_with(Config {
        built_in_uv: BuiltInUv::NotConfigured,
        ..Config::default()
    });
    let mut dev = server.open();
    set_pin(&mut *dev);
    let mut ui = ScriptedUi::with_pins([PIN]);
    let reg = register(&mut *dev, &mut ui, "required");
    assert_eq!(flags(&reg.authenticator_data) & UV, UV);
    assert!(ui.uv_requests.is_empty());
    assert_eq!(ui.pin_requests.len(), 1);
    assert_eq!(server.uv_attempts.count(), 0);
}

#[test]
fn a_ctap20_key_with_a_finger_is_asked_for_uv_in_the_request() {
    let server = fingerprint_key("no-match,match", 5, 3);
    let mut dev = Ctap20(server.open());
    let mut ui = ScriptedUi::default();
    let reg = register(&mut dev, &mut ui, "required");
    assert_eq!(flags(&reg.authenticator_data) & (UP | UV), UP | UV);
    // The key retried inside the one request; no token was asked for.
    assert!(ui.uv_requests.is_empty());
    assert!(ui.pin_requests.is_empty());
    assert_eq!(server.uv_attempts.count(), 2);
    assert_eq!(server.touches.count(), 0);
}
