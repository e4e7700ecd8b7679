#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Credential algorithms beyond ES256 and EdDSA: ES384 (COSE -35) by default, ML-DSA-44/65
//! (COSE -48/-49, FIPS 204) only when configured; each made, attested (packed self) and used,
//! every signature checked with aws-lc-rs's verifiers, and the largest response within the
//! CTAPHID message limit.

mod common;

use aws_lc_rs::signature::{
    UnparsedPublicKey, VerificationAlgorithm, ECDSA_P384_SHA384_ASN1, ML_DSA_44, ML_DSA_65,
};
use common::*;
use latchkey_authenticator::{AttestationMode, Config};
use latchkey_ctap::authdata::{AttestationStatement, AuthenticatorData};
use latchkey_ctap::command::{self as cmd, Request};
use latchkey_ctap::cose::{CoseKey, MlDsa};
use latchkey_ctap::entity::{CoseAlgorithm, CredentialParameters};
use latchkey_ctap::extensions::MakeCredentialExtensions;
use latchkey_ctap::StatusCode;

fn with_algs(mut r: cmd::MakeCredentialRequest, algs: &[i64]) -> cmd::MakeCredentialRequest {
    r.pub_key_cred_params = algs
        .iter()
        .map(|&a| CredentialParameters {
            alg: CoseAlgorithm(a),
        })
        .collect();
    r
}

fn info_algorithms(h: &mut Harness) -> Vec<i64> {
    h.info()
        .algorithms
        .unwrap()
        .iter()
        .map(|a| a.alg.0)
        .collect()
}

/// Creates a credential with packed self attestation and one assertion; checks both
/// signatures with `verifier` over the key `public` (raw or SEC1) and returns the COSE key and
/// the response's encoded length.
fn create_and_use(
    h: &mut Harness,
    algs: &[i64],
    verifier: &'static dyn VerificationAlgorithm,
) -> (CoseKey, usize) {
    let r = with_algs(mc("pq.example", 1, true), algs);
    let bytes = h
        .auth
        .handle_cbor(&Request::MakeCredential(r.clone()).encode());
    let resp: cmd::MakeCredentialResponse = cmd::decode_response(&bytes).unwrap();
    let ad = AuthenticatorData::parse(&resp.auth_data).unwrap();
    let acd = ad.attested_credential_data.unwrap();
    let public = match &acd.public_key {
        CoseKey::Es384(p) => p.to_sec1().to_vec(),
        CoseKey::MlDsa { public, .. } => public.clone(),
        other => panic!("unexpected key {other:?}"),
    };
    let AttestationStatement::Packed { alg, sig, x5c } = &resp.att_stmt else {
        panic!("packed self attestation was configured");
    };
    assert_eq!(*alg, acd.public_key.alg());
    assert!(x5c.is_none());
    let mut message = resp.auth_data.clone();
    message.extend_from_slice(&r.client_data_hash.0);
    UnparsedPublicKey::new(verifier, &public)
        .verify(&message, sig)
        .unwrap();

    let g = ga("pq.example", &[&acd.credential_id]);
    let a: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(g.clone()));
    let mut message = a.auth_data.clone();
    message.extend_from_slice(&g.client_data_hash.0);
    UnparsedPublicKey::new(verifier, &public)
        .verify(&message, &a.signature)
        .unwrap();
    message[0] ^= 1;
    assert!(UnparsedPublicKey::new(verifier, &public)
        .verify(&message, &a.signature)
        .is_err());
    (acd.public_key, bytes.len())
}

fn stored_alg(h: &Harness, id: &[u8]) -> i64 {
    let c = h.auth.store().credentials().iter().find(|c| c.id == id);
    c.unwrap().public_key.alg.cose()
}

fn packed() -> Config {
    Config {
        attestation: AttestationMode::PackedSelf,
        ..Config::default()
    }
}

#[test]
fn es384_is_offered_and_made_by_default() {
    let mut h = Harness::with_config(packed());
    assert_eq!(info_algorithms(&mut h), vec![-7, -8, -35]);
    let (key, _) = create_and_use(&mut h, &[-35], &ECDSA_P384_SHA384_ASN1);
    assert!(matches!(key, CoseKey::Es384(_)));
    assert_eq!(key.alg(), CoseAlgorithm::ES384);
}

#[test]
fn ml_dsa_is_offered_only_when_configured() {
    let mut h = Harness::new();
    for alg in [-48, -49] {
        assert_eq!(
            h.status(&Request::MakeCredential(with_algs(
                mc("a.example", 1, false),
                &[alg]
            ))),
            StatusCode::UnsupportedAlgorithm
        );
    }
    // An RP that lists ML-DSA first still gets a classical key from a key without it.
    let id = make(&mut h, with_algs(mc("a.example", 1, false), &[-49, -7]));
    assert_eq!(stored_alg(&h, &id), -7);

    let mut h = Harness::with_config(packed().with_post_quantum());
    assert_eq!(info_algorithms(&mut h), vec![-7, -8, -35, -49, -48]);
    // The RP's order decides among what is offered.
    let id = make(&mut h, with_algs(mc("a.example", 1, false), &[-7, -49]));
    assert_eq!(stored_alg(&h, &id), -7);
}

#[test]
fn ml_dsa_credentials_are_made_attested_and_used() {
    let mut h = Harness::with_config(packed().with_post_quantum());
    for (alg, verifier, set) in [
        (-48, &ML_DSA_44, MlDsa::Ml44),
        (-49, &ML_DSA_65, MlDsa::Ml65),
    ] {
        let (key, _) = create_and_use(&mut h, &[alg], verifier);
        let CoseKey::MlDsa { set: got, public } = key else {
            panic!("an AKP key");
        };
        assert_eq!(got, set);
        assert_eq!(public.len(), set.public_key_len());
    }
}

/// The largest makeCredential response this authenticator can give: ML-DSA-65 with packed
/// attestation, the longest credential ID, and every extension with an output, still fits in
/// one CTAPHID message (CTAP 2.1 §11.2.4: 7609 bytes) and so in maxMsgSize.
#[test]
fn the_largest_ml_dsa_response_fits_a_ctaphid_message() {
    let mut h = Harness::with_config(Config {
        credential_id_length: 1023,
        max_credential_id_length: 1023,
        ..packed().with_post_quantum()
    });
    h.set_pin(PIN);
    let token = h.token(MC, Some("pq.example"));
    let mut r = with_algs(mc("pq.example", 1, true), &[-49]);
    r.extensions = Some(MakeCredentialExtensions {
        cred_protect: Some(latchkey_ctap::extensions::CredProtect::UserVerificationRequired),
        hmac_secret: Some(true),
        cred_blob: Some(vec![7; 32]),
        large_blob_key: Some(true),
        min_pin_length: Some(true),
        third_party_payment: Some(true),
        ..Default::default()
    });
    let bytes = h
        .auth
        .handle_cbor(&Request::MakeCredential(with_token_mc(r, &token)).encode());
    assert_eq!(StatusCode::from(bytes[0]), StatusCode::Ok);
    assert!(bytes.len() > 5_000, "{} bytes", bytes.len());
    assert!(
        bytes.len() <= latchkey_ctap::cbor::MAX_MESSAGE_SIZE,
        "{} bytes",
        bytes.len()
    );
    let resp: cmd::MakeCredentialResponse = cmd::decode_response(&bytes).unwrap();
    let acd = AuthenticatorData::parse(&resp.auth_data)
        .unwrap()
        .attested_credential_data
        .unwrap();
    assert_eq!(acd.credential_id.len(), 1023);
}
