//! [`WorkerDevice`]: the platform authenticator as latchkeyd sees it, a [`Device`] (and a
//! [`ManagedDevice`]) whose CTAP requests, listings, deletions and user-name updates go to the
//! sandboxed `latchkey-platform-worker` child over a socketpair.
//!
//! The worker starts with the device and again, on the next call, after it died: a request under
//! way when it dies (crash, kill) fails with [`DeviceError::Gone`] "the platform authenticator
//! stopped", which the client turns into a `NotAllowedError`; listing and deleting fail with an
//! `UnknownError` with the same message; a worker found dead before a request is reaped and
//! replaced. Cancelling (the device's [`CancelHandle`], which only ceremony requests heed: never
//! listing, deleting or renaming) sends `Cancel` to the worker and returns
//! [`DeviceError::Cancelled`] at once; the late reply is recognised by its `seq` and dropped.
//!
//! A worker is not trusted to be well behaved: each call has one deadline
//! ([`WorkerConfig::request_timeout`]) however many messages arrive, and a listing at most
//! [`MAX_LIST_ITEMS`] credentials and [`MAX_LIST_BYTES`] bytes; past either the worker is killed.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use latchkey_client::device::KeepaliveStatus;
use latchkey_client::manage::CredentialInfo;
use latchkey_client::{CancelHandle, Device, DeviceDescription, DeviceError, Transport};
use latchkey_webauthn::WebAuthnError;

use super::link::{is_timeout, Link, Received};
use super::process::{spawn, Running, WorkerConfig, WorkerError};
use latchkey_webauthn::options::truncate_utf8;

use super::protocol::{ErrorCode, Message, Ready, Reply, Request, MAX_USER_FIELD};
use crate::managed::ManagedDevice;

/// The request in flight, for the cancel hook.
#[derive(Default)]
struct InFlight {
    link: Option<Link>,
    seq: u64,
}

/// How often a waiting request looks at its cancel flag.
const POLL: Duration = Duration::from_millis(50);

/// The most credentials one listing may bring, over all its parts.
pub const MAX_LIST_ITEMS: usize = 10_000;

/// The most reply bytes one listing may bring, over all its parts.
pub const MAX_LIST_BYTES: usize = 16 << 20;

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
    seq: u64,
    cancel: CancelHandle,
    in_flight: Arc<Mutex<InFlight>>,
    ready: Ready,
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

impl WorkerDevice {
    /// Starts the worker now, so that a store that cannot be opened shows at once.
    pub fn start(config: WorkerConfig) -> Result<Self, WorkerError> {
        let cancel = CancelHandle::new();
        let in_flight = Arc::new(Mutex::new(InFlight::default()));
        let hook_state = in_flight.clone();
        cancel.on_cancel(move || {
            let state = hook_state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(link) = &state.link {
                let target = state.seq;
                // Best effort: a worker that is gone needs no cancelling.
                let _ = link.send(&Request::Cancel { target }.encode(target));
            }
        });
        let (running, ready) = spawn(&config)?;
        Ok(Self {
            config,
            running: Some(running),
            seq: 0,
            cancel,
            in_flight,
            ready,
        })
    }

    /// The worker's process ID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    /// `"file"` or `"tpm"`: the store the worker opened.
    pub fn kind(&self) -> &str {
        &self.ready.kind
    }

    /// Lists the platform credentials (of one RP, or all).
    pub fn list(&mut self, rp_id: Option<&str>) -> Result<Vec<CredentialInfo>, WebAuthnError> {
        let request = Request::List {
            rp_id: rp_id.map(str::to_owned),
        };
        let deadline = Instant::now() + self.config.request_timeout;
        let mut all = Vec::new();
        let mut bytes = 0usize;
        let mut first = true;
        loop {
            let reply = if first {
                self.call(&request, Kind::Manage, deadline)
            } else {
                self.wait(self.seq, Kind::Manage, deadline)
            };
            first = false;
            let (reply, size) = reply.map_err(WorkerError::into_webauthn)?;
            match reply {
                Reply::Credentials { items, more } => {
                    bytes = bytes.saturating_add(size);
                    if all.len().saturating_add(items.len()) > MAX_LIST_ITEMS
                        || bytes > MAX_LIST_BYTES
                    {
                        tracing::warn!(
                            items = all.len().saturating_add(items.len()),
                            bytes,
                            "the platform authenticator worker lists too much; killing it"
                        );
                        self.stop_killing();
                        return Err(WorkerError::Garbled(format!(
                            "the credential list is longer than {MAX_LIST_ITEMS} credentials \
                             or {MAX_LIST_BYTES} bytes"
                        ))
                        .into_webauthn());
                    }
                    all.extend(items);
                    if !more {
                        self.end_call();
                        return Ok(all);
                    }
                }
                other => return Err(self.unexpected(other).into_webauthn()),
            }
        }
    }

    /// Deletes a platform credential; `false` if none had that ID.
    pub fn delete(&mut self, credential_id: &[u8]) -> Result<bool, WebAuthnError> {
        let request = Request::Delete {
            credential_id: credential_id.to_vec(),
        };
        let deadline = Instant::now() + self.config.request_timeout;
        match self
            .call(&request, Kind::Manage, deadline)
            .map_err(WorkerError::into_webauthn)?
            .0
        {
            Reply::Deleted(yes) => {
                self.end_call();
                Ok(yes)
            }
            other => Err(self.unexpected(other).into_webauthn()),
        }
    }

    /// Sets a platform credential's `user.name` and `user.displayName` (each cut to
    /// [`MAX_USER_FIELD`] bytes, as the worker's store keeps them); `false` if none had that ID.
    pub fn update_user(
        &mut self,
        credential_id: &[u8],
        name: &str,
        display_name: &str,
    ) -> Result<bool, WebAuthnError> {
        let request = Request::UpdateUser {
            credential_id: credential_id.to_vec(),
            name: truncate_utf8(name, MAX_USER_FIELD).to_owned(),
            display_name: truncate_utf8(display_name, MAX_USER_FIELD).to_owned(),
        };
        let deadline = Instant::now() + self.config.request_timeout;
        match self
            .call(&request, Kind::Manage, deadline)
            .map_err(WorkerError::into_webauthn)?
            .0
        {
            Reply::Updated(yes) => {
                self.end_call();
                Ok(yes)
            }
            other => Err(self.unexpected(other).into_webauthn()),
        }
    }

    fn unexpected(&mut self, reply: Reply) -> WorkerError {
        self.end_call();
        match reply {
            Reply::Error(e) if e.code == ErrorCode::Cancelled => WorkerError::Cancelled,
            Reply::Error(e) => WorkerError::Failed(e.message),
            other => {
                // A reply of the wrong kind: the worker is confused; start afresh next time.
                self.stop_killing();
                WorkerError::Garbled(format!("unexpected reply {}", other.summary()))
            }
        }
    }

    /// Sends `request` (starting the worker if needed) and waits, until `deadline`, for its first
    /// reply and that reply's size in bytes. Only a ceremony request heeds the cancel flag.
    fn call(
        &mut self,
        request: &Request,
        kind: Kind,
        deadline: Instant,
    ) -> Result<(Reply, usize), WorkerError> {
        self.reap_if_exited();
        if kind == Kind::Ceremony && self.cancel.is_cancelled() {
            return Err(WorkerError::Cancelled);
        }
        if self.running.is_none() {
            let (running, ready) = spawn(&self.config)?;
            tracing::info!(
                pid = running.child.id(),
                "platform authenticator worker restarted"
            );
            self.running = Some(running);
            self.ready = ready;
        }
        self.seq += 1;
        let seq = self.seq;
        let sent = {
            let Some(running) = self.running.as_ref() else {
                return Err(WorkerError::Stopped);
            };
            let mut state = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            state.seq = seq;
            if kind == Kind::Ceremony {
                state.link = running.link.try_clone().ok();
                // A cancel that came after the check above but before the link was set found
                // nothing to send to: see it here, under the lock the cancel hook takes.
                if self.cancel.is_cancelled() {
                    state.link = None;
                    return Err(WorkerError::Cancelled);
                }
            } else {
                state.link = None;
            }
            running.link.send(&request.encode(seq))
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "the platform authenticator worker is gone");
            self.stop_killing();
            return Err(WorkerError::Stopped);
        }
        self.wait(seq, kind, deadline)
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

    /// Forgets the request in flight (its link handle would keep the worker's socket open).
    fn end_call(&mut self) {
        let mut state = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.link = None;
    }

    /// Waits, until `deadline`, for the reply to `seq` (and its size in bytes), dropping late
    /// replies to earlier requests.
    fn wait(
        &mut self,
        seq: u64,
        kind: Kind,
        deadline: Instant,
    ) -> Result<(Reply, usize), WorkerError> {
        loop {
            if kind == Kind::Ceremony && self.cancel.is_cancelled() {
                if let Some(running) = self.running.as_ref() {
                    // The cancel hook may have found no link to send on; sending twice is
                    // harmless (the worker ignores a Cancel for a request it no longer runs).
                    let _ = running
                        .link
                        .send(&Request::Cancel { target: seq }.encode(seq));
                }
                self.end_call();
                return Err(WorkerError::Cancelled);
            }
            if Instant::now() >= deadline {
                tracing::warn!("the platform authenticator worker hangs; killing it");
                self.stop_killing();
                return Err(WorkerError::Timeout);
            }
            let Some(running) = self.running.as_ref() else {
                return Err(WorkerError::Stopped);
            };
            let received = running
                .link
                .set_read_timeout(Some(POLL))
                .and_then(|()| running.link.recv());
            match received {
                Ok(Received::Message(bytes)) => match Reply::decode(&bytes) {
                    Ok(Message { seq: s, body }) if s == seq => return Ok((body, bytes.len())),
                    Ok(_) => continue,
                    Err(e) => {
                        self.stop_killing();
                        return Err(WorkerError::Garbled(e.to_string()));
                    }
                },
                Ok(Received::TooLarge) => {
                    self.stop_killing();
                    return Err(WorkerError::Garbled("a reply was too large".into()));
                }
                Ok(Received::Closed) => {
                    tracing::warn!("the platform authenticator worker stopped");
                    self.stop_killing();
                    return Err(WorkerError::Stopped);
                }
                Err(e) if is_timeout(&e) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the platform authenticator worker's link failed");
                    self.stop_killing();
                    return Err(WorkerError::Stopped);
                }
            }
        }
    }

    /// Kills and reaps the worker; the next call starts a new one.
    fn stop_killing(&mut self) {
        self.end_call();
        if let Some(running) = self.running.take() {
            running.kill();
        }
    }
}

impl Drop for WorkerDevice {
    fn drop(&mut self) {
        self.end_call();
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
        let deadline = Instant::now() + self.config.request_timeout;
        let (reply, _) = self
            .call(&Request::Ctap(request.to_vec()), Kind::Ceremony, deadline)
            .map_err(WorkerError::into_device_error)?;
        match reply {
            Reply::Ctap(response) => {
                self.end_call();
                Ok(response)
            }
            other => Err(self.unexpected(other).into_device_error()),
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
}

impl ManagedDevice for WorkerDevice {
    fn list(&mut self, rp_id: Option<&str>) -> Option<Result<Vec<CredentialInfo>, WebAuthnError>> {
        Some(WorkerDevice::list(self, rp_id))
    }
    fn delete(&mut self, id: &[u8]) -> Option<Result<bool, WebAuthnError>> {
        Some(WorkerDevice::delete(self, id))
    }
    fn update_user(
        &mut self,
        id: &[u8],
        name: &str,
        display_name: &str,
    ) -> Option<Result<bool, WebAuthnError>> {
        Some(WorkerDevice::update_user(self, id, name, display_name))
    }
}
