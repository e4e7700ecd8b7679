//! The set-up of the tests that run latchkeyd with a security key: a private bus, a virtual key
//! ([`TestKey`]) at `key.sock` in the bus's directory, the real `latchkeyd` using it
//! (`--device`) with this test binary as a privileged client, the scripted prompt as the trusted
//! prompt, and a client — and the cross-platform create most of those tests begin with.

use std::path::Path;

use latchkey_api::{CredentialsClient, Kind, Pending};
use webauthn_rs_core::proto::{AuthenticatorAttachment, UserVerificationPolicy};
use webauthn_rs_core::WebauthnCore;

use crate::bus::TestBus;
use crate::keys::{Presence, TestKey};
use crate::latchkeyd::Latchkeyd;
use crate::prompt::Prompt;
use crate::rp::{registration, web, Registering};

/// A client of the latchkeyd on `bus`.
pub async fn client(bus: &TestBus) -> CredentialsClient {
    CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap_or_else(|e| panic!("a client on {}: {e}", bus.address))
}

/// The real latchkeyd on `bus` using `key`, with this test binary as a privileged client.
pub async fn latchkeyd_with(bus: &TestBus, key: &TestKey) -> Latchkeyd {
    Latchkeyd::start(
        bus,
        &crate::policy::privileged_self(),
        &[format!("--device={}", key.spec())],
    )
    .await
}

/// A bus, a key, latchkeyd using it, the scripted prompt and a client (module doc). Its fields
/// drop in order: the client first, the bus last.
pub struct OneKey {
    /// A client of latchkeyd.
    pub client: CredentialsClient,
    /// The scripted prompt, trusted.
    pub prompt: Prompt,
    /// latchkeyd.
    pub latchkeyd: Latchkeyd,
    /// The virtual key latchkeyd uses.
    pub key: TestKey,
    /// The private bus.
    pub bus: TestBus,
}

impl OneKey {
    /// A fresh key (no PIN) answering presence with `presence`, and a prompt answering `script`.
    pub async fn start(presence: Presence, script: &str) -> Self {
        Self::start_with(|path| TestKey::start(path, presence), script).await
    }

    /// [`Self::start`] with a key whose PIN is `pin`, set before latchkeyd starts.
    pub async fn start_with_pin(presence: Presence, pin: &str, script: &str) -> Self {
        Self::start_with(
            |path| {
                let key = TestKey::start(path, presence);
                key.set_pin(pin);
                key
            },
            script,
        )
        .await
    }

    /// [`Self::start`] with the key `key` makes at the path it is given.
    pub async fn start_with(key: impl FnOnce(&Path) -> TestKey, script: &str) -> Self {
        let bus = TestBus::start();
        let key = key(&bus.dir.path().join("key.sock"));
        let latchkeyd = latchkeyd_with(&bus, &key).await;
        let prompt = Prompt::spawn(&bus, script, false);
        let client = client(&bus).await;
        Self {
            client,
            prompt,
            latchkeyd,
            key,
            bus,
        }
    }
}

/// A whole cross-platform create for `core` without user verification (a touch alone), within
/// 30 s; the AAGUID of the authenticator that answered, its response verified by the RP.
pub async fn key_create(client: &CredentialsClient, core: &WebauthnCore) -> [u8; 16] {
    let reg = registration(
        core,
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        client.call(Kind::Create, &reg.json, &web()),
    )
    .await
    .unwrap_or_else(|_| panic!("no answer to a create in 30 s"))
    .unwrap_or_else(|e| panic!("a create: {e}"));
    crate::rp::verify_registration(core, &reg, &crate::rp::ok_json(&out)).1
}

/// Starts a cross-platform create for `core` without user verification (what a security key
/// answers with a touch alone), from [`crate::rp::ORIGIN`]; the RP's state and the request in
/// flight.
pub async fn start_key_create(
    client: &CredentialsClient,
    core: &WebauthnCore,
) -> (Registering, Pending) {
    let reg = registration(
        core,
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    let pending = client
        .start(Kind::Create, &reg.json, &web())
        .await
        .unwrap_or_else(|e| panic!("starting a create: {e}"));
    (reg, pending)
}
