#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The client honours what a key announces in getInfo (CTAP 2.1 §6.4), against the software
//! authenticator configured to announce it and served as a CTAPHID virtual key: every request
//! the client sends is recorded, so each test also shows what the client did not send.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use latchkey_authenticator::{BuiltInUv, Config};
use latchkey_client::device::KeepaliveStatus;
use latchkey_client::{
    CancelHandle, Device, DeviceDescription, DeviceError, PinReason, ScriptedUi,
};
use latchkey_ctap::command::{ClientPinRequest, ConfigRequest, ConfigSubcommand, Request};
use latchkey_ctap::pin::{Permissions, PinUvAuthProtocol};
use serde_json::json;

/// Passes requests on and keeps a copy of each; can hide `forcePINChange` from the first
/// getInfo answers (a key whose flag was raised after the client read its getInfo).
struct Recorder {
    inner: Box<dyn Device>,
    sent: Arc<Mutex<Vec<Vec<u8>>>>,
    hide_force_pin_change: usize,
}

impl Recorder {
    fn new(inner: Box<dyn Device>) -> (Self, Arc<Mutex<Vec<Vec<u8>>>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let me = Self {
            inner,
            sent: sent.clone(),
            hide_force_pin_change: 0,
        };
        (me, sent)
    }
}

impl Device for Recorder {
    fn info(&self) -> DeviceDescription {
        self.inner.info()
    }
    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        self.sent.lock().unwrap().push(request.to_vec());
        let answer = self.inner.cbor(request, status)?;
        if request.first() == Some(&0x04) && self.hide_force_pin_change > 0 {
            self.hide_force_pin_change -= 1;
            let mut info: latchkey_ctap::command::GetInfoResponse =
                latchkey_ctap::command::decode_response(&answer).unwrap();
            info.force_pin_change = Some(false);
            let mut out = vec![0x00];
            out.extend(latchkey_ctap::cbor::encode(
                &latchkey_ctap::cbor::ToValue::to_value(&info),
            ));
            return Ok(out);
        }
        Ok(answer)
    }
    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.inner.msg(apdu)
    }
    fn cancel_handle(&self) -> CancelHandle {
        self.inner.cancel_handle()
    }
}

/// The recorded requests, decoded.
fn requests(sent: &Arc<Mutex<Vec<Vec<u8>>>>) -> Vec<Request> {
    sent.lock()
        .unwrap()
        .iter()
        .map(|r| Request::decode(r).unwrap())
        .collect()
}

fn client_pin(sent: &Arc<Mutex<Vec<Vec<u8>>>>) -> Vec<ClientPinRequest> {
    requests(sent)
        .into_iter()
        .filter_map(|r| match r {
            Request::ClientPin(p) => Some(p),
            _ => None,
        })
        .collect()
}

fn register(
    dev: &mut dyn Device,
    ui: &mut ScriptedUi,
    rk: &str,
    uv: &str,
) -> Result<latchkey_client::Registration, latchkey_webauthn::WebAuthnError> {
    let (options, _) = create_options(&random(16), rk, uv, &[], json!({}));
    latchkey_client::register(dev, &create_request(&options), ui)
}

fn sign_in(
    dev: &mut dyn Device,
    ui: &mut ScriptedUi,
    allow: &[Vec<u8>],
    uv: &str,
) -> Result<latchkey_client::Assertion, latchkey_webauthn::WebAuthnError> {
    let (options, _) = get_options(allow, uv, json!({}));
    latchkey_client::authenticate(dev, &get_request(&options), ui)
}

/// authenticatorConfig setMinPINLength, under an acfg token when a PIN is set.
fn set_min_pin_length(dev: &mut dyn Device, pin: Option<&str>, min: Option<u64>, force: bool) {
    let mut request = ConfigRequest::new(ConfigSubcommand::SetMinPinLength {
        new_min_pin_length: min,
        min_pin_length_rp_ids: None,
        force_change_pin: force.then_some(true),
    });
    if let Some(pin) = pin {
        let mut info = latchkey_client::ctap2::get_info(dev).unwrap();
        let token = latchkey_client::pinuv::obtain(
            dev,
            &mut info,
            &mut ScriptedUi::with_pins([pin]),
            latchkey_client::pinuv::TokenRequest {
                permissions: Permissions::AUTHENTICATOR_CONFIG,
                rp_id: None,
                set_if_unset: false,
            },
        )
        .unwrap();
        request.pin_uv_auth_protocol = Some(token.protocol());
        request.pin_uv_auth_param = Some(token.authenticate(&request.auth_message()));
    }
    latchkey_client::ctap2::call_empty(dev, &Request::Config(request), &mut |_| {}).unwrap();
}

#[test]
fn force_pin_change_is_driven_through_the_ui_before_the_ceremony() {
    let server = VirtualKeyServer::start();
    let (mut dev, sent) = Recorder::new(server.open());
    let mut ui = ScriptedUi::with_pins(["1234"]);
    latchkey_client::manage::set_pin(&mut dev, &mut ui).unwrap();
    set_min_pin_length(&mut dev, Some("1234"), None, true);
    sent.lock().unwrap().clear();

    // A wrong current PIN first: asked again with the retries left; the new PIN is kept.
    let mut ui = ScriptedUi::with_pins(["0000", "5678", "1234"]);
    let reg = register(&mut dev, &mut ui, "discouraged", "required").unwrap();
    assert_eq!(flags(&reg.authenticator_data) & UV, UV);
    let asked = ui.pins_asked();
    assert_eq!(
        asked,
        [
            (PinReason::ChangeRequired, Some(8)),
            (PinReason::New, None),
            (PinReason::Retry, Some(7)),
        ],
        "no third PIN: the token comes with the new one"
    );
    let pins = client_pin(&sent);
    assert_eq!(
        pins.iter()
            .filter(|p| matches!(p, ClientPinRequest::ChangePin { .. }))
            .count(),
        2
    );
    assert!(pins
        .iter()
        .all(|p| !matches!(p, ClientPinRequest::SetPin { .. })));
    let info = latchkey_client::ctap2::get_info(&mut dev).unwrap();
    assert_eq!(info.force_pin_change, Some(false));
    // The new PIN is the PIN now.
    let mut ui = ScriptedUi::with_pins(["5678"]);
    sign_in(
        &mut dev,
        &mut ui,
        std::slice::from_ref(&reg.credential_id),
        "required",
    )
    .unwrap();
    assert_eq!(ui.pin_requests[0].reason, PinReason::Verify);
}

#[test]
fn a_force_pin_change_learnt_from_the_token_request_reuses_the_pin_just_entered() {
    let server = VirtualKeyServer::start();
    let (mut dev, _sent) = Recorder::new(server.open());
    latchkey_client::manage::set_pin(&mut dev, &mut ScriptedUi::with_pins(["1234"])).unwrap();
    set_min_pin_length(&mut dev, Some("1234"), None, true);
    // The client's getInfo does not show the flag: the key's PIN_POLICY_VIOLATION does.
    dev.hide_force_pin_change = 1;
    let mut ui = ScriptedUi::with_pins(["1234", "24680"]);
    register(&mut dev, &mut ui, "required", "required").unwrap();
    let reasons: Vec<PinReason> = ui.pin_requests.iter().map(|r| r.reason).collect();
    assert_eq!(reasons, [PinReason::Verify, PinReason::New]);
}

#[test]
fn min_pin_length_counts_code_points_of_the_nfc_pin_and_the_pin_is_hashed_in_nfc() {
    let server = VirtualKeyServer::start();
    let (mut dev, sent) = Recorder::new(server.open());
    set_min_pin_length(&mut dev, None, Some(6), false);
    // "é" six times, decomposed: twelve code points as typed, six in NFC; and three of them
    // (six code points as typed) is too short once normalised.
    let composed = "\u{e9}".repeat(6);
    let decomposed = "e\u{301}".repeat(6);
    let short = "e\u{301}".repeat(3);
    let mut ui = ScriptedUi::with_pins([short.as_str()]);
    let err = register(&mut dev, &mut ui, "required", "required").unwrap_err();
    assert_eq!(err.name(), "NotAllowedError");
    assert!(err.message().contains("at least 6"), "{}", err.message());
    assert!(
        client_pin(&sent)
            .iter()
            .all(|p| !matches!(p, ClientPinRequest::SetPin { .. })),
        "a PIN too short in code points never reaches the key"
    );
    // Four code points but eight bytes is too short as well.
    let mut ui = ScriptedUi::with_pins(["\u{e9}\u{e9}\u{e9}\u{e9}"]);
    register(&mut dev, &mut ui, "required", "required").unwrap_err();
    // Set as typed decomposed, used as typed composed: the same PIN to the key.
    let mut ui = ScriptedUi::with_pins([decomposed.as_str()]);
    let reg = register(&mut dev, &mut ui, "required", "required").unwrap();
    assert_eq!(ui.pin_requests[0].reason, PinReason::New);
    let mut ui = ScriptedUi::with_pins([composed.as_str()]);
    sign_in(&mut dev, &mut ui, &[reg.credential_id], "required").unwrap();
    assert_eq!(ui.pin_requests.len(), 1, "the first PIN was right");
}

#[test]
fn a_key_with_no_mc_ga_permissions_with_client_pin_verifies_by_finger_and_the_pin_unblocks_it() {
    let server = VirtualKeyServer::start_with(Config {
        built_in_uv: BuiltInUv::Configured,
        no_mc_ga_permissions_with_client_pin: true,
        max_uv_retries: 2,
        preferred_platform_uv_attempts: 3,
        ..Config::default()
    });
    let (mut dev, sent) = Recorder::new(server.open());
    latchkey_client::manage::set_pin(&mut dev, &mut ScriptedUi::with_pins(["1234"])).unwrap();
    *server.fingers.lock().unwrap() = "match".parse().unwrap();
    let mut ui = ScriptedUi::default();
    let reg = register(&mut dev, &mut ui, "required", "required").unwrap();
    assert_eq!(flags(&reg.authenticator_data) & UV, UV);
    assert!(ui.pin_requests.is_empty());

    // Two wrong fingers block the reader; the PIN unblocks it (through a cm token, never an
    // mc/ga one), and the third finger signs in.
    *server.fingers.lock().unwrap() = "no-match,no-match,match".parse().unwrap();
    sent.lock().unwrap().clear();
    let mut ui = ScriptedUi::with_pins(["1234"]);
    let a = sign_in(
        &mut dev,
        &mut ui,
        std::slice::from_ref(&reg.credential_id),
        "required",
    )
    .unwrap();
    assert_eq!(flags(&a.authenticator_data) & UV, UV);
    assert_eq!(ui.pin_requests.len(), 1);
    let with_pin: Vec<Permissions> = client_pin(&sent)
        .into_iter()
        .filter_map(|p| match p {
            ClientPinRequest::GetPinUvAuthTokenUsingPinWithPermissions { permissions, .. } => {
                Some(permissions)
            }
            _ => None,
        })
        .collect();
    assert_eq!(with_pin, [Permissions::CREDENTIAL_MANAGEMENT]);
    assert_eq!(server.uv_attempts.count(), 4);
}

#[test]
fn a_key_with_no_mc_ga_permissions_with_client_pin_and_no_finger_is_refused_before_any_pin() {
    let server = VirtualKeyServer::start_with(Config {
        built_in_uv: BuiltInUv::NotConfigured,
        no_mc_ga_permissions_with_client_pin: true,
        ..Config::default()
    });
    let (mut dev, sent) = Recorder::new(server.open());
    latchkey_client::manage::set_pin(&mut dev, &mut ScriptedUi::with_pins(["1234"])).unwrap();
    sent.lock().unwrap().clear();
    let mut ui = ScriptedUi::with_pins(["1234"]);
    let err = register(&mut dev, &mut ui, "required", "required").unwrap_err();
    assert_eq!(err.name(), "NotAllowedError");
    assert!(ui.pin_requests.is_empty());
    assert!(client_pin(&sent).is_empty());
    // What UV does not demand still works: a non-discoverable credential without UV.
    register(&mut dev, &mut ui, "discouraged", "discouraged").unwrap();
}

#[test]
fn always_uv_verifies_even_when_the_request_discourages_it() {
    let server = VirtualKeyServer::start_with(Config {
        always_uv_default: true,
        ..Config::default()
    });
    let (mut dev, _sent) = Recorder::new(server.open());
    let mut ui = ScriptedUi::with_pins(["1234", "1234"]);
    let reg = register(&mut dev, &mut ui, "discouraged", "discouraged").unwrap();
    assert_eq!(flags(&reg.authenticator_data) & UV, UV);
    assert_eq!(
        ui.pin_requests[0].reason,
        PinReason::New,
        "first use sets a PIN"
    );
    let a = sign_in(&mut dev, &mut ui, &[reg.credential_id], "discouraged").unwrap();
    assert_eq!(flags(&a.authenticator_data) & UV, UV);
    assert_eq!(ui.pin_requests[1].reason, PinReason::Verify);
}

#[test]
fn without_make_cred_uv_not_rqd_every_credential_is_verified_once_a_pin_is_set() {
    for uv_not_rqd in [false, true] {
        let server = VirtualKeyServer::start_with(Config {
            make_cred_uv_not_rqd: uv_not_rqd,
            ..Config::default()
        });
        let (mut dev, _sent) = Recorder::new(server.open());
        latchkey_client::manage::set_pin(&mut dev, &mut ScriptedUi::with_pins(["1234"])).unwrap();
        let mut ui = ScriptedUi::with_pins(["1234"]);
        let reg = register(&mut dev, &mut ui, "discouraged", "discouraged").unwrap();
        let verified = flags(&reg.authenticator_data) & UV == UV;
        assert_eq!(verified, !uv_not_rqd, "makeCredUvNotRqd {uv_not_rqd}");
        assert_eq!(ui.pin_requests.len(), usize::from(!uv_not_rqd));
    }
}

#[test]
fn allow_lists_are_batched_to_the_keys_count_id_length_and_message_size() {
    let server = VirtualKeyServer::start_with(Config {
        max_msg_size: 512,
        max_credential_count_in_list: 8,
        max_credential_id_length: 64,
        ..Config::default()
    });
    let (mut dev, sent) = Recorder::new(server.open());
    let reg = register(
        &mut dev,
        &mut ScriptedUi::default(),
        "discouraged",
        "discouraged",
    )
    .unwrap();
    let mut allow: Vec<Vec<u8>> = (0..12).map(|_| random(64)).collect();
    allow.extend((0..3).map(|_| random(100)));
    allow.push(reg.credential_id.clone());
    sent.lock().unwrap().clear();
    let a = sign_in(&mut dev, &mut ScriptedUi::default(), &allow, "discouraged").unwrap();
    assert_eq!(a.credential_id, reg.credential_id);
    let lists: Vec<Vec<Vec<u8>>> = requests(&sent)
        .into_iter()
        .filter_map(|r| match r {
            Request::GetAssertion(ga) => {
                Some(ga.allow_list.unwrap().into_iter().map(|d| d.id).collect())
            }
            _ => None,
        })
        .collect();
    for bytes in sent.lock().unwrap().iter() {
        assert!(bytes.len() <= 512, "a request of {} bytes", bytes.len());
    }
    let longest = lists.iter().map(Vec::len).max().unwrap();
    assert!(
        (2..8).contains(&longest),
        "batches closed by size, not count: {longest}"
    );
    assert!(lists.iter().flatten().all(|id| id.len() <= 64));
    // Every short ID was offered once in the pre-flight, then the one found alone.
    assert_eq!(lists.iter().map(Vec::len).sum::<usize>(), 13 + 1);
}

#[test]
fn a_ctap_2_0_key_gets_tokens_from_get_pin_token_on_protocol_one() {
    let server = VirtualKeyServer::start_with(Config {
        ctap20: true,
        ..Config::default()
    });
    let (mut dev, sent) = Recorder::new(server.open());
    let mut ui = ScriptedUi::with_pins(["1234", "1234"]);
    let reg = register(&mut dev, &mut ui, "required", "required").unwrap();
    assert_eq!(flags(&reg.authenticator_data) & UV, UV);
    let a = sign_in(&mut dev, &mut ui, &[reg.credential_id], "required").unwrap();
    assert_eq!(flags(&a.authenticator_data) & UV, UV);
    let pins = client_pin(&sent);
    assert!(pins.iter().any(|p| matches!(
        p,
        ClientPinRequest::GetPinToken {
            protocol: PinUvAuthProtocol::One,
            ..
        }
    )));
    for p in &pins {
        assert!(
            !matches!(
                p,
                ClientPinRequest::GetPinUvAuthTokenUsingPinWithPermissions { .. }
                    | ClientPinRequest::GetPinUvAuthTokenUsingUvWithPermissions { .. }
                    | ClientPinRequest::GetUvRetries
            ),
            "{p:?}"
        );
    }
    for r in requests(&sent) {
        match r {
            Request::MakeCredential(mc) => {
                assert_eq!(mc.pin_uv_auth_protocol, Some(PinUvAuthProtocol::One))
            }
            Request::GetAssertion(ga) if ga.pin_uv_auth_param.is_some() => {
                assert_eq!(ga.pin_uv_auth_protocol, Some(PinUvAuthProtocol::One))
            }
            Request::GetInfo | Request::GetAssertion(_) | Request::ClientPin(_) => {}
            other => panic!("a CTAP 2.1 command to a CTAP 2.0 key: {other:?}"),
        }
    }
}
