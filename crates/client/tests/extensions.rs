#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Extensions mapped both ways: credBlob/getCredBlob, prf at creation (hmac-secret-mc),
//! minPinLength, credProtect reported back, hmacCreateSecret.

mod common;

use common::*;
use latchkey_client::{Device, ScriptedUi};
use latchkey_ctap::authdata::{AttestationObject, AuthenticatorData};
use latchkey_webauthn::b64;
use serde_json::json;

const PIN: &str = "8642";

fn created_extensions(
    reg: &latchkey_client::Registration,
) -> latchkey_ctap::extensions::ExtensionOutputs {
    let att = AttestationObject::from_bytes(&reg.attestation_object).unwrap();
    AuthenticatorData::parse(&att.auth_data)
        .unwrap()
        .extensions
        .unwrap_or_default()
}

fn setup() -> (Box<dyn Device>, VirtualKeyServer) {
    let server = VirtualKeyServer::start();
    let dev = server.open();
    (dev, server)
}

#[test]
fn cred_blob_is_stored_and_read_back() {
    let (mut dev, _server) = setup();
    let mut ui = ScriptedUi::with_pins([PIN, PIN]);
    let blob = b"thirty-two bytes of state, here!";
    let (options, _) = create_options(
        &random(8),
        "required",
        "required",
        &[],
        json!({"credBlob": b64::encode(blob)}),
    );
    let reg = latchkey_client::register(&mut *dev, &create_request(&options), &mut ui).unwrap();
    assert_eq!(reg.extensions.cred_blob, Some(true));
    let (options, _) = get_options(&[], "required", json!({"getCredBlob": true}));
    let a = latchkey_client::authenticate(&mut *dev, &get_request(&options), &mut ui).unwrap();
    assert_eq!(
        a.extensions.get_cred_blob.as_deref(),
        Some(b64::encode(blob).as_str())
    );
}

#[test]
fn prf_eval_at_creation_returns_the_same_output_as_a_later_sign_in() {
    let (mut dev, _server) = setup();
    let mut ui = ScriptedUi::with_pins([PIN, PIN]);
    let salt = b64::encode(b"creation salt");
    let (options, _) = create_options(
        &random(8),
        "required",
        "required",
        &[],
        json!({"prf": {"eval": {"first": salt}}}),
    );
    let reg = latchkey_client::register(&mut *dev, &create_request(&options), &mut ui).unwrap();
    let prf = reg.extensions.prf.clone().unwrap();
    assert_eq!(prf.enabled, Some(true));
    let at_create = prf
        .results
        .expect("hmac-secret-mc gives results at creation")
        .first;
    let (options, _) = get_options(
        std::slice::from_ref(&reg.credential_id),
        "required",
        json!({"prf": {"eval": {"first": salt}}}),
    );
    let a = latchkey_client::authenticate(&mut *dev, &get_request(&options), &mut ui).unwrap();
    assert_eq!(a.extensions.prf.unwrap().results.unwrap().first, at_create);
}

#[test]
fn cred_protect_and_min_pin_length_reach_the_authenticator() {
    let (mut dev, _server) = setup();
    let mut ui = ScriptedUi::with_pins([PIN]);
    let ext = json!({
        "credentialProtectionPolicy": "userVerificationOptionalWithCredentialIDList",
        "minPinLength": true,
        "hmacCreateSecret": true,
    });
    let (options, _) = create_options(&random(8), "required", "required", &[], ext);
    let reg = latchkey_client::register(&mut *dev, &create_request(&options), &mut ui).unwrap();
    let out = created_extensions(&reg);
    assert_eq!(
        out.cred_protect,
        Some(latchkey_ctap::extensions::CredProtect::UserVerificationOptionalWithCredentialIdList)
    );
    assert_eq!(reg.extensions.hmac_create_secret, Some(true));
    // minPinLength is sent, and reported only to RP IDs the authenticator's configuration lists
    // (CTAP 2.1 §12.4): none are listed here.
    assert_eq!(out.min_pin_length, None);
}

#[test]
fn large_blob_support_preferred_is_reported_by_the_platform_authenticator() {
    let (mut dev, touches) = platform_in_memory();
    let mut ui = ScriptedUi::with_pins([PIN]);
    let (options, _) = create_options(
        &random(8),
        "required",
        "required",
        &[],
        json!({"largeBlob": {"support": "preferred"}}),
    );
    let reg = latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap();
    assert_eq!(reg.extensions.large_blob.unwrap().supported, Some(true));
    assert_eq!(touches.count(), 1);
}
