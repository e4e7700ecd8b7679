#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The PIN through the client against fido-authenticator (CTAP 2.1 §6.5): set, change, a wrong
//! PIN with the retries left, three wrong in a row, blocking after eight.

mod common;

use common::*;
use latchkey_client::{manage, pinuv, Device, PinReason, ScriptedUi};
use latchkey_interop_fido_authenticator::FidoKey;
use latchkey_webauthn::ErrorName;
use serde_json::json;

fn client_pin_option(dev: &mut FidoKey) -> Option<bool> {
    latchkey_client::ctap2::get_info(dev)
        .unwrap()
        .option("clientPin")
}

#[test]
fn pin_is_set_then_asked_for() {
    let mut dev = key();
    assert_eq!(client_pin_option(&mut dev), Some(false));
    let mut ui = pins(1);
    manage::set_pin(&mut dev, &mut ui).unwrap();
    assert_eq!(ui.pin_requests[0].reason, PinReason::New);
    assert_eq!(ui.pin_requests[0].min_length, 4);
    assert_eq!(client_pin_option(&mut dev), Some(true));
    assert_eq!(pinuv::pin_retries(&mut dev).unwrap(), Some(8));
    // Setting it again is refused by the client before the key is asked.
    let err = manage::set_pin(&mut dev, &mut pins(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorName::InvalidState);
    // With a PIN set, a preferred-UV registration asks for it.
    let mut ui = pins(1);
    let c = create(
        &mut dev,
        &mut ui,
        "discouraged",
        "preferred",
        &[],
        json!({}),
    )
    .unwrap();
    assert_eq!(ui.pin_requests.len(), 1);
    assert_eq!(ui.pin_requests[0].reason, PinReason::Verify);
    assert_eq!(ui.pin_requests[0].retries_left, Some(8));
    assert_eq!(flags(&c.reg.authenticator_data) & UV, UV);
}

#[test]
fn a_too_short_pin_is_refused_by_the_client() {
    let mut dev = key();
    let mut ui = ScriptedUi::with_pins(["123"]);
    let err = manage::set_pin(&mut dev, &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert!(err.message().contains("too short"), "{}", err.message());
    assert_eq!(client_pin_option(&mut dev), Some(false));
}

#[test]
fn pin_change_replaces_the_pin() {
    let mut dev = key();
    manage::set_pin(&mut dev, &mut pins(1)).unwrap();
    let mut ui = ScriptedUi::with_pins([PIN, "98765"]);
    manage::change_pin(&mut dev, &mut ui).unwrap();
    let reasons: Vec<_> = ui
        .pin_requests
        .iter()
        .map(|r| (r.reason, r.retries_left))
        .collect();
    assert_eq!(
        reasons,
        vec![(PinReason::Current, Some(8)), (PinReason::New, None)]
    );
    // The old PIN is wrong now; the new one works.
    let mut ui = ScriptedUi::with_pins([PIN, "98765"]);
    let c = create(&mut dev, &mut ui, "required", "required", &[], json!({})).unwrap();
    assert_eq!(ui.pin_requests[1].reason, PinReason::Retry);
    assert_eq!(ui.pin_requests[1].retries_left, Some(7));
    assert_eq!(flags(&c.reg.authenticator_data) & UV, UV);
}

#[test]
fn changing_with_a_wrong_current_pin_is_pin_invalid() {
    let mut dev = key();
    manage::set_pin(&mut dev, &mut pins(1)).unwrap();
    let mut ui = ScriptedUi::with_pins(["0000", "98765"]);
    let err = manage::change_pin(&mut dev, &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert_eq!(err.message(), "the PIN is wrong");
    assert_eq!(pinuv::pin_retries(&mut dev).unwrap(), Some(7));
    // The PIN was not changed.
    let mut ui = pins(1);
    create(&mut dev, &mut ui, "required", "required", &[], json!({})).unwrap();
    assert_eq!(pinuv::pin_retries(&mut dev).unwrap(), Some(8));
}

#[test]
fn wrong_pin_is_retried_with_retries_left() {
    let mut dev = key();
    create(
        &mut dev,
        &mut pins(1),
        "required",
        "required",
        &[],
        json!({}),
    )
    .unwrap();
    let mut ui = ScriptedUi::with_pins(["0000", "1111", PIN]);
    let (a, _) = get(&mut dev, &mut ui, &[], "required", json!({})).unwrap();
    assert_eq!(flags(&a.authenticator_data) & UV, UV);
    let reasons: Vec<_> = ui
        .pin_requests
        .iter()
        .map(|r| (r.reason, r.retries_left))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (PinReason::Verify, Some(8)),
            (PinReason::Retry, Some(7)),
            (PinReason::Retry, Some(6))
        ]
    );
    assert_eq!(
        pinuv::pin_retries(&mut dev).unwrap(),
        Some(8),
        "a right PIN resets the count"
    );
}

#[test]
fn three_wrong_pins_in_a_row_need_a_power_cycle_and_eight_block_the_pin() {
    let mut dev = key();
    create(
        &mut dev,
        &mut pins(1),
        "required",
        "required",
        &[],
        json!({}),
    )
    .unwrap();
    let mut ui = ScriptedUi::with_pins(["0000"; 4]);
    let err = get(&mut dev, &mut ui, &[], "required", json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert!(
        err.message().contains("too many wrong PINs in a row"),
        "{}",
        err.message()
    );
    assert_eq!(ui.pin_requests.len(), 3);
    // Even the right PIN is refused until the key is replugged.
    let err = get(&mut dev, &mut pins(1), &[], "required", json!({})).unwrap_err();
    assert!(
        err.message().contains("too many wrong PINs in a row"),
        "{}",
        err.message()
    );
    dev.power_cycle().unwrap();
    assert_eq!(
        pinuv::pin_retries(&mut dev).unwrap(),
        Some(5),
        "the count survives the replug"
    );
    let mut ui = ScriptedUi::with_pins(["0000"; 3]);
    get(&mut dev, &mut ui, &[], "required", json!({})).unwrap_err();
    dev.power_cycle().unwrap();
    let mut ui = ScriptedUi::with_pins(["0000"; 3]);
    let err = get(&mut dev, &mut ui, &[], "required", json!({})).unwrap_err();
    assert!(
        err.message().contains("PIN is blocked"),
        "{}",
        err.message()
    );
    assert_eq!(ui.pin_requests.last().unwrap().retries_left, Some(1));
    // Blocked: refused before the PIN is asked for.
    let mut ui = pins(1);
    let err = get(&mut dev, &mut ui, &[], "required", json!({})).unwrap_err();
    assert!(
        err.message().contains("PIN is blocked"),
        "{}",
        err.message()
    );
    assert!(ui.pin_requests.is_empty());
}

#[test]
fn credentials_survive_a_power_cycle() {
    let mut dev = key();
    let c = create(
        &mut dev,
        &mut pins(1),
        "required",
        "required",
        &[],
        json!({}),
    )
    .unwrap();
    let record = rp_register(&c.reg, &c.challenge, true);
    dev.power_cycle().unwrap();
    let (a, challenge) = get(&mut dev, &mut pins(1), &[], "required", json!({})).unwrap();
    rp_authenticate(&a, &challenge, &record, &c.user, true, &[]);
    assert_eq!(dev.info().transport, latchkey_client::Transport::Usb);
}
