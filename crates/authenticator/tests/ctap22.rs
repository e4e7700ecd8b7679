#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! CTAP 2.2: the persistent pinUvAuthToken and read-only credential management (§6.5.5.7 pcmr,
//! §6.8), the getInfo members sealed under it (§6.4 encIdentifier, encCredStoreState),
//! uvCountSinceLastPinEntry, thirdPartyPayment (§12.9) and attestationFormatsPreference (§6.1).

mod common;

use common::*;
use latchkey_authenticator::config::BuiltInUv;
use latchkey_authenticator::env::UvMatch;
use latchkey_authenticator::{AttestationMode, Config};
use latchkey_ctap::authdata::{AttestationStatement, AuthenticatorData};
use latchkey_ctap::cbor::MapBuilder;
use latchkey_ctap::command::{self as cmd, CredentialManagementSubcommand as Sub, Request};
use latchkey_ctap::entity::CredentialDescriptor;
use latchkey_ctap::extensions::{GetAssertionExtensions, MakeCredentialExtensions};
use latchkey_ctap::pin::{self, InfoMember, PinUvAuthProtocol};
use latchkey_ctap::StatusCode;

/// A PIN, one discoverable credential with a largeBlobKey on a.example and one on b.example.
fn setup() -> Harness {
    let mut h = Harness::new();
    h.set_pin(PIN);
    for (rp, u) in [("a.example", 1u8), ("b.example", 2)] {
        let token = h.token(MC, Some(rp));
        let mut r = mc(rp, u, true);
        r.extensions = Some(MakeCredentialExtensions {
            large_blob_key: Some(true),
            ..Default::default()
        });
        make(&mut h, with_token_mc(r, &token));
    }
    h
}

fn metadata(token: &[u8]) -> Request {
    cm(Some(token), 1, Sub::GetCredsMetadata, None, false)
}

fn creds_begin(token: &[u8], rp: &str) -> Request {
    let hash = sha256(rp.as_bytes());
    let params = MapBuilder::new().insert(0x01, hash.as_slice()).build();
    cm(
        Some(token),
        4,
        Sub::EnumerateCredentialsBegin { rp_id_hash: hash },
        Some(params),
        false,
    )
}

fn delete(token: &[u8], id: &[u8]) -> Request {
    let descriptor = CredentialDescriptor::public_key(id.to_vec());
    let params = MapBuilder::new()
        .insert(0x02, latchkey_ctap::cbor::ToValue::to_value(&descriptor))
        .build();
    cm(
        Some(token),
        6,
        Sub::DeleteCredential {
            credential_id: descriptor,
        },
        Some(params),
        false,
    )
}

#[test]
fn pcmr_is_granted_alone_and_only_to_the_right_pin() {
    let mut h = setup();
    for other in [CM, MC, GA, LBW, ACFG] {
        assert_eq!(
            h.token_with(PinUvAuthProtocol::Two, PIN, PCMR | other, Some("a.example")),
            Err(StatusCode::UnauthorizedPermission),
            "pcmr with {other:#x}"
        );
    }
    assert_eq!(
        h.token_with(PinUvAuthProtocol::Two, b"9999", PCMR, None),
        Err(StatusCode::PinInvalid)
    );
    assert_eq!(h.pin_retries().0, 7);
    let token = h.token(PCMR, None);
    assert_eq!(h.pin_retries().0, 8, "a right PIN restores the retries");
    assert_eq!(token.len(), 32);
    // The PIN check unlocked the store; the persistent token needs nothing of it, so it is
    // locked again, unless an ordinary token in use still needs it.
    let mut h = Harness::new();
    h.set_pin(PIN);
    h.token(PCMR, None);
    assert!(!h.auth.store().is_unlocked());
    let t = h.token(MC, Some("a.example"));
    h.token(PCMR, None);
    assert!(h.auth.store().is_unlocked());
    make(&mut h, with_token_mc(mc("a.example", 1, true), &t));
}

#[test]
fn the_persistent_token_reads_but_never_writes() {
    let mut h = setup();
    let token = h.token(PCMR, None);
    // Through protocol 1 it is the same token.
    assert_eq!(
        h.token_with(PinUvAuthProtocol::One, PIN, PCMR, None),
        Ok(token.clone())
    );
    let meta: cmd::CredentialManagementResponse = h.ok(&metadata(&token));
    assert_eq!(meta.existing_resident_credentials_count, Some(2));
    let rps: cmd::CredentialManagementResponse =
        h.ok(&cm(Some(&token), 2, Sub::EnumerateRpsBegin, None, false));
    assert_eq!(rps.total_rps, Some(2));
    let next: cmd::CredentialManagementResponse =
        h.ok(&cm(None, 3, Sub::EnumerateRpsGetNextRp, None, false));
    assert_eq!(next.rp.unwrap().id, "b.example");
    let cred: cmd::CredentialManagementResponse = h.ok(&creds_begin(&token, "a.example"));
    assert_eq!(cred.total_credentials, Some(1));
    assert_eq!(cred.user.unwrap().name.as_deref(), Some("user1"));
    assert!(cred.public_key.is_some());
    assert_eq!(cred.third_party_payment, Some(false));
    // Read-only: no largeBlobKey, which an ordinary cm token does get.
    assert_eq!(cred.large_blob_key, None);
    let cm_token = h.token(CM, None);
    let full: cmd::CredentialManagementResponse = h.ok(&creds_begin(&cm_token, "a.example"));
    assert_eq!(full.large_blob_key.map(|k| k.len()), Some(32));
    // Deleting or renaming needs cm.
    let id = full.credential_id.unwrap().id;
    assert_eq!(h.status(&delete(&token, &id)), StatusCode::PinAuthInvalid);
    assert_eq!(h.auth.store().credentials().len(), 2);
    // A wrong pinUvAuthParam, or an unknown protocol, is refused as for any token.
    let mut bad = metadata(&token);
    if let Request::CredentialManagement(r) = &mut bad {
        r.pin_uv_auth_param = Some(vec![0; 32]);
    }
    assert_eq!(h.status(&bad), StatusCode::PinAuthInvalid);
    // Nor is it an ordinary token for anything else.
    let r = with_token_ga(ga("a.example", &[]), &token);
    assert_eq!(
        h.status(&Request::GetAssertion(r)),
        StatusCode::PinAuthInvalid
    );
}

#[test]
fn the_persistent_token_outlives_power_cycles_and_other_tokens() {
    let mut h = setup();
    let token = h.token(PCMR, None);
    // Issuing it again gives the same token, and leaves an ordinary token in use working.
    let cm_token = h.token(CM, None);
    assert_eq!(h.token(PCMR, None), token);
    h.ok::<cmd::CredentialManagementResponse>(&metadata(&cm_token));
    // Long after any ordinary token would have expired, and across power cycles.
    h.clock.advance(3_600_000);
    h.auth.power_cycle();
    h.ok::<cmd::CredentialManagementResponse>(&metadata(&token));
    assert_eq!(h.status(&metadata(&cm_token)), StatusCode::PinAuthInvalid);
}

#[test]
fn the_persistent_token_ends_with_the_pin_and_with_reset() {
    // A PIN change.
    let mut h = setup();
    let token = h.token(PCMR, None);
    let (key_agreement, shared) = h.shared_secret(PinUvAuthProtocol::Two);
    let mut padded = [0u8; 64];
    padded[..4].copy_from_slice(b"5678");
    let new_pin_enc = shared.encrypt(&mut h.rng, &padded).unwrap();
    let pin_hash_enc = shared.encrypt(&mut h.rng, &pin::pin_hash(PIN)).unwrap();
    let pin_uv_auth_param =
        shared.authenticate(&pin::change_pin_message(&new_pin_enc, &pin_hash_enc));
    h.ok::<cmd::ClientPinResponse>(&Request::ClientPin(cmd::ClientPinRequest::ChangePin {
        protocol: PinUvAuthProtocol::Two,
        key_agreement,
        pin_hash_enc,
        new_pin_enc,
        pin_uv_auth_param,
    }));
    assert_eq!(h.status(&metadata(&token)), StatusCode::PinAuthInvalid);
    let renewed = h
        .token_with(PinUvAuthProtocol::Two, b"5678", PCMR, None)
        .unwrap();
    assert_ne!(renewed, token);
    h.ok::<cmd::CredentialManagementResponse>(&metadata(&renewed));

    // A forced PIN change (setMinPINLength forceChangePin).
    let mut h = setup();
    let token = h.token(PCMR, None);
    let acfg = h.token(ACFG, None);
    let params = MapBuilder::new().insert(0x03, true).build();
    let raw = latchkey_ctap::cbor::encode(&params);
    let param = pin::authenticate(
        PinUvAuthProtocol::Two,
        &acfg,
        &pin::config_message(0x03, &raw),
    );
    let config = Request::Config(cmd::ConfigRequest {
        subcommand: cmd::ConfigSubcommand::SetMinPinLength {
            new_min_pin_length: None,
            min_pin_length_rp_ids: None,
            force_change_pin: Some(true),
        },
        pin_uv_auth_protocol: Some(PinUvAuthProtocol::Two),
        pin_uv_auth_param: Some(param),
        received_params: Some(raw),
    });
    assert_eq!(h.status(&config), StatusCode::Ok);
    assert_eq!(h.status(&metadata(&token)), StatusCode::PinAuthInvalid);
    // And no new one until the PIN is changed.
    assert_eq!(
        h.token_with(PinUvAuthProtocol::Two, PIN, PCMR, None),
        Err(StatusCode::PinPolicyViolation)
    );

    // Reset: the token, and the identifier it revealed, are gone.
    let mut h = setup();
    let token = h.token(PCMR, None);
    let before = h.info().enc_identifier.unwrap();
    let id_before = pin::decrypt_info_member(&token, InfoMember::Identifier, &before).unwrap();
    assert_eq!(h.status(&Request::Reset), StatusCode::Ok);
    let info = h.info();
    assert_eq!(info.enc_identifier, None);
    assert_eq!(info.enc_cred_store_state, None);
    h.set_pin(PIN);
    assert_eq!(h.status(&metadata(&token)), StatusCode::PinAuthInvalid);
    let token = h.token(PCMR, None);
    let after = h.info().enc_identifier.unwrap();
    let id_after = pin::decrypt_info_member(&token, InfoMember::Identifier, &after).unwrap();
    assert_ne!(id_before, id_after);
}

#[test]
fn enc_identifier_is_stable_and_enc_cred_store_state_follows_the_credentials() {
    let mut h = setup();
    let info = h.info();
    assert_eq!(
        info.enc_identifier, None,
        "nothing before a persistent token"
    );
    assert_eq!(info.enc_cred_store_state, None);
    let token = h.token(PCMR, None);
    let open = |h: &mut Harness| {
        let info = h.info();
        let id = info.enc_identifier.unwrap();
        let state = info.enc_cred_store_state.unwrap();
        assert_eq!((id.len(), state.len()), (32, 32));
        (
            id.clone(),
            pin::decrypt_info_member(&token, InfoMember::Identifier, &id).unwrap(),
            pin::decrypt_info_member(&token, InfoMember::CredStoreState, &state).unwrap(),
        )
    };
    let (enc1, id1, state1) = open(&mut h);
    let (enc2, id2, state2) = open(&mut h);
    // A fresh IV each time: only a holder of the token sees that they are the same.
    assert_ne!(enc1, enc2);
    assert_eq!((id1, state1), (id2, state2));
    h.auth.power_cycle();
    let (_, id3, state3) = open(&mut h);
    assert_eq!((id3, state3), (id1, state1));
    // An assertion changes no discoverable credential; a new one, a rename and a deletion do.
    let g = with_token_ga(ga("a.example", &[]), &h.token(GA, Some("a.example")));
    h.ok::<cmd::GetAssertionResponse>(&Request::GetAssertion(g));
    assert_eq!(open(&mut h).2, state1);
    make(&mut h, mc("c.example", 9, false));
    assert_eq!(open(&mut h).2, state1, "not discoverable");
    let t = h.token(MC, Some("c.example"));
    let id = make(&mut h, with_token_mc(mc("c.example", 3, true), &t));
    let state4 = open(&mut h).2;
    assert_ne!(state4, state1);
    let cm_token = h.token(CM, None);
    assert_eq!(h.status(&delete(&cm_token, &id)), StatusCode::Ok);
    let state5 = open(&mut h).2;
    assert_ne!(state5, state4);
    assert_eq!(open(&mut h).1, id1, "the identifier stays");
}

#[test]
fn uv_count_since_last_pin_entry_counts_fingers_until_a_pin() {
    let mut h = Harness::with_config(Config {
        built_in_uv: BuiltInUv::Configured,
        ..Config::default()
    });
    assert_eq!(h.info().uv_count_since_last_pin_entry, Some(0));
    h.set_pin(PIN);
    for expected in 1..=2 {
        h.user.fingers(&[Ok(UvMatch::Matched)]);
        let mut r = ga("a.example", &[]);
        r.options.uv = Some(true);
        // No credential: the finger still counts.
        h.status(&Request::GetAssertion(r));
        assert_eq!(h.info().uv_count_since_last_pin_entry, Some(expected));
    }
    h.user.fingers(&[Ok(UvMatch::NoMatch); 3]);
    let mut r = ga("a.example", &[]);
    r.options.uv = Some(true);
    h.status(&Request::GetAssertion(r));
    assert_eq!(h.info().uv_count_since_last_pin_entry, Some(2), "no match");
    h.token(GA, Some("a.example"));
    assert_eq!(h.info().uv_count_since_last_pin_entry, Some(0));
    // pcmr through the reader: the same persistent token as through the PIN.
    let by_pin = h.token(PCMR, None);
    h.user.fingers(&[Ok(UvMatch::Matched)]);
    let (key_agreement, shared) = h.shared_secret(PinUvAuthProtocol::Two);
    let r: cmd::ClientPinResponse = h.ok(&Request::ClientPin(
        cmd::ClientPinRequest::GetPinUvAuthTokenUsingUvWithPermissions {
            protocol: PinUvAuthProtocol::Two,
            key_agreement,
            permissions: pin::Permissions(PCMR),
            rp_id: None,
        },
    ));
    let by_uv = shared.decrypt(&r.pin_uv_auth_token.unwrap()).unwrap();
    assert_eq!(by_uv.as_slice(), by_pin.as_slice());
}

#[test]
fn third_party_payment_is_kept_with_the_credential() {
    let mut h = setup();
    let t = h.token(MC, Some("pay.example"));
    let mut r = mc("pay.example", 5, true);
    r.extensions = Some(MakeCredentialExtensions {
        third_party_payment: Some(true),
        ..Default::default()
    });
    let resp: cmd::MakeCredentialResponse = h.ok(&Request::MakeCredential(with_token_mc(r, &t)));
    let ad = AuthenticatorData::parse(&resp.auth_data).unwrap();
    assert_eq!(ad.extensions.unwrap().third_party_payment, Some(true));

    let ask = |h: &mut Harness, rp: &str| {
        let mut g = ga(rp, &[]);
        g.extensions = Some(GetAssertionExtensions {
            third_party_payment: Some(true),
            ..Default::default()
        });
        let r: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(g));
        AuthenticatorData::parse(&r.auth_data)
            .unwrap()
            .extensions
            .unwrap()
            .third_party_payment
    };
    assert_eq!(ask(&mut h, "pay.example"), Some(true));
    assert_eq!(ask(&mut h, "a.example"), Some(false));
    // Not asked: not said.
    let r: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(ga("pay.example", &[])));
    assert!(AuthenticatorData::parse(&r.auth_data)
        .unwrap()
        .extensions
        .is_none());
    let token = h.token(PCMR, None);
    let listed: cmd::CredentialManagementResponse = h.ok(&creds_begin(&token, "pay.example"));
    assert_eq!(listed.third_party_payment, Some(true));
}

#[test]
fn attestation_formats_preference_picks_the_first_format_made_here() {
    for default in [AttestationMode::None, AttestationMode::PackedSelf] {
        let mut h = Harness::with_config(Config {
            attestation: default,
            ..Config::default()
        });
        for (preference, expected) in [
            (None, default.format()),
            (Some(vec!["packed"]), "packed"),
            (Some(vec!["tpm", "none", "packed"]), "none"),
            (Some(vec!["apple", "packed"]), "packed"),
            (Some(vec!["tpm"]), default.format()),
            (Some(vec![]), default.format()),
        ] {
            let mut r = mc("a.example", 1, false);
            r.attestation_formats_preference =
                preference.map(|p| p.into_iter().map(str::to_owned).collect());
            let resp: cmd::MakeCredentialResponse = h.ok(&Request::MakeCredential(r.clone()));
            assert_eq!(resp.att_stmt.format(), expected, "{default:?} {r:?}");
            if let AttestationStatement::Packed { alg, sig, x5c } = resp.att_stmt {
                assert_eq!(x5c, None, "self attestation");
                let ad = AuthenticatorData::parse(&resp.auth_data).unwrap();
                let acd = ad.attested_credential_data.unwrap();
                let latchkey_ctap::cose::CoseKey::Es256(p) = acd.public_key else {
                    panic!("ES256 was asked for");
                };
                assert_eq!(alg.0, -7);
                let mut message = resp.auth_data.clone();
                message.extend_from_slice(&r.client_data_hash.0);
                aws_lc_rs::signature::UnparsedPublicKey::new(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
                    p.to_sec1(),
                )
                .verify(&message, &sig)
                .unwrap();
            }
        }
    }
}
