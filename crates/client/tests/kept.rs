#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! getInfo and the PIN/UV key agreement kept between ceremonies with the platform authenticator
//! (`latchkey_client::kept`): a wrong PIN, a reset or a PIN change never meets a stale secret or
//! a stale getInfo.

mod common;

use latchkey_client::pinuv::{self, TokenRequest};
use latchkey_client::ui::PinReason;
use latchkey_client::{ctap2, manage, Device, ScriptedUi};
use latchkey_ctap::pin::Permissions;

fn ga() -> TokenRequest<'static> {
    TokenRequest {
        permissions: Permissions::GET_ASSERTION,
        rp_id: Some(common::RP_ID),
        set_if_unset: true,
    }
}

fn kept_session(device: &mut dyn Device) -> bool {
    device.kept().is_some_and(|k| k.has_session())
}

#[test]
fn a_wrong_pin_then_the_right_one_costs_one_retry_with_the_agreement_kept() {
    let (mut device, _) = common::platform_in_memory();
    let mut info = ctap2::get_info(&mut device).unwrap();
    let mut ui = ScriptedUi::with_pins(["1234"]);
    let first = pinuv::obtain(&mut device, &mut info, &mut ui, ga()).unwrap();
    assert!(kept_session(&mut device));

    // The next token reuses the agreement: the same platform key, no new ECDH.
    let mut ui = ScriptedUi::with_pins(["1234"]);
    let second = pinuv::obtain(&mut device, &mut info, &mut ui, ga()).unwrap();
    assert_eq!(second.session.platform_key, first.session.platform_key);
    assert_eq!(pinuv::pin_retries(&mut device).unwrap(), Some(8));

    // A wrong PIN: the authenticator replaces its key agreement key, so the right PIN after it
    // goes under a fresh agreement and is taken at once; one retry was spent, and the right PIN
    // gives it back.
    let mut ui = ScriptedUi::with_pins(["9999", "1234"]);
    let third = pinuv::obtain(&mut device, &mut info, &mut ui, ga()).unwrap();
    let asked = ui.pins_asked();
    assert_eq!(
        asked,
        [(PinReason::Verify, Some(8)), (PinReason::Retry, Some(7))]
    );
    assert_ne!(third.session.platform_key, second.session.platform_key);
    assert_eq!(pinuv::pin_retries(&mut device).unwrap(), Some(8));

    // And the fresh agreement is the one kept now.
    let mut ui = ScriptedUi::with_pins(["1234"]);
    let fourth = pinuv::obtain(&mut device, &mut info, &mut ui, ga()).unwrap();
    assert_eq!(fourth.session.platform_key, third.session.platform_key);
    assert_eq!(ui.pin_requests.len(), 1);
}

#[test]
fn a_reset_and_a_pin_change_are_never_answered_from_what_was_kept() {
    let (mut device, _) = common::platform_in_memory();
    let before = ctap2::get_info(&mut device).unwrap();
    assert_eq!(before.option("clientPin"), Some(false));
    assert!(device.kept().and_then(|k| k.info()).is_some());

    // setPIN changes getInfo: the kept answer is forgotten, and the one kept now (obtain asks
    // getInfo again after setting the PIN) is the new one.
    let mut ui = ScriptedUi::with_pins(["1234"]);
    let mut info = before.clone();
    let token = pinuv::obtain(&mut device, &mut info, &mut ui, ga()).unwrap();
    let kept = device
        .kept()
        .and_then(|k| k.info().map(|i| i.option("clientPin")));
    assert_eq!(kept, Some(Some(true)));
    let after = ctap2::get_info(&mut device).unwrap();
    assert_eq!(after.option("clientPin"), Some(true));

    // changePIN: getInfo forgotten again, and the new PIN works under the kept agreement.
    let _ = ctap2::get_info(&mut device).unwrap();
    pinuv::change_pin(
        &mut device,
        &after,
        &latchkey_client::Pin::new("1234".to_owned().into()),
        &latchkey_client::Pin::new("56789".to_owned().into()),
    )
    .unwrap();
    assert!(device.kept().and_then(|k| k.info()).is_none());
    let mut info = ctap2::get_info(&mut device).unwrap();
    let mut ui = ScriptedUi::with_pins(["56789"]);
    let changed = pinuv::obtain(&mut device, &mut info, &mut ui, ga()).unwrap();
    assert_eq!(changed.session.platform_key, token.session.platform_key);
    assert_eq!(ui.pin_requests.len(), 1);

    // Reset: a new key agreement key and no PIN; neither the old secret nor the old getInfo
    // is used.
    manage::reset(&mut device, &mut ScriptedUi::default()).unwrap();
    let reset = ctap2::get_info(&mut device).unwrap();
    assert_eq!(reset.option("clientPin"), Some(false));
    let mut info = reset;
    let mut ui = ScriptedUi::with_pins(["2468"]);
    let fresh = pinuv::obtain(&mut device, &mut info, &mut ui, ga()).unwrap();
    assert_ne!(fresh.session.platform_key, changed.session.platform_key);
    assert_eq!(ui.pin_requests[0].reason, PinReason::New);
}

#[test]
fn a_software_key_standing_in_for_a_security_key_keeps_nothing() {
    let (mut device, _) = common::usb_key_in_memory();
    assert!(device.kept().is_none());
    ctap2::get_info(&mut device).unwrap();
    assert!(device.kept().is_none());
}
