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

/// An attestation certificate and its PKCS #8 key, made for these tests with `openssl req -x509
/// -addext "1.3.6.1.4.1.45724.1.1.4=DER:04:10:00:11:…:ff"`: its AAGUID extension is
/// 00112233-4455-6677-8899-aabbccddeeff.
const ATTESTATION_CERT: &str =
    "30820247308201eda003020102021477c1ed71e05016ffe9c2bd02f1950c7d9d548efb300a06082a8648ce3d04\
     030230683122302006035504030c194c617463686b65792074657374206174746573746174696f6e3111300f06\
     0355040a0c084c617463686b657931223020060355040b0c1941757468656e74696361746f7220417474657374\
     6174696f6e310b30090603550406130241413020170d3236313132323032353935375a180f3231323631303239\
     3032353935375a30683122302006035504030c194c617463686b65792074657374206174746573746174696f6e\
     3111300f060355040a0c084c617463686b657931223020060355040b0c1941757468656e74696361746f722041\
     74746573746174696f6e310b30090603550406130241413059301306072a8648ce3d020106082a8648ce3d0301\
     0703420004d075db9241dcfbe32fe921614f3cde6c9c362023b255fe121dd24259d01766cb5327b410767aca89\
     883b46588323b37ab1e6d8100555faae06e9b2eb571c4c61a3733071301d0603551d0e04160414ce0373d923e0\
     e9d2bfe260ca4374e0da6167cb38301f0603551d23041830168014ce0373d923e0e9d2bfe260ca4374e0da6167\
     cb383021060b2b0601040182e51c0101040412041000112233445566778899aabbccddeeff300c0603551d1301\
     01ff04023000300a06082a8648ce3d04030203480030450221009684376901eea713bde988fd8e266098605e27\
     7e3abc51cc8f91913f0a32a5a70220335f6802a044d2987ebefeee9d514b8fc3f74e3f44a61dd2c9367bdd4c1d\
     4ed1";
const ATTESTATION_KEY_PKCS8: &str =
    "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420c8706204a45e5cb0c7\
     b73fd390fcb209aadedad5ba520e19c80651f0af97a23ea14403420004d075db9241dcfbe32fe921614f3cde6c\
     9c362023b255fe121dd24259d01766cb5327b410767aca89883b46588323b37ab1e6d8100555faae06e9b2eb57\
     1c4c61";

fn packed_full(aaguid: [u8; 16]) -> Result<AttestationType, VerifyError> {
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    use latchkey_ctap::authdata::{
        AttestationObject, AttestationStatement, AttestedCredentialData, AuthenticatorData, Flags,
    };
    let attestation_key = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &hex::decode(ATTESTATION_KEY_PKCS8).unwrap(),
    )
    .unwrap();
    let opts = CreationOptions::from_json(OPTIONS.as_bytes()).unwrap();
    let auth = authorize("https://login.example.com", opts.rp_id.as_deref()).unwrap();
    let (cdj, hash) = CollectedClientData::for_authorized(
        CeremonyType::Create,
        &opts.challenge,
        &auth,
        Ancestry::SameOrigin,
    )
    .serialize();
    let key = Key::p256();
    let auth_data = AuthenticatorData {
        rp_id_hash: auth.rp_id().hash(),
        flags: Flags(UP_UV),
        sign_count: 0,
        attested_credential_data: Some(AttestedCredentialData {
            aaguid: latchkey_ctap::command::Aaguid(aaguid),
            credential_id: vec![3; 16],
            public_key: key.cose(),
        }),
        extensions: None,
    }
    .to_bytes();
    let mut signed = auth_data.clone();
    signed.extend_from_slice(hash.as_bytes());
    let sig = attestation_key
        .sign(&aws_lc_rs::rand::SystemRandom::new(), &signed)
        .unwrap()
        .as_ref()
        .to_vec();
    let att = AttestationObject {
        auth_data,
        att_stmt: AttestationStatement::Packed {
            alg: latchkey_ctap::entity::CoseAlgorithm(-7),
            sig,
            x5c: Some(vec![hex::decode(ATTESTATION_CERT).unwrap()]),
        },
    }
    .to_bytes();
    let resp = RegistrationResponseJSON::from_attestation_object(
        &cdj,
        &att,
        &[],
        None,
        Default::default(),
    )
    .unwrap();
    let rp_id = latchkey_webauthn::origin::RpId::parse("example.com").unwrap();
    verify_registration(
        &resp,
        &ExpectedRegistration {
            challenge: opts.challenge.as_bytes(),
            origins: ExpectedOrigins {
                origins: &["https://login.example.com"],
                top_origins: &[],
            },
            rp_id: &rp_id,
            require_user_verification: true,
            algorithms: &[CoseAlgorithm::ES256],
        },
    )
    .map(|(_, att)| att)
}

#[test]
fn packed_full_attestation_checks_signature_and_certificate_aaguid() {
    let aaguid = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ];
    match packed_full(aaguid).unwrap() {
        AttestationType::Basic { x5c } => {
            assert_eq!(x5c, vec![hex::decode(ATTESTATION_CERT).unwrap()])
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        packed_full([0x42; 16]).unwrap_err(),
        VerifyError::InvalidAttestation("certificate AAGUID differs from the authenticator data's")
    );
}
