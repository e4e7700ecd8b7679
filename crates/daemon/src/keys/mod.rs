//! [`Authenticators`] over security keys: virtual keys (`unix:PATH`, `udp:HOST:PORT`) and USB
//! keys (`/dev/hidrawN`), named by `--device`, listed in `devices.toml`
//! (`$XDG_CONFIG_HOME/latchkey/devices.toml`, the file the `latchkey` CLI reads), or found by
//! hidraw discovery with hot-plug. Each ceremony opens the keys afresh (the `acquire` module), runs
//! `latchkey_client::register` / `authenticate` on the chosen one on a blocking thread, and
//! closes them. The user side — PIN with retries left, "touch your key", "insert your key" —
//! goes through the request's [`PromptSession`] ([`crate::bridge`]).
//!
//! Cancelling ([`Authenticators::cancel`], or the request's future being dropped) cancels the
//! ceremony's [`CancelHandle`], which sends CTAPHID_CANCEL to every key it opened and ends the
//! wait for keys; the blocking thread then ends on its own and the request is freed at once.

mod acquire;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use latchkey_client::devices::{read_config, ListError};
use latchkey_client::{CancelHandle, CeremonyUi, Device};
use latchkey_transport::{DeviceSpec, Roots};
use latchkey_webauthn::WebAuthnError;

use crate::authenticators::{
    Authenticators, Ceremony, ManageError, PlatformCredential, PromptSession, RequestId,
};
use crate::bridge::UiBridge;
use crate::server::Timeouts;

/// WebAuthn extensions the client drives on security keys (L3 §5.1.7 `extension:<id>`
/// capabilities): appid/appidExclude on U2F keys, prf over hmac-secret, largeBlob, credProtect,
/// credBlob, minPinLength.
pub const KEY_EXTENSIONS: [&str; 7] = [
    "appid",
    "appidExclude",
    "prf",
    "largeBlob",
    "credProtect",
    "credBlob",
    "minPinLength",
];

/// Where security keys come from.
#[derive(Debug, Clone, Default)]
pub struct KeySources {
    /// Keys named on the command line (`--device`).
    pub devices: Vec<DeviceSpec>,
    /// `devices.toml` (`devices = ["unix:…", "udp:…", "hidraw:N"]`), read at each ceremony so
    /// edits apply without a restart; a missing file lists nothing.
    pub config: Option<PathBuf>,
    /// sysfs and `/dev` for hidraw discovery and hot-plug; `None` turns USB discovery off.
    pub usb: Option<Roots>,
}

impl KeySources {
    fn dev_root(&self) -> PathBuf {
        self.usb
            .as_ref()
            .map_or_else(|| PathBuf::from("/dev"), |r| r.dev.clone())
    }

    /// Reads the config file, for a start-up check: a broken file is reported, not fatal.
    pub fn check(&self) -> Result<Vec<DeviceSpec>, ListError> {
        match &self.config {
            Some(path) => read_config(path, &self.dev_root()),
            None => Ok(Vec::new()),
        }
    }

    /// The named keys: `--device` first, then the config file's, without duplicates.
    pub fn named_specs(&self) -> Vec<DeviceSpec> {
        let mut all = self.devices.clone();
        match self.check() {
            Ok(listed) => all.extend(listed),
            Err(e) => tracing::warn!(error = %e, "ignoring the security key list"),
        }
        let mut unique: Vec<DeviceSpec> = Vec::with_capacity(all.len());
        for spec in all {
            if !unique.contains(&spec) {
                unique.push(spec);
            }
        }
        unique
    }

    /// Whether a key can be used at all: one is named, the config file exists, or USB
    /// discovery is on.
    pub fn enabled(&self) -> bool {
        self.usb.is_some()
            || !self.devices.is_empty()
            || self.config.as_deref().is_some_and(Path::exists)
    }
}

/// The ceremony running on keys, for [`Authenticators::cancel`].
type Current = Mutex<Option<(RequestId, CancelHandle)>>;

/// Cancels the ceremony if its future is dropped before it finished (the request timed out or
/// was closed), so the blocking thread lets go of the keys.
struct CancelOnDrop(Option<CancelHandle>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.cancel();
        }
    }
}

/// Security keys behind [`Authenticators`].
pub struct KeyAuthenticators {
    sources: KeySources,
    timeouts: Timeouts,
    current: Arc<Current>,
}

impl KeyAuthenticators {
    /// Keys from `sources`; `timeouts` bounds how long a ceremony waits for a key (the request's
    /// own timeout usually ends it first).
    pub fn new(sources: KeySources, timeouts: Timeouts) -> Self {
        Self {
            sources,
            timeouts,
            current: Arc::default(),
        }
    }

    /// Where keys come from.
    pub fn sources(&self) -> &KeySources {
        &self.sources
    }

    async fn run<T, F>(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        f: F,
    ) -> Result<T, WebAuthnError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Device, &mut dyn CeremonyUi) -> Result<T, WebAuthnError>
            + Send
            + 'static,
    {
        let cancel = CancelHandle::new();
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some((c.id, cancel.clone()));
        let mut guard = CancelOnDrop(Some(cancel.clone()));
        let sources = self.sources.clone();
        let wait = self.timeouts.clamp(c.options.timeout_ms());
        let deadline = Instant::now()
            .checked_add(wait)
            .unwrap_or_else(Instant::now);
        let handle = tokio::runtime::Handle::current();
        let id = c.id;
        let joined = tokio::task::spawn_blocking(move || {
            let mut bridge = UiBridge::new(ui, handle);
            let mut device = acquire::acquire(&sources, &cancel, &mut bridge, deadline)?;
            let info = device.info();
            tracing::info!(request = %id, key = %info.path, name = %info.name, "security key chosen");
            f(&mut *device, &mut bridge)
        })
        .await;
        guard.0 = None;
        {
            let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            if current.as_ref().is_some_and(|(cur, _)| *cur == c.id) {
                *current = None;
            }
        }
        joined.map_err(|e| WebAuthnError::unknown(format!("the ceremony thread failed: {e}")))?
    }
}

#[async_trait]
impl Authenticators for KeyAuthenticators {
    async fn create(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
    ) -> Result<serde_json::Value, WebAuthnError> {
        let request = c.create_request()?;
        self.run(c, ui, move |device, ui| {
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
        self.run(c, ui, move |device, ui| {
            latchkey_client::authenticate(device, &request, ui)?.to_json()
        })
        .await
    }

    fn cancel(&self, id: RequestId) {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((cur, handle)) = current.as_ref() {
            if *cur == id {
                handle.cancel();
            }
        }
    }

    fn capabilities(&self) -> BTreeMap<String, bool> {
        let on = self.sources.enabled();
        let mut caps: BTreeMap<String, bool> = KEY_EXTENSIONS
            .iter()
            .map(|e| (format!("extension:{e}"), on))
            .collect();
        // Keys over USB, not a phone over caBLE/hybrid.
        caps.insert("hybridTransport".into(), false);
        caps
    }

    fn list_platform_credentials(
        &self,
        _rp_id: Option<&str>,
    ) -> Result<Vec<PlatformCredential>, ManageError> {
        Err(ManageError::Store(
            "security keys keep no platform credentials".into(),
        ))
    }

    fn delete_platform_credential(&self, _credential_id: &[u8]) -> Result<(), ManageError> {
        Err(ManageError::Store(
            "security keys keep no platform credentials".into(),
        ))
    }
}

#[cfg(test)]
mod tests;
