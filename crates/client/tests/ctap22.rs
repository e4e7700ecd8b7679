#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! CTAP 2.2 through the client: credentials listed with the read-only persistent token (pcmr),
//! ES384 and ML-DSA credentials made and used over CTAPHID and on the platform authenticator,
//! every response verified by the webauthn crate's RP side.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use latchkey_authenticator::memory::MemoryStore;
use latchkey_authenticator::{AttestationMode, Config};
use latchkey_client::device::KeepaliveStatus;
use latchkey_client::platform::{self, PlatformDevice, Presence};
use latchkey_client::{CancelHandle, Device, DeviceDescription, DeviceError, ScriptedUi};
use latchkey_ctap::command::{ClientPinRequest, Request};
use latchkey_webauthn::b64;
use latchkey_webauthn::ids::{CoseAlgorithm, UserHandle};
use latchkey_webauthn::origin::RpId;
use latchkey_webauthn::publickey::CredentialPublicKey;
use latchkey_webauthn::rp::{
    verify_authentication, verify_registration, AttestationType, ExpectedAuthentication,
    ExpectedOrigins, ExpectedRegistration, ExpectedUser,
};
use serde_json::json;

const PIN: &str = "4321";

/// A device that notes the permissions of every token it is asked for.
struct Recording<D> {
    inner: D,
    permissions: Arc<Mutex<Vec<u64>>>,
}

impl<D: Device> Device for Recording<D> {
    fn info(&self) -> DeviceDescription {
        self.inner.info()
    }
    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        if let Ok(Request::ClientPin(
            ClientPinRequest::GetPinUvAuthTokenUsingPinWithPermissions { permissions, .. },
        )) = Request::decode(request)
        {
            self.permissions.lock().unwrap().push(permissions.0);
        }
        self.inner.cbor(request, status)
    }
    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.inner.msg(apdu)
    }
    fn cancel_handle(&self) -> CancelHandle {
        self.inner.cancel_handle()
    }
}

#[test]
fn listing_a_keys_credentials_uses_the_read_only_persistent_token() {
    let server = VirtualKeyServer::start();
    let permissions = Arc::new(Mutex::new(Vec::new()));
    let mut dev = Recording {
        inner: server.open(),
        permissions: permissions.clone(),
    };
    let user = random(16);
    let (options, _) = create_options(&user, "required", "required", &[], json!({}));
    let mut ui = ScriptedUi::with_pins([PIN]);
    let reg = latchkey_client::register(&mut dev, &create_request(&options), &mut ui).unwrap();
    permissions.lock().unwrap().clear();

    let mut ui = ScriptedUi::with_pins([PIN]);
    let listed = latchkey_client::manage::list_device(&mut dev, &mut ui).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].credential_id, reg.credential_id);
    assert_eq!(*permissions.lock().unwrap(), vec![0x40], "pcmr alone");

    let mut ui = ScriptedUi::with_pins([PIN]);
    latchkey_client::manage::delete_on_device(&mut dev, &mut ui, &reg.credential_id).unwrap();
    assert_eq!(
        *permissions.lock().unwrap(),
        vec![0x40, 0x04],
        "deleting needs cm"
    );
    let mut ui = ScriptedUi::with_pins([PIN]);
    assert!(latchkey_client::manage::list_device(&mut dev, &mut ui)
        .unwrap()
        .is_empty());
}

/// Registers with `alg` as the only acceptable algorithm and signs in, both verified by the
/// webauthn crate's RP side; returns the registration's public key.
fn ceremony(dev: &mut dyn Device, alg: i32, ui: &mut ScriptedUi) -> CredentialPublicKey {
    let user = random(16);
    let (mut options, challenge) = create_options(&user, "required", "required", &[], json!({}));
    options["pubKeyCredParams"] = json!([{"type": "public-key", "alg": alg}]);
    options["attestation"] = json!("direct");
    let reg = latchkey_client::register(dev, &create_request(&options), ui).unwrap();
    let response = reg.to_response().unwrap();
    assert_eq!(response.response.public_key_algorithm, i64::from(alg));
    let rp_id = RpId::parse(RP_ID).unwrap();
    let origins = [ORIGIN];
    let (record, attestation) = verify_registration(
        &response,
        &ExpectedRegistration {
            challenge: &challenge,
            origins: ExpectedOrigins {
                origins: &origins,
                top_origins: &[],
            },
            rp_id: &rp_id,
            require_user_verification: true,
            algorithms: &[CoseAlgorithm(alg)],
        },
    )
    .unwrap();
    // getPublicKey(): the SPKI of the credential key.
    assert_eq!(
        response.response.public_key,
        Some(b64::encode(&record.public_key.to_spki()))
    );
    assert!(matches!(
        attestation,
        AttestationType::SelfAttestation | AttestationType::None
    ));

    let (options, challenge) = get_options(&[], "required", json!({}));
    let a = latchkey_client::authenticate(dev, &get_request(&options), ui).unwrap();
    let handle = UserHandle::new(user.clone()).unwrap();
    let result = verify_authentication(
        &a.to_response().unwrap(),
        &ExpectedAuthentication {
            challenge: &challenge,
            origins: ExpectedOrigins {
                origins: &origins,
                top_origins: &[],
            },
            rp_id: &rp_id,
            require_user_verification: true,
            allow_credentials: &[],
            user: ExpectedUser::Discoverable(&handle),
        },
        &record,
    )
    .unwrap();
    assert_eq!(result.sign_count, 1);
    record.public_key
}

#[test]
fn es384_and_ml_dsa_over_ctaphid_verify_at_the_rp() {
    let server = VirtualKeyServer::start_with(Config {
        attestation: AttestationMode::PackedSelf,
        ..Config::default().with_post_quantum()
    });
    let mut dev = server.open();
    let mut ui = ScriptedUi::with_pins(vec![PIN; 8]);
    for (alg, spki_len) in [(-35, 120), (-48, 1312 + 22), (-49, 1952 + 22)] {
        let key = ceremony(&mut *dev, alg, &mut ui);
        assert_eq!(i64::from(key.alg().0), i64::from(alg));
        assert_eq!(key.to_spki().len(), spki_len, "alg {alg}");
    }
}

#[test]
fn the_platform_authenticator_makes_ml_dsa_credentials_when_configured() {
    let cancel = CancelHandle::new();
    let presence = Presence::with(cancel.clone(), |_| true);
    let mut dev = PlatformDevice::with_store(
        platform::config().with_post_quantum(),
        MemoryStore::default(),
        presence,
        cancel,
        "memory".into(),
    );
    let mut ui = ScriptedUi::with_pins(vec![PIN; 8]);
    let key = ceremony(&mut dev, -49, &mut ui);
    assert!(matches!(key, CredentialPublicKey::MlDsa { .. }));
    // Without the opt-in, an RP that accepts only ML-DSA is told no.
    let cancel = CancelHandle::new();
    let presence = Presence::with(cancel.clone(), |_| true);
    let mut classic = PlatformDevice::with_store(
        platform::config(),
        MemoryStore::default(),
        presence,
        cancel,
        "memory".into(),
    );
    let user = random(16);
    let (mut options, _) = create_options(&user, "required", "required", &[], json!({}));
    options["pubKeyCredParams"] = json!([{"type": "public-key", "alg": -49}]);
    let mut ui = ScriptedUi::with_pins(vec![PIN; 8]);
    let err =
        latchkey_client::register(&mut classic, &create_request(&options), &mut ui).unwrap_err();
    assert_eq!(err.name(), "NotSupportedError", "{err}");
}
