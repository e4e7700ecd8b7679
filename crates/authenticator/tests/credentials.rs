#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! makeCredential / getAssertion / getNextAssertion through `handle_cbor` (CTAP 2.1 §6.1-§6.3).

mod common;

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ED25519};
use common::*;
use latchkey_authenticator::env::PresenceDenied;
use latchkey_authenticator::{AttestationMode, Config};
use latchkey_ctap::authdata::{AttestationStatement, AuthenticatorData};
use latchkey_ctap::command::{self as cmd, Request};
use latchkey_ctap::cose::CoseKey;
use latchkey_ctap::entity::{CoseAlgorithm, CredentialParameters};
use latchkey_ctap::StatusCode;

fn verify(key: &CoseKey, auth_data: &[u8], cdh: &[u8], sig: &[u8]) {
    let mut msg = auth_data.to_vec();
    msg.extend_from_slice(cdh);
    match key {
        CoseKey::Es256(p) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, p.to_sec1())
            .verify(&msg, sig)
            .unwrap(),
        CoseKey::Ed25519(k) => UnparsedPublicKey::new(&ED25519, k)
            .verify(&msg, sig)
            .unwrap(),
        other => panic!("unexpected key {other:?}"),
    }
}

#[test]
fn register_then_sign_in_with_allow_list_counts_up() {
    let mut h = Harness::with_config(Config {
        attestation: AttestationMode::PackedSelf,
        ..Config::default()
    });
    let resp: cmd::MakeCredentialResponse =
        h.ok(&Request::MakeCredential(mc("a.example", 1, false)));
    let ad = AuthenticatorData::parse(&resp.auth_data).unwrap();
    assert_eq!(ad.rp_id_hash, sha256(b"a.example"));
    // UP and AT only: no UV, and BE/BS clear (device-bound).
    assert_eq!(resp.auth_data[32], 0x41);
    assert_eq!(ad.sign_count, 0);
    let acd = ad.attested_credential_data.unwrap();
    assert_eq!(acd.credential_id.len(), 32);
    match &resp.att_stmt {
        AttestationStatement::Packed { alg, sig, x5c } => {
            assert_eq!(*alg, CoseAlgorithm::ES256);
            assert!(x5c.is_none());
            verify(&acd.public_key, &resp.auth_data, &cdh("mc").0, sig);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.user.prompts(), 1);

    for expected in 1..=3u32 {
        let r: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(ga(
            "a.example",
            &[&acd.credential_id],
        )));
        let ad = AuthenticatorData::parse(&r.auth_data).unwrap();
        assert_eq!(ad.sign_count, expected);
        assert_eq!(r.auth_data[32], 0x01);
        assert_eq!(r.credential.unwrap().id, acd.credential_id);
        assert!(r.user.is_none(), "non-discoverable: no user");
        assert!(r.number_of_credentials.is_none());
        verify(&acd.public_key, &r.auth_data, &cdh("ga").0, &r.signature);
    }
    // A silent assertion (up: false) is signed like any other, so it is counted too: a counter
    // that skipped signatures would let two signatures carry one value (CTAP 2.1 §6.2.2).
    let mut silent = ga("a.example", &[&acd.credential_id]);
    silent.options.up = Some(false);
    let r: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(silent));
    let ad = AuthenticatorData::parse(&r.auth_data).unwrap();
    assert_eq!(r.auth_data[32], 0x00, "neither UP nor UV");
    assert_eq!(ad.sign_count, 4);
    verify(&acd.public_key, &r.auth_data, &cdh("ga").0, &r.signature);
    // Another RP cannot use it.
    assert_eq!(
        h.status(&Request::GetAssertion(ga(
            "b.example",
            &[&acd.credential_id]
        ))),
        StatusCode::NoCredentials
    );
}

#[test]
fn attestation_none_and_eddsa() {
    let mut h = Harness::new();
    let mut r = mc("a.example", 1, false);
    r.pub_key_cred_params = vec![
        CredentialParameters {
            alg: CoseAlgorithm(-257),
        },
        CredentialParameters {
            alg: CoseAlgorithm::EDDSA,
        },
        CredentialParameters {
            alg: CoseAlgorithm::ES256,
        },
    ];
    let resp: cmd::MakeCredentialResponse = h.ok(&Request::MakeCredential(r));
    assert_eq!(resp.att_stmt, AttestationStatement::None);
    let ad = AuthenticatorData::parse(&resp.auth_data).unwrap();
    let acd = ad.attested_credential_data.unwrap();
    assert!(matches!(acd.public_key, CoseKey::Ed25519(_)));
    let a: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(ga(
        "a.example",
        &[&acd.credential_id],
    )));
    verify(&acd.public_key, &a.auth_data, &cdh("ga").0, &a.signature);

    let mut r = mc("a.example", 1, false);
    r.pub_key_cred_params = vec![CredentialParameters {
        alg: CoseAlgorithm(-257),
    }];
    assert_eq!(
        h.status(&Request::MakeCredential(r)),
        StatusCode::UnsupportedAlgorithm
    );
}

#[test]
fn discoverable_credentials_newest_first_with_next_assertion() {
    let mut h = Harness::new();
    let ids: Vec<Vec<u8>> = (1..=3)
        .map(|u| {
            h.clock.advance(1000);
            make(&mut h, mc("a.example", u, true))
        })
        .collect();
    make(&mut h, mc("b.example", 9, true));
    let first: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(ga("a.example", &[])));
    assert_eq!(first.number_of_credentials, Some(3));
    assert_eq!(first.credential.unwrap().id, ids[2]);
    // Without UV: only the user ID.
    let u = first.user.unwrap();
    assert_eq!(u.id.as_bytes(), &[3; 8]);
    assert!(u.name.is_none() && u.display_name.is_none());
    let second: cmd::GetAssertionResponse = h.ok(&Request::GetNextAssertion);
    assert_eq!(second.credential.unwrap().id, ids[1]);
    assert!(second.number_of_credentials.is_none());
    let third: cmd::GetAssertionResponse = h.ok(&Request::GetNextAssertion);
    assert_eq!(third.credential.unwrap().id, ids[0]);
    assert_eq!(h.status(&Request::GetNextAssertion), StatusCode::NotAllowed);
}

#[test]
fn next_assertion_expires_after_30_s_and_any_other_command_ends_it() {
    let mut h = Harness::new();
    make(&mut h, mc("a.example", 1, true));
    make(&mut h, mc("a.example", 2, true));
    make(&mut h, mc("a.example", 3, true));
    let _: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(ga("a.example", &[])));
    h.clock.advance(30_000);
    let _: cmd::GetAssertionResponse = h.ok(&Request::GetNextAssertion);
    h.clock.advance(30_001);
    assert_eq!(h.status(&Request::GetNextAssertion), StatusCode::NotAllowed);

    let _: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(ga("a.example", &[])));
    let _: cmd::GetInfoResponse = h.ok(&Request::GetInfo);
    assert_eq!(h.status(&Request::GetNextAssertion), StatusCode::NotAllowed);
    assert_eq!(h.status(&Request::GetNextAssertion), StatusCode::NotAllowed);
}

#[test]
fn discoverable_with_same_user_replaces_the_old_one() {
    let mut h = Harness::new();
    let old = make(&mut h, mc("a.example", 1, true));
    let new = make(&mut h, mc("a.example", 1, true));
    let r: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(ga("a.example", &[])));
    assert_eq!(r.credential.unwrap().id, new);
    assert!(r.number_of_credentials.is_none());
    assert_eq!(
        h.status(&Request::GetAssertion(ga("a.example", &[&old]))),
        StatusCode::NoCredentials
    );
}

#[test]
fn silent_assertion_with_up_false_asks_nobody() {
    let mut h = Harness::new();
    let id = make(&mut h, mc("a.example", 1, false));
    let before = h.user.prompts();
    let mut r = ga("a.example", &[&id]);
    r.options.up = Some(false);
    let a: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(r));
    assert_eq!(a.auth_data[32], 0x00);
    assert_eq!(h.user.prompts(), before);
}

#[test]
fn options_errors() {
    let mut h = Harness::new();
    let mut r = mc("a.example", 1, false);
    r.options.up = Some(false);
    assert_eq!(
        h.status(&Request::MakeCredential(r)),
        StatusCode::InvalidOption
    );
    let mut r = mc("a.example", 1, false);
    r.options.uv = Some(true);
    assert_eq!(
        h.status(&Request::MakeCredential(r)),
        StatusCode::InvalidOption
    );
    let mut r = ga("a.example", &[]);
    r.options.rk = Some(true);
    assert_eq!(
        h.status(&Request::GetAssertion(r)),
        StatusCode::UnsupportedOption
    );
    let mut r = ga("a.example", &[]);
    r.options.uv = Some(true);
    assert_eq!(
        h.status(&Request::GetAssertion(r)),
        StatusCode::InvalidOption
    );
    let mut r = mc("a.example", 1, false);
    r.enterprise_attestation = Some(1);
    assert_eq!(
        h.status(&Request::MakeCredential(r)),
        StatusCode::InvalidParameter
    );
    assert_eq!(h.auth.store().credentials().len(), 0);
}

#[test]
fn exclude_list_asks_for_presence_before_credential_excluded() {
    let mut h = Harness::new();
    let id = make(&mut h, mc("a.example", 1, false));
    let mut r = mc("a.example", 2, false);
    r.exclude_list = Some(vec![
        latchkey_ctap::entity::CredentialDescriptor::public_key(id.clone()),
    ]);
    let before = h.user.prompts();
    assert_eq!(
        h.status(&Request::MakeCredential(r.clone())),
        StatusCode::CredentialExcluded
    );
    assert_eq!(h.user.prompts(), before + 1);
    h.user.deny_next(PresenceDenied::Denied);
    assert_eq!(
        h.status(&Request::MakeCredential(r.clone())),
        StatusCode::CredentialExcluded
    );
    assert_eq!(h.user.prompts(), before + 2);
    assert_eq!(h.auth.store().credentials().len(), 1);
    // A credential of another RP in the list does not exclude.
    r.rp.id = "b.example".into();
    make(&mut h, r);
    assert_eq!(h.auth.store().credentials().len(), 2);
}

#[test]
fn presence_denied_or_timed_out_creates_nothing() {
    let mut h = Harness::new();
    h.user.deny_next(PresenceDenied::Denied);
    assert_eq!(
        h.status(&Request::MakeCredential(mc("a.example", 1, true))),
        StatusCode::OperationDenied
    );
    h.user.deny_next(PresenceDenied::Timeout);
    // §6.1.2 step 14.1.2.2: a timeout inside the ceremony is OPERATION_DENIED too.
    assert_eq!(
        h.status(&Request::MakeCredential(mc("a.example", 1, true))),
        StatusCode::OperationDenied
    );
    h.user.deny_next(PresenceDenied::Cancelled);
    assert_eq!(
        h.status(&Request::MakeCredential(mc("a.example", 1, true))),
        StatusCode::KeepaliveCancel
    );
    assert!(h.auth.store().credentials().is_empty());
    let id = make(&mut h, mc("a.example", 1, false));
    h.user.deny_next(PresenceDenied::Denied);
    assert_eq!(
        h.status(&Request::GetAssertion(ga("a.example", &[&id]))),
        StatusCode::OperationDenied
    );
    h.user.deny_next(PresenceDenied::Timeout);
    assert_eq!(
        h.status(&Request::GetAssertion(ga("a.example", &[&id]))),
        StatusCode::OperationDenied
    );
    h.user.deny_next(PresenceDenied::Cancelled);
    assert_eq!(
        h.status(&Request::GetAssertion(ga("a.example", &[&id]))),
        StatusCode::KeepaliveCancel
    );
    assert_eq!(h.auth.store().credentials()[0].sign_count, 0);
}

#[test]
fn zero_length_pin_uv_auth_param_probe() {
    let mut h = Harness::new();
    let mut r = mc("a.example", 1, false);
    r.pin_uv_auth_param = Some(vec![]);
    r.pin_uv_auth_protocol = Some(latchkey_ctap::pin::PinUvAuthProtocol::Two);
    let before = h.user.prompts();
    assert_eq!(
        h.status(&Request::MakeCredential(r.clone())),
        StatusCode::PinNotSet
    );
    assert_eq!(h.user.prompts(), before + 1);
    h.set_pin(PIN);
    assert_eq!(
        h.status(&Request::MakeCredential(r.clone())),
        StatusCode::PinInvalid
    );
    h.user.deny_next(PresenceDenied::Denied);
    assert_eq!(
        h.status(&Request::MakeCredential(r)),
        StatusCode::OperationDenied
    );
    let mut g = ga("a.example", &[]);
    g.pin_uv_auth_param = Some(vec![]);
    g.pin_uv_auth_protocol = Some(latchkey_ctap::pin::PinUvAuthProtocol::One);
    assert_eq!(h.status(&Request::GetAssertion(g)), StatusCode::PinInvalid);
    assert!(h.auth.store().credentials().is_empty());
}

#[test]
fn allow_list_longer_than_the_limit_is_refused() {
    let mut h = Harness::new();
    let ids: Vec<Vec<u8>> = (0..9).map(|i| vec![i; 16]).collect();
    let refs: Vec<&[u8]> = ids.iter().map(Vec::as_slice).collect();
    assert_eq!(
        h.status(&Request::GetAssertion(ga("a.example", &refs))),
        StatusCode::LimitExceeded
    );
    assert_eq!(
        h.status(&Request::GetAssertion(ga("a.example", &refs[..8]))),
        StatusCode::NoCredentials
    );
}

#[test]
fn a_full_store_says_so_before_asking_for_presence() {
    use latchkey_authenticator::memory::MemoryStore;
    let mut h = Harness::new();
    h.auth = latchkey_authenticator::Authenticator::new(
        Config::default(),
        MemoryStore::with_capacity(1),
        h.user.clone(),
        h.clock.clone(),
        SeededRng::new(3),
    );
    make(&mut h, mc("a.example", 1, true));
    let before = h.user.prompts();
    assert_eq!(
        h.status(&Request::MakeCredential(mc("a.example", 2, true))),
        StatusCode::KeyStoreFull
    );
    assert_eq!(h.user.prompts(), before);
    // Replacing the same account still works, and non-discoverable ones are not counted.
    make(&mut h, mc("a.example", 1, true));
    make(&mut h, mc("a.example", 2, false));
    assert_eq!(h.info().remaining_discoverable_credentials, Some(0));
}

/// A store failure leaves as CTAP1_ERR_OTHER, as CTAP allows no more; the authenticator keeps
/// the failure itself, with its cause, for its host to take, and the next command starts clean.
#[test]
fn a_store_failure_is_kept_for_the_host_behind_its_status() {
    use latchkey_authenticator::store::{StoreError, StoreErrorKind};
    let mut h = Harness::new();
    let read_only = std::io::Error::from_raw_os_error(30);
    h.auth
        .store_mut()
        .fail_writes(Some(StoreError::file("writing", "/s/x.cred", read_only)));
    let status = h.status(&Request::MakeCredential(mc("example.com", 1, true)));
    assert_eq!(status, StatusCode::Other);
    let failure = h
        .auth
        .take_store_failure()
        .expect("the store failure is kept");
    assert_eq!(failure.kind(), StoreErrorKind::ReadOnly);
    assert!(!failure.kind().has_own_status());
    assert_eq!(
        failure.with_causes(),
        "storage failed: writing /s/x.cred: Read-only file system (os error 30)"
    );
    assert!(h.auth.take_store_failure().is_none(), "taken once");
    // A failure is the cause of its own command only.
    h.auth.store_mut().fail_writes(None);
    let _ = h.status(&Request::MakeCredential(mc("example.com", 1, true)));
    assert!(h.auth.take_store_failure().is_none());
}

/// A generator whose public randomness is recognisable: credential IDs must come from
/// `fill_public` (which a system generator may serve from a bulk pool), secrets from `fill`.
struct MarkedPublic(SeededRng);

impl latchkey_authenticator::env::Rng for MarkedPublic {
    fn fill(&mut self, buf: &mut [u8]) {
        self.0.fill(buf);
    }
    fn fill_public(&mut self, buf: &mut [u8]) {
        buf.fill(0xA5);
    }
}

#[test]
fn credential_ids_are_drawn_as_public_randomness_and_keys_are_not() {
    let mut auth = latchkey_authenticator::Authenticator::new(
        Config::default(),
        latchkey_authenticator::memory::MemoryStore::default(),
        ScriptedUser::default(),
        TestClock::default(),
        MarkedPublic(SeededRng::new(7)),
    );
    let out = auth.handle_cbor(&Request::MakeCredential(mc("a.example", 1, false)).encode());
    assert_eq!(StatusCode::from(out[0]), StatusCode::Ok);
    let resp: cmd::MakeCredentialResponse = cmd::decode_response(&out).unwrap();
    let acd = AuthenticatorData::parse(&resp.auth_data)
        .unwrap()
        .attested_credential_data
        .unwrap();
    assert_eq!(acd.credential_id, vec![0xA5; 32]);
    // The key did not come from the public draw: its point is not built from 0xA5 bytes.
    match &acd.public_key {
        CoseKey::Es256(p) => assert_ne!(p.x, [0xA5; 32]),
        other => panic!("{other:?}"),
    }
}
