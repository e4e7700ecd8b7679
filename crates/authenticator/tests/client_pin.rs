#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! authenticatorClientPIN and pinUvAuthToken use (CTAP 2.1 §6.5).

mod common;

use common::*;
use latchkey_ctap::command::{self as cmd, ClientPinRequest, Request};
use latchkey_ctap::pin::{self, PinUvAuthProtocol};
use latchkey_ctap::StatusCode;

#[test]
fn set_pin_then_tokens_on_both_protocols() {
    let mut h = Harness::new();
    assert!(!h.info().options.unwrap()["clientPin"]);
    // No PIN, no retries: what shipped keys answer.
    assert_eq!(h.pin_retries_status(), Err(StatusCode::PinNotSet));
    h.set_pin(PIN);
    assert_eq!(h.pin_retries(), (8, false));
    assert!(h.info().options.unwrap()["clientPin"]);
    assert!(
        !h.auth.store().is_unlocked(),
        "setPIN alone leaves the store locked"
    );
    for protocol in [PinUvAuthProtocol::One, PinUvAuthProtocol::Two] {
        let token = h
            .token_with(protocol, PIN, MC | GA, Some("a.example"))
            .unwrap();
        assert_eq!(token.len(), 32);
        assert!(h.auth.store().is_unlocked());
    }
    // A second setPIN is PIN_AUTH_INVALID (CTAP 2.1 §6.5.5.5).
    let req = h.set_pin_request(PinUvAuthProtocol::Two, b"5678");
    assert_eq!(h.status(&req), StatusCode::PinAuthInvalid);
}

#[test]
fn pin_policy() {
    let mut h = Harness::new();
    let req = h.set_pin_request(PinUvAuthProtocol::Two, b"123");
    assert_eq!(h.status(&req), StatusCode::PinPolicyViolation);
    // Four code points in more than four bytes is fine; three in six bytes is not.
    let req = h.set_pin_request(PinUvAuthProtocol::One, "äöü".as_bytes());
    assert_eq!(h.status(&req), StatusCode::PinPolicyViolation);
    let req = h.set_pin_request(PinUvAuthProtocol::Two, &[b'x'; 64]);
    assert_eq!(h.status(&req), StatusCode::PinPolicyViolation);
    assert!(!h.info().options.unwrap()["clientPin"]);
    let req = h.set_pin_request(PinUvAuthProtocol::One, &[b'x'; 63]);
    assert_eq!(h.status(&req), StatusCode::Ok);
}

#[test]
fn set_pin_with_a_bad_auth_param_changes_nothing() {
    let mut h = Harness::new();
    let Request::ClientPin(ClientPinRequest::SetPin {
        protocol,
        key_agreement,
        new_pin_enc,
        mut pin_uv_auth_param,
    }) = h.set_pin_request(PinUvAuthProtocol::Two, PIN)
    else {
        unreachable!()
    };
    pin_uv_auth_param[0] ^= 1;
    let req = Request::ClientPin(ClientPinRequest::SetPin {
        protocol,
        key_agreement,
        new_pin_enc,
        pin_uv_auth_param,
    });
    assert_eq!(h.status(&req), StatusCode::PinAuthInvalid);
    assert!(!h.info().options.unwrap()["clientPin"]);
}

#[test]
fn retries_lockout_sequence_exactly() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    let wrong = b"0000";
    let mut seen = Vec::new();
    for _ in 0..8 {
        let s = h
            .token_with(PinUvAuthProtocol::Two, wrong, GA, Some("a"))
            .unwrap_err();
        seen.push((s, h.pin_retries()));
        if s == StatusCode::PinAuthBlocked {
            // Further tries are refused without costing a retry, even with the right PIN.
            assert_eq!(
                h.token_with(PinUvAuthProtocol::Two, PIN, GA, Some("a")),
                Err(StatusCode::PinAuthBlocked)
            );
            h.auth.power_cycle();
        }
    }
    assert_eq!(
        seen,
        vec![
            (StatusCode::PinInvalid, (7, false)),
            (StatusCode::PinInvalid, (6, false)),
            (StatusCode::PinAuthBlocked, (5, true)),
            (StatusCode::PinInvalid, (4, false)),
            (StatusCode::PinInvalid, (3, false)),
            (StatusCode::PinAuthBlocked, (2, true)),
            (StatusCode::PinInvalid, (1, false)),
            (StatusCode::PinBlocked, (0, false)),
        ]
    );
    assert_eq!(
        h.token_with(PinUvAuthProtocol::Two, PIN, GA, Some("a")),
        Err(StatusCode::PinBlocked)
    );
    h.auth.power_cycle();
    assert_eq!(
        h.token_with(PinUvAuthProtocol::One, PIN, GA, Some("a")),
        Err(StatusCode::PinBlocked)
    );
}

#[test]
fn a_right_pin_restores_the_retries() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    assert_eq!(
        h.token_with(PinUvAuthProtocol::Two, b"9999", GA, Some("a")),
        Err(StatusCode::PinInvalid)
    );
    assert_eq!(h.pin_retries(), (7, false));
    h.token(GA, Some("a"));
    assert_eq!(h.pin_retries(), (8, false));
}

#[test]
fn a_mismatch_regenerates_the_key_agreement_key() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    let (ka, shared) = h.shared_secret(PinUvAuthProtocol::Two);
    let hash = |h: &mut Harness, p: &[u8]| shared.encrypt(&mut h.rng, &pin::pin_hash(p)).unwrap();
    let bad = hash(&mut h, b"0000");
    let good = hash(&mut h, PIN);
    let req = |e: Vec<u8>| {
        Request::ClientPin(ClientPinRequest::GetPinToken {
            protocol: PinUvAuthProtocol::Two,
            key_agreement: ka,
            pin_hash_enc: e,
        })
    };
    assert_eq!(h.status(&req(bad)), StatusCode::PinInvalid);
    // The old shared secret no longer decrypts to the right PIN hash: another mismatch.
    assert_eq!(h.status(&req(good)), StatusCode::PinInvalid);
}

/// changePIN from `old` to `new` (PIN/UV protocol one).
fn change(h: &mut Harness, old: &[u8], new: &[u8]) -> StatusCode {
    let (key_agreement, shared) = h.shared_secret(PinUvAuthProtocol::One);
    let mut padded = [0u8; 64];
    padded[..new.len()].copy_from_slice(new);
    let new_pin_enc = shared.encrypt(&mut h.rng, &padded).unwrap();
    let pin_hash_enc = shared.encrypt(&mut h.rng, &pin::pin_hash(old)).unwrap();
    let pin_uv_auth_param =
        shared.authenticate(&pin::change_pin_message(&new_pin_enc, &pin_hash_enc));
    h.status(&Request::ClientPin(ClientPinRequest::ChangePin {
        protocol: PinUvAuthProtocol::One,
        key_agreement,
        pin_hash_enc,
        new_pin_enc,
        pin_uv_auth_param,
    }))
}

#[test]
fn change_pin_and_force_pin_change() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    let token = h.token(MC | GA | ACFG, Some("a.example"));
    assert_eq!(change(&mut h, b"0000", b"5678"), StatusCode::PinInvalid);
    assert_eq!(h.pin_retries(), (7, false));
    assert_eq!(change(&mut h, PIN, b"5678"), StatusCode::Ok);
    assert_eq!(h.pin_retries(), (8, false));
    // The old token was revoked by the change.
    let r = with_token_mc(mc("a.example", 1, false), &token);
    assert_eq!(
        h.status(&Request::MakeCredential(r)),
        StatusCode::PinAuthInvalid
    );
    assert_eq!(
        h.token_with(PinUvAuthProtocol::Two, PIN, GA, Some("a")),
        Err(StatusCode::PinInvalid)
    );
    let token = h
        .token_with(PinUvAuthProtocol::Two, b"5678", ACFG, None)
        .unwrap();

    // setMinPINLength with forceChangePin: tokens are refused until the PIN changes.
    let params = latchkey_ctap::cbor::encode(
        &latchkey_ctap::cbor::MapBuilder::new()
            .insert(0x03, true)
            .build(),
    );
    let param = pin::authenticate(
        PinUvAuthProtocol::Two,
        &token,
        &pin::config_message(0x03, &params),
    );
    let req = Request::Config(cmd::ConfigRequest {
        subcommand: cmd::ConfigSubcommand::SetMinPinLength {
            new_min_pin_length: None,
            min_pin_length_rp_ids: None,
            force_change_pin: Some(true),
        },
        pin_uv_auth_protocol: Some(PinUvAuthProtocol::Two),
        pin_uv_auth_param: Some(param),
        received_params: Some(params),
    });
    assert_eq!(h.status(&req), StatusCode::Ok);
    assert_eq!(h.info().force_pin_change, Some(true));
    assert_eq!(
        h.token_with(PinUvAuthProtocol::Two, b"5678", GA, Some("a")),
        Err(StatusCode::PinPolicyViolation)
    );
    // Changing to the same PIN is refused; to another clears the flag.
    assert_eq!(
        change(&mut h, b"5678", b"5678"),
        StatusCode::PinPolicyViolation
    );
    assert_eq!(change(&mut h, b"5678", b"24680"), StatusCode::Ok);
    assert_eq!(h.info().force_pin_change, Some(false));
    h.token_with(PinUvAuthProtocol::Two, b"24680", GA, Some("a"))
        .unwrap();
}

/// A changePIN that fails after the old PIN matched (here: a new PIN below the minimum length)
/// restores the retries, as a right PIN does, and leaves the store locked: the PIN unlocked it,
/// but no token or new PIN came of it.
#[test]
fn a_failed_change_pin_leaves_the_store_locked() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    assert!(!h.auth.store().is_unlocked());
    assert_eq!(change(&mut h, PIN, b"12"), StatusCode::PinPolicyViolation);
    assert_eq!(h.pin_retries(), (8, false));
    assert!(!h.auth.store().is_unlocked());
    // A token still in use keeps what it unlocked.
    h.token(GA, Some("a.example"));
    assert!(h.auth.store().is_unlocked());
    assert_eq!(change(&mut h, PIN, b"12"), StatusCode::PinPolicyViolation);
    assert!(h.auth.store().is_unlocked());
}

#[test]
fn permission_requests_are_checked() {
    let mut h = Harness::new();
    assert_eq!(
        h.token_with(PinUvAuthProtocol::Two, PIN, GA, Some("a")),
        Err(StatusCode::PinNotSet)
    );
    h.set_pin(PIN);
    assert_eq!(
        h.token_with(PinUvAuthProtocol::Two, PIN, 0, None),
        Err(StatusCode::InvalidParameter)
    );
    assert_eq!(
        h.token_with(PinUvAuthProtocol::Two, PIN, MC, None),
        Err(StatusCode::MissingParameter)
    );
    assert_eq!(
        h.token_with(PinUvAuthProtocol::Two, PIN, 0x08, None),
        Err(StatusCode::UnauthorizedPermission)
    );
    // None of these cost a retry.
    assert_eq!(h.pin_retries(), (8, false));
    assert_eq!(
        h.status(&Request::ClientPin(ClientPinRequest::GetUvRetries)),
        StatusCode::InvalidSubcommand
    );
}

#[test]
fn token_permissions_rp_binding_and_single_use_up() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    // ga-only token cannot make credentials.
    let token = h.token(GA, Some("a.example"));
    let r = with_token_mc(mc("a.example", 1, true), &token);
    assert_eq!(
        h.status(&Request::MakeCredential(r)),
        StatusCode::PinAuthInvalid
    );
    // mc token bound to a.example cannot be used for b.example.
    let token = h.token(MC, Some("a.example"));
    let r = with_token_mc(mc("b.example", 1, true), &token);
    assert_eq!(
        h.status(&Request::MakeCredential(r)),
        StatusCode::PinAuthInvalid
    );
    // A wrong param is refused, and a right one works once: UP/UV are consumed.
    let mut bad = with_token_mc(mc("a.example", 1, true), &token);
    bad.pin_uv_auth_param.as_mut().unwrap()[0] ^= 0xff;
    assert_eq!(
        h.status(&Request::MakeCredential(bad)),
        StatusCode::PinAuthInvalid
    );
    let resp: cmd::MakeCredentialResponse = h.ok(&Request::MakeCredential(with_token_mc(
        mc("a.example", 1, true),
        &token,
    )));
    assert_eq!(resp.auth_data[32], 0x45, "UP|UV|AT");
    assert_eq!(
        h.status(&Request::MakeCredential(with_token_mc(
            mc("a.example", 2, true),
            &token
        ))),
        StatusCode::PinAuthInvalid
    );
    // Without a token, a PIN-protected authenticator wants one for discoverable credentials
    // only (makeCredUvNotRqd).
    assert_eq!(
        h.status(&Request::MakeCredential(mc("a.example", 3, true))),
        StatusCode::PuatRequired
    );
    make(&mut h, mc("a.example", 3, false));
}

#[test]
fn unbound_token_binds_to_the_first_rp() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    let id = make(&mut h, mc("a.example", 1, false));
    // getPinToken (legacy) gives mc|ga with no RP ID: the first use binds it.
    let (key_agreement, shared) = h.shared_secret(PinUvAuthProtocol::One);
    let pin_hash_enc = shared.encrypt(&mut h.rng, &pin::pin_hash(PIN)).unwrap();
    let r: cmd::ClientPinResponse = h.ok(&Request::ClientPin(ClientPinRequest::GetPinToken {
        protocol: PinUvAuthProtocol::One,
        key_agreement,
        pin_hash_enc,
    }));
    let token = shared.decrypt(&r.pin_uv_auth_token.unwrap()).unwrap();
    let mut g = ga("a.example", &[&id]);
    g.options.up = Some(false);
    g.pin_uv_auth_param = Some(pin::authenticate(
        PinUvAuthProtocol::One,
        &token,
        &g.client_data_hash.0,
    ));
    g.pin_uv_auth_protocol = Some(PinUvAuthProtocol::One);
    let a: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(g.clone()));
    assert_eq!(a.auth_data[32], 0x04, "UV without UP");
    let mut other = g.clone();
    other.rp_id = "b.example".into();
    assert_eq!(
        h.status(&Request::GetAssertion(other)),
        StatusCode::PinAuthInvalid
    );
    // up=false did not consume the token.
    let _: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(g));
}

#[test]
fn token_expires_with_the_clock_and_locks_the_store() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    let id = make(&mut h, mc("a.example", 1, false));
    let token = h.token(GA, Some("a.example"));
    assert!(h.auth.store().is_unlocked());
    h.clock.advance(30_001);
    let mut g = with_token_ga(ga("a.example", &[&id]), &token);
    g.options.up = Some(false);
    assert_eq!(
        h.status(&Request::GetAssertion(g.clone())),
        StatusCode::PinAuthInvalid
    );
    assert!(!h.auth.store().is_unlocked());

    // Used within 30 s, it lasts up to 10 minutes.
    let token = h.token(GA, Some("a.example"));
    let g = {
        let mut g = with_token_ga(ga("a.example", &[&id]), &token);
        g.options.up = Some(false);
        g
    };
    h.clock.advance(29_000);
    let _: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(g.clone()));
    h.clock.advance(500_000);
    let _: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(g.clone()));
    h.clock.advance(71_000);
    assert_eq!(
        h.status(&Request::GetAssertion(g)),
        StatusCode::PinAuthInvalid
    );
}

#[test]
fn power_cycle_revokes_tokens() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    let id = make(&mut h, mc("a.example", 1, false));
    let token = h.token(GA, Some("a.example"));
    h.auth.power_cycle();
    assert!(!h.auth.store().is_unlocked());
    let mut g = with_token_ga(ga("a.example", &[&id]), &token);
    g.options.up = Some(false);
    assert_eq!(
        h.status(&Request::GetAssertion(g)),
        StatusCode::PinAuthInvalid
    );
}

#[test]
fn missing_and_bad_protocol_parameters() {
    let mut h = Harness::new();
    // getKeyAgreement without a protocol: the decoder reports it missing.
    let raw = [0x06, 0xa1, 0x02, 0x02];
    assert_eq!(h.raw(&raw).0, StatusCode::MissingParameter);
    // Protocol 3.
    let raw = [0x06, 0xa2, 0x01, 0x03, 0x02, 0x02];
    assert_eq!(h.raw(&raw).0, StatusCode::InvalidParameter);
    // Unknown subcommand.
    let raw = [0x06, 0xa2, 0x01, 0x02, 0x02, 0x0f];
    assert_eq!(h.raw(&raw).0, StatusCode::InvalidSubcommand);
}

#[test]
fn a_pin_hash_that_does_not_decrypt_counts_as_a_mismatch() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    let (key_agreement, _) = h.shared_secret(PinUvAuthProtocol::Two);
    let req = Request::ClientPin(ClientPinRequest::GetPinToken {
        protocol: PinUvAuthProtocol::Two,
        key_agreement,
        pin_hash_enc: vec![0; 20],
    });
    assert_eq!(h.status(&req), StatusCode::PinInvalid);
    assert_eq!(h.pin_retries(), (7, false));
}
