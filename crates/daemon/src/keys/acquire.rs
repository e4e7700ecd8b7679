//! Getting hold of a security key for one ceremony, on its blocking thread:
//!
//! 1. Open every key present and follow the ones that appear (`latchkey_worker::keys`): in the
//!    device worker when latchkeyd has one ([`KeyAccess::Worker`], as the `latchkeyd` binary
//!    does), else in this process ([`KeyAccess::InProcess`], for embedders and in-process tests).
//! 2. One key: it is used as is (no extra touch). Several: each is asked for a touch
//!    ([`select_joining`]); the first touched wins and the others get CTAPHID_CANCEL. None: the
//!    prompt says [`crate::shown::INSERT_KEY`] and the first key to appear is used.
//!
//! What the prompt shows meanwhile goes through a [`ShowTx`]: this thread never waits on it.
//!
//! Every key opened is tied to the ceremony's [`CancelHandle`]: cancelling the ceremony cancels
//! them all (CTAPHID_CANCEL to a key waiting for a touch) and stops following new ones.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use latchkey_client::select::select_joining;
use latchkey_client::{CancelHandle, Device};
use latchkey_webauthn::WebAuthnError;
use latchkey_worker::device_worker::{DeviceWorker, DeviceWorkerConfig, Reach};
use latchkey_worker::keys::{self, Found, Sources, POLL};

use super::KeySources;
use crate::shown::ShowTx;

/// Where keys are opened.
#[derive(Debug)]
pub enum KeyAccess {
    /// In this process.
    InProcess,
    /// In `latchkey-device-worker`, started at the first ceremony on keys and again after it
    /// stopped.
    Worker {
        /// How to start it.
        config: DeviceWorkerConfig,
        /// The running worker.
        running: Mutex<Option<Arc<DeviceWorker>>>,
    },
}

impl KeyAccess {
    /// Keys opened in a device worker started with `config`.
    pub fn worker(config: DeviceWorkerConfig) -> Self {
        Self::Worker {
            config,
            running: Mutex::new(None),
        }
    }

    /// The running device worker, started if there is none, the last one stopped, or it is not
    /// the one `reach` needs (its namespaces keep pcscd's socket as it was when it started, and
    /// the session's network only for `udp:` keys; `unix:` keys latchkeyd connects for it). A
    /// worker replaced so lives on for the ceremonies that hold its keys, and is let go outside
    /// the lock.
    fn running(
        config: &DeviceWorkerConfig,
        running: &Mutex<Option<Arc<DeviceWorker>>>,
        reach: &Reach,
    ) -> Result<Arc<DeviceWorker>, WebAuthnError> {
        let mut slot = running
            .lock()
            .map_err(|_| WebAuthnError::unknown("the security key worker's lock is poisoned"))?;
        match slot.as_ref() {
            Some(worker) if worker.is_alive() && worker.suits(reach) => return Ok(worker.clone()),
            Some(worker) if worker.is_alive() => tracing::info!(
                ?reach,
                "the security key worker cannot reach what this ceremony needs (pcscd's socket made anew, or udp: keys named or no longer); starting one that can"
            ),
            Some(_) => tracing::warn!("the security key worker stopped; starting a new one"),
            None => {}
        }
        let retired = slot.take();
        let started = DeviceWorker::start(config, reach);
        let worker = match (started, retired) {
            (Ok(worker), retired) => {
                *slot = Some(worker.clone());
                // A retired worker no key holds stops here (its drop waits for it), not under
                // the lock.
                drop(slot);
                drop(retired);
                tracing::info!(pid = ?worker.pid(), "security key worker started");
                worker
            }
            // The one running still serves USB keys and cards: better than none.
            (Err(e), Some(old)) if old.is_alive() => {
                tracing::warn!(error = %e, "cannot start a security key worker that can reach what this ceremony needs; the running one is kept");
                *slot = Some(old.clone());
                old
            }
            (Err(e), _) => {
                return Err(WebAuthnError::not_allowed(format!(
                    "cannot start the security key worker: {e}"
                )))
            }
        };
        Ok(worker)
    }

    /// The running worker's process ID, if one runs.
    pub fn worker_pid(&self) -> Option<u32> {
        match self {
            Self::InProcess => None,
            Self::Worker { running, .. } => running
                .lock()
                .ok()
                .and_then(|r| r.as_ref().and_then(|w| w.pid())),
        }
    }

    /// Opens the keys present and follows the ones that appear, tied to `ceremony`.
    pub(crate) fn find(
        &self,
        sources: &KeySources,
        ceremony: &CancelHandle,
    ) -> Result<Found, WebAuthnError> {
        let specs = sources.named_specs();
        match self {
            Self::InProcess => Ok(keys::find(
                &Sources {
                    specs,
                    usb: sources.usb.clone(),
                    pcsc: sources.pcsc,
                    unix: None,
                    inotify: false,
                },
                ceremony,
            )),
            Self::Worker { config, running } => {
                let reach = Reach::for_keys(&specs, sources.pcsc);
                let worker = Self::running(config, running, &reach)?;
                worker
                    .find(&specs, sources.usb.is_some(), sources.pcsc, ceremony)
                    .map_err(|e| WebAuthnError::not_allowed(e.to_string()))
            }
        }
    }
}

fn cancelled() -> WebAuthnError {
    WebAuthnError::abort("the request was cancelled while waiting for a security key")
}

/// The key the ceremony uses (module doc), or why there is none: `AbortError` when cancelled,
/// `NotAllowedError` when no key came before `deadline` or none can come at all.
pub(crate) fn acquire(
    access: &KeyAccess,
    sources: &KeySources,
    ceremony: &CancelHandle,
    show: &ShowTx,
    deadline: Instant,
) -> Result<Box<dyn Device>, WebAuthnError> {
    if !sources.enabled() {
        return Err(WebAuthnError::not_allowed(
            "no security key is configured (latchkeyd runs with --no-usb, no --device and no PC/SC)",
        ));
    }
    let Found {
        present: mut devices,
        joins,
        stop: _stop,
    } = access.find(sources, ceremony)?;
    if ceremony.is_cancelled() {
        return Err(cancelled());
    }
    if devices.len() == 1 {
        return devices
            .pop()
            .ok_or_else(|| WebAuthnError::unknown("the key list changed"));
    }
    if devices.is_empty() {
        show.state(latchkey_prompt::StatusKind::InsertKey);
        loop {
            if ceremony.is_cancelled() {
                return Err(cancelled());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WebAuthnError::not_allowed(
                    "no security key was plugged in before the request timed out",
                ));
            }
            match joins.recv_timeout(left.min(POLL)) {
                Ok(d) => return Ok(d),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(if ceremony.is_cancelled() {
                        cancelled()
                    } else {
                        WebAuthnError::not_allowed("cannot watch for security keys")
                    })
                }
            }
        }
    }
    let left = deadline.saturating_duration_since(Instant::now());
    show.state(latchkey_prompt::StatusKind::SelectKey);
    let chosen = select_joining(devices, &joins, &mut show.clone(), left);
    if ceremony.is_cancelled() {
        return Err(cancelled());
    }
    chosen
}
