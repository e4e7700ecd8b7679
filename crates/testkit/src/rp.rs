//! The relying party side of the tests that run ceremonies through latchkeyd: webauthn-rs (an
//! RP library we did not write) makes the options and verifies every response. Included with
//! by the tests that use it.

use latchkey_api::Kind;
use latchkey_api::{CallOptions, CredentialsClient, Outcome};
use std::time::Duration;
use webauthn_rs_core::proto::{
    AuthenticationResult, AuthenticatorAttachment, COSEAlgorithm, Credential, PublicKeyCredential,
    PublicKeyCredentialHints, RegisterPublicKeyCredential, UserVerificationPolicy,
};
use webauthn_rs_core::WebauthnCore;

pub const ORIGIN: &str = "https://example.com";

pub fn rp() -> WebauthnCore {
    WebauthnCore::new_unsafe_experts_only(
        "Example",
        "example.com",
        vec![url::Url::parse(ORIGIN).unwrap()],
        Duration::from_secs(60),
        None,
        None,
    )
}

pub fn web() -> CallOptions {
    CallOptions {
        origin: Some(ORIGIN.into()),
        ..Default::default()
    }
}

pub fn ok_json(out: &Outcome) -> serde_json::Value {
    assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    serde_json::from_str(&out.response_json().unwrap()).unwrap()
}

/// Registration options from webauthn-rs, and its state to verify the answer.
pub struct Registering {
    pub json: String,
    pub state: webauthn_rs_core::proto::RegistrationState,
}

pub fn registration(
    core: &WebauthnCore,
    attachment: Option<AuthenticatorAttachment>,
    uv: UserVerificationPolicy,
) -> Registering {
    registration_with(core, attachment, uv, None, false)
}

pub fn registration_with(
    core: &WebauthnCore,
    attachment: Option<AuthenticatorAttachment>,
    uv: UserVerificationPolicy,
    hints: Option<Vec<PublicKeyCredentialHints>>,
    discoverable: bool,
) -> Registering {
    let builder = core
        .new_challenge_register_builder(&[7; 16], "alice@example.com", "Alice")
        .unwrap()
        .user_verification_policy(uv)
        .authenticator_attachment(attachment)
        .hints(hints)
        .require_resident_key(discoverable)
        .credential_algorithms(vec![COSEAlgorithm::ES256]);
    let (ccr, state) = core.generate_challenge_register(builder).unwrap();
    Registering {
        json: serde_json::to_string(&ccr.public_key).unwrap(),
        state,
    }
}

/// Verifies a registration with webauthn-rs; returns the credential and the AAGUID in authData.
pub fn verify_registration(
    core: &WebauthnCore,
    reg: &Registering,
    response: &serde_json::Value,
) -> (Credential, [u8; 16]) {
    let parsed: RegisterPublicKeyCredential = serde_json::from_value(response.clone()).unwrap();
    let cred = core.register_credential(&parsed, &reg.state, None).unwrap();
    let auth_data = latchkey_webauthn::b64::decode(
        "authenticatorData",
        response["response"]["authenticatorData"].as_str().unwrap(),
    )
    .unwrap();
    // rpIdHash (32) ‖ flags (1) ‖ signCount (4) ‖ AAGUID (16) … (L3 §6.5.1).
    let aaguid: [u8; 16] = auth_data[37..53].try_into().unwrap();
    (cred, aaguid)
}

/// Signs in with `cred` in the allowList; webauthn-rs verifies the assertion against the
/// registered public key. Returns the response and webauthn-rs's verdict (UV, sign count).
pub async fn sign_in(
    client: &CredentialsClient,
    core: &WebauthnCore,
    cred: &Credential,
    uv: UserVerificationPolicy,
) -> (serde_json::Value, AuthenticationResult) {
    let builder = core
        .new_challenge_authenticate_builder(vec![cred.clone()], Some(uv))
        .unwrap();
    let (rcr, state) = core.generate_challenge_authenticate(builder).unwrap();
    let json = serde_json::to_string(&rcr.public_key).unwrap();
    let out = client.call(Kind::Get, &json, &web()).await.unwrap();
    let response = ok_json(&out);
    let parsed: PublicKeyCredential = serde_json::from_value(response.clone()).unwrap();
    let result = core.authenticate_credential(&parsed, &state).unwrap();
    (response, result)
}
