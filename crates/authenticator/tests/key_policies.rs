#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! What shipped keys answer where CTAP leaves room, and the policies a key can announce:
//! getPINRetries without a PIN, the getInfo extension order, the superseded getPinToken,
//! forcePINChange, noMcGaPermissionsWithClientPin, makeCredUvNotRqd, and a CTAP 2.0 key.

mod common;

use common::*;
use latchkey_authenticator::env::UvMatch;
use latchkey_authenticator::{BuiltInUv, Config};
use latchkey_ctap::cbor::MapBuilder;
use latchkey_ctap::command::{self as cmd, Request};
use latchkey_ctap::pin::{self, PinUvAuthProtocol};
use latchkey_ctap::StatusCode;

/// Signs a makeCredential with a protocol-1 token, as a CTAP 2.0 client does.
fn mc_v1(mut r: cmd::MakeCredentialRequest, token: &[u8]) -> Request {
    r.pin_uv_auth_param = Some(pin::authenticate(
        PinUvAuthProtocol::One,
        token,
        &r.client_data_hash.0,
    ));
    r.pin_uv_auth_protocol = Some(PinUvAuthProtocol::One);
    Request::MakeCredential(r)
}

fn ga_v1(mut r: cmd::GetAssertionRequest, token: &[u8]) -> Request {
    r.pin_uv_auth_param = Some(pin::authenticate(
        PinUvAuthProtocol::One,
        token,
        &r.client_data_hash.0,
    ));
    r.pin_uv_auth_protocol = Some(PinUvAuthProtocol::One);
    Request::GetAssertion(r)
}

fn uv_token(h: &mut Harness, permissions: u64, rp_id: &str) -> Result<Vec<u8>, StatusCode> {
    let (key_agreement, shared) = h.shared_secret(PinUvAuthProtocol::Two);
    let req = Request::ClientPin(
        cmd::ClientPinRequest::GetPinUvAuthTokenUsingUvWithPermissions {
            protocol: PinUvAuthProtocol::Two,
            key_agreement,
            permissions: pin::Permissions(permissions),
            rp_id: Some(rp_id.to_owned()),
        },
    );
    match cmd::decode_response::<cmd::ClientPinResponse>(&h.auth.handle_cbor(&req.encode())) {
        Ok(r) => Ok(shared
            .decrypt(&r.pin_uv_auth_token.unwrap())
            .unwrap()
            .to_vec()),
        Err(latchkey_ctap::ResponseError::Status(s)) => Err(s),
        Err(e) => panic!("{e}"),
    }
}

/// authenticatorConfig setMinPINLength with forceChangePin, under an acfg token.
fn force_pin_change(h: &mut Harness) {
    let token = h.token(ACFG, None);
    let params = latchkey_ctap::cbor::encode(&MapBuilder::new().insert(0x03, true).build());
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
}

#[test]
fn get_pin_retries_without_a_pin_is_pin_not_set() {
    let mut h = Harness::new();
    assert_eq!(h.pin_retries_status(), Err(StatusCode::PinNotSet));
    h.set_pin(PIN);
    assert_eq!(h.pin_retries_status(), Ok((8, false)));
}

#[test]
fn get_info_lists_extensions_in_canonical_order() {
    let mut h = Harness::new();
    let (status, body) = h.send(&Request::GetInfo);
    assert_eq!(status, StatusCode::Ok);
    let info: cmd::GetInfoResponse =
        latchkey_ctap::cbor::FromValue::from_value(latchkey_ctap::cbor::decode(&body).unwrap(), "")
            .unwrap();
    // Shorter first, then bytewise: as the bytes on the wire say.
    assert_eq!(
        info.extensions.unwrap(),
        [
            "credBlob",
            "credProtect",
            "hmac-secret",
            "largeBlobKey",
            "minPinLength",
            "hmac-secret-mc",
            "thirdPartyPayment"
        ]
    );
    let at = |needle: &[u8]| {
        body.windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    };
    assert!(at(b"minPinLength") < at(b"hmac-secret-mc"));
}

#[test]
fn a_legacy_pin_token_carries_mc_and_ga_once_each_as_ctap_2_2_says() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    // A CTAP 2.0 client: getPinToken on protocol 1, the token over clientDataHash.
    let token = h.legacy_token(PinUvAuthProtocol::One, PIN).unwrap();
    assert_eq!(token.len(), 32);
    let resp: cmd::MakeCredentialResponse = h.ok(&mc_v1(mc("a.example", 1, true), &token));
    let ad = latchkey_ctap::authdata::AuthenticatorData::parse(&resp.auth_data).unwrap();
    assert_eq!(ad.flags.0 & 0x05, 0x05, "UP and UV");
    // The use spent mc and ga (CTAP 2.2 §6.1.2 step 14.4) and bound the token to the RP.
    assert_eq!(
        h.status(&mc_v1(mc("a.example", 2, true), &token)),
        StatusCode::PinAuthInvalid
    );
    assert_eq!(
        h.status(&ga_v1(ga("a.example", &[]), &token)),
        StatusCode::PinAuthInvalid
    );
    // A fresh token, used for an assertion first, works for ga.
    let token = h.legacy_token(PinUvAuthProtocol::One, PIN).unwrap();
    let a: cmd::GetAssertionResponse = h.ok(&ga_v1(ga("a.example", &[]), &token));
    let ad = latchkey_ctap::authdata::AuthenticatorData::parse(&a.auth_data).unwrap();
    assert_eq!(ad.flags.0 & 0x05, 0x05);
    // getPinToken takes neither permissions nor an RP ID (§6.5.5.7.1 steps 3, 4) and gives no
    // cm: a legacy token cannot manage credentials.
    let token = h.legacy_token(PinUvAuthProtocol::Two, PIN).unwrap();
    let cm = cmd::CredentialManagementRequest {
        subcommand: cmd::CredentialManagementSubcommand::GetCredsMetadata,
        pin_uv_auth_protocol: Some(PinUvAuthProtocol::Two),
        pin_uv_auth_param: Some(pin::authenticate(PinUvAuthProtocol::Two, &token, &[0x01])),
        received_params: None,
    };
    assert_eq!(
        h.status(&Request::CredentialManagement(cm)),
        StatusCode::PinAuthInvalid
    );
}

#[test]
fn force_pin_change_refuses_tokens_with_the_answer_ctap_2_2_gives_each_subcommand() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    force_pin_change(&mut h);
    // §6.5.5.7.1 step 11: getPinToken answers PIN_INVALID, after restoring the retries.
    assert_eq!(
        h.legacy_token(PinUvAuthProtocol::Two, PIN),
        Err(StatusCode::PinInvalid)
    );
    assert_eq!(h.pin_retries(), (8, false));
    // A wrong PIN still costs a retry.
    assert_eq!(
        h.legacy_token(PinUvAuthProtocol::Two, b"0000"),
        Err(StatusCode::PinInvalid)
    );
    assert_eq!(h.pin_retries(), (7, false));
    // §6.5.5.7.2 step 11: with permissions, PIN_POLICY_VIOLATION.
    assert_eq!(
        h.token_with(PinUvAuthProtocol::Two, PIN, MC, Some("a.example")),
        Err(StatusCode::PinPolicyViolation)
    );
    assert_eq!(h.pin_retries(), (8, false));
}

/// With a PIN change forced, a right PIN restores the retries but gets no token, and leaves the
/// store as locked as it found it: what a PIN unlocks lasts only as long as a token in use.
#[test]
fn a_right_pin_refused_a_token_leaves_the_store_locked() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    force_pin_change(&mut h);
    // The power cycle ends the acfg token force_pin_change used, and locks the store.
    h.auth.power_cycle();
    assert!(!h.auth.store().is_unlocked());
    assert_eq!(
        h.token_with(PinUvAuthProtocol::Two, PIN, MC, Some("a.example")),
        Err(StatusCode::PinPolicyViolation)
    );
    assert!(!h.auth.store().is_unlocked());
    assert_eq!(
        h.legacy_token(PinUvAuthProtocol::Two, PIN),
        Err(StatusCode::PinInvalid)
    );
    assert!(!h.auth.store().is_unlocked());
    assert_eq!(h.pin_retries(), (8, false));
}

fn no_mc_ga(built_in_uv: BuiltInUv) -> Harness {
    Harness::with_config(Config {
        no_mc_ga_permissions_with_client_pin: true,
        built_in_uv,
        ..Config::default()
    })
}

#[test]
fn no_mc_ga_permissions_with_client_pin_keeps_mc_and_ga_for_built_in_uv() {
    let mut h = no_mc_ga(BuiltInUv::Configured);
    assert_eq!(
        h.info().option("noMcGaPermissionsWithClientPin"),
        Some(true)
    );
    assert_eq!(
        Harness::new()
            .info()
            .option("noMcGaPermissionsWithClientPin"),
        None
    );
    h.set_pin(PIN);
    // §6.5.5.7.2 step 4: mc or ga from the PIN is an unauthorized permission; others are not.
    for permissions in [MC, GA, MC | GA, GA | CM] {
        assert_eq!(
            h.token_with(PinUvAuthProtocol::Two, PIN, permissions, Some("a.example")),
            Err(StatusCode::UnauthorizedPermission),
            "{permissions:#x}"
        );
    }
    assert_eq!(
        h.pin_retries(),
        (8, false),
        "refused before the PIN is checked"
    );
    h.token(CM, None);
    // getPinToken issues a token without the default permissions (§6.5.5.7.1 step 14).
    let token = h.legacy_token(PinUvAuthProtocol::Two, PIN).unwrap();
    assert_eq!(
        h.status(&Request::MakeCredential(with_token_mc(
            mc("a.example", 1, true),
            &token
        ))),
        StatusCode::PinAuthInvalid
    );
    // Without UV, a discoverable credential is OPERATION_DENIED rather than PUAT_REQUIRED:
    // a PIN token could not help (§6.1.2 step 7).
    assert_eq!(
        h.status(&Request::MakeCredential(mc("a.example", 1, true))),
        StatusCode::OperationDenied
    );
    // Built-in UV gives mc and ga.
    h.user.fingers(&[Ok(UvMatch::Matched)]);
    let token = uv_token(&mut h, MC, "a.example").unwrap();
    let id = make(&mut h, with_token_mc(mc("a.example", 1, true), &token));
    h.user.fingers(&[Ok(UvMatch::Matched)]);
    let token = uv_token(&mut h, GA, "a.example").unwrap();
    let a: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(with_token_ga(
        ga("a.example", &[&id]),
        &token,
    )));
    assert_eq!(a.credential.unwrap().id, id);
}

#[test]
fn no_mc_ga_with_always_uv_denies_rather_than_asking_for_a_token() {
    let mut h = Harness::with_config(Config {
        no_mc_ga_permissions_with_client_pin: true,
        built_in_uv: BuiltInUv::Configured,
        always_uv_default: true,
        ..Config::default()
    });
    assert_eq!(
        h.status(&Request::MakeCredential(mc("a.example", 1, false))),
        StatusCode::OperationDenied
    );
    assert_eq!(
        h.status(&Request::GetAssertion(ga("a.example", &[]))),
        StatusCode::OperationDenied
    );
    // The same key without the option asks for a token.
    let mut h = Harness::with_config(Config {
        built_in_uv: BuiltInUv::Configured,
        always_uv_default: true,
        ..Config::default()
    });
    assert_eq!(
        h.status(&Request::MakeCredential(mc("a.example", 1, false))),
        StatusCode::PuatRequired
    );
}

#[test]
fn without_make_cred_uv_not_rqd_every_credential_needs_uv_once_protected() {
    let mut h = Harness::with_config(Config {
        make_cred_uv_not_rqd: false,
        ..Config::default()
    });
    assert_eq!(h.info().option("makeCredUvNotRqd"), Some(false));
    // Not protected yet: no UV needed.
    make(&mut h, mc("a.example", 1, false));
    h.set_pin(PIN);
    // §6.1.2 step 8: a non-discoverable credential too.
    assert_eq!(
        h.status(&Request::MakeCredential(mc("a.example", 2, false))),
        StatusCode::PuatRequired
    );
    let token = h.token(MC, Some("a.example"));
    make(&mut h, with_token_mc(mc("a.example", 2, false), &token));
    // The default key makes one without UV (step 7 only covers discoverable credentials).
    let mut h = Harness::new();
    assert_eq!(h.info().option("makeCredUvNotRqd"), Some(true));
    h.set_pin(PIN);
    make(&mut h, mc("a.example", 2, false));
    assert_eq!(
        h.status(&Request::MakeCredential(mc("a.example", 3, true))),
        StatusCode::PuatRequired
    );
}

#[test]
fn a_ctap_2_0_key_announces_and_answers_only_ctap_2_0() {
    let mut h = Harness::with_config(Config {
        ctap20: true,
        ..Config::default()
    });
    let info = h.info();
    assert_eq!(info.versions, ["U2F_V2", "FIDO_2_0"]);
    assert_eq!(info.extensions.unwrap(), ["hmac-secret"]);
    let options = info.options.unwrap();
    assert_eq!(
        options.keys().map(String::as_str).collect::<Vec<_>>(),
        ["clientPin", "plat", "rk", "up"]
    );
    assert_eq!(info.pin_uv_auth_protocols, Some(vec![1]));
    assert_eq!(info.max_msg_size, Some(7609));
    assert_eq!(info.max_credential_count_in_list, None);
    assert_eq!(info.min_pin_length, None);
    assert_eq!(info.force_pin_change, None);
    // CTAP 2.1 commands and subcommands are unknown, protocol 2 is not spoken.
    assert_eq!(h.status(&Request::Selection), StatusCode::InvalidCommand);
    assert_eq!(
        h.status(&Request::ClientPin(
            cmd::ClientPinRequest::GetKeyAgreement {
                protocol: PinUvAuthProtocol::Two
            }
        )),
        StatusCode::InvalidParameter
    );
    assert_eq!(
        h.status(&Request::ClientPin(cmd::ClientPinRequest::GetUvRetries)),
        StatusCode::InvalidSubcommand
    );
    let req = h.set_pin_request(PinUvAuthProtocol::One, PIN);
    assert_eq!(h.status(&req), StatusCode::Ok);
    assert_eq!(
        h.token_with(PinUvAuthProtocol::One, PIN, MC, Some("a.example")),
        Err(StatusCode::InvalidSubcommand)
    );
    // getPinToken and a protocol-1 pinAuth: what a CTAP 2.0 client does.
    let token = h.legacy_token(PinUvAuthProtocol::One, PIN).unwrap();
    let id = {
        let r: cmd::MakeCredentialResponse = h.ok(&mc_v1(mc("a.example", 1, false), &token));
        latchkey_ctap::authdata::AuthenticatorData::parse(&r.auth_data)
            .unwrap()
            .attested_credential_data
            .unwrap()
            .credential_id
    };
    let token = h.legacy_token(PinUvAuthProtocol::One, PIN).unwrap();
    let a: cmd::GetAssertionResponse = h.ok(&ga_v1(ga("a.example", &[&id]), &token));
    assert_eq!(a.credential.unwrap().id, id);
    assert_eq!(
        h.status(&Request::MakeCredential(with_token_mc(
            mc("a.example", 2, false),
            &token
        ))),
        StatusCode::InvalidParameter,
        "protocol 2 in a ceremony"
    );
}
