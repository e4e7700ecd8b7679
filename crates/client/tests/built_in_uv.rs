#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Keys with a fingerprint reader (the virtual key's emulated built-in user verification):
//! a pinUvAuthToken from the finger instead of the PIN (CTAP 2.1 §6.5.5.7.3), retries told to
//! the user (getUVRetries), the PIN once built-in UV blocks or is not set up, and `uv: true` in
//! the request on a key that issues no tokens (CTAP 2.0, or CTAP 2.1 without
//! `pinUvAuthToken`).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use latchkey_authenticator::uv::UvScript;
use latchkey_authenticator::{BuiltInUv, Config};
use latchkey_client::device::KeepaliveStatus;
use latchkey_client::ui::Cancelled;
use latchkey_client::{
    Account, BuiltInUvEnd, CancelHandle, CeremonyUi, Device, DeviceDescription, DeviceError, Pin,
    PinRequest, ScriptedUi, Status, UvReason, UvRequest,
};
use latchkey_ctap::cbor::{self, Value};
use latchkey_webauthn::ErrorName;
use serde_json::json;

/// authenticatorGetInfo (CTAP 2.1 §6.4) and authenticatorClientPIN (§6.5.5) command bytes.
const GET_INFO: u8 = 0x04;
const CLIENT_PIN: u8 = 0x06;
/// clientPIN subCommand getUVRetries (§6.5.5.3).
const GET_UV_RETRIES: i64 = 0x07;

/// A CTAP 2.1 key with built-in UV that issues no pinUvAuthToken: its getInfo loses the
/// `pinUvAuthToken` option but keeps FIDO_2_1, so the platform puts `uv: true` in the request.
struct NoTokens(Box<dyn Device>);

impl Device for NoTokens {
    fn info(&self) -> DeviceDescription {
        self.0.info()
    }
    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        let answer = self.0.cbor(request, status)?;
        if request.first() != Some(&GET_INFO) {
            return Ok(answer);
        }
        let mut info: latchkey_ctap::command::GetInfoResponse =
            latchkey_ctap::command::decode_response(&answer).unwrap();
        assert!(info.versions.iter().any(|v| v == "FIDO_2_1"));
        info.options.as_mut().unwrap().remove("pinUvAuthToken");
        let mut out = vec![0x00];
        out.extend(cbor::encode(&cbor::ToValue::to_value(&info)));
        Ok(out)
    }
    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.0.msg(apdu)
    }
    fn cancel_handle(&self) -> CancelHandle {
        self.0.cancel_handle()
    }
}

/// A key whose clientPIN getUVRetries fails (CTAP2_ERR_INVALID_SUBCOMMAND); counts the calls.
struct NoUvRetries {
    inner: Box<dyn Device>,
    asked: Arc<AtomicUsize>,
}

impl Device for NoUvRetries {
    fn info(&self) -> DeviceDescription {
        self.inner.info()
    }
    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        let answer = self.inner.cbor(request, status)?;
        let sub_command = match request.split_first() {
            Some((&CLIENT_PIN, body)) => cbor::decode(body)
                .unwrap()
                .get(&Value::from(0x02))
                .and_then(|v| v.as_int())
                .and_then(|i| i.as_i64()),
            _ => None,
        };
        if sub_command == Some(GET_UV_RETRIES) {
            self.asked.fetch_add(1, Ordering::SeqCst);
            return Ok(vec![0x3E]);
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

const PIN: &str = "1234";

fn fingerprint_key(fingers: &str, max_uv_retries: u8, preferred: u8) -> VirtualKeyServer {
    let server = VirtualKeyServer::start_with(Config {
        built_in_uv: BuiltInUv::Configured,
        max_uv_retries,
        preferred_platform_uv_attempts: preferred,
        ..Config::default()
    });
    *server.fingers.lock().unwrap() = fingers.parse::<UvScript>().unwrap();
    server
}

fn set_pin(dev: &mut dyn Device) {
    let mut ui = ScriptedUi::with_pins([PIN]);
    latchkey_client::manage::set_pin(dev, &mut ui).unwrap();
}

fn register(dev: &mut dyn Device, ui: &mut ScriptedUi, uv: &str) -> latchkey_client::Registration {
    let user = random(8);
    let (options, challenge) = create_options(&user, "discouraged", uv, &[], json!({}));
    let reg = latchkey_client::register(dev, &create_request(&options), ui).unwrap();
    rp_register(&reg, &challenge, uv == "required");
    reg
}

fn uv_log(ui: &ScriptedUi) -> Vec<(UvReason, Option<u64>)> {
    ui.uv_requests
        .iter()
        .map(|r| (r.reason, r.retries_left))
        .collect()
}

#[test]
fn a_recognised_finger_replaces_the_pin_and_the_touch() {
    let server = fingerprint_key("match", 5, 3);
    let mut dev = server.open();
    set_pin(&mut *dev);
    let mut ui = ScriptedUi::default();
    let reg = register(&mut *dev, &mut ui, "required");
    assert_eq!(flags(&reg.authenticator_data) & (UP | UV), UP | UV);
    assert!(ui.pin_requests.is_empty(), "{:?}", ui.pin_requests);
    assert_eq!(uv_log(&ui), [(UvReason::Verify, None)]);
    assert_eq!(server.uv_attempts.count(), 1);
    assert_eq!(server.touches.count(), 0, "the finger was the touch");

    // Signing in: the same, and the counter moves once.
    let (options, _) = get_options(
        std::slice::from_ref(&reg.credential_id),
        "required",
        json!({}),
    );
    let a = latchkey_client::authenticate(&mut *dev, &get_request(&options), &mut ui).unwrap();
    assert_eq!(flags(&a.authenticator_data) & (UP | UV), UP | UV);
    assert_eq!(&a.authenticator_data[33..37], &[0, 0, 0, 1]);
    assert!(ui.pin_requests.is_empty());
    assert_eq!(server.uv_attempts.count(), 2);
    assert_eq!(server.touches.count(), 0);
}

#[test]
fn a_finger_not_recognised_is_tried_again_telling_the_attempts_left() {
    let server = fingerprint_key("no-match,no-match,match", 5, 3);
    let mut dev = server.open();
    set_pin(&mut *dev);
    let mut ui = ScriptedUi::default();
    let reg = register(&mut *dev, &mut ui, "required");
    assert_eq!(flags(&reg.authenticator_data) & UV, UV);
    assert_eq!(
        uv_log(&ui),
        [
            (UvReason::Verify, None),
            (UvReason::Retry, Some(4)),
            (UvReason::Retry, Some(3)),
        ]
    );
    assert!(ui.pin_requests.is_empty());
    assert_eq!(server.uv_attempts.count(), 3);
}

#[test]
fn once_built_in_uv_blocks_the_pin_takes_over() {
    let server = fingerprint_key("no-match", 2, 3);
    let mut dev = server.open();
    set_pin(&mut *dev);
    let mut ui = ScriptedUi::with_pins([PIN]);
    let reg = register(&mut *dev, &mut ui, "required");
    assert_eq!(flags(&reg.authenticator_data) & UV, UV);
    // One miss (1 left), the second blocks: UV_BLOCKED, then the PIN.
    assert_eq!(
        uv_log(&ui),
        [(UvReason::Verify, None), (UvReason::Retry, Some(1))]
    );
    assert_eq!(ui.pin_requests.len(), 1);
    assert_eq!(
        ui.pin_requests[0].reason,
        latchkey_client::PinReason::Verify
    );
    assert_eq!(server.uv_attempts.count(), 2);
    // The right PIN restored the reader's attempts: the next ceremony tries the finger again.
    *server.fingers.lock().unwrap() = "match".parse().unwrap();
    let mut ui = ScriptedUi::default();
    register(&mut *dev, &mut ui, "required");
    assert_eq!(uv_log(&ui), [(UvReason::Verify, None)]);
    assert!(ui.pin_requests.is_empty());
}

/// A UI that stops at the PIN, as latchkeyd's does when it has no answer yet, and keeps how
/// built-in UV ended for the next run of the same ceremony.
#[derive(Default)]
struct StopsAtPin {
    inner: ScriptedUi,
    ended: Option<BuiltInUvEnd>,
    earlier: Option<BuiltInUvEnd>,
}

impl CeremonyUi for StopsAtPin {
    fn pin(&mut self, request: &PinRequest) -> Result<Pin, Cancelled> {
        self.inner.pin(request)
    }
    fn choose_credential(&mut self, accounts: &[Account]) -> Result<usize, Cancelled> {
        self.inner.choose_credential(accounts)
    }
    fn status(&mut self, status: Status) {
        self.inner.status(status);
    }
    fn user_verification(&mut self, request: &UvRequest) {
        self.inner.user_verification(request);
    }
    fn built_in_uv_ended(&mut self, end: BuiltInUvEnd) {
        self.ended = Some(end);
    }
    fn earlier_built_in_uv_end(&mut self) -> Option<BuiltInUvEnd> {
        self.earlier
    }
}

#[test]
fn a_ceremony_run_again_after_its_pin_question_does_not_ask_the_finger_again() {
    let server = fingerprint_key("no-match", 2, 3);
    let mut dev = server.open();
    set_pin(&mut *dev);
    let user = random(8);
    let (options, challenge) = create_options(&user, "discouraged", "required", &[], json!({}));
    let request = create_request(&options);
    // The first run: two misses block the reader, the PIN is asked and not answered yet.
    let mut first = StopsAtPin::default();
    let err = latchkey_client::register(&mut *dev, &request, &mut first).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert_eq!(first.ended, Some(BuiltInUvEnd::Blocked));
    assert_eq!(first.inner.pin_requests.len(), 1);
    assert_eq!(server.uv_attempts.count(), 2);
    // The second run, with the PIN: the reader is not tried again, and the PIN is asked with
    // the same retries as in the first run.
    let mut second = StopsAtPin {
        inner: ScriptedUi::with_pins([PIN]),
        earlier: first.ended,
        ..StopsAtPin::default()
    };
    let reg = latchkey_client::register(&mut *dev, &request, &mut second).unwrap();
    rp_register(&reg, &challenge, true);
    assert!(second.inner.uv_requests.is_empty());
    assert_eq!(second.inner.pin_requests, first.inner.pin_requests);
    assert_eq!(server.uv_attempts.count(), 2);
}

#[test]
fn without_a_pin_a_blocked_finger_fails_clearly() {
    let server = fingerprint_key("no-match", 2, 3);
    let mut dev = server.open();
    let mut ui = ScriptedUi::default();
    let user = random(8);
    let (options, _) = create_options(&user, "discouraged", "required", &[], json!({}));
    let err = latchkey_client::register(&mut *dev, &create_request(&options), &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert!(
        err.message().contains("did not recognise"),
        "{}",
        err.message()
    );
    assert!(ui.pin_requests.is_empty());
    assert_eq!(server.uv_attempts.count(), 2);
}

#[test]
fn a_reader_with_no_finger_enrolled_leaves_it_to_the_pin() {
    let server = VirtualKeyServer::start_with(Config {
        built_in_uv: BuiltInUv::NotConfigured,
        ..Config::default()
    });
    let mut dev = server.open();
    set_pin(&mut *dev);
    let mut ui = ScriptedUi::with_pins([PIN]);
    let reg = register(&mut *dev, &mut ui, "required");
    assert_eq!(flags(&reg.authenticator_data) & UV, UV);
    assert!(ui.uv_requests.is_empty());
    assert_eq!(ui.pin_requests.len(), 1);
    assert_eq!(server.uv_attempts.count(), 0);
}

#[test]
fn a_ctap20_key_with_a_finger_is_asked_for_uv_in_the_request() {
    let server = fingerprint_key("no-match,match", 5, 3);
    let mut dev = Ctap20(server.open());
    let mut ui = ScriptedUi::default();
    let reg = register(&mut dev, &mut ui, "required");
    assert_eq!(flags(&reg.authenticator_data) & (UP | UV), UP | UV);
    // The key retried inside the one request; no token was asked for.
    assert!(ui.uv_requests.is_empty());
    assert!(ui.pin_requests.is_empty());
    assert_eq!(server.uv_attempts.count(), 2);
    assert_eq!(server.touches.count(), 0);
}

#[test]
fn a_key_failing_get_uv_retries_is_tried_again_with_the_attempts_left_unknown() {
    let server = fingerprint_key("no-match,match", 5, 3);
    let asked = Arc::new(AtomicUsize::new(0));
    let mut dev = NoUvRetries {
        inner: server.open(),
        asked: asked.clone(),
    };
    set_pin(&mut dev);
    let mut ui = ScriptedUi::default();
    let reg = register(&mut dev, &mut ui, "required");
    assert_eq!(flags(&reg.authenticator_data) & (UP | UV), UP | UV);
    assert_eq!(asked.load(Ordering::SeqCst), 1, "getUVRetries was asked");
    assert_eq!(
        uv_log(&ui),
        [(UvReason::Verify, None), (UvReason::Retry, None)]
    );
    assert!(ui.pin_requests.is_empty());
    assert_eq!(server.uv_attempts.count(), 2);
}

#[test]
fn built_in_uv_in_the_request_is_not_spent_on_a_credential_the_key_lacks() {
    let server = fingerprint_key("match", 5, 3);
    let mut dev = NoTokens(server.open());
    let mut ui = ScriptedUi::default();
    let reg = register(&mut dev, &mut ui, "discouraged");
    let (scans, touches) = (server.uv_attempts.count(), server.touches.count());

    // One listed credential the key does not hold: found out silently, no finger asked for.
    let other = random(reg.credential_id.len());
    let (options, _) = get_options(&[other], "required", json!({}));
    let err = latchkey_client::authenticate(&mut dev, &get_request(&options), &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert!(
        err.message().contains("none of the credentials"),
        "{}",
        err.message()
    );
    assert_eq!(server.uv_attempts.count(), scans, "no finger scan in vain");
    assert_eq!(server.touches.count(), touches);

    // The one it holds: the pre-flight, then one finger scan in the request itself.
    let (options, _) = get_options(
        std::slice::from_ref(&reg.credential_id),
        "required",
        json!({}),
    );
    let a = latchkey_client::authenticate(&mut dev, &get_request(&options), &mut ui).unwrap();
    assert_eq!(flags(&a.authenticator_data) & (UP | UV), UP | UV);
    assert_eq!(a.credential_id, reg.credential_id);
    assert_eq!(server.uv_attempts.count(), scans + 1);
    assert_eq!(server.touches.count(), touches);
}

#[test]
fn an_appid_sign_in_with_built_in_uv_in_the_request_scans_the_finger_once() {
    use latchkey_ctap::u2f::{RegisterRequest, RegisterResponse, Request, ResponseApdu};
    let server = fingerprint_key("match", 5, 3);
    let mut dev = NoTokens(server.open());
    let appid = "https://example.com/u2f-app-id.json";
    let application: [u8; 32] =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, appid.as_bytes())
            .as_ref()
            .try_into()
            .unwrap();
    let register = Request::Register(RegisterRequest {
        challenge: [7u8; 32],
        application,
    });
    let answer = ResponseApdu::parse(&dev.msg(&register.to_bytes()).unwrap()).unwrap();
    let id = RegisterResponse::parse(&answer.data)
        .unwrap()
        .key_handle
        .as_bytes()
        .to_vec();
    let (scans, touches) = (server.uv_attempts.count(), server.touches.count());
    let mut ui = ScriptedUi::default();
    let (options, _) = get_options(
        std::slice::from_ref(&id),
        "required",
        json!({"appid": appid}),
    );
    let a = latchkey_client::authenticate(&mut dev, &get_request(&options), &mut ui).unwrap();
    assert_eq!(a.extensions.appid, Some(true));
    assert_eq!(&a.authenticator_data[..32], &application);
    assert_eq!(flags(&a.authenticator_data) & UV, UV);
    assert_eq!(server.uv_attempts.count(), scans + 1, "one finger scan");
    assert_eq!(server.touches.count(), touches);
}
