#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! getInfo (§6.4), reset (§6.6), selection (§6.9), U2F (§11.2.9, U2F raw messages) and
//! robustness: arbitrary input never panics and errors leave state intact.

mod common;

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use common::*;
use latchkey_authenticator::env::{PresenceDenied, Rng};
use latchkey_authenticator::store::CredentialStore;
use latchkey_authenticator::Config;
use latchkey_ctap::command::{self as cmd, Request};
use latchkey_ctap::u2f::{AuthenticateResponse, RegisterResponse};
use latchkey_ctap::StatusCode;

#[test]
fn get_info_tells_the_truth() {
    let mut h = Harness::new();
    let info = h.info();
    assert_eq!(
        info.versions,
        vec!["U2F_V2", "FIDO_2_0", "FIDO_2_1", "FIDO_2_2"]
    );
    // In CTAP2 canonical order: shorter first, then bytewise.
    assert_eq!(
        info.extensions.unwrap(),
        vec![
            "credBlob",
            "credProtect",
            "hmac-secret",
            "largeBlobKey",
            "minPinLength",
            "hmac-secret-mc",
            "thirdPartyPayment"
        ]
    );
    let o = info.options.unwrap();
    for (k, v) in [
        ("rk", true),
        ("up", true),
        ("plat", false),
        ("clientPin", false),
        ("credMgmt", true),
        ("largeBlobs", true),
        ("pinUvAuthToken", true),
        ("setMinPINLength", true),
        ("makeCredUvNotRqd", true),
        ("alwaysUv", false),
        ("authnrCfg", true),
        ("perCredMgmtRO", true),
    ] {
        assert_eq!(o.get(k), Some(&v), "{k}");
    }
    assert!(!o.contains_key("uv"), "no built-in UV");
    assert_eq!(info.max_msg_size, Some(7609));
    assert_eq!(info.pin_uv_auth_protocols, Some(vec![2, 1]));
    assert_eq!(info.transports, Some(vec!["usb".to_owned()]));
    assert_eq!(
        info.algorithms
            .unwrap()
            .iter()
            .map(|a| a.alg.0)
            .collect::<Vec<_>>(),
        vec![-7, -8, -35]
    );
    assert_eq!(info.min_pin_length, Some(4));
    // CTAP 2.2 §6.4: the formats made here (the default first), no complexity policy, PINs of
    // up to 63, nothing sealed before a persistent token exists, no UV count without a reader.
    assert_eq!(
        info.attestation_formats,
        Some(vec!["none".to_owned(), "packed".to_owned()])
    );
    assert_eq!(info.pin_complexity_policy, Some(false));
    assert_eq!(info.max_pin_length, Some(63));
    assert_eq!(info.enc_identifier, None);
    assert_eq!(info.enc_cred_store_state, None);
    assert_eq!(info.uv_count_since_last_pin_entry, None);
    assert_eq!(info.long_touch_for_reset, None);
    assert_eq!(info.transports_for_reset, None);
    assert_eq!(info.remaining_discoverable_credentials, Some(50));
    make(&mut h, mc("a.example", 1, true));
    assert_eq!(h.info().remaining_discoverable_credentials, Some(49));

    let mut p = Harness::with_config(Config {
        platform: true,
        transports: vec!["internal".into()],
        always_uv_default: true,
        ..Config::default()
    });
    let info = p.info();
    let o = info.options.unwrap();
    assert!(o["plat"] && o["alwaysUv"] && !o["makeCredUvNotRqd"]);
    assert_eq!(info.transports, Some(vec!["internal".to_owned()]));
}

#[test]
fn reset_window_is_ten_seconds_after_power_up() {
    let mut h = Harness::new();
    make(&mut h, mc("a.example", 1, true));
    h.set_pin(PIN);
    h.clock.advance(10_100);
    assert_eq!(h.status(&Request::Reset), StatusCode::NotAllowed);
    assert_eq!(h.auth.store().credentials().len(), 1);
    h.auth.power_cycle();
    h.clock.advance(9_900);
    h.user.deny_next(PresenceDenied::Denied);
    assert_eq!(h.status(&Request::Reset), StatusCode::OperationDenied);
    assert_eq!(h.auth.store().credentials().len(), 1);
    assert_eq!(h.status(&Request::Reset), StatusCode::Ok);
    assert!(h.auth.store().credentials().is_empty());
    let info = h.info();
    assert!(!info.options.unwrap()["clientPin"]);
    // The PIN is gone with the rest: nothing to retry.
    assert_eq!(h.pin_retries_status(), Err(StatusCode::PinNotSet));
}

#[test]
fn selection_asks_for_presence() {
    let mut h = Harness::new();
    assert_eq!(h.status(&Request::Selection), StatusCode::Ok);
    assert_eq!(h.user.prompts(), 1);
    h.user.deny_next(PresenceDenied::Timeout);
    assert_eq!(h.status(&Request::Selection), StatusCode::UserActionTimeout);
}

fn register(h: &mut Harness, app: [u8; 32]) -> RegisterResponse {
    let mut apdu = vec![0x00, 0x01, 0x00, 0x00, 0x40];
    apdu.extend_from_slice(&[0xcc; 32]);
    apdu.extend_from_slice(&app);
    let out = h.auth.handle_u2f(&apdu);
    assert_eq!(&out[out.len() - 2..], &[0x90, 0x00]);
    RegisterResponse::parse(&out[..out.len() - 2]).unwrap()
}

fn authenticate(h: &mut Harness, control: u8, app: [u8; 32], kh: &[u8]) -> Vec<u8> {
    let mut apdu = vec![0x00, 0x02, control, 0x00, (65 + kh.len()) as u8];
    apdu.extend_from_slice(&[0xdd; 32]);
    apdu.extend_from_slice(&app);
    apdu.push(kh.len() as u8);
    apdu.extend_from_slice(kh);
    h.auth.handle_u2f(&apdu)
}

#[test]
fn u2f_register_authenticate_and_check_only() {
    let mut h = Harness::new();
    assert_eq!(
        h.auth.handle_u2f(&[0x00, 0x03, 0x00, 0x00, 0x00]),
        b"U2F_V2\x90\x00".to_vec()
    );
    let app = sha256(b"https://u2f.example");
    let reg = register(&mut h, app);
    // The attestation certificate is made once and reused; its key signs registrations.
    let reg2 = register(&mut h, app);
    assert_eq!(reg.certificate, reg2.certificate);
    assert_ne!(reg.key_handle, reg2.key_handle);
    let kh = reg.key_handle.as_bytes().to_vec();

    assert_eq!(authenticate(&mut h, 0x07, app, &kh), vec![0x69, 0x85]);
    assert_eq!(
        authenticate(&mut h, 0x07, sha256(b"other"), &kh),
        vec![0x6a, 0x80]
    );
    assert_eq!(authenticate(&mut h, 0x07, app, &[1; 64]), vec![0x6a, 0x80]);
    for (n, control, up) in [(1u32, 0x03u8, 1u8), (2, 0x08, 0)] {
        let out = authenticate(&mut h, control, app, &kh);
        assert_eq!(&out[out.len() - 2..], &[0x90, 0x00]);
        let r = AuthenticateResponse::parse(&out[..out.len() - 2]).unwrap();
        assert_eq!((r.counter, r.user_presence), (n, up));
        let msg = latchkey_ctap::u2f::authenticate_signed_data(&app, up, n, &[0xdd; 32]);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, reg.public_key)
            .verify(&msg, &r.signature)
            .unwrap();
    }
    h.user.deny_next(PresenceDenied::Denied);
    assert_eq!(authenticate(&mut h, 0x03, app, &kh), vec![0x69, 0x85]);
    // Bad APDUs.
    assert_eq!(
        h.auth.handle_u2f(&[0x80, 0x03, 0x00, 0x00, 0x00]),
        vec![0x6e, 0x00]
    );
    assert_eq!(
        h.auth.handle_u2f(&[0x00, 0x09, 0x00, 0x00, 0x00]),
        vec![0x6d, 0x00]
    );
    assert_eq!(h.auth.handle_u2f(&[0x00]), vec![0x67, 0x00]);

    // The U2F credential works from CTAP2 getAssertion with the app ID as rpId.
    let app_id = "https://u2f.example";
    let g: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(ga(app_id, &[&kh])));
    let ad = latchkey_ctap::authdata::AuthenticatorData::parse(&g.auth_data).unwrap();
    assert_eq!(ad.rp_id_hash, app);
    assert_eq!(ad.sign_count, 3);
    let mut msg = g.auth_data.clone();
    msg.extend_from_slice(&cdh("ga").0);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, reg.public_key)
        .verify(&msg, &g.signature)
        .unwrap();
}

#[test]
fn u2f_attestation_certificate_verifies_registrations() {
    let mut h = Harness::new();
    let app = sha256(b"app");
    let reg = register(&mut h, app);
    // The subject public key is the last 65 bytes of the SubjectPublicKeyInfo, which ends the
    // TBSCertificate; find it by the SPKI's fixed prefix.
    let prefix = [0x03, 0x42, 0x00, 0x04];
    let pos = reg
        .certificate
        .windows(4)
        .position(|w| w == prefix)
        .unwrap();
    let att_key = &reg.certificate[pos + 3..pos + 3 + 65];
    let msg = latchkey_ctap::u2f::register_signed_data(
        &app,
        &[0xcc; 32],
        &reg.key_handle,
        &reg.public_key,
    );
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, att_key)
        .verify(&msg, &reg.signature)
        .unwrap();
}

#[test]
fn ctap2_credentials_are_usable_over_u2f_unless_uv_required() {
    let mut h = Harness::new();
    let id = make(&mut h, mc("a.example", 1, false));
    let out = authenticate(&mut h, 0x07, sha256(b"a.example"), &id);
    assert_eq!(out, vec![0x69, 0x85]);
}

/// Feeds arbitrary bytes to both entry points; nothing panics and a failed command changes no
/// credential.
#[test]
fn arbitrary_input_never_panics_and_errors_leave_state_intact() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    let id = make(&mut h, mc("a.example", 1, false));
    let before = h.auth.store().credentials().to_vec();
    // Past the reset window: a random 0x07 must not wipe the store.
    h.clock.advance(11_000);
    let mut rng = SeededRng::new(1234);
    let valid = [
        Request::MakeCredential(mc("a.example", 2, false)).encode(),
        Request::GetAssertion(ga("a.example", &[&id])).encode(),
        Request::GetInfo.encode(),
    ];
    for i in 0..3000 {
        let mut msg = if i % 3 == 0 {
            let mut len = [0u8; 2];
            rng.fill(&mut len);
            let mut m = vec![0u8; usize::from(u16::from_le_bytes(len)) % 300];
            rng.fill(&mut m);
            m
        } else {
            valid[i % valid.len()].clone()
        };
        if !msg.is_empty() && i % 3 != 0 {
            // Flip a few bytes of a valid message.
            let mut pos = [0u8; 4];
            rng.fill(&mut pos);
            let p = usize::from(u16::from_le_bytes([pos[0], pos[1]])) % msg.len();
            msg[p] ^= pos[2] | 1;
            if i % 2 == 0 {
                msg.truncate(p.max(1));
            }
        }
        let creds_before = h.auth.store().credentials().to_vec();
        let state_before = h.auth.store_mut().load_state().unwrap();
        let out = h.auth.handle_cbor(&msg);
        assert!(!out.is_empty());
        if out[0] != 0 {
            assert_eq!(out.len(), 1, "errors are a status byte alone");
            assert_eq!(
                h.auth.store().credentials(),
                creds_before.as_slice(),
                "{msg:02x?}"
            );
            assert_eq!(
                h.auth.store_mut().load_state().unwrap(),
                state_before,
                "{msg:02x?}"
            );
        }
        let _ = h.auth.handle_u2f(&msg);
    }
    // Whatever succeeded may have added credentials or bumped counters, but the original
    // credential is still there with its key.
    let after = h.auth.store().credentials();
    assert!(after
        .iter()
        .any(|c| c.id == before[0].id && c.key == before[0].key));
    assert_eq!(h.raw(&[]).0, StatusCode::InvalidLength);
    assert_eq!(h.raw(&[0x99]).0, StatusCode::InvalidCommand);
    assert_eq!(h.raw(&[0x01, 0xff]).0, StatusCode::InvalidCbor);
    assert_eq!(h.raw(&vec![0x04; 8000]).0, StatusCode::InvalidLength);
}
