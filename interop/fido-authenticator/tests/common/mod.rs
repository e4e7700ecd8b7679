//! Requests, relying-party checks and the key under test, shared by the interop tests.
#![allow(dead_code)] // each test file uses part of it

use latchkey_client::{Assertion, CreateRequest, Device, GetRequest, Registration, ScriptedUi};
use latchkey_interop_fido_authenticator::{FidoKey, Options};
use latchkey_webauthn::b64;
use latchkey_webauthn::ids::{CoseAlgorithm, CredentialId, UserHandle};
use latchkey_webauthn::origin::RpId;
use latchkey_webauthn::rp::{
    verify_authentication, verify_registration, AttestationType, CredentialRecord,
    ExpectedAuthentication, ExpectedOrigins, ExpectedRegistration, ExpectedUser,
};
use latchkey_webauthn::WebAuthnError;
use serde_json::{json, Value};

pub const ORIGIN: &str = "https://example.com";
pub const RP_ID: &str = "example.com";
pub const PIN: &str = "4321";
pub const UP: u8 = 0x01;
pub const UV: u8 = 0x04;

/// A fresh key with the default options.
pub fn key() -> FidoKey {
    FidoKey::start(Options::default()).unwrap()
}

pub fn key_with(options: Options) -> FidoKey {
    FidoKey::start(options).unwrap()
}

pub fn pins(n: usize) -> ScriptedUi {
    ScriptedUi::with_pins(vec![PIN; n])
}

pub fn random(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    b
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref());
    out
}

/// The authenticatorData flags byte.
pub fn flags(auth_data: &[u8]) -> u8 {
    auth_data[32]
}

/// `PublicKeyCredentialCreationOptionsJSON` for example.com.
pub fn create_options(
    user_id: &[u8],
    resident_key: &str,
    uv: &str,
    exclude: &[Vec<u8>],
    extensions: Value,
) -> (Value, Vec<u8>) {
    let challenge = random(32);
    let options = json!({
        "rp": {"id": RP_ID, "name": "Example"},
        "user": {"id": b64::encode(user_id), "name": format!("user-{}", b64::encode(user_id)), "displayName": "A User"},
        "challenge": b64::encode(&challenge),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -8}],
        "excludeCredentials": exclude.iter().map(|id| json!({"type": "public-key", "id": b64::encode(id)})).collect::<Vec<_>>(),
        "authenticatorSelection": {"residentKey": resident_key, "userVerification": uv},
        "attestation": "none",
        "extensions": extensions,
    });
    (options, challenge)
}

/// `PublicKeyCredentialRequestOptionsJSON` for example.com.
pub fn get_options(allow: &[Vec<u8>], uv: &str, extensions: Value) -> (Value, Vec<u8>) {
    let challenge = random(32);
    let options = json!({
        "challenge": b64::encode(&challenge),
        "rpId": RP_ID,
        "allowCredentials": allow.iter().map(|id| json!({"type": "public-key", "id": b64::encode(id)})).collect::<Vec<_>>(),
        "userVerification": uv,
        "extensions": extensions,
    });
    (options, challenge)
}

pub fn create_request(options: &Value) -> CreateRequest {
    CreateRequest::new(options.to_string().as_bytes(), ORIGIN, None).unwrap()
}

pub fn get_request(options: &Value) -> GetRequest {
    GetRequest::new(options.to_string().as_bytes(), ORIGIN, None).unwrap()
}

/// A registration and what the RP sent for it.
#[derive(Debug)]
pub struct Created {
    pub reg: Registration,
    pub challenge: Vec<u8>,
    pub user: Vec<u8>,
}

pub fn create(
    dev: &mut dyn Device,
    ui: &mut ScriptedUi,
    rk: &str,
    uv: &str,
    exclude: &[Vec<u8>],
    ext: Value,
) -> Result<Created, WebAuthnError> {
    let user = random(16);
    let (options, challenge) = create_options(&user, rk, uv, exclude, ext);
    let reg = latchkey_client::register(dev, &create_request(&options), ui)?;
    Ok(Created {
        reg,
        challenge,
        user,
    })
}

pub fn get(
    dev: &mut dyn Device,
    ui: &mut ScriptedUi,
    allow: &[Vec<u8>],
    uv: &str,
    ext: Value,
) -> Result<(Assertion, Vec<u8>), WebAuthnError> {
    let (options, challenge) = get_options(allow, uv, ext);
    let a = latchkey_client::authenticate(dev, &get_request(&options), ui)?;
    Ok((a, challenge))
}

/// Verifies a registration as the RP; returns the record and the attestation type.
pub fn rp_register_attested(
    reg: &Registration,
    challenge: &[u8],
    require_uv: bool,
) -> (CredentialRecord, AttestationType) {
    let rp_id = RpId::parse(RP_ID).unwrap();
    let origins = [ORIGIN];
    verify_registration(
        &reg.to_response().unwrap(),
        &ExpectedRegistration {
            challenge,
            origins: ExpectedOrigins {
                origins: &origins,
                top_origins: &[],
            },
            rp_id: &rp_id,
            require_user_verification: require_uv,
            algorithms: &[CoseAlgorithm(-7), CoseAlgorithm(-8)],
        },
    )
    .unwrap()
}

pub fn rp_register(reg: &Registration, challenge: &[u8], require_uv: bool) -> CredentialRecord {
    rp_register_attested(reg, challenge, require_uv).0
}

/// Verifies an assertion as the RP; returns the new sign count.
pub fn rp_authenticate(
    a: &Assertion,
    challenge: &[u8],
    record: &CredentialRecord,
    user: &[u8],
    require_uv: bool,
    allow: &[Vec<u8>],
) -> u32 {
    let rp_id = RpId::parse(RP_ID).unwrap();
    let origins = [ORIGIN];
    let handle = UserHandle::new(user.to_vec()).unwrap();
    let allow: Vec<CredentialId> = allow
        .iter()
        .map(|id| CredentialId::new("id", id.clone()).unwrap())
        .collect();
    verify_authentication(
        &a.to_response().unwrap(),
        &ExpectedAuthentication {
            challenge,
            origins: ExpectedOrigins {
                origins: &origins,
                top_origins: &[],
            },
            rp_id: &rp_id,
            require_user_verification: require_uv,
            allow_credentials: &allow,
            user: if allow.is_empty() {
                ExpectedUser::Discoverable(&handle)
            } else {
                ExpectedUser::Identified(&handle)
            },
        },
        record,
    )
    .unwrap()
    .sign_count
}
