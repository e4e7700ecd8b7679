//! Starting the worker: [`WorkerConfig`], [`WorkerError`], and the spawn handshake (the child
//! gets its end of the socketpair as standard input and answers `Ready`, with its protocol
//! version, once its sandbox is on and its store open). A worker of another protocol version
//! (its binary replaced by an upgrade under a running latchkeyd) is started once more, then
//! refused.

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use latchkey_client::device::{Gone, Malformed, Server};
use latchkey_client::DeviceError;

use super::link::{Link, Readiness, Received};
use super::protocol::PROTOCOL_VERSION;
use super::refusal::Refusal;
use super::session::client::Client;
use super::session::{Ready, SessionError};

/// The worker executable's file name; latchkeyd looks for it next to itself.
pub const WORKER_PROGRAM: &str = "latchkey-platform-worker";

/// What a request failing because the worker went away says.
pub const STOPPED: &str = Server::PlatformWorker.stopped();

/// How latchkeyd starts the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    /// The `latchkey-platform-worker` executable.
    pub program: PathBuf,
    /// The credential store directory (`$XDG_DATA_HOME/latchkey` by default).
    pub store_dir: PathBuf,
    /// The worker's log filter (its standard error is relayed into latchkeyd's log).
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

    /// latchkeyd's worker: the `latchkey-platform-worker` next to the running executable, over
    /// the store in `data_dir` (default `$XDG_DATA_HOME/latchkey`).
    pub fn for_latchkeyd(data_dir: Option<&Path>) -> Result<Self, WorkerError> {
        let store = latchkey_client::platform::store_dir(data_dir)
            .map_err(|e| WorkerError::Refused(Refusal::NoStore(e)))?;
        let exe = std::env::current_exe().map_err(WorkerError::Io)?;
        let program = exe.with_file_name(WORKER_PROGRAM);
        if !program.is_file() {
            return Err(WorkerError::NotFound(program));
        }
        Ok(Self::new(program, store))
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
    /// The worker refused to start (store or sandbox failure), or ended before it was ready.
    #[error("the platform authenticator could not start: {0}")]
    Refused(#[source] Refusal),
    /// The worker broke the protocol (a malformed message, a reply that answers nothing, …).
    #[error("the platform authenticator broke the worker protocol: {0}")]
    Protocol(SessionError),
    /// The worker speaks another protocol version, also when started again.
    #[error(
        "the platform authenticator worker {program} speaks protocol version {theirs}, \
         latchkeyd version {ours}: restart latchkeyd (an upgrade replaced the worker under it)",
        theirs = theirs.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
    )]
    VersionMismatch {
        /// The executable.
        program: PathBuf,
        /// latchkeyd's version.
        ours: u64,
        /// The worker's (`None`: from before versions).
        theirs: Option<u64>,
    },
    /// The worker exited or closed its end.
    #[error("{STOPPED}")]
    Stopped,
    /// The worker did not answer in time (and was killed).
    #[error("the platform authenticator did not answer in time")]
    Timeout,
    /// The request was cancelled.
    #[error("the request was cancelled")]
    Cancelled,
    /// The worker answered with an error: its protocol code says what failed (its store, a
    /// malformed request, too many requests), its words how.
    #[error("the platform authenticator failed: {message}")]
    Failed {
        /// The worker protocol's error code.
        code: crate::protocol::ErrorCode,
        /// The worker's words (its store error and causes).
        message: String,
        /// With code `Store`: the kind of store failure, which decides whose fault it is.
        store: Option<latchkey_authenticator::store::StoreErrorKind>,
    },
}

impl From<SessionError> for WorkerError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Cancelled => Self::Cancelled,
            SessionError::Failed {
                code,
                message,
                store,
            } => Self::Failed {
                code,
                message,
                store,
            },
            other => Self::Protocol(other),
        }
    }
}

impl WorkerError {
    /// What the client crate sees of this error (the worker device keeps the error itself for
    /// latchkeyd: [`crate::ManagedDevice::take_failure`]).
    pub(crate) fn to_device_error(&self) -> DeviceError {
        match self {
            Self::Cancelled => DeviceError::Cancelled,
            Self::Timeout => DeviceError::Timeout,
            Self::Stopped => DeviceError::Gone(Gone::Stopped(Server::PlatformWorker)),
            Self::Protocol(_) => DeviceError::Garbage(Malformed::Protocol(Server::PlatformWorker)),
            // The worker's words name files: they go to the log, not into a WebAuthn message.
            Self::Failed {
                store: Some(kind), ..
            } => failed(kind.describe()),
            Self::Failed { code, .. } => failed(code.describe()),
            Self::Io(_) => failed("its link broke"),
            _ => failed("it could not be started"),
        }
    }
}

/// The platform worker failed, `why`.
fn failed(why: &'static str) -> DeviceError {
    DeviceError::Gone(Gone::Failed {
        server: Server::PlatformWorker,
        why,
    })
}

/// A running worker.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) link: Link,
}

impl Running {
    /// Kills the worker (if it still runs) and reaps it.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let status = self.child.wait();
        self.reaped(status);
    }

    /// Logs how a worker that was reaped ended, when its seccomp filter killed it.
    fn reaped(&self, status: std::io::Result<std::process::ExitStatus>) {
        if let Some(why) = status.ok().as_ref().and_then(crate::sandbox::describe_exit) {
            tracing::error!(
                pid = self.child.id(),
                "the platform authenticator worker was {why}"
            );
        }
    }

    /// Closes the link so the worker exits on its own; kills it after a grace period.
    pub(crate) fn close(mut self) {
        let _ = self.link.shutdown();
        match super::link::wait_exit(&mut self.child, CLOSE_GRACE) {
            Ok(Some(status)) => self.reaped(Ok(status)),
            Ok(None) | Err(_) => self.kill(),
        }
    }
}

/// How long a worker whose link was closed may take to exit before it is killed.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Starts the worker and waits for its `Ready`; a worker of another protocol version is killed
/// and started once more (with a log line naming both versions), then refused.
pub(crate) fn launch(config: &WorkerConfig) -> Result<(Running, Client, Ready), WorkerError> {
    match spawn(config) {
        Err(WorkerError::VersionMismatch { theirs, .. }) => {
            tracing::warn!(
                program = %config.program.display(),
                worker_version = ?theirs,
                latchkeyd_version = PROTOCOL_VERSION,
                "the platform authenticator worker speaks protocol version {}, latchkeyd \
                 version {PROTOCOL_VERSION} (an upgrade may have replaced it under a running \
                 latchkeyd); starting it once more",
                theirs.map_or_else(|| "(none)".to_owned(), |v| v.to_string()),
            );
            spawn(config)
        }
        other => other,
    }
}

/// Starts the worker and waits for its `Ready`.
fn spawn(config: &WorkerConfig) -> Result<(Running, Client, Ready), WorkerError> {
    let (link, theirs) = Link::pair().map_err(WorkerError::Io)?;
    let mut command = Command::new(&config.program);
    command
        .arg("--store")
        .arg(&config.store_dir)
        .arg("--log-level")
        .arg(&config.log_level)
        .stdin(Stdio::from(theirs))
        .stdout(Stdio::null())
        // Never latchkeyd's own standard error, which may be a terminal: the worker's lines are
        // relayed into latchkeyd's log by `relay_stderr`.
        .stderr(Stdio::piped())
        // Nothing of latchkeyd's environment but what the store needs to find a TPM.
        .env_clear();
    for var in ["TPM2TOOLS_TCTI", "TCTI", "TSS2_LOG"] {
        if let Some(value) = std::env::var_os(var) {
            command.env(var, value);
        }
    }
    let mut child = command.spawn().map_err(|source| WorkerError::Spawn {
        program: config.program.clone(),
        source,
    })?;
    if let Some(stderr) = child.stderr.take() {
        let pid = child.id();
        let relay = std::thread::Builder::new()
            .name(format!("worker-{pid}-stderr"))
            .spawn(move || relay_stderr(stderr, pid));
        if let Err(e) = relay {
            // Without a reader the worker would block once the pipe is full: do not run it.
            let _ = child.kill();
            let _ = child.wait();
            return Err(WorkerError::Io(e));
        }
    }
    // The Command held the worker's end; it is closed here once the child has it.
    drop(command);
    let running = Running { child, link };
    let mut client = Client::new();
    match wait_ready(&running.link, &mut client, config) {
        Ok(ready) => {
            tracing::debug!(pid = running.child.id(), store = %ready.store, "platform authenticator worker ready");
            Ok((running, client, ready))
        }
        Err(e) => {
            running.kill();
            Err(e)
        }
    }
}

/// The longest worker log line relayed whole; longer ones are cut.
pub const MAX_LOG_LINE: usize = 4096;

/// Relays the worker's standard error, line by line, into latchkeyd's log (`worker=PID`), each
/// line cut to [`MAX_LOG_LINE`] bytes and its control characters escaped, until the worker
/// closes it.
pub(crate) fn relay_stderr(stderr: impl Read, pid: u32) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::with_capacity(256);
    // Inside a line already cut: drop bytes up to its end.
    let mut skipping = false;
    loop {
        line.clear();
        let limit = u64::try_from(MAX_LOG_LINE).unwrap_or(u64::MAX) + 1;
        match (&mut reader).take(limit).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let ended = line.last() == Some(&b'\n');
        if skipping {
            skipping = !ended;
            continue;
        }
        let cut = !ended && line.len() > MAX_LOG_LINE;
        if cut {
            line.truncate(MAX_LOG_LINE);
            skipping = true;
        }
        let text = log_line(&line);
        if cut {
            tracing::info!(worker = pid, "{text}… (cut)");
        } else {
            tracing::info!(worker = pid, "{text}");
        }
    }
}

/// One worker log line as latchkeyd logs it: trailing newline dropped, invalid UTF-8 replaced,
/// control characters (terminal escapes included) escaped.
pub fn log_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end_matches(['\n', '\r']);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn wait_ready(
    link: &Link,
    client: &mut Client,
    config: &WorkerConfig,
) -> Result<Ready, WorkerError> {
    link.set_write_timeout(Some(Duration::from_secs(10)))
        .map_err(WorkerError::Io)?;
    let deadline = Instant::now() + config.start_timeout;
    if link.wait(deadline, None).map_err(WorkerError::Io)? != Readiness::Readable {
        return Err(WorkerError::Timeout);
    }
    match link.recv().map_err(WorkerError::Io)? {
        Received::Message(bytes) => match client.ready(&bytes) {
            Ok(ready) => Ok(ready),
            Err(SessionError::Failed { message, store, .. }) => {
                Err(WorkerError::Refused(Refusal::Said { store, message }))
            }
            Err(SessionError::VersionMismatch { ours, theirs }) => {
                Err(WorkerError::VersionMismatch {
                    program: config.program.clone(),
                    ours,
                    theirs,
                })
            }
            Err(e) => Err(WorkerError::Protocol(e)),
        },
        Received::TooLarge => Err(WorkerError::Protocol(SessionError::Malformed(
            super::protocol::Malformed::too_large(),
        ))),
        Received::Closed => Err(WorkerError::Refused(Refusal::PlatformExited)),
    }
}
