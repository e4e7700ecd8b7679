//! [`WorkerDevice`]: the platform authenticator as latchkeyd sees it, a [`Device`] (and a
//! [`ManagedDevice`]) whose CTAP requests, listings, deletions and user-name updates go to the
//! sandboxed `latchkey-platform-worker` child over a socketpair.
//!
//! The worker starts with the device and again, on the next call, after it died: a request under
//! way when it dies (crash, kill) fails with [`DeviceError::Gone`] "the platform authenticator
//! stopped", and the device keeps [`WorkerError::Stopped`] for latchkeyd
//! ([`ManagedDevice::take_failure`]), which fails the ceremony as the system's fault
//! (`UnknownError`); listing and deleting fail the same way; a worker found dead before a
//! request is reaped and replaced, and one found dead between the runs of a ceremony
//! ([`ManagedDevice::take_exit`]) fails that ceremony first. Cancelling (the device's [`CancelHandle`], which only ceremony requests heed: never
//! listing, deleting or renaming) sends `Cancel` to the worker and wakes the waiting call, which
//! returns [`DeviceError::Cancelled`] at once; the late reply is dropped by the session.
//!
//! This is the socket loop around [`Client`] (which holds every rule of the conversation): it
//! sends what the session gives and waits, with poll(2), for the worker's socket, the cancel
//! hook's [`Waker`] or the call's deadline; nothing is polled on a timer. A worker is not
//! trusted to be well behaved: each call has one deadline ([`WorkerConfig::request_timeout`])
//! however many messages arrive, a listing is bounded by the session, and a worker that breaks
//! the protocol is killed.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use latchkey_client::device::KeepaliveStatus;
use latchkey_client::kept::Kept;
use latchkey_client::manage::CredentialInfo;
use latchkey_client::{CancelHandle, Device, DeviceDescription, DeviceError, Transport};
use latchkey_webauthn::options::truncate_utf8;

use super::link::{Link, Readiness, Received, Waker};
use super::process::{launch, Running, WorkerConfig, WorkerError};
use super::protocol::{Malformed, Request, MAX_USER_FIELD};
use super::session::client::Client;
use super::session::{Outcome, Ready, SessionError};
use crate::managed::{ManageError, ManagedDevice};

pub use super::session::{MAX_LIST_BYTES, MAX_LIST_ITEMS};

/// What the cancel hook, on another thread, shares with the calls.
#[derive(Default)]
struct Shared {
    /// The running worker's session and a handle on its link; `None` between workers.
    session: Option<(Client, Link)>,
}

/// Whether a request is part of a ceremony (which the device's cancel handle cancels) or
/// management (list, delete, update user), which a ceremony's cancel does not touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ceremony,
    Manage,
}

/// The platform authenticator in its sandboxed worker process.
pub struct WorkerDevice {
    config: WorkerConfig,
    running: Option<Running>,
    cancel: CancelHandle,
    shared: Arc<Mutex<Shared>>,
    waker: Arc<Waker>,
    ready: Ready,
    /// Why the last CTAP request failed below CTAP, for [`ManagedDevice::take_failure`].
    failure: Option<WorkerError>,
    /// getInfo and the key agreement kept between ceremonies (`latchkey_client::kept`): every
    /// request passes [`Self::call`], which forgets what a request may change, and a new worker
    /// process forgets it all.
    kept: Kept,
}

impl std::fmt::Debug for WorkerDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerDevice")
            .field("config", &self.config)
            .field("pid", &self.pid())
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl WorkerDevice {
    /// Starts the worker now, so that a store that cannot be opened shows at once.
    pub fn start(config: WorkerConfig) -> Result<Self, WorkerError> {
        let cancel = CancelHandle::new();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let waker = Arc::new(Waker::new().map_err(WorkerError::Io)?);
        let (hook_shared, hook_waker) = (shared.clone(), waker.clone());
        cancel.on_cancel(move || {
            if let Some((client, link)) = lock(&hook_shared).session.as_mut() {
                if let Some(bytes) = client.cancel() {
                    // Best effort: a worker that is gone needs no cancelling.
                    let _ = link.send(&bytes);
                }
            }
            hook_waker.wake();
        });
        let mut device = Self {
            config,
            running: None,
            cancel,
            shared,
            waker,
            ready: Ready {
                store: String::new(),
                path: String::new(),
            },
            failure: None,
            kept: Kept::new(),
        };
        device.ensure_running()?;
        Ok(device)
    }

    /// The worker's process ID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    /// `"file"` or `"tpm"`: the store the worker opened.
    pub fn kind(&self) -> &str {
        &self.ready.store
    }

    /// Lists the platform credentials (of one RP, or all).
    pub fn list(&mut self, rp_id: Option<&str>) -> Result<Vec<CredentialInfo>, ManageError> {
        let request = Request::List {
            rp_id: rp_id.map(str::to_owned),
        };
        match self.call(&request, Kind::Manage) {
            Ok(Outcome::Credentials(items)) => Ok(items),
            other => Err(ManageError::Worker(self.unexpected(other))),
        }
    }

    /// Deletes a platform credential; `false` if none had that ID.
    pub fn delete(&mut self, credential_id: &[u8]) -> Result<bool, ManageError> {
        let request = Request::Delete {
            credential_id: credential_id.to_vec(),
        };
        match self.call(&request, Kind::Manage) {
            Ok(Outcome::Deleted(deleted)) => Ok(deleted),
            other => Err(ManageError::Worker(self.unexpected(other))),
        }
    }

    /// Sets a platform credential's `user.name` and `user.displayName` (each cut to
    /// [`MAX_USER_FIELD`] bytes, as the worker's store keeps them); `false` if none had that ID.
    pub fn update_user(
        &mut self,
        credential_id: &[u8],
        name: &str,
        display_name: &str,
    ) -> Result<bool, ManageError> {
        let request = Request::UpdateUser {
            credential_id: credential_id.to_vec(),
            name: truncate_utf8(name, MAX_USER_FIELD).to_owned(),
            display_name: truncate_utf8(display_name, MAX_USER_FIELD).to_owned(),
        };
        match self.call(&request, Kind::Manage) {
            Ok(Outcome::Updated(updated)) => Ok(updated),
            other => Err(ManageError::Worker(self.unexpected(other))),
        }
    }

    /// Ends the store's session in the worker now (screen locked, suspend): `true` if one was
    /// live. No worker running means no session: none is started for this.
    pub fn end_session(&mut self) -> Result<bool, ManageError> {
        self.reap_if_exited();
        if self.running.is_none() {
            return Ok(false);
        }
        match self.call(&Request::EndSession {}, Kind::Manage) {
            Ok(Outcome::SessionEnded(ended)) => Ok(ended),
            other => Err(ManageError::Worker(self.unexpected(other))),
        }
    }

    /// The error of a call that did not give the outcome its request expects (the session
    /// checks reply types, so only an error arrives here).
    fn unexpected(&mut self, result: Result<Outcome, WorkerError>) -> WorkerError {
        match result {
            Err(e) => e,
            Ok(_) => {
                self.stop_killing();
                WorkerError::Protocol(SessionError::Unexpected {
                    expected: "the reply to the request",
                    got: 0,
                })
            }
        }
    }

    /// Starts the worker if none runs (a dead one is reaped first).
    fn ensure_running(&mut self) -> Result<(), WorkerError> {
        self.reap_if_exited();
        if self.running.is_some() {
            return Ok(());
        }
        self.kept.forget();
        let (running, client, ready) = launch(&self.config)?;
        let link = running.link.try_clone().map_err(WorkerError::Io)?;
        if self.ready.store.is_empty() {
            tracing::debug!(
                pid = running.child.id(),
                "platform authenticator worker started"
            );
        } else {
            tracing::info!(
                pid = running.child.id(),
                "platform authenticator worker restarted"
            );
        }
        lock(&self.shared).session = Some((client, link));
        self.running = Some(running);
        self.ready = ready;
        Ok(())
    }

    /// Sends `request` (starting the worker if needed) and waits, until the call's deadline,
    /// for its outcome. Only a ceremony request heeds the cancel flag.
    fn call(&mut self, request: &Request, kind: Kind) -> Result<Outcome, WorkerError> {
        match request {
            Request::Ctap { command } => self.kept.observe(command),
            Request::List { .. } => {}
            _ => self.kept.forget(),
        }
        let deadline = Instant::now() + self.config.request_timeout;
        if kind == Kind::Ceremony && self.cancel.is_cancelled() {
            return Err(WorkerError::Cancelled);
        }
        self.ensure_running()?;
        let sent = {
            let mut shared = lock(&self.shared);
            let Some((client, link)) = shared.session.as_mut() else {
                return Err(WorkerError::Stopped);
            };
            // A cancel that came after the check above found no request to cancel: see it
            // here, under the lock the cancel hook takes.
            if kind == Kind::Ceremony && self.cancel.is_cancelled() {
                return Err(WorkerError::Cancelled);
            }
            let bytes = client.start(request)?;
            link.send(&bytes)
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "the platform authenticator worker is gone");
            self.stop_killing();
            return Err(WorkerError::Stopped);
        }
        self.wait(kind, deadline)
    }

    /// Reaps a worker that exited while idle, so it does not linger as a zombie; the call that
    /// follows starts a new one.
    fn reap_if_exited(&mut self) {
        let exited = match self.running.as_mut() {
            Some(running) => !matches!(running.child.try_wait(), Ok(None)),
            None => false,
        };
        if exited {
            tracing::warn!("the platform authenticator worker exited while idle");
            self.stop_killing();
        }
    }

    /// Waits, until `deadline`, for the outcome of the request under way.
    fn wait(&mut self, kind: Kind, deadline: Instant) -> Result<Outcome, WorkerError> {
        loop {
            if kind == Kind::Ceremony && self.cancel.is_cancelled() {
                if let Some((client, link)) = lock(&self.shared).session.as_mut() {
                    // The cancel hook may have found no request to cancel yet.
                    if let Some(bytes) = client.cancel() {
                        let _ = link.send(&bytes);
                    }
                }
                return Err(WorkerError::Cancelled);
            }
            let Some(running) = self.running.as_ref() else {
                return Err(WorkerError::Stopped);
            };
            let received = match running.link.wait(deadline, Some(&self.waker)) {
                Ok(Readiness::Readable) => running.link.recv(),
                Ok(Readiness::Woken) => continue,
                Ok(Readiness::TimedOut) => {
                    tracing::warn!("the platform authenticator worker hangs; killing it");
                    self.stop_killing();
                    return Err(WorkerError::Timeout);
                }
                Err(e) => Err(e),
            };
            let bytes = match received {
                Ok(Received::Message(bytes)) => bytes,
                Ok(Received::TooLarge) => {
                    self.stop_killing();
                    return Err(WorkerError::Protocol(Malformed::too_large().into()));
                }
                Ok(Received::Closed) => {
                    tracing::warn!("the platform authenticator worker stopped");
                    self.stop_killing();
                    return Err(WorkerError::Stopped);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "the platform authenticator worker's link failed");
                    self.stop_killing();
                    return Err(WorkerError::Stopped);
                }
            };
            let result = match lock(&self.shared).session.as_mut() {
                Some((client, _)) => client.receive(&bytes),
                None => return Err(WorkerError::Stopped),
            };
            match result {
                Ok(Some(outcome)) => return Ok(outcome),
                Ok(None) => {}
                Err(e @ (SessionError::Cancelled | SessionError::Failed { .. })) => {
                    return Err(e.into())
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the platform authenticator worker broke the protocol; killing it");
                    self.stop_killing();
                    return Err(WorkerError::Protocol(e));
                }
            }
        }
    }

    /// Kills and reaps the worker; the next call starts a new one.
    fn stop_killing(&mut self) {
        lock(&self.shared).session = None;
        if let Some(running) = self.running.take() {
            running.kill();
        }
    }
}

impl Drop for WorkerDevice {
    fn drop(&mut self) {
        lock(&self.shared).session = None;
        if let Some(running) = self.running.take() {
            running.close();
        }
    }
}

impl Device for WorkerDevice {
    fn info(&self) -> DeviceDescription {
        DeviceDescription {
            name: "Latchkey platform authenticator".into(),
            path: self.ready.path.clone(),
            transport: Transport::Internal,
            cbor: true,
        }
    }

    fn cbor(
        &mut self,
        request: &[u8],
        _status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        let request = Request::Ctap {
            command: request.to_vec(),
        };
        match self.call(&request, Kind::Ceremony) {
            Ok(Outcome::Ctap(response)) => Ok(response),
            other => {
                let e = self.unexpected(other);
                tracing::warn!(error = %crate::managed::chain(&e), "a CTAP request to the platform authenticator worker failed");
                let seen = e.to_device_error();
                self.failure = Some(e);
                Err(seen)
            }
        }
    }

    fn msg(&mut self, _apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        Err(DeviceError::Unsupported(
            "U2F messages (the platform authenticator speaks CTAP2)",
        ))
    }

    fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    fn kept(&mut self) -> Option<&mut Kept> {
        Some(&mut self.kept)
    }
}

impl ManagedDevice for WorkerDevice {
    fn list(&mut self, rp_id: Option<&str>) -> Option<Result<Vec<CredentialInfo>, ManageError>> {
        Some(WorkerDevice::list(self, rp_id))
    }
    fn delete(&mut self, id: &[u8]) -> Option<Result<bool, ManageError>> {
        Some(WorkerDevice::delete(self, id))
    }
    fn update_user(
        &mut self,
        id: &[u8],
        name: &str,
        display_name: &str,
    ) -> Option<Result<bool, ManageError>> {
        Some(WorkerDevice::update_user(self, id, name, display_name))
    }
    fn end_session(&mut self) -> Result<bool, ManageError> {
        WorkerDevice::end_session(self)
    }
    fn take_failure(&mut self) -> Option<ManageError> {
        self.failure.take().map(ManageError::Worker)
    }
    fn take_exit(&mut self) -> Option<ManageError> {
        let exited = match self.running.as_mut() {
            Some(running) => !matches!(running.child.try_wait(), Ok(None)),
            None => false,
        };
        if !exited {
            return None;
        }
        tracing::warn!(
            "the platform authenticator worker stopped; the next request starts a new one"
        );
        self.stop_killing();
        Some(ManageError::Worker(WorkerError::Stopped))
    }
}
