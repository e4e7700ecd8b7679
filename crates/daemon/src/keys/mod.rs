//! [`Ceremonies`] on security keys: virtual keys (`unix:PATH`, `udp:HOST:PORT`), USB keys
//! (`/dev/hidrawN`) and NFC cards on PC/SC readers (`pcsc:READER`), named by `--device`, listed
//! in `devices.toml` (`$XDG_CONFIG_HOME/latchkey/devices.toml`, the file the `latchkey` CLI
//! reads), or found by hidraw discovery with hot-plug and by pcscd's reader events. Each
//! ceremony opens the keys afresh (the `acquire` module; in the sandboxed device worker when
//! latchkeyd runs one, [`KeyAccess`]), runs `latchkey_client::register` /
//! `authenticate_until_choice` on the chosen one on a blocking thread, and closes them.
//!
//! The user side goes through the request's [`PromptSession`], on the request's own task, never
//! from the blocking thread: "touch your key", "insert your key" and the like are sent to it as
//! they come ([`crate::shown`]); a PIN question ends the run, is asked, and the ceremony runs
//! again on the same key with the answer ([`crate::answers`]) — the PIN always comes before the
//! touch, so the touch is asked once; with several discoverable credentials the client's part
//! returns them all, signed by that one touch (CTAP 2.1 §6.2.2), and the account is asked
//! afterwards and the ceremony finished on the key without another signature.
//!
//! Cancelling the request's [`CancelToken`] (or dropping the ceremony's future) cancels the
//! ceremony's [`CancelHandle`], which sends CTAPHID_CANCEL to every key it opened and ends the
//! wait for keys; the blocking thread then ends on its own and the request is freed at once.

mod acquire;
mod held;

pub use acquire::KeyAccess;
pub(crate) use held::Held;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use latchkey_client::devices::{read_config, ListError};
use latchkey_client::{CancelHandle, Device};
use latchkey_prompt::ChoiceKind;
use latchkey_transport::{DeviceSpec, Roots};
use latchkey_webauthn::WebAuthnError;

use crate::answers::{ask_pin, choose_signed_account, AnsweredUi, Answers, Question, MAX_ANSWERS};
use crate::ceremony::{
    CancelToken, Ceremonies, Ceremony, CeremonyResult, Fault, Performed, PromptSession,
};
use crate::options::Timeouts;
use crate::shown::{self, showing, StatusLine};

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
    /// Whether the cards on PC/SC readers are used, and cards put on a reader during a ceremony
    /// join it (needs the `pcsc` feature and pcscd).
    pub pcsc: bool,
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

    /// Whether a key can be used at all: one is named, the config file exists, or USB or PC/SC
    /// discovery is on.
    pub fn enabled(&self) -> bool {
        self.usb.is_some()
            || self.pcsc
            || !self.devices.is_empty()
            || self.config.as_deref().is_some_and(Path::exists)
    }
}

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

/// Counts a ceremony on keys as running until dropped.
struct InUse<'a>(&'a AtomicUsize);

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Security keys behind [`Ceremonies`].
pub struct KeyBackend {
    sources: KeySources,
    timeouts: Timeouts,
    access: Arc<KeyAccess>,
    /// Ceremonies on keys running now ([`Self::in_ceremony`]).
    running: AtomicUsize,
}

impl KeyBackend {
    /// Keys from `sources`; `timeouts` bounds how long a ceremony waits for a key (the request's
    /// own timeout usually ends it first).
    pub fn new(sources: KeySources, timeouts: Timeouts) -> Self {
        Self {
            sources,
            timeouts,
            access: Arc::new(KeyAccess::InProcess),
            running: AtomicUsize::new(0),
        }
    }

    /// The same, opening keys where `access` says (the device worker, for latchkeyd).
    pub fn with_access(mut self, access: KeyAccess) -> Self {
        self.access = Arc::new(access);
        self
    }

    /// Where keys are opened.
    pub fn access(&self) -> &KeyAccess {
        &self.access
    }

    /// Where keys come from.
    pub fn sources(&self) -> &KeySources {
        &self.sources
    }

    /// Whether a ceremony on keys is running (management of a key waits for none:
    /// [`crate::key_manage`] refuses while one runs).
    pub fn in_ceremony(&self) -> bool {
        self.running.load(Ordering::SeqCst) > 0
    }

    async fn run(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> Result<serde_json::Value, WebAuthnError> {
        self.running.fetch_add(1, Ordering::SeqCst);
        let _in_use = InUse(&self.running);
        // This ceremony's own handle: every key it opens is tied to it, and the request's
        // cancel reaches it for as long as the ceremony runs, prompt questions included.
        let handle = CancelHandle::new();
        let _on_drop = CancelOnDrop(Some(handle.clone()));
        let _link = cancel.link(&handle);
        let ui = ui.as_ref();
        let mut line = StatusLine::default();
        let wait = self.timeouts.clamp(c.options().timeout_ms());
        let deadline = Instant::now()
            .checked_add(wait)
            .unwrap_or_else(Instant::now);
        // The key: the one present, the one touched among several, or the one plugged in.
        let (show, rx) = shown::channel();
        let (access, sources, ceremony) =
            (self.access.clone(), self.sources.clone(), handle.clone());
        let found = tokio::task::spawn_blocking(move || {
            acquire::acquire(&access, &sources, &ceremony, &show, deadline)
        });
        let device = showing(ui, &mut line, rx, found)
            .await
            .map_err(thread_failed)??;
        let info = device.info();
        tracing::info!(request = %c.id(), key = %info.path, name = %info.name, "security key chosen");
        // Held while the prompt is asked and let go off this runtime thread (`held`).
        let mut held = Held::new(device);
        // The ceremony, run again on the same key after each question the prompt answered.
        let mut answers = Answers::default();
        let done = loop {
            let (show, rx) = shown::channel();
            let c = c.clone();
            // The key goes to the run's thread and back inside a `Held` (`Held::run_on`).
            let run = held.run_on(tokio::task::spawn_blocking, move |device| {
                let mut answered = AnsweredUi::live(&mut answers, show);
                let result = match device.get_mut() {
                    Some(device) => c.perform(&mut **device, &mut answered),
                    None => Err(key_lost()),
                };
                let question = answered.question.take();
                (answers, result, question)
            });
            let (kept_answers, result, question) = showing(ui, &mut line, rx, run)
                .await
                .map_err(thread_failed)?;
            answers = kept_answers;
            let Some(Question::Pin(question)) = question else {
                break result;
            };
            if answers.count() >= MAX_ANSWERS || cancel.is_cancelled() {
                break result;
            }
            ask_pin(ui, question, ChoiceKind::SecurityKey, &mut answers).await;
            line.reset();
        };
        let outcome = async {
            let choice = match done? {
                Performed::Response(json) => return Ok(json),
                Performed::Choose(choice) => choice,
            };
            // Several accounts, all signed by the one touch: the user picks one, and the key
            // finishes the ceremony with it (large blobs) without another signature.
            let index = choose_signed_account(ui, choice.accounts()).await?;
            held.run_on(tokio::task::spawn_blocking, move |device| {
                let device = device.get_mut().ok_or_else(key_lost)?;
                choice.finish(&mut **device, index)?.to_json()
            })
            .await
            .map_err(thread_failed)?
        }
        .await;
        // However it ended, the key is closed before the ceremony counts as over.
        held.let_go().await;
        outcome
    }
}

/// A run that did not give its key back (it cannot happen: every run returns the key it took).
fn key_lost() -> WebAuthnError {
    WebAuthnError::unknown("the security key was lost between two runs of the ceremony")
}

fn thread_failed(e: tokio::task::JoinError) -> WebAuthnError {
    WebAuthnError::unknown(format!("the ceremony thread failed: {e}"))
}

#[async_trait]
impl Ceremonies for KeyBackend {
    async fn create(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> CeremonyResult {
        // The client's typed cause decides whose fault a failure is.
        self.run(c, ui, cancel)
            .await
            .map_err(|e| Fault::from_ceremony(&e))
    }

    async fn get(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> CeremonyResult {
        // The client's typed cause decides whose fault a failure is.
        self.run(c, ui, cancel)
            .await
            .map_err(|e| Fault::from_ceremony(&e))
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
}

#[cfg(test)]
mod tests;
