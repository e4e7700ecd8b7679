#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Built-in user verification (an emulated fingerprint reader): getInfo's `uv`,
//! getPinUvAuthTokenUsingUvWithPermissions and getUVRetries (CTAP 2.1 §6.5.5.7.3, §6.5.5.3),
//! the uvRetries counter (§6.5.2.2), and `uv: true` in makeCredential / getAssertion (§6.1.2
//! step 11.2, §6.2.2 step 6.2).

mod common;

use common::*;
use latchkey_authenticator::env::{PresenceDenied, UvMatch};
use latchkey_authenticator::{BuiltInUv, Config};
use latchkey_ctap::command::{self as cmd, Request};
use latchkey_ctap::pin::{self, PinUvAuthProtocol};
use latchkey_ctap::StatusCode;

const MC: u64 = 0x01;
const GA: u64 = 0x02;
const BE: u64 = 0x08;
const ACFG: u64 = 0x20;

fn harness(uv: BuiltInUv, preferred: u8) -> Harness {
    Harness::with_config(Config {
        built_in_uv: uv,
        max_uv_retries: 3,
        preferred_platform_uv_attempts: preferred,
        ..Config::default()
    })
}

/// getPinUvAuthTokenUsingUvWithPermissions: the decrypted token, or the status.
fn uv_token(h: &mut Harness, permissions: u64, rp_id: Option<&str>) -> Result<Vec<u8>, StatusCode> {
    let (key_agreement, shared) = h.shared_secret(PinUvAuthProtocol::Two);
    let req = Request::ClientPin(
        cmd::ClientPinRequest::GetPinUvAuthTokenUsingUvWithPermissions {
            protocol: PinUvAuthProtocol::Two,
            key_agreement,
            permissions: pin::Permissions(permissions),
            rp_id: rp_id.map(str::to_owned),
        },
    );
    let out = h.auth.handle_cbor(&req.encode());
    match cmd::decode_response::<cmd::ClientPinResponse>(&out) {
        Ok(r) => Ok(shared
            .decrypt(&r.pin_uv_auth_token.unwrap())
            .unwrap()
            .to_vec()),
        Err(latchkey_ctap::ResponseError::Status(s)) => Err(s),
        Err(e) => panic!("{e}"),
    }
}

fn uv_retries(h: &mut Harness) -> u64 {
    let r: cmd::ClientPinResponse = h.ok(&Request::ClientPin(cmd::ClientPinRequest::GetUvRetries));
    r.uv_retries.unwrap()
}

#[test]
fn get_info_reports_the_reader_enrolled_or_not_and_nothing_without_one() {
    let mut h = harness(BuiltInUv::Configured, 3);
    let info = h.info();
    assert_eq!(info.option("uv"), Some(true));
    assert_eq!(info.option("pinUvAuthToken"), Some(true));
    assert_eq!(info.option("bioEnroll"), None);
    assert_eq!(info.option("uvBioEnroll"), None);
    assert_eq!(info.preferred_platform_uv_attempts, Some(3));
    assert_eq!(info.uv_modality, Some(0x02));
    let mut h = harness(BuiltInUv::NotConfigured, 3);
    assert_eq!(h.info().option("uv"), Some(false));
    let mut h = Harness::new();
    let info = h.info();
    assert_eq!(info.option("uv"), None);
    assert_eq!(info.uv_modality, None);
    assert_eq!(info.preferred_platform_uv_attempts, None);
    // Without a reader the UV subcommands do not exist.
    assert_eq!(
        uv_token(&mut h, GA, Some("a.example")),
        Err(StatusCode::InvalidSubcommand)
    );
    assert_eq!(
        h.status(&Request::ClientPin(cmd::ClientPinRequest::GetUvRetries)),
        StatusCode::InvalidSubcommand
    );
}

#[test]
fn a_matching_finger_gives_a_token_that_signs_in_without_another_touch() {
    let mut h = harness(BuiltInUv::Configured, 3);
    let mut r = mc("a.example", 1, true);
    r.options.uv = Some(true);
    h.user.fingers(&[Ok(UvMatch::Matched)]);
    let made: cmd::MakeCredentialResponse = h.ok(&Request::MakeCredential(r));
    assert_eq!(made.auth_data[32] & 0x05, 0x05, "UP and UV");
    assert_eq!(h.user.prompts(), 0, "the finger was the touch");
    h.user.fingers(&[Ok(UvMatch::Matched)]);
    let token = uv_token(&mut h, GA, Some("a.example")).unwrap();
    assert_eq!(h.user.uv_prompts(), 2);
    let got: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(with_token_ga(
        ga("a.example", &[]),
        &token,
    )));
    assert_eq!(got.auth_data[32] & 0x05, 0x05);
    assert_eq!(
        h.user.prompts(),
        0,
        "the token carries the finger's presence"
    );
    // The token is bound to its RP ID and permission.
    h.user.fingers(&[Ok(UvMatch::Matched)]);
    let token = uv_token(&mut h, GA, Some("a.example")).unwrap();
    let wrong = h.status(&Request::GetAssertion(with_token_ga(
        ga("b.example", &[]),
        &token,
    )));
    assert_eq!(wrong, StatusCode::PinAuthInvalid);
}

#[test]
fn failed_fingers_cost_retries_until_uv_blocks_and_a_right_pin_restores_them() {
    // preferredPlatformUvAttempts 3: one attempt per call (no internal retry).
    let mut h = harness(BuiltInUv::Configured, 3);
    h.set_pin(PIN);
    assert_eq!(uv_retries(&mut h), 3);
    assert_eq!(
        uv_token(&mut h, GA, Some("a.example")),
        Err(StatusCode::UvInvalid)
    );
    assert_eq!(uv_retries(&mut h), 2);
    assert_eq!(
        uv_token(&mut h, GA, Some("a.example")),
        Err(StatusCode::UvInvalid)
    );
    assert_eq!(
        uv_token(&mut h, GA, Some("a.example")),
        Err(StatusCode::UvBlocked)
    );
    assert_eq!(uv_retries(&mut h), 0);
    assert_eq!(h.user.uv_prompts(), 3);
    // Blocked: no more attempts are even made.
    h.user.fingers(&[Ok(UvMatch::Matched)]);
    assert_eq!(
        uv_token(&mut h, GA, Some("a.example")),
        Err(StatusCode::UvBlocked)
    );
    assert_eq!(h.user.uv_prompts(), 3);
    // A power cycle does not restore them; a right PIN does.
    h.auth.power_cycle();
    assert_eq!(uv_retries(&mut h), 0);
    h.token(GA, Some("a.example"));
    assert_eq!(uv_retries(&mut h), 3);
    assert!(uv_token(&mut h, GA, Some("a.example")).is_ok());
}

#[test]
fn a_match_restores_the_retries_and_one_call_may_retry_internally() {
    // preferredPlatformUvAttempts 1: the authenticator retries within one call.
    let mut h = harness(BuiltInUv::Configured, 1);
    h.user.fingers(&[
        Ok(UvMatch::NoMatch),
        Ok(UvMatch::NoMatch),
        Ok(UvMatch::Matched),
    ]);
    assert!(uv_token(&mut h, MC, Some("a.example")).is_ok());
    assert_eq!(h.user.uv_prompts(), 3);
    assert_eq!(uv_retries(&mut h), 3, "a match restores uvRetries");
    // A timeout is nobody trying: it costs nothing.
    h.user.fingers(&[Err(PresenceDenied::Timeout)]);
    assert_eq!(
        uv_token(&mut h, MC, Some("a.example")),
        Err(StatusCode::UserActionTimeout)
    );
    assert_eq!(uv_retries(&mut h), 3);
}

#[test]
fn token_requests_are_checked_before_any_finger_is_asked_for() {
    let mut h = harness(BuiltInUv::Configured, 3);
    assert_eq!(uv_token(&mut h, 0, None), Err(StatusCode::InvalidParameter));
    assert_eq!(
        uv_token(&mut h, BE, None),
        Err(StatusCode::UnauthorizedPermission)
    );
    assert_eq!(
        uv_token(&mut h, ACFG, None),
        Err(StatusCode::UnauthorizedPermission)
    );
    assert_eq!(h.user.uv_prompts(), 0);
    // A reader nobody enrolled in.
    let mut h = harness(BuiltInUv::NotConfigured, 3);
    assert_eq!(
        uv_token(&mut h, GA, Some("a.example")),
        Err(StatusCode::NotAllowed)
    );
    let mut r = mc("a.example", 1, false);
    r.options.uv = Some(true);
    assert_eq!(
        h.status(&Request::MakeCredential(r)),
        StatusCode::InvalidOption
    );
    assert_eq!(h.user.uv_prompts(), 0);
}

#[test]
fn uv_true_in_a_ceremony_fails_as_ctap21_says() {
    // No PIN: a failed finger is OPERATION_DENIED, and PIN_BLOCKED once the retries are spent.
    let mut h = harness(BuiltInUv::Configured, 3);
    let mut r = mc("a.example", 1, false);
    r.options.uv = Some(true);
    assert_eq!(
        h.status(&Request::MakeCredential(r.clone())),
        StatusCode::PinBlocked
    );
    assert_eq!(
        h.user.uv_prompts(),
        3,
        "internal retries until none are left"
    );
    // Fewer failures than retries: OPERATION_DENIED.
    let mut h = Harness::with_config(Config {
        built_in_uv: BuiltInUv::Configured,
        max_uv_retries: 5,
        ..Config::default()
    });
    assert_eq!(
        h.status(&Request::MakeCredential(r.clone())),
        StatusCode::OperationDenied
    );
    assert_eq!(h.auth.uv_retries(), 2);
    // With a PIN set, the PIN takes over: PUAT_REQUIRED.
    let mut h = Harness::with_config(Config {
        built_in_uv: BuiltInUv::Configured,
        max_uv_retries: 5,
        ..Config::default()
    });
    h.set_pin(PIN);
    assert_eq!(
        h.status(&Request::MakeCredential(r.clone())),
        StatusCode::PuatRequired
    );
    assert_eq!(
        h.user.uv_prompts(),
        3,
        "at most three attempts inside one request"
    );
    // A discoverable credential on a key protected by a finger needs UV.
    let mut h = harness(BuiltInUv::Configured, 3);
    assert_eq!(
        h.status(&Request::MakeCredential(mc("a.example", 1, true))),
        StatusCode::OperationDenied
    );
    // getAssertion with uv: true.
    h.user.fingers(&[Ok(UvMatch::Matched)]);
    let mut r = mc("a.example", 1, true);
    r.options.uv = Some(true);
    let _: cmd::MakeCredentialResponse = h.ok(&Request::MakeCredential(r));
    let mut g = ga("a.example", &[]);
    g.options.uv = Some(true);
    h.user
        .fingers(&[Ok(UvMatch::NoMatch), Ok(UvMatch::Matched)]);
    let got: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(g.clone()));
    assert_eq!(got.auth_data[32] & 0x05, 0x05);
    assert_eq!(
        got.user.unwrap().name.as_deref(),
        Some("user1"),
        "UV shows the account"
    );
    h.user.fingers(&[Err(PresenceDenied::Cancelled)]);
    assert_eq!(
        h.status(&Request::GetAssertion(g)),
        StatusCode::KeepaliveCancel
    );
}
