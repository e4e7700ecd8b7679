//! [`WorkerDevice`]: the platform authenticator as latchkeyd sees it, a [`Device`] (and a
//! [`RoutedDevice`]) whose CTAP requests, listings and deletions go to the sandboxed
//! `latchkey-platform-worker` child over a socketpair.
//!
//! The worker starts with the device and again, on the next call, after it died: a request under
//! way when it dies (crash, kill) fails with [`DeviceError::Gone`] "the platform authenticator
//! stopped", which the client turns into a `NotAllowedError`; listing and deleting fail with an
//! `UnknownError` with the same message. Cancelling sends `Cancel` to the worker and returns
//! [`DeviceError::Cancelled`] at once; the late reply is recognised by its `seq` and dropped.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use latchkey_client::device::KeepaliveStatus;
use latchkey_client::manage::CredentialInfo;
use latchkey_client::{CancelHandle, Device, DeviceDescription, DeviceError, Transport};
use latchkey_webauthn::WebAuthnError;

use super::link::{is_timeout, Link, Received};
use super::protocol::{ErrorCode, Message, Ready, Reply, Request};
use crate::platform::RoutedDevice;

/// The worker executable's file name; latchkeyd looks for it next to itself.
pub const WORKER_PROGRAM: &str = "latchkey-platform-worker";

/// What a request failing because the worker went away says.
pub const STOPPED: &str = "the platform authenticator stopped";

/// How latchkeyd starts the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    /// The `latchkey-platform-worker` executable.
    pub program: PathBuf,
    /// The credential store directory (`$XDG_DATA_HOME/latchkey` by default).
    pub store_dir: PathBuf,
    /// The worker's log filter (its standard error is latchkeyd's).
    pub log_level: String,
    /// How long the worker may take to open the store and say `Ready`.
    pub start_timeout: Duration,
    /// How long one request may take before the worker is presumed hung and killed.
    pub request_timeout: Duration,
}

impl WorkerConfig {
    /// A worker at `program` over the store in `store_dir`.
    pub fn new(program: impl Into<PathBuf>, store_dir: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            store_dir: store_dir.into(),
            log_level: "info".into(),
            start_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
        }
    }

    /// The worker installed next to the running executable (latchkeyd).
    pub fn beside_current_exe(store_dir: impl Into<PathBuf>) -> Result<Self, WorkerError> {
        let exe = std::env::current_exe().map_err(WorkerError::Io)?;
        let program = exe
            .parent()
            .map(|d| d.join(WORKER_PROGRAM))
            .filter(|p| p.is_file())
            .ok_or_else(|| WorkerError::NotFound(exe.with_file_name(WORKER_PROGRAM)))?;
        Ok(Self::new(program, store_dir))
    }
}

/// Why the worker could not be started or talked to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// No worker executable where it should be.
    #[error("the platform authenticator worker is missing: {0} does not exist")]
    NotFound(PathBuf),
    /// Starting it failed.
    #[error("cannot start the platform authenticator worker {program}: {source}")]
    Spawn {
        /// The executable.
        program: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The socketpair failed.
    #[error("I/O error with the platform authenticator worker: {0}")]
    Io(io::Error),
    /// The worker refused to start (store or sandbox failure), in its words.
    #[error("the platform authenticator could not start: {0}")]
    Refused(String),
    /// The worker sent something that is not a valid reply.
    #[error("the platform authenticator sent a malformed reply: {0}")]
    Garbled(String),
    /// The worker exited or closed its end.
    #[error("{STOPPED}")]
    Stopped,
    /// The worker did not answer in time (and was killed).
    #[error("the platform authenticator did not answer in time")]
    Timeout,
    /// The request was cancelled.
    #[error("the request was cancelled")]
    Cancelled,
    /// The worker answered with an error.
    #[error("the platform authenticator failed: {0}")]
    Failed(String),
}

impl WorkerError {
    fn into_device_error(self) -> DeviceError {
        match self {
            Self::Cancelled => DeviceError::Cancelled,
            Self::Timeout => DeviceError::Timeout,
            Self::Stopped => DeviceError::Gone(STOPPED.into()),
            Self::Garbled(m) => DeviceError::Garbage(m),
            other => DeviceError::Gone(other.to_string()),
        }
    }

    fn into_webauthn(self) -> WebAuthnError {
        match self {
            Self::Cancelled => WebAuthnError::abort("the request was cancelled"),
            other => WebAuthnError::unknown(other.to_string()),
        }
    }
}

/// A running worker.
struct Running {
    child: Child,
    link: Link,
}

impl Running {
    /// Kills the worker (if it still runs) and reaps it.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Closes the link so the worker exits on its own; kills it after a grace period.
    fn close(mut self) {
        let _ = self.link.shutdown();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        self.kill();
    }
}

/// The request in flight, for the cancel hook.
#[derive(Default)]
struct InFlight {
    link: Option<Link>,
    seq: u64,
}

/// How often a waiting request looks at its cancel flag.
const POLL: Duration = Duration::from_millis(50);

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
        let mut all = Vec::new();
        let mut first = true;
        loop {
            let reply = if first {
                self.call(&request)
            } else {
                self.wait(self.seq)
            };
            first = false;
            match reply.map_err(WorkerError::into_webauthn)? {
                Reply::Credentials { items, more } => {
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
        match self.call(&request).map_err(WorkerError::into_webauthn)? {
            Reply::Deleted(yes) => {
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
                WorkerError::Garbled(format!("unexpected reply {other:?}"))
            }
        }
    }

    /// Sends `request` (starting the worker if needed) and waits for its first reply.
    fn call(&mut self, request: &Request) -> Result<Reply, WorkerError> {
        if self.cancel.is_cancelled() {
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
            state.link = running.link.try_clone().ok();
            running.link.send(&request.encode(seq))
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "the platform authenticator worker is gone");
            self.stop_killing();
            return Err(WorkerError::Stopped);
        }
        self.wait(seq)
    }

    /// Forgets the request in flight (its link handle would keep the worker's socket open).
    fn end_call(&mut self) {
        let mut state = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.link = None;
    }

    /// Waits for the reply to `seq`, dropping late replies to earlier requests.
    fn wait(&mut self, seq: u64) -> Result<Reply, WorkerError> {
        let deadline = Instant::now() + self.config.request_timeout;
        loop {
            if self.cancel.is_cancelled() {
                self.end_call();
                return Err(WorkerError::Cancelled);
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
                    Ok(Message { seq: s, body }) if s == seq => return Ok(body),
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
                Err(e) if is_timeout(&e) => {
                    if Instant::now() >= deadline {
                        tracing::warn!("the platform authenticator worker hangs; killing it");
                        self.stop_killing();
                        return Err(WorkerError::Timeout);
                    }
                }
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

/// Starts the worker and waits for its `Ready`.
fn spawn(config: &WorkerConfig) -> Result<(Running, Ready), WorkerError> {
    let (link, theirs) = Link::pair().map_err(WorkerError::Io)?;
    let mut command = Command::new(&config.program);
    command
        .arg("--store")
        .arg(&config.store_dir)
        .arg("--log-level")
        .arg(&config.log_level)
        .stdin(Stdio::from(theirs))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        // Nothing of latchkeyd's environment but what the store needs to find a TPM.
        .env_clear();
    for var in ["TPM2TOOLS_TCTI", "TCTI", "TSS2_LOG"] {
        if let Some(value) = std::env::var_os(var) {
            command.env(var, value);
        }
    }
    let child = command.spawn().map_err(|source| WorkerError::Spawn {
        program: config.program.clone(),
        source,
    })?;
    // The Command held the worker's end; it is closed here once the child has it.
    drop(command);
    let running = Running { child, link };
    match wait_ready(&running.link, config.start_timeout) {
        Ok(ready) => {
            tracing::debug!(pid = running.child.id(), store = %ready.kind, "platform authenticator worker ready");
            Ok((running, ready))
        }
        Err(e) => {
            running.kill();
            Err(e)
        }
    }
}

fn wait_ready(link: &Link, timeout: Duration) -> Result<Ready, WorkerError> {
    link.set_read_timeout(Some(timeout))
        .map_err(WorkerError::Io)?;
    link.set_write_timeout(Some(Duration::from_secs(10)))
        .map_err(WorkerError::Io)?;
    match link.recv() {
        Ok(Received::Message(bytes)) => match Reply::decode(&bytes) {
            Ok(Message {
                body: Reply::Ready(ready),
                ..
            }) => Ok(ready),
            Ok(Message {
                body: Reply::Error(e),
                ..
            }) => Err(WorkerError::Refused(e.message)),
            Ok(other) => Err(WorkerError::Garbled(format!(
                "expected Ready, got {other:?}"
            ))),
            Err(e) => Err(WorkerError::Garbled(e.to_string())),
        },
        Ok(Received::TooLarge) => Err(WorkerError::Garbled("a reply was too large".into())),
        Ok(Received::Closed) => Err(WorkerError::Refused(
            "the worker exited before opening the store".into(),
        )),
        Err(e) if is_timeout(&e) => Err(WorkerError::Timeout),
        Err(e) => Err(WorkerError::Io(e)),
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
        let reply = self
            .call(&Request::Ctap(request.to_vec()))
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

impl RoutedDevice for WorkerDevice {
    fn list(&mut self, rp_id: Option<&str>) -> Option<Result<Vec<CredentialInfo>, WebAuthnError>> {
        Some(WorkerDevice::list(self, rp_id))
    }
    fn delete(&mut self, id: &[u8]) -> Option<Result<bool, WebAuthnError>> {
        Some(WorkerDevice::delete(self, id))
    }
}

/// The store directory latchkeyd uses when none is given: `$XDG_DATA_HOME/latchkey`.
pub fn default_store_dir(dir: Option<&Path>) -> Result<PathBuf, WorkerError> {
    latchkey_client::platform::store_dir(dir).map_err(|e| WorkerError::Refused(e.to_string()))
}
