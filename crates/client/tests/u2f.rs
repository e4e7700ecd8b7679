#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! U2F-only security keys (CTAP 2.1 §10): registration, sign-in, exclusion and `appid`, on the
//! software authenticator's U2F side behind a device that refuses CTAP2.

mod common;

use common::*;
use latchkey_client::ScriptedUi;
use latchkey_ctap::authdata::{AttestationObject, AttestationStatement};
use latchkey_ctap::u2f::{RegisterRequest, RegisterResponse, Request, ResponseApdu};
use latchkey_webauthn::{b64, ErrorName};
use serde_json::json;

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref());
    out
}

#[test]
fn a_u2f_key_registers_and_signs_in() {
    let (inner, touches) = usb_key_in_memory();
    let mut dev = U2fOnly(inner);
    let mut ui = ScriptedUi::default();
    let user = random(16);
    let (options, challenge) = create_options(
        &user,
        "discouraged",
        "discouraged",
        &[],
        json!({"credProps": true}),
    );
    let reg = latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap();
    assert_eq!(reg.extensions.cred_props.as_ref().unwrap().rk, Some(false));
    let record = rp_register(&reg, &challenge, false);
    let id = reg.credential_id.clone();
    let (options, challenge) = get_options(std::slice::from_ref(&id), "preferred", json!({}));
    let a = latchkey_client::authenticate(&mut dev, &get_request(&options), &mut ui).unwrap();
    assert_eq!(a.credential_id, id);
    assert_eq!(a.user_handle, None);
    assert_eq!(flags(&a.authenticator_data) & (UP | UV), UP);
    let count = rp_authenticate(
        &a,
        &challenge,
        &record,
        &user,
        false,
        std::slice::from_ref(&id),
    );
    assert!(count >= 1);
    assert_eq!(touches.count(), 2);
    assert!(ui.pin_requests.is_empty());
}

#[test]
fn direct_attestation_is_fido_u2f() {
    let (inner, _) = usb_key_in_memory();
    let mut dev = U2fOnly(inner);
    let mut ui = ScriptedUi::default();
    let (mut options, _) = create_options(&random(8), "discouraged", "discouraged", &[], json!({}));
    options["attestation"] = json!("direct");
    let reg = latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap();
    let att = AttestationObject::from_bytes(&reg.attestation_object).unwrap();
    let AttestationStatement::FidoU2f { sig, x5c } = att.att_stmt else {
        panic!("expected fido-u2f, got {:?}", att.att_stmt.format());
    };
    assert!(!sig.is_empty());
    assert_eq!(x5c[0], 0x30, "an X.509 DER certificate");
}

#[test]
fn u2f_refuses_what_it_cannot_do() {
    let (inner, touches) = usb_key_in_memory();
    let mut dev = U2fOnly(inner);
    let mut ui = ScriptedUi::default();
    let (options, _) = create_options(&random(8), "required", "discouraged", &[], json!({}));
    let err = latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::Constraint);
    let (options, _) = create_options(&random(8), "discouraged", "required", &[], json!({}));
    let err = latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    let (options, _) = get_options(&[], "discouraged", json!({}));
    let err = latchkey_client::authenticate(&mut dev, &get_request(&options), &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert_eq!(touches.count(), 0);
}

#[test]
fn an_excluded_u2f_credential_is_invalid_state_after_a_touch() {
    let (inner, touches) = usb_key_in_memory();
    let mut dev = U2fOnly(inner);
    let mut ui = ScriptedUi::default();
    let (options, _) = create_options(&random(8), "discouraged", "discouraged", &[], json!({}));
    let reg = latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap();
    let exclude = vec![random(64), reg.credential_id.clone()];
    let (options, _) = create_options(
        &random(8),
        "discouraged",
        "discouraged",
        &exclude,
        json!({}),
    );
    let err = latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::InvalidState);
    assert_eq!(touches.count(), 2);
}

#[test]
fn appid_finds_a_legacy_u2f_credential() {
    let (inner, _) = usb_key_in_memory();
    let mut dev = U2fOnly(inner);
    let appid = "https://example.com/u2f-app-id.json";
    // A credential made by a legacy U2F site, for the appid's application parameter.
    let register = Request::Register(RegisterRequest {
        challenge: [7u8; 32],
        application: sha256(appid.as_bytes()),
    });
    let answer = latchkey_client::Device::msg(&mut dev, &register.to_bytes()).unwrap();
    let answer = ResponseApdu::parse(&answer).unwrap();
    let legacy = RegisterResponse::parse(&answer.data).unwrap();
    let id = legacy.key_handle.as_bytes().to_vec();
    let mut ui = ScriptedUi::default();
    // Without the extension the credential is not found for the RP ID.
    let (options, _) = get_options(std::slice::from_ref(&id), "discouraged", json!({}));
    let err = latchkey_client::authenticate(&mut dev, &get_request(&options), &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    let (options, _) = get_options(
        std::slice::from_ref(&id),
        "discouraged",
        json!({"appid": appid}),
    );
    let a = latchkey_client::authenticate(&mut dev, &get_request(&options), &mut ui).unwrap();
    assert_eq!(a.extensions.appid, Some(true));
    assert_eq!(&a.authenticator_data[..32], &sha256(appid.as_bytes()));
    assert_eq!(b64::encode(&a.credential_id), b64::encode(&id));
}

fn legacy_credential(dev: &mut dyn latchkey_client::Device, appid: &str) -> Vec<u8> {
    let register = Request::Register(RegisterRequest {
        challenge: [7u8; 32],
        application: sha256(appid.as_bytes()),
    });
    let answer = dev.msg(&register.to_bytes()).unwrap();
    let answer = ResponseApdu::parse(&answer).unwrap();
    RegisterResponse::parse(&answer.data)
        .unwrap()
        .key_handle
        .as_bytes()
        .to_vec()
}

/// The AppID of the legacy U2F site in these tests.
const APPID: &str = "https://example.com/u2f-app-id.json";

/// A CTAP2 key holding a credential a legacy U2F site made for [`APPID`]: the key, its touch
/// counter, the credential's ID.
fn key_holding_a_u2f_credential() -> (
    latchkey_client::platform::PlatformDevice<latchkey_authenticator::memory::MemoryStore>,
    Touches,
    Vec<u8>,
) {
    let (mut dev, touches) = usb_key_in_memory();
    let id = legacy_credential(&mut dev, APPID);
    (dev, touches, id)
}

#[test]
fn appid_finds_a_u2f_credential_on_a_ctap2_key() {
    let (mut dev, _, id) = key_holding_a_u2f_credential();
    let appid = APPID;
    let mut ui = ScriptedUi::default();
    let (options, _) = get_options(
        std::slice::from_ref(&id),
        "discouraged",
        json!({"appid": appid}),
    );
    let a = latchkey_client::authenticate(&mut dev, &get_request(&options), &mut ui).unwrap();
    assert_eq!(a.extensions.appid, Some(true));
    assert_eq!(&a.authenticator_data[..32], &sha256(appid.as_bytes()));
    // Found under the RP ID itself, appid reports false.
    let (options, _) = create_options(&random(8), "discouraged", "discouraged", &[], json!({}));
    let reg = latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap();
    let (options, _) = get_options(
        std::slice::from_ref(&reg.credential_id),
        "discouraged",
        json!({"appid": appid}),
    );
    let a = latchkey_client::authenticate(&mut dev, &get_request(&options), &mut ui).unwrap();
    assert_eq!(a.extensions.appid, Some(false));
    assert_eq!(&a.authenticator_data[..32], &sha256(RP_ID.as_bytes()));
}

#[test]
fn appid_exclude_refuses_a_key_holding_the_u2f_credential() {
    let (mut dev, touches, id) = key_holding_a_u2f_credential();
    let appid = APPID;
    let before = touches.count();
    let mut ui = ScriptedUi::default();
    let exclude = vec![id];
    let (options, _) = create_options(
        &random(8),
        "discouraged",
        "discouraged",
        &exclude,
        json!({"appidExclude": appid}),
    );
    let err = latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::InvalidState, "{err:?}");
    assert_eq!(
        touches.count(),
        before + 1,
        "one touch, as the spec requires"
    );
    // Without appidExclude the U2F credential does not stop the registration.
    let (options, _) = create_options(
        &random(8),
        "discouraged",
        "discouraged",
        &exclude,
        json!({}),
    );
    latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap();
}

#[test]
fn an_appid_sign_in_on_a_ctap21_key_costs_one_touch() {
    // Asked directly under the RP ID, the key answers NO_CREDENTIALS before any touch; under
    // the AppID it asks for the one touch of the sign-in.
    let (mut dev, touches, id) = key_holding_a_u2f_credential();
    let appid = APPID;
    let before = touches.count();
    let mut ui = ScriptedUi::default();
    let (options, _) = get_options(
        std::slice::from_ref(&id),
        "discouraged",
        json!({"appid": appid}),
    );
    let a = latchkey_client::authenticate(&mut dev, &get_request(&options), &mut ui).unwrap();
    assert_eq!(a.extensions.appid, Some(true));
    assert_eq!(a.credential_id, id);
    assert_eq!(flags(&a.authenticator_data) & UP, UP);
    assert_eq!(touches.count(), before + 1);
    // Signed once, with no silent pre-flight signature before it.
    assert_eq!(&a.authenticator_data[33..37], &[0, 0, 0, 1]);
}

/// With user verification required, a credential that answers only under its AppID (asked
/// without UV) is refused before it signs, not used unverified.
#[test]
fn an_appid_sign_in_is_refused_when_user_verification_is_required() {
    let (mut dev, touches, id) = key_holding_a_u2f_credential();
    let appid = APPID;
    let before = touches.count();
    let mut ui = ScriptedUi::with_pins(["12345678", "12345678"]);
    let (options, _) = get_options(
        std::slice::from_ref(&id),
        "required",
        json!({"appid": appid}),
    );
    let err = latchkey_client::authenticate(&mut dev, &get_request(&options), &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed, "{err:?}");
    assert!(err.message().contains("AppID"), "{err:?}");
    assert_eq!(touches.count(), before, "nothing was signed");
}

/// A request names only AppIDs its origin may claim (FIDO AppID and Facet §3.1.2, same site):
/// another site's is a `SecurityError` before any authenticator is asked.
#[test]
fn an_appid_of_another_site_is_refused_with_the_request() {
    for extensions in [
        json!({"appid": "https://other.test/u2f-app-id.json"}),
        json!({"appid": "other.test"}),
    ] {
        let (options, _) = get_options(&[random(16)], "discouraged", extensions);
        let err = latchkey_client::GetRequest::new(options.to_string().as_bytes(), ORIGIN, None)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorName::Security, "{err:?}");
    }
    let (options, _) = create_options(
        &random(8),
        "discouraged",
        "discouraged",
        &[],
        json!({"appidExclude": "https://other.test"}),
    );
    let err = latchkey_client::CreateRequest::new(options.to_string().as_bytes(), ORIGIN, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorName::Security, "{err:?}");
    // An empty AppID is the origin itself, and the key is asked under that.
    let (options, _) = get_options(&[random(16)], "discouraged", json!({"appid": ""}));
    let request =
        latchkey_client::GetRequest::new(options.to_string().as_bytes(), ORIGIN, None).unwrap();
    assert_eq!(request.options.extensions.appid.as_deref(), Some(ORIGIN));
}
