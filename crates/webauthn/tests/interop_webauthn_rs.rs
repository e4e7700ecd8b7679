#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! webauthn-rs (an RP library we did not write) as the peer: we parse the options it generates,
//! build clientDataJSON and the response JSON with this crate, and it must accept them; then
//! it must refuse a response whose origin we changed. (webauthn-rs 0.6.2 does not support
//! Ed25519 credentials, so those are checked by our RP code and the W3C vectors only.)

mod common;

use common::softkey::Key;
use latchkey_webauthn::clientdata::{Ancestry, CeremonyType, CollectedClientData};
use latchkey_webauthn::extensions::ctap::RegistrationOutcome;
use latchkey_webauthn::ids::{CoseAlgorithm, CredentialId};
use latchkey_webauthn::options::{AuthenticatorTransport, CreationOptions, RequestOptions};
use latchkey_webauthn::origin::{authorize, AuthorizedRpId};
use latchkey_webauthn::response::{AuthenticationResponseJSON, RegistrationResponseJSON};
use std::time::Duration;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, COSEAlgorithm, Credential, PublicKeyCredential,
    RegisterPublicKeyCredential, UserVerificationPolicy,
};
use webauthn_rs_core::WebauthnCore;

const ORIGIN: &str = "https://login.example.com";
const UP_UV: u8 = 0x01 | 0x04;

fn rp() -> WebauthnCore {
    WebauthnCore::new_unsafe_experts_only(
        "Example",
        "example.com",
        vec![url::Url::parse(ORIGIN).unwrap()],
        Duration::from_secs(300),
        None,
        None,
    )
}

fn register(core: &WebauthnCore, key: &Key, alg: COSEAlgorithm, packed_self: bool) -> Credential {
    let builder = core
        .new_challenge_register_builder(b"user-0001", "alice", "Alice")
        .unwrap()
        .attestation(AttestationConveyancePreference::None)
        .user_verification_policy(UserVerificationPolicy::Required)
        .credential_algorithms(vec![alg]);
    let (ccr, state) = core.generate_challenge_register(builder).unwrap();
    let options = serde_json::to_value(&ccr).unwrap()["publicKey"].to_string();

    // Platform side, with this crate.
    let opts = CreationOptions::from_json(options.as_bytes()).unwrap();
    let auth: AuthorizedRpId = authorize(ORIGIN, opts.rp_id.as_deref()).unwrap();
    assert_eq!(auth.rp_id().as_str(), "example.com");
    opts.negotiate(&[CoseAlgorithm::ES256, CoseAlgorithm::EDDSA])
        .unwrap();
    let cd = CollectedClientData::for_authorized(
        CeremonyType::Create,
        &opts.challenge,
        &auth,
        Ancestry::SameOrigin,
    );
    let (cdj, hash) = cd.serialize();
    let att = key.attest(auth.rp_id().hash(), UP_UV, &[0x5a; 32], &hash, packed_self);
    let ext = opts
        .extensions
        .client_outputs(&RegistrationOutcome::default());
    let resp = RegistrationResponseJSON::from_attestation_object(
        &cdj,
        &att,
        &[AuthenticatorTransport::Usb],
        None,
        ext,
    )
    .unwrap();
    let json = serde_json::to_string(&resp).unwrap();

    // RP side: webauthn-rs.
    let reg: RegisterPublicKeyCredential = serde_json::from_str(&json).unwrap();
    core.register_credential(&reg, &state, None).unwrap()
}

fn authenticate(
    core: &WebauthnCore,
    key: &Key,
    cred: &Credential,
    counter: u32,
    origin: &str,
) -> bool {
    let builder = core
        .new_challenge_authenticate_builder(vec![cred.clone()], None)
        .unwrap();
    let (rcr, state) = core.generate_challenge_authenticate(builder).unwrap();
    let options = serde_json::to_value(&rcr).unwrap()["publicKey"].to_string();

    let opts = RequestOptions::from_json(options.as_bytes()).unwrap();
    assert_eq!(opts.allow_credentials.len(), 1);
    let id: &CredentialId = &opts.allow_credentials[0].id;
    let auth = authorize(ORIGIN, opts.rp_id.as_deref()).unwrap();
    let cd = CollectedClientData::new(
        CeremonyType::Get,
        &opts.challenge,
        origin,
        Ancestry::SameOrigin,
    );
    let (cdj, hash) = cd.serialize();
    let (auth_data, sig) = key.assert(auth.rp_id().hash(), UP_UV, counter, &hash);
    let resp =
        AuthenticationResponseJSON::new(id, &cdj, &auth_data, &sig, None, None, Default::default());
    let json = serde_json::to_string(&resp).unwrap();

    let pkc: PublicKeyCredential = serde_json::from_str(&json).unwrap();
    match core.authenticate_credential(&pkc, &state) {
        Ok(r) => {
            assert_eq!(r.counter(), counter);
            assert!(r.user_verified());
            true
        }
        Err(_) => false,
    }
}

#[test]
fn webauthn_rs_accepts_es256_packed_self_attestation_and_assertions() {
    let core = rp();
    let key = Key::p256();
    let cred = register(&core, &key, COSEAlgorithm::ES256, true);
    assert!(authenticate(&core, &key, &cred, 2, ORIGIN));
    assert!(!authenticate(&core, &key, &cred, 3, "https://evil.example"));
}

#[test]
fn webauthn_rs_accepts_none_attestation_and_counter_rules() {
    let core = rp();
    let key = Key::p256();
    let cred = register(&core, &key, COSEAlgorithm::ES256, false);
    assert!(authenticate(&core, &key, &cred, 5, ORIGIN));
    // webauthn-rs 0.6.2 keeps no state between calls here: the stored counter is still 1, so
    // a counter of 1 is a possible clone and must be refused.
    assert!(!authenticate(&core, &key, &cred, 1, ORIGIN));
}
