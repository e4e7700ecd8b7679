#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Extensions through the client against fido-authenticator: prf over hmac-secret (and
//! hmac-secret-mc at creation), credProtect, credBlob, largeBlob.

mod common;

use common::*;
use latchkey_client::{Device, ScriptedUi};
use latchkey_interop_fido_authenticator::FidoKey;
use latchkey_webauthn::extensions::PrfValuesJSON;
use latchkey_webauthn::{b64, ErrorName};
use serde_json::json;

fn eval(
    dev: &mut FidoKey,
    id: &[u8],
    uv: &str,
    first: &[u8],
    second: Option<&[u8]>,
) -> PrfValuesJSON {
    let mut e = json!({"first": b64::encode(first)});
    if let Some(s) = second {
        e["second"] = json!(b64::encode(s));
    }
    let mut ui = pins(1);
    let (a, _) = get(
        dev,
        &mut ui,
        &[id.to_vec()],
        uv,
        json!({"prf": {"eval": e}}),
    )
    .unwrap();
    a.extensions.prf.clone().unwrap().results.unwrap()
}

#[test]
fn prf_is_enabled_at_create_and_stable_per_salt() {
    let mut dev = key();
    let c = create(
        &mut dev,
        &mut pins(1),
        "required",
        "required",
        &[],
        json!({"prf": {}}),
    )
    .unwrap();
    assert_eq!(c.reg.extensions.prf.as_ref().unwrap().enabled, Some(true));
    let id = c.reg.credential_id.clone();
    let one = eval(&mut dev, &id, "required", b"salt one", None);
    let again = eval(&mut dev, &id, "required", b"salt one", Some(b"salt two"));
    let two = eval(&mut dev, &id, "required", b"salt two", None);
    assert_eq!(one.first, again.first, "same salt, same output");
    assert_eq!(again.second.as_deref(), Some(two.first.as_str()));
    assert_ne!(one.first, two.first);
    assert_eq!(b64::decode("prf", &one.first).unwrap().len(), 32);
}

#[test]
fn prf_differs_with_and_without_uv() {
    let mut dev = key();
    let c = create(
        &mut dev,
        &mut pins(1),
        "discouraged",
        "required",
        &[],
        json!({"prf": {}}),
    )
    .unwrap();
    let id = c.reg.credential_id.clone();
    let with_uv = eval(&mut dev, &id, "required", b"the salt", None);
    let without = eval(&mut dev, &id, "discouraged", b"the salt", None);
    let again = eval(&mut dev, &id, "discouraged", b"the salt", None);
    assert_ne!(
        with_uv.first, without.first,
        "CredRandomWithUV and WithoutUV differ"
    );
    assert_eq!(without.first, again.first);
}

#[test]
fn prf_evaluated_at_creation_matches_the_assertion() {
    let mut dev = key();
    let salt = b"evaluated while creating";
    let c = create(
        &mut dev,
        &mut pins(1),
        "required",
        "required",
        &[],
        json!({"prf": {"eval": {"first": b64::encode(salt)}}}),
    )
    .unwrap();
    let prf = c.reg.extensions.prf.clone().unwrap();
    assert_eq!(prf.enabled, Some(true));
    let at_create = prf
        .results
        .expect("hmac-secret-mc gives prf results at creation");
    let later = eval(&mut dev, &c.reg.credential_id, "required", salt, None);
    assert_eq!(at_create.first, later.first);
}

#[test]
fn cred_protect_uv_required_hides_the_credential_without_uv() {
    let mut dev = key();
    let ext = json!({"credentialProtectionPolicy": "userVerificationRequired", "enforceCredentialProtectionPolicy": true});
    let c = create(&mut dev, &mut pins(1), "discouraged", "required", &[], ext).unwrap();
    let id = c.reg.credential_id.clone();
    let mut ui = ScriptedUi::default();
    // Without a UV request and with a PIN set, "discouraged" does not ask for the PIN.
    let err = get(
        &mut dev,
        &mut ui,
        std::slice::from_ref(&id),
        "discouraged",
        json!({}),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    let (a, _) = get(
        &mut dev,
        &mut pins(1),
        std::slice::from_ref(&id),
        "preferred",
        json!({}),
    )
    .unwrap();
    assert_eq!(a.credential_id, id);
}

#[test]
fn cred_blob_is_stored_and_returned() {
    let mut dev = key();
    let blob = b"32 bytes at most, say this much.";
    let c = create(
        &mut dev,
        &mut pins(1),
        "required",
        "required",
        &[],
        json!({"credBlob": b64::encode(blob)}),
    )
    .unwrap();
    assert_eq!(c.reg.extensions.cred_blob, Some(true));
    let (a, _) = get(
        &mut dev,
        &mut pins(1),
        &[],
        "required",
        json!({"getCredBlob": true}),
    )
    .unwrap();
    assert_eq!(
        a.extensions.get_cred_blob.as_deref(),
        Some(b64::encode(blob).as_str())
    );
}

#[test]
fn large_blob_is_written_then_read_back() {
    let mut dev = key();
    let c = create(
        &mut dev,
        &mut pins(1),
        "required",
        "required",
        &[],
        json!({"largeBlob": {"support": "required"}}),
    )
    .unwrap();
    assert_eq!(
        c.reg.extensions.large_blob.as_ref().unwrap().supported,
        Some(true)
    );
    let id = c.reg.credential_id.clone();
    let blob = b"a certificate, say, that only this passkey unlocks".repeat(6);
    let (a, _) = get(
        &mut dev,
        &mut pins(1),
        std::slice::from_ref(&id),
        "required",
        json!({"largeBlob": {"write": b64::encode(&blob)}}),
    )
    .unwrap();
    assert_eq!(
        a.extensions.large_blob.as_ref().unwrap().written,
        Some(true)
    );
    let (a, _) = get(
        &mut dev,
        &mut pins(1),
        &[id],
        "required",
        json!({"largeBlob": {"read": true}}),
    )
    .unwrap();
    let got = a
        .extensions
        .large_blob
        .as_ref()
        .unwrap()
        .blob
        .clone()
        .unwrap();
    assert_eq!(b64::decode("blob", &got).unwrap(), blob);
    assert!(dev.info().cbor);
}

#[test]
fn large_blob_required_fails_on_a_key_without_large_blobs() {
    let mut dev = key_with(latchkey_interop_fido_authenticator::Options {
        large_blobs: false,
        ..Default::default()
    });
    let err = create(
        &mut dev,
        &mut pins(1),
        "required",
        "required",
        &[],
        json!({"largeBlob": {"support": "required"}}),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotSupported, "{err:?}");
}

#[test]
fn cred_protect_with_id_list_hides_a_discoverable_credential_from_discovery_without_uv() {
    let mut dev = key();
    let ext = json!({"credentialProtectionPolicy": "userVerificationOptionalWithCredentialIDList"});
    let c = create(&mut dev, &mut pins(1), "required", "required", &[], ext).unwrap();
    let id = c.reg.credential_id.clone();
    let mut ui = ScriptedUi::default();
    let err = get(&mut dev, &mut ui, &[], "discouraged", json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    let (a, _) = get(
        &mut dev,
        &mut ui,
        std::slice::from_ref(&id),
        "discouraged",
        json!({}),
    )
    .unwrap();
    assert_eq!(a.credential_id, id);
    assert_eq!(flags(&a.authenticator_data) & UV, 0);
    assert!(ui.pin_requests.is_empty());
    let (a, _) = get(&mut dev, &mut pins(1), &[], "required", json!({})).unwrap();
    assert_eq!(a.credential_id, id);
}

#[test]
fn hmac_create_secret_is_reported() {
    let mut dev = key();
    let c = create(
        &mut dev,
        &mut ScriptedUi::default(),
        "discouraged",
        "discouraged",
        &[],
        json!({"hmacCreateSecret": true}),
    )
    .unwrap();
    assert_eq!(c.reg.extensions.hmac_create_secret, Some(true));
}
