#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The client's U2F fallback (CTAP 2.1 §10) against fido-authenticator's CTAP1 side, with the key
//! presented as U2F-only (no CTAPHID_CBOR).

mod common;

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use common::*;
use latchkey_client::{Device, ScriptedUi};
use latchkey_ctap::authdata::{AttestationObject, AttestationStatement, AuthenticatorData};
use latchkey_ctap::u2f::{RegisterRequest, RegisterResponse, Request, ResponseApdu};
use latchkey_interop_fido_authenticator::{FidoKey, Options};
use latchkey_webauthn::{b64, ErrorName};
use serde_json::json;

fn u2f_key() -> FidoKey {
    key_with(Options {
        u2f_only: true,
        ..Options::default()
    })
}

#[test]
fn a_u2f_key_registers_and_signs_in() {
    let mut dev = u2f_key();
    assert!(!dev.info().cbor);
    let mut ui = ScriptedUi::default();
    let c = create(
        &mut dev,
        &mut ui,
        "discouraged",
        "discouraged",
        &[],
        json!({"credProps": true}),
    )
    .unwrap();
    assert_eq!(
        c.reg.extensions.cred_props.as_ref().unwrap().rk,
        Some(false)
    );
    let record = rp_register(&c.reg, &c.challenge, false);
    let id = c.reg.credential_id.clone();
    let (a, challenge) = get(
        &mut dev,
        &mut ui,
        std::slice::from_ref(&id),
        "preferred",
        json!({}),
    )
    .unwrap();
    assert_eq!(a.credential_id, id);
    assert_eq!(a.user_handle, None);
    assert_eq!(flags(&a.authenticator_data) & (UP | UV), UP);
    let count = rp_authenticate(&a, &challenge, &record, &c.user, false, &[id]);
    assert!(count > record.sign_count);
    assert_eq!(dev.person().touches(), 2);
    assert!(ui.pin_requests.is_empty());
}

#[test]
fn direct_attestation_is_fido_u2f_signed_by_the_provisioned_key() {
    let mut dev = u2f_key();
    let mut ui = ScriptedUi::default();
    let (mut options, _) = create_options(&random(8), "discouraged", "discouraged", &[], json!({}));
    options["attestation"] = json!("direct");
    let request = create_request(&options);
    let reg = latchkey_client::register(&mut dev, &request, &mut ui).unwrap();
    let att = AttestationObject::from_bytes(&reg.attestation_object).unwrap();
    let AttestationStatement::FidoU2f { sig, x5c } = &att.att_stmt else {
        panic!("expected fido-u2f, got {:?}", att.att_stmt.format());
    };
    let public = dev.attestation_public_key().unwrap().to_vec();
    assert!(x5c.windows(public.len()).any(|w| w == public.as_slice()));
    // WebAuthn L3 §8.6 verification procedure, step 5: 0x00 ‖ rpIdHash ‖ clientDataHash ‖
    // credentialId ‖ publicKeyU2F, signed by the attestation key.
    let auth_data = AuthenticatorData::parse(&att.auth_data).unwrap();
    let acd = auth_data.attested_credential_data.unwrap();
    let latchkey_ctap::cose::CoseKey::Es256(point) = &acd.public_key else {
        panic!("a U2F credential key is ES256");
    };
    let point = point.to_sec1();
    let mut signed = vec![0x00];
    signed.extend_from_slice(&sha256(RP_ID.as_bytes()));
    signed.extend_from_slice(&request.client_data_hash());
    signed.extend_from_slice(&acd.credential_id);
    signed.extend_from_slice(&point);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &public)
        .verify(&signed, sig)
        .expect("the fido-u2f signature verifies with the attestation key");
    assert_eq!(acd.aaguid.0, [0u8; 16], "U2F has no AAGUID");
}

#[test]
fn u2f_refuses_what_it_cannot_do() {
    let mut dev = u2f_key();
    let mut ui = ScriptedUi::default();
    let err = create(&mut dev, &mut ui, "required", "discouraged", &[], json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorName::Constraint);
    let err = create(&mut dev, &mut ui, "discouraged", "required", &[], json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    let err = get(&mut dev, &mut ui, &[], "discouraged", json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert_eq!(dev.person().touches(), 0);
}

#[test]
fn an_excluded_u2f_credential_is_invalid_state() {
    let mut dev = u2f_key();
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
    let exclude = vec![random(64), c.reg.credential_id.clone()];
    let err = create(
        &mut dev,
        &mut ui,
        "discouraged",
        "discouraged",
        &exclude,
        json!({}),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorName::InvalidState, "{err:?}");
    // Unknown key handles alone do not stop a registration.
    let unknown = vec![random(64), random(80)];
    create(
        &mut dev,
        &mut ui,
        "discouraged",
        "discouraged",
        &unknown,
        json!({}),
    )
    .unwrap();
}

#[test]
fn appid_finds_a_legacy_u2f_credential() {
    let mut dev = u2f_key();
    let appid = "https://example.com/u2f-app-id.json";
    let register = Request::Register(RegisterRequest {
        challenge: [7u8; 32],
        application: sha256(appid.as_bytes()),
    });
    let answer = dev.msg(&register.to_bytes()).unwrap();
    let answer = ResponseApdu::parse(&answer).unwrap();
    let legacy = RegisterResponse::parse(&answer.data).unwrap();
    let id = legacy.key_handle.as_bytes().to_vec();
    let mut ui = ScriptedUi::default();
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
        &mut ui,
        std::slice::from_ref(&id),
        "discouraged",
        json!({"appid": appid}),
    )
    .unwrap();
    assert_eq!(a.extensions.appid, Some(true));
    assert_eq!(&a.authenticator_data[..32], &sha256(appid.as_bytes()));
    assert_eq!(b64::encode(&a.credential_id), b64::encode(&id));
}

#[test]
fn without_an_attestation_key_u2f_registration_fails_cleanly() {
    let mut dev = key_with(Options {
        u2f_only: true,
        attestation: false,
        ..Options::default()
    });
    let err = create(
        &mut dev,
        &mut ScriptedUi::default(),
        "discouraged",
        "discouraged",
        &[],
        json!({}),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert!(err.message().contains("6A88"), "{}", err.message());
}

#[test]
fn a_u2f_touch_that_never_comes_is_not_allowed() {
    let mut dev = u2f_key();
    dev.person().set_touching(false);
    let started = std::time::Instant::now();
    let err = create(
        &mut dev,
        &mut ScriptedUi::default(),
        "discouraged",
        "discouraged",
        &[],
        json!({}),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert!(
        err.message().contains("not touched in time"),
        "{}",
        err.message()
    );
    assert!(started.elapsed() >= latchkey_client::u2f::TOUCH_TIMEOUT);
}
