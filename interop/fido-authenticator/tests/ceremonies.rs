#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Registration and sign-in through the Latchkey client against fido-authenticator, verified by
//! the webauthn crate's RP side: discoverable and not, attestation, exclusion, the allowList
//! pre-flight, account choice, and the errors a refused touch or a cancel give.

mod common;

use common::*;
use latchkey_client::{Device, PinReason, ScriptedUi, Status};
use latchkey_ctap::authdata::{AttestationObject, AttestationStatement};
use latchkey_webauthn::rp::AttestationType;
use latchkey_webauthn::ErrorName;
use serde_json::json;

#[test]
fn discoverable_credential_signs_in_without_allow_list() {
    let mut dev = key();
    let mut ui = pins(2);
    let c = create(
        &mut dev,
        &mut ui,
        "required",
        "required",
        &[],
        json!({"credProps": true}),
    )
    .unwrap();
    assert_eq!(
        ui.pin_requests[0].reason,
        PinReason::New,
        "first use sets the PIN"
    );
    assert_eq!(c.reg.extensions.cred_props.as_ref().unwrap().rk, Some(true));
    assert_eq!(flags(&c.reg.authenticator_data) & (UP | UV), UP | UV);
    let record = rp_register(&c.reg, &c.challenge, true);
    let (a, challenge) = get(&mut dev, &mut ui, &[], "required", json!({})).unwrap();
    assert_eq!(a.user_handle.as_deref(), Some(c.user.as_slice()));
    assert_eq!(a.credential_id, c.reg.credential_id);
    assert_eq!(flags(&a.authenticator_data) & (UP | UV), UP | UV);
    let count = rp_authenticate(&a, &challenge, &record, &c.user, true, &[]);
    assert!(count > record.sign_count, "the counter moves on");
    assert_eq!(dev.person().touches(), 2);
    assert!(
        ui.statuses.contains(&Status::TouchNeeded),
        "{:?}",
        ui.statuses
    );
    assert_eq!(a.attachment.as_str(), "cross-platform");
}

#[test]
fn non_discoverable_credential_signs_in_with_allow_list_only() {
    let mut dev = key();
    let mut ui = pins(2);
    let c = create(
        &mut dev,
        &mut ui,
        "discouraged",
        "required",
        &[],
        json!({"credProps": true}),
    )
    .unwrap();
    assert_eq!(
        c.reg.extensions.cred_props.as_ref().unwrap().rk,
        Some(false)
    );
    let record = rp_register(&c.reg, &c.challenge, true);
    let id = c.reg.credential_id.clone();
    let err = get(&mut dev, &mut ui, &[], "required", json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed, "{err:?}");
    let mut ui = pins(1);
    let (a, challenge) = get(
        &mut dev,
        &mut ui,
        std::slice::from_ref(&id),
        "required",
        json!({}),
    )
    .unwrap();
    assert_eq!(a.credential_id, id);
    rp_authenticate(&a, &challenge, &record, &c.user, true, &[id]);
}

#[test]
fn a_key_without_pin_registers_and_signs_in_without_uv_when_discouraged() {
    let mut dev = key();
    let mut ui = ScriptedUi::default();
    let c = create(
        &mut dev,
        &mut ui,
        "discouraged",
        "discouraged",
        &[],
        json!({}),
    )
    .unwrap();
    assert!(ui.pin_requests.is_empty());
    assert_eq!(flags(&c.reg.authenticator_data) & (UP | UV), UP);
    let record = rp_register(&c.reg, &c.challenge, false);
    let id = c.reg.credential_id.clone();
    let (a, challenge) = get(
        &mut dev,
        &mut ui,
        std::slice::from_ref(&id),
        "discouraged",
        json!({}),
    )
    .unwrap();
    assert_eq!(flags(&a.authenticator_data) & (UP | UV), UP);
    rp_authenticate(&a, &challenge, &record, &c.user, false, &[id]);
    assert!(ui.pin_requests.is_empty());
    assert_eq!(dev.person().touches(), 2);
}

#[test]
fn direct_attestation_is_packed_with_the_provisioned_certificate() {
    let mut dev = key();
    let mut ui = ScriptedUi::default();
    let user = random(16);
    let (mut options, challenge) =
        create_options(&user, "discouraged", "discouraged", &[], json!({}));
    options["attestation"] = json!("direct");
    let reg = latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap();
    let att = AttestationObject::from_bytes(&reg.attestation_object).unwrap();
    let AttestationStatement::Packed {
        x5c: Some(chain), ..
    } = &att.att_stmt
    else {
        panic!("expected packed with x5c, got {:?}", att.att_stmt.format());
    };
    let (_, kind) = rp_register_attested(&reg, &challenge, false);
    assert_eq!(kind, AttestationType::Basic { x5c: chain.clone() });
    let cert = &chain[0];
    let public = dev.attestation_public_key().unwrap();
    assert!(cert.windows(public.len()).any(|w| w == public));
    // "none" replaces the statement.
    let (options, challenge) = create_options(&user, "discouraged", "discouraged", &[], json!({}));
    let reg = latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap();
    let (_, kind) = rp_register_attested(&reg, &challenge, false);
    assert_eq!(kind, AttestationType::None);
}

#[test]
fn without_an_attestation_key_the_statement_is_self_attestation() {
    let mut dev = key_with(latchkey_interop_fido_authenticator::Options {
        attestation: false,
        ..Default::default()
    });
    let mut ui = ScriptedUi::default();
    let (mut options, challenge) =
        create_options(&random(8), "discouraged", "discouraged", &[], json!({}));
    options["attestation"] = json!("direct");
    let reg = latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap();
    let (_, kind) = rp_register_attested(&reg, &challenge, false);
    assert_eq!(kind, AttestationType::SelfAttestation);
}

#[test]
fn excluded_credential_is_invalid_state_after_exactly_one_touch() {
    let mut dev = key();
    let mut ui = pins(1);
    let c = create(&mut dev, &mut ui, "required", "required", &[], json!({})).unwrap();
    assert_eq!(dev.person().touches(), 1);
    let mut excluded: Vec<Vec<u8>> = (0..12).map(|_| random(32)).collect();
    excluded.push(c.reg.credential_id.clone());
    let mut ui = pins(1);
    let err = create(
        &mut dev,
        &mut ui,
        "required",
        "required",
        &excluded,
        json!({}),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorName::InvalidState, "{err:?}");
    assert_eq!(dev.person().touches(), 2, "the exclusion costs one touch");
    let unknown: Vec<Vec<u8>> = (0..12).map(|_| random(32)).collect();
    let mut ui = pins(1);
    create(
        &mut dev,
        &mut ui,
        "required",
        "required",
        &unknown,
        json!({}),
    )
    .unwrap();
    assert_eq!(dev.person().touches(), 3);
}

#[test]
fn excluded_credential_without_a_pin_is_invalid_state() {
    let mut dev = key();
    let mut ui = ScriptedUi::default();
    let c = create(
        &mut dev,
        &mut ui,
        "discouraged",
        "discouraged",
        &[],
        json!({}),
    )
    .unwrap();
    let excluded = vec![random(40), c.reg.credential_id.clone()];
    let err = create(
        &mut dev,
        &mut ui,
        "discouraged",
        "discouraged",
        &excluded,
        json!({}),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorName::InvalidState, "{err:?}");
}

#[test]
fn allow_list_preflight_finds_the_credential_among_unknown_ones() {
    let mut dev = key();
    let mut ui = pins(1);
    let c = create(&mut dev, &mut ui, "discouraged", "required", &[], json!({})).unwrap();
    let record = rp_register(&c.reg, &c.challenge, true);
    let mut allow: Vec<Vec<u8>> = (0..20).map(|_| random(48)).collect();
    allow.push(c.reg.credential_id.clone());
    let mut ui = pins(1);
    let (a, challenge) = get(&mut dev, &mut ui, &allow, "required", json!({})).unwrap();
    assert_eq!(a.credential_id, c.reg.credential_id);
    rp_authenticate(&a, &challenge, &record, &c.user, true, &allow);
    assert_eq!(dev.person().touches(), 2);
    let unknown: Vec<Vec<u8>> = (0..5).map(|_| random(48)).collect();
    let mut ui = pins(1);
    let err = get(&mut dev, &mut ui, &unknown, "required", json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert!(
        err.message().contains("allowCredentials"),
        "{}",
        err.message()
    );
    assert_eq!(
        dev.person().touches(),
        2,
        "no touch is spent on unknown credentials"
    );
}

#[test]
fn several_discoverable_credentials_let_the_user_choose() {
    let mut dev = key();
    let mut ui = pins(2);
    let first = create(&mut dev, &mut ui, "required", "required", &[], json!({})).unwrap();
    let second = create(&mut dev, &mut ui, "required", "required", &[], json!({})).unwrap();
    let mut ui = pins(1);
    ui.choice = 1;
    let (a, _) = get(&mut dev, &mut ui, &[], "required", json!({})).unwrap();
    assert_eq!(ui.choices_offered.len(), 1);
    let offered = &ui.choices_offered[0];
    assert_eq!(offered.len(), 2);
    let users: Vec<&[u8]> = offered.iter().map(|o| o.user_id.as_slice()).collect();
    assert!(users.contains(&first.user.as_slice()));
    assert!(users.contains(&second.user.as_slice()));
    let chosen = &offered[1];
    assert_eq!(a.user_handle.as_deref(), Some(chosen.user_id.as_slice()));
    assert_eq!(a.credential_id, chosen.credential_id);
}

#[test]
fn a_touch_that_never_comes_is_not_allowed() {
    let mut dev = key_with(latchkey_interop_fido_authenticator::Options {
        up_timeout_ms: 300,
        ..Default::default()
    });
    dev.person().set_touching(false);
    let mut ui = ScriptedUi::default();
    let err = create(
        &mut dev,
        &mut ui,
        "discouraged",
        "discouraged",
        &[],
        json!({}),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed, "{err:?}");
    assert!(
        err.message().contains("not touched in time"),
        "{}",
        err.message()
    );
    assert!(ui.statuses.contains(&Status::TouchNeeded));
}

#[test]
fn cancel_before_a_ceremony_is_abort_error() {
    let mut dev = key();
    dev.cancel_handle().cancel();
    let mut ui = ScriptedUi::default();
    let err = create(
        &mut dev,
        &mut ui,
        "discouraged",
        "discouraged",
        &[],
        json!({}),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorName::Abort, "{err:?}");
    assert_eq!(dev.person().touches(), 0);
}

#[test]
fn ed25519_is_used_when_the_rp_prefers_it() {
    let mut dev = key();
    let mut ui = ScriptedUi::default();
    let user = random(16);
    let (mut options, challenge) =
        create_options(&user, "discouraged", "discouraged", &[], json!({}));
    options["pubKeyCredParams"] = json!([{"type": "public-key", "alg": -8}]);
    let reg = latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap();
    let record = rp_register(&reg, &challenge, false);
    assert_eq!(record.public_key.alg().0, -8);
    let id = reg.credential_id.clone();
    let (a, challenge) = get(
        &mut dev,
        &mut ui,
        std::slice::from_ref(&id),
        "discouraged",
        json!({}),
    )
    .unwrap();
    rp_authenticate(&a, &challenge, &record, &user, false, &[id]);
}
