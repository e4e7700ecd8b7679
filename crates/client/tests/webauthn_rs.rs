#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Acceptance: webauthn-rs (`WebauthnCore`, an RP library we did not write) makes the options,
//! this client runs the ceremonies (on the platform authenticator, on a CTAPHID virtual key, and
//! on an NFC card's applet through the client's NFC transport), and webauthn-rs verifies the
//! responses.

mod common;

use std::time::Duration;

use common::*;
use latchkey_client::{CreateRequest, Device, GetRequest, ScriptedUi};
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, COSEAlgorithm, Credential, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestRegistrationExtensions, UserVerificationPolicy,
};
use webauthn_rs_core::WebauthnCore;

const PIN: &str = "246810";

fn rp() -> WebauthnCore {
    WebauthnCore::new_unsafe_experts_only(
        "Example",
        RP_ID,
        vec![url::Url::parse(ORIGIN).unwrap()],
        Duration::from_secs(60),
        None,
        None,
    )
}

fn register(
    core: &WebauthnCore,
    dev: &mut dyn Device,
    ui: &mut ScriptedUi,
    user: &[u8],
    discoverable: bool,
    policy: UserVerificationPolicy,
) -> (Credential, serde_json::Value) {
    register_with(
        core,
        dev,
        ui,
        user,
        discoverable,
        policy,
        AttestationConveyancePreference::None,
    )
}

fn register_with(
    core: &WebauthnCore,
    dev: &mut dyn Device,
    ui: &mut ScriptedUi,
    user: &[u8],
    discoverable: bool,
    policy: UserVerificationPolicy,
    attestation: AttestationConveyancePreference,
) -> (Credential, serde_json::Value) {
    let builder = core
        .new_challenge_register_builder(user, "alice@example.com", "Alice")
        .unwrap()
        .user_verification_policy(policy)
        .attestation(attestation)
        .require_resident_key(discoverable)
        .credential_algorithms(vec![COSEAlgorithm::ES256, COSEAlgorithm::EDDSA])
        .extensions(Some(RequestRegistrationExtensions {
            cred_props: Some(true),
            ..Default::default()
        }));
    let (ccr, state) = core.generate_challenge_register(builder).unwrap();
    let options = serde_json::to_vec(&ccr.public_key).unwrap();
    let request = CreateRequest::new(&options, ORIGIN, None).unwrap();
    let response = latchkey_client::register(dev, &request, ui)
        .unwrap()
        .to_json()
        .unwrap();
    let parsed: RegisterPublicKeyCredential = serde_json::from_value(response.clone()).unwrap();
    let cred = core.register_credential(&parsed, &state, None).unwrap();
    (cred, response)
}

fn authenticate(
    core: &WebauthnCore,
    dev: &mut dyn Device,
    ui: &mut ScriptedUi,
    cred: &Credential,
    discoverable: bool,
    policy: UserVerificationPolicy,
) -> (u32, bool, serde_json::Value) {
    let allowed = if discoverable {
        vec![]
    } else {
        vec![cred.clone()]
    };
    let builder = core
        .new_challenge_authenticate_builder(allowed, Some(policy))
        .unwrap();
    let (rcr, mut state) = core.generate_challenge_authenticate(builder).unwrap();
    let options = serde_json::to_vec(&rcr.public_key).unwrap();
    let request = GetRequest::new(&options, ORIGIN, None).unwrap();
    let response = latchkey_client::authenticate(dev, &request, ui)
        .unwrap()
        .to_json()
        .unwrap();
    let parsed: PublicKeyCredential = serde_json::from_value(response.clone()).unwrap();
    if discoverable {
        state.set_allowed_credentials(vec![cred.clone()]);
    }
    let result = core.authenticate_credential(&parsed, &state).unwrap();
    (result.counter(), result.user_verified(), response)
}

fn suite(dev: &mut dyn Device) {
    let core = rp();
    let mut ui = ScriptedUi::with_pins(vec![PIN; 8]);
    // Discoverable, user verified.
    let user = random(16);
    let (cred, response) = register(
        &core,
        dev,
        &mut ui,
        &user,
        true,
        UserVerificationPolicy::Required,
    );
    assert_eq!(response["clientExtensionResults"]["credProps"]["rk"], true);
    let (counter, uv, response) = authenticate(
        &core,
        dev,
        &mut ui,
        &cred,
        true,
        UserVerificationPolicy::Required,
    );
    assert_eq!(counter, 1);
    assert!(uv);
    assert_eq!(
        response["response"]["userHandle"],
        latchkey_webauthn::b64::encode(&user)
    );
    // Non-discoverable.
    let user = random(16);
    let (cred, response) = register(
        &core,
        dev,
        &mut ui,
        &user,
        false,
        UserVerificationPolicy::Required,
    );
    assert_eq!(response["clientExtensionResults"]["credProps"]["rk"], false);
    let (counter, uv, _) = authenticate(
        &core,
        dev,
        &mut ui,
        &cred,
        false,
        UserVerificationPolicy::Required,
    );
    // One listed credential on a CTAP 2.1 key: no silent pre-flight, so the counter moves by
    // exactly one per sign-in.
    assert_eq!(counter, 1);
    assert!(uv);
    let (counter, _, _) = authenticate(
        &core,
        dev,
        &mut ui,
        &cred,
        false,
        UserVerificationPolicy::Required,
    );
    assert_eq!(counter, 2);
}

#[test]
fn webauthn_rs_accepts_platform_authenticator_responses() {
    let (mut dev, _) = platform_in_memory();
    suite(&mut dev);
}

#[test]
fn webauthn_rs_accepts_virtual_key_responses() {
    let server = VirtualKeyServer::start();
    let mut dev = server.open();
    suite(&mut *dev);
}

#[test]
fn webauthn_rs_accepts_a_key_used_without_user_verification() {
    let server = VirtualKeyServer::start();
    let mut dev = server.open();
    let core = rp();
    let mut ui = ScriptedUi::default();
    let user = random(16);
    let (cred, _) = register(
        &core,
        &mut *dev,
        &mut ui,
        &user,
        false,
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    let (counter, uv, _) = authenticate(
        &core,
        &mut *dev,
        &mut ui,
        &cred,
        false,
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    assert_eq!(counter, 1, "one sign-in, one count: no pre-flight");
    assert!(!uv);
    let (counter, _, _) = authenticate(
        &core,
        &mut *dev,
        &mut ui,
        &cred,
        false,
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    assert_eq!(counter, 2);
    assert!(
        ui.pin_requests.is_empty(),
        "no PIN without user verification"
    );
}

#[test]
fn a_ctap20_key_is_still_asked_silently_first_so_its_counter_moves_twice() {
    // A CTAP 2.0 key may want a touch before it says it holds no such credential: the silent
    // pre-flight stays, and it is counted like any assertion.
    let server = VirtualKeyServer::start();
    let mut dev = Ctap20(server.open());
    let core = rp();
    let mut ui = ScriptedUi::default();
    let user = random(16);
    let (cred, _) = register(
        &core,
        &mut dev,
        &mut ui,
        &user,
        false,
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    let (counter, _, _) = authenticate(
        &core,
        &mut dev,
        &mut ui,
        &cred,
        false,
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    assert_eq!(counter, 2, "pre-flight + the assertion");
}

#[test]
fn webauthn_rs_accepts_a_u2f_only_key_with_fido_u2f_attestation() {
    let (inner, _) = usb_key_in_memory();
    let mut dev = U2fOnly(inner);
    let core = rp();
    let mut ui = ScriptedUi::default();
    let user = random(16);
    let (cred, response) = register_with(
        &core,
        &mut dev,
        &mut ui,
        &user,
        false,
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
        AttestationConveyancePreference::Direct,
    );
    let att = latchkey_webauthn::b64::decode(
        "attestationObject",
        response["response"]["attestationObject"].as_str().unwrap(),
    )
    .unwrap();
    let att = latchkey_ctap::authdata::AttestationObject::from_bytes(&att).unwrap();
    assert_eq!(att.att_stmt.format(), "fido-u2f");
    let (counter, uv, _) = authenticate(
        &core,
        &mut dev,
        &mut ui,
        &cred,
        false,
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    assert!(counter >= 1);
    assert!(!uv);
}

/// A software key behind an NFC card's applet, in memory.
type NfcCard = latchkey_client::nfc::NfcDevice<
    CardInMemory<
        latchkey_client::platform::PlatformDevice<latchkey_authenticator::memory::MemoryStore>,
    >,
>;
/// The command APDUs a card was sent.
type Apdus = std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>;

fn nfc_card(config: latchkey_ctap::nfc::AppletConfig, busy: usize) -> (NfcCard, Apdus) {
    let (inner, _) = usb_key_in_memory();
    let card = CardInMemory::new(inner, config, busy);
    let apdus = card.apdus.clone();
    let dev =
        latchkey_client::nfc::NfcDevice::open(card, "card".into(), "pcsc:memory".into()).unwrap();
    (dev, apdus)
}

#[test]
fn webauthn_rs_accepts_an_nfc_cards_responses() {
    // Two status updates before every answer: the client polls through them.
    let (mut dev, apdus) = nfc_card(latchkey_ctap::nfc::AppletConfig::default(), 2);
    let info = dev.info();
    assert_eq!(info.transport, latchkey_client::Transport::Nfc);
    assert!(info.cbor, "U2F_V2 and a getInfo answer: CTAP2 too");
    suite(&mut dev);
    let apdus = apdus.lock().unwrap();
    assert_eq!(
        apdus[0][..5],
        [0x00, 0xA4, 0x04, 0x00, 0x08],
        "SELECT first"
    );
    let polls = apdus.iter().filter(|a| a[..2] == [0x80, 0x11]).count();
    assert!(polls >= 2 * 8, "{polls} NFCCTAP_GETRESPONSE polls");
    let fetches = apdus.iter().filter(|a| a[..2] == [0x00, 0xC0]).count();
    assert!(
        fetches >= 1,
        "registrations over 256 bytes need GET RESPONSE"
    );
}

#[test]
fn webauthn_rs_accepts_a_u2f_only_nfc_card() {
    let config = latchkey_ctap::nfc::AppletConfig {
        ctap2: false,
        ..latchkey_ctap::nfc::AppletConfig::default()
    };
    let (mut dev, _) = nfc_card(config, 0);
    assert!(!dev.info().cbor, "NFCCTAP_MSG refused: U2F only");
    let core = rp();
    let mut ui = ScriptedUi::default();
    let user = random(16);
    let (cred, response) = register_with(
        &core,
        &mut dev,
        &mut ui,
        &user,
        false,
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
        AttestationConveyancePreference::Direct,
    );
    assert_eq!(
        response["response"]["transports"],
        serde_json::json!(["nfc"])
    );
    let (counter, uv, _) = authenticate(
        &core,
        &mut dev,
        &mut ui,
        &cred,
        false,
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    assert!(counter >= 1);
    assert!(!uv);
}
