//! [`PlatformBackend`]: the platform authenticator — in production the sandboxed worker
//! (`latchkey_worker::WorkerDevice`), in tests the authenticator core in process — behind both
//! back-end traits: its ceremonies ([`Ceremonies`], `latchkey_client::register` /
//! `authenticate` on a blocking thread, the user side bridged to the prompt by
//! [`crate::bridge`]) and its credentials ([`PlatformStore`]: list, delete, signals). One device,
//! kept open; one ceremony at a time (the prompt queue already serialises requests), and
//! management waits for the device while a ceremony holds it.
//!
//! User presence for the platform authenticator is the consent latchkeyd already obtained from the
//! prompt before it calls [`Ceremonies::create`]/[`Ceremonies::get`]; user verification is the PIN
//! the authenticator itself checks.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use latchkey_client::manage::CredentialInfo;
use latchkey_webauthn::WebAuthnError;
use latchkey_worker::ManagedDevice;

use crate::bridge::run_blocking;
use crate::ceremony::{CancelToken, Ceremonies, Ceremony, PromptSession};
use crate::platform_pin::PlatformPinGuard;
use crate::signal::{self, Signal, SignalError, SignalReport, SignalSupport};
use crate::store::{PlatformStore, StoreError};

/// The platform authenticator (module doc).
pub struct PlatformBackend {
    device: Arc<Mutex<Box<dyn ManagedDevice>>>,
    /// A caller-controlled prompt gave a wrong PIN since the trusted prompt last completed a
    /// ceremony ([`PlatformPinGuard`]).
    pin_strike: Arc<AtomicBool>,
}

impl PlatformBackend {
    /// Serves ceremonies and management on `device`.
    pub fn new(device: Box<dyn ManagedDevice>) -> Self {
        Self {
            device: Arc::new(Mutex::new(device)),
            pin_strike: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Box<dyn ManagedDevice>> {
        self.device.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn run(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> Result<serde_json::Value, WebAuthnError> {
        let device = self.device.clone();
        let cancel = cancel.clone();
        let c = c.clone();
        let trusted = !ui.caller_controlled();
        let ui = PlatformPinGuard::wrap(ui, &self.pin_strike);
        let result = run_blocking(ui, move |bridge| {
            bridge.set_authenticator_kind(latchkey_prompt::ChoiceKind::Platform);
            let mut device = device.lock().unwrap_or_else(PoisonError::into_inner);
            let handle = device.cancel_handle();
            // Cleared only once the device is ours: a ceremony still running holds the lock, and
            // its cancel must not be undone by the request queued behind it.
            handle.reset();
            let link = cancel.link(&handle);
            let result = c.perform(&mut **device, bridge);
            drop(link);
            // Cleared again before the lock goes, so that listing, deleting and signals (which
            // take the same device) do not see this ceremony's cancel.
            handle.reset();
            result
        })
        .await;
        if trusted && result.is_ok() {
            // The user went through the trusted prompt (with the right PIN, where one was asked):
            // a terminal prompt may try again.
            self.pin_strike.store(false, Ordering::SeqCst);
        }
        result
    }
}

#[async_trait]
impl Ceremonies for PlatformBackend {
    async fn create(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> Result<serde_json::Value, WebAuthnError> {
        self.run(c, ui, cancel).await
    }

    async fn get(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> Result<serde_json::Value, WebAuthnError> {
        self.run(c, ui, cancel).await
    }

    fn capabilities(&self) -> BTreeMap<String, bool> {
        BTreeMap::from([
            ("passkeyPlatformAuthenticator".to_owned(), true),
            ("userVerifyingPlatformAuthenticator".to_owned(), true),
            ("extension:credProps".to_owned(), true),
        ])
    }
}

impl PlatformStore for PlatformBackend {
    fn list(&self, rp_id: Option<&str>) -> Result<Vec<CredentialInfo>, StoreError> {
        self.lock()
            .list(rp_id)
            .ok_or(StoreError::Unsupported)?
            .map_err(StoreError::Manage)
    }

    fn delete(&self, credential_id: &[u8]) -> Result<bool, StoreError> {
        self.lock()
            .delete(credential_id)
            .ok_or(StoreError::Unsupported)?
            .map_err(StoreError::Manage)
    }

    fn signal_support(&self) -> SignalSupport {
        // Signals act on platform credentials, through list, delete and update-user.
        SignalSupport::ALL
    }

    fn apply_signal(&self, s: &Signal) -> Result<SignalReport, SignalError> {
        // Under one lock: no ceremony changes the RP's credentials between the listing and the
        // changes it plans.
        signal::apply(&mut **self.lock(), s)
    }

    fn change_pin(&self, current: &str, new: &str) -> Result<(), WebAuthnError> {
        // The client asks its UI for the current PIN, then the new one: answered from what the
        // trusted prompt gave (copied into zeroised buffers).
        let mut ui = latchkey_client::ScriptedUi::with_pins([current, new]);
        let mut device = self.lock();
        let device: &mut dyn latchkey_client::Device = &mut **device;
        latchkey_client::manage::change_pin(device, &mut ui)
    }

    fn end_session(&self) -> Result<bool, StoreError> {
        self.lock().end_session().map_err(StoreError::Manage)
    }
}
