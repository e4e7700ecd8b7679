#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! A whole ceremony through this crate: options JSON → RP ID check → clientDataJSON → (a test
//! authenticator signing with aws-lc keys, data encoded with `latchkey_ctap::authdata`) →
//! response JSON → RP-side verification, including the counter and userHandle rules.

mod common;

use common::softkey::Key;
use latchkey_webauthn::clientdata::{Ancestry, CeremonyType, CollectedClientData};
use latchkey_webauthn::ids::{CoseAlgorithm, CredentialId, UserHandle};
use latchkey_webauthn::options::{CreationOptions, RequestOptions};
use latchkey_webauthn::origin::{authorize, Origin};
use latchkey_webauthn::response::{AuthenticationResponseJSON, RegistrationResponseJSON};
use latchkey_webauthn::rp::{
    verify_authentication, verify_registration, AttestationType, ExpectedAuthentication,
    ExpectedOrigins, ExpectedRegistration, ExpectedUser, VerifyError,
};

const UP_UV: u8 = 0x01 | 0x04;

const OPTIONS: &str = r#"{"rp":{"name":"Example","id":"example.com"},
 "user":{"id":"dXNlci0x","name":"alice","displayName":"Alice"},
 "challenge":"c2lnbi11cC1jaGFsbGVuZ2UtMTIzNDU2",
 "pubKeyCredParams":[{"type":"public-key","alg":-8},{"type":"public-key","alg":-7}],
 "authenticatorSelection":{"userVerification":"required","residentKey":"required"},
 "extensions":{"credProps":true}}"#;

struct Registered {
    key: Key,
    record: latchkey_webauthn::rp::CredentialRecord,
    user: UserHandle,
}

fn register(key: Key, packed_self: bool) -> Registered {
    let origin_str = "https://login.example.com";
    let opts = CreationOptions::from_json(OPTIONS.as_bytes()).unwrap();
    let auth = authorize(origin_str, opts.rp_id.as_deref()).unwrap();
    assert_eq!(auth.rp_id().as_str(), "example.com");
    let Origin::Web(_) = auth.origin() else {
        panic!()
    };
    let (cdj, hash) = CollectedClientData::new(
        CeremonyType::Create,
        &opts.challenge,
        &auth.origin().serialize(),
        Ancestry::SameOrigin,
    )
    .serialize();

    // The test authenticator.
    let cred_id = vec![0x42; 48];
    let att = key.attest(auth.rp_id().hash(), UP_UV, &cred_id, &hash, packed_self);

    let ext =
        opts.extensions
            .client_outputs(&latchkey_webauthn::extensions::ctap::RegistrationOutcome {
                rk: Some(opts.require_resident_key(true)),
                ..Default::default()
            });
    let resp =
        RegistrationResponseJSON::from_attestation_object(&cdj, &att, &[], None, ext).unwrap();
    let text = serde_json::to_string(&resp).unwrap();
    assert!(
        text.contains(r#""clientExtensionResults":{"credProps":{"rk":true}}"#),
        "{text}"
    );

    // The RP.
    let resp = RegistrationResponseJSON::from_json(text.as_bytes()).unwrap();
    let rp_id = latchkey_webauthn::origin::RpId::parse("example.com").unwrap();
    let (record, att_type) = verify_registration(
        &resp,
        &ExpectedRegistration {
            challenge: opts.challenge.as_bytes(),
            origins: ExpectedOrigins {
                origins: &[origin_str],
                top_origins: &[],
            },
            rp_id: &rp_id,
            require_user_verification: true,
            algorithms: &[CoseAlgorithm::EDDSA, CoseAlgorithm::ES256],
        },
    )
    .unwrap();
    assert_eq!(
        att_type,
        if packed_self {
            AttestationType::SelfAttestation
        } else {
            AttestationType::None
        }
    );
    assert_eq!(record.id.as_bytes(), cred_id.as_slice());
    assert!(record.uv_initialized);
    assert_eq!(record.sign_count, 1);
    Registered {
        key,
        record,
        user: opts.user.id.clone(),
    }
}

fn assert_with(
    reg: &Registered,
    counter: u32,
    send_user_handle: bool,
) -> AuthenticationResponseJSON {
    let opts = RequestOptions::from_json(
        br#"{"challenge":"Z2V0LWNoYWxsZW5nZQ","rpId":"example.com","userVerification":"required"}"#,
    )
    .unwrap();
    let auth = authorize("https://login.example.com", opts.rp_id.as_deref()).unwrap();
    let (cdj, hash) = CollectedClientData::new(
        CeremonyType::Get,
        &opts.challenge,
        &auth.origin().serialize(),
        Ancestry::SameOrigin,
    )
    .serialize();
    let (auth_data, sig) = reg.key.assert(auth.rp_id().hash(), UP_UV, counter, &hash);
    AuthenticationResponseJSON::new(
        &reg.record.id,
        &cdj,
        &auth_data,
        &sig,
        send_user_handle.then_some(&reg.user),
        None,
        Default::default(),
    )
}

fn rp_check(
    reg: &Registered,
    resp: &AuthenticationResponseJSON,
    stored: u32,
) -> Result<u32, VerifyError> {
    let rp_id = latchkey_webauthn::origin::RpId::parse("example.com").unwrap();
    let mut record = reg.record.clone();
    record.sign_count = stored;
    verify_authentication(
        resp,
        &ExpectedAuthentication {
            challenge: b"get-challenge",
            origins: ExpectedOrigins {
                origins: &["https://login.example.com"],
                top_origins: &[],
            },
            rp_id: &rp_id,
            require_user_verification: true,
            allow_credentials: &[],
            user: ExpectedUser::Discoverable(&reg.user),
        },
        &record,
    )
    .map(|r| r.sign_count)
}

#[test]
fn es256_packed_self_attestation_ceremony() {
    let reg = register(Key::p256(), true);
    assert_eq!(rp_check(&reg, &assert_with(&reg, 2, true), 1), Ok(2));
    // Counter did not increase: possible clone.
    assert_eq!(
        rp_check(&reg, &assert_with(&reg, 1, true), 1),
        Err(VerifyError::CounterNotIncreased { got: 1, stored: 1 })
    );
    // Discoverable flow without userHandle.
    assert_eq!(
        rp_check(&reg, &assert_with(&reg, 3, false), 1),
        Err(VerifyError::UserHandleMismatch)
    );
}

#[test]
fn ed25519_none_attestation_ceremony() {
    let reg = register(Key::ed25519(), false);
    assert_eq!(rp_check(&reg, &assert_with(&reg, 0, true), 0), Ok(0));
    let mut other = assert_with(&reg, 0, true);
    other.response.user_handle = Some(latchkey_webauthn::b64::encode(b"someone-else"));
    assert_eq!(
        rp_check(&reg, &other, 0),
        Err(VerifyError::UserHandleMismatch)
    );
    let mut wrong_cred = assert_with(&reg, 0, true);
    let other_id = CredentialId::new("id", vec![1; 16]).unwrap().to_base64url();
    wrong_cred.id = other_id.clone();
    wrong_cred.raw_id = other_id;
    assert_eq!(
        rp_check(&reg, &wrong_cred, 0),
        Err(VerifyError::CredentialMismatch)
    );
}

#[test]
fn es256_spki_from_response_is_the_authenticator_key() {
    let key = Key::p256();
    let point = key.public();
    let reg = register(key, false);
    let spki = reg.record.public_key.to_spki();
    assert!(spki.ends_with(&point));
}
