//! [`Authenticators`] over one `latchkey-client` [`Device`], kept open: the platform authenticator
//! (in process over the user's credential store, or its worker), with
//! `latchkey_client::register` / `authenticate` on a blocking thread. The user side of the
//! ceremony (PIN, account choice, status) is bridged to the prompt through [`PromptSession`]
//! ([`crate::bridge`]). Security keys, opened per ceremony, are [`crate::keys`]; which of the two
//! a ceremony goes to is [`crate::routing`].
//!
//! User presence for the platform authenticator is the consent latchkeyd already obtained from the
//! prompt before it calls [`Authenticators::create`]/[`Authenticators::get`]; user verification is
//! the PIN the authenticator itself checks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use latchkey_client::{CancelHandle, CeremonyUi, Device};
use latchkey_webauthn::WebAuthnError;
pub use latchkey_worker::ManagedDevice as RoutedDevice;

use crate::authenticators::{
    Authenticators, Ceremony, ManageError, PlatformCredential, PromptSession, RequestId,
};
use crate::bridge::UiBridge;
use crate::signal::{Signal, SignalError, SignalReport, SignalSupport};

/// One device, one ceremony at a time (the prompt queue already serialises requests).
pub struct ClientAuthenticators {
    device: Arc<Mutex<Box<dyn RoutedDevice>>>,
    cancel: CancelHandle,
    current: Mutex<Option<RequestId>>,
    platform: bool,
}

impl ClientAuthenticators {
    /// Routes every ceremony to `device`; `platform` says whether it is the platform
    /// authenticator (for `getClientCapabilities`).
    pub fn new(device: Box<dyn RoutedDevice>, platform: bool) -> Self {
        let cancel = device.cancel_handle();
        Self {
            device: Arc::new(Mutex::new(device)),
            cancel,
            current: Mutex::new(None),
            platform,
        }
    }

    async fn run<T, F>(
        &self,
        id: RequestId,
        ui: Arc<dyn PromptSession>,
        f: F,
    ) -> Result<T, WebAuthnError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Device, &mut dyn CeremonyUi) -> Result<T, WebAuthnError>
            + Send
            + 'static,
    {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(id);
        let device = self.device.clone();
        let cancel = self.cancel.clone();
        let handle = tokio::runtime::Handle::current();
        let joined = tokio::task::spawn_blocking(move || {
            let mut bridge = UiBridge::new(ui, handle);
            let mut device = device.lock().unwrap_or_else(PoisonError::into_inner);
            // Cleared only once the device is ours: a ceremony still running holds the lock, and
            // its cancel must not be undone by the request queued behind it.
            cancel.reset();
            let result = f(device.as_device_mut(), &mut bridge);
            // Cleared again before the lock goes, so that listing, deleting and signals (which
            // take the same device) do not see this ceremony's cancel.
            cancel.reset();
            result
        })
        .await;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
        joined.map_err(|e| WebAuthnError::unknown(format!("the ceremony thread failed: {e}")))?
    }
}

trait AsDevice {
    fn as_device_mut(&mut self) -> &mut dyn Device;
}

impl AsDevice for Box<dyn RoutedDevice> {
    fn as_device_mut(&mut self) -> &mut dyn Device {
        &mut **self
    }
}

#[async_trait]
impl Authenticators for ClientAuthenticators {
    async fn create(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
    ) -> Result<serde_json::Value, WebAuthnError> {
        let request = c.create_request()?;
        self.run(c.id, ui, move |device, ui| {
            latchkey_client::register(device, &request, ui)?.to_json()
        })
        .await
    }

    async fn get(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
    ) -> Result<serde_json::Value, WebAuthnError> {
        let request = c.get_request()?;
        self.run(c.id, ui, move |device, ui| {
            latchkey_client::authenticate(device, &request, ui)?.to_json()
        })
        .await
    }

    fn cancel(&self, id: RequestId) {
        if *self.current.lock().unwrap_or_else(PoisonError::into_inner) == Some(id) {
            self.cancel.cancel();
        }
    }

    fn capabilities(&self) -> BTreeMap<String, bool> {
        BTreeMap::from([
            ("passkeyPlatformAuthenticator".to_owned(), self.platform),
            (
                "userVerifyingPlatformAuthenticator".to_owned(),
                self.platform,
            ),
            ("extension:credProps".to_owned(), true),
        ])
    }

    fn list_platform_credentials(
        &self,
        rp_id: Option<&str>,
    ) -> Result<Vec<PlatformCredential>, ManageError> {
        let mut device = self.device.lock().unwrap_or_else(PoisonError::into_inner);
        let list = device
            .list(rp_id)
            .ok_or_else(|| {
                ManageError::Store("this authenticator keeps no platform credentials".into())
            })?
            .map_err(|e| ManageError::Store(e.to_string()))?;
        Ok(list
            .into_iter()
            .map(|c| PlatformCredential {
                credential_id: c.credential_id,
                rp_id: c.rp_id,
                user_name: c.user_name.unwrap_or_default(),
                user_display_name: c.user_display_name.unwrap_or_default(),
            })
            .collect())
    }

    fn delete_platform_credential(&self, credential_id: &[u8]) -> Result<(), ManageError> {
        let mut device = self.device.lock().unwrap_or_else(PoisonError::into_inner);
        match device.delete(credential_id) {
            Some(Ok(true)) => Ok(()),
            Some(Ok(false)) => Err(ManageError::NotFound),
            Some(Err(e)) => Err(ManageError::Store(e.to_string())),
            None => Err(ManageError::Store(
                "this authenticator keeps no platform credentials".into(),
            )),
        }
    }

    fn signal_support(&self) -> SignalSupport {
        // Signals act on platform credentials, through list, delete and update-user.
        if self.platform {
            SignalSupport::ALL
        } else {
            SignalSupport::NONE
        }
    }

    fn apply_signal(&self, signal: &Signal) -> Result<SignalReport, SignalError> {
        if !self.platform {
            return Err(SignalError::NotSupported(signal.body.kind().capability()));
        }
        let mut device = self.device.lock().unwrap_or_else(PoisonError::into_inner);
        crate::signal::apply_to_device(&mut **device, signal)
    }
}
