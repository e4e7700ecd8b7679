//! latchkeyd's side of the device worker: [`DeviceWorker`] starts `latchkey-device-worker`, and
//! one reader thread hands each reply to the request (`seq`) waiting for it. Keys come back as
//! [`RemoteKey`]s, `latchkey_client::Device`s whose bytes the worker carries: the CTAP client,
//! selection and PIN handling run in latchkeyd unchanged. When the worker dies, every request
//! waiting on it fails with [`DeviceError::Gone`] ([`KEYS_STOPPED`]) and
//! [`DeviceWorker::is_alive`] turns false, so the next ceremony starts a new one.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use latchkey_client::device::KeepaliveStatus;
use latchkey_client::device::{Gone, Malformed, Server, TransportError, Unreachable};
use latchkey_client::{CancelHandle, Device, DeviceDescription, DeviceError, Transport};
use latchkey_transport::DeviceSpec;

use socket2::{Domain, Socket, Type};

use super::broker::Allowed;
use crate::keys::{Found, StopOnDrop};
use crate::link::{Link, Readiness, Received};
use crate::protocol::device::{failure, DeviceReply, DeviceRequest, Spec, MAX_SPECS};
use crate::protocol::{Message, PROTOCOL_VERSION};
use crate::refusal::Refusal;
use crate::WorkerError;

/// The device worker's executable file name; latchkeyd looks for it next to itself.
pub const DEVICE_WORKER_PROGRAM: &str = "latchkey-device-worker";

/// What a key request failing because the device worker went away says.
pub const KEYS_STOPPED: &str = Server::DeviceWorker.stopped();

/// How long the worker may take to apply its sandbox and say `Ready`.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long latchkeyd waits for a key's answer once its request was cancelled: the key has
/// `latchkey_transport::channel::CANCEL_GRACE` to answer the CANCEL, and the worker passes that on
/// at once.
const CANCELLED_ANSWER: Duration = Duration::from_secs(10);

/// The longest a request may take in the worker, keepalives or not: each key transaction ends
/// within its own bounds (`latchkey_transport::channel::MAX_TRANSACTION` and `CANCEL_GRACE`,
/// NFC's status limit, a resync after a timeout), all well inside this. Also the longest the
/// worker may take to list the keys present.
const REQUEST_LIMIT: Duration = Duration::from_secs(150);

/// How latchkeyd starts the device worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceWorkerConfig {
    /// The `latchkey-device-worker` executable.
    pub program: PathBuf,
    /// sysfs and `/dev` for hidraw discovery (`None`: no USB discovery).
    pub usb: Option<(PathBuf, PathBuf)>,
    /// The worker's log filter.
    pub log_level: String,
}

type Waiters = Mutex<HashMap<u64, mpsc::Sender<DeviceReply>>>;

/// Where pcscd listens: `PCSCLITE_CSOCK_NAME` as latchkeyd has it (made absolute), else
/// pcsc-lite's default. The worker is told this very path, whatever its libpcsclite's built-in
/// default, since this is the one its namespace keeps.
pub fn pcscd_socket() -> PathBuf {
    let named = std::env::var_os("PCSCLITE_CSOCK_NAME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/pcscd/pcscd.comm"));
    std::path::absolute(&named).unwrap_or(named)
}

/// What a device worker must be able to reach, decided per ceremony ([`DeviceWorker::suits`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// Sockets it connects to itself (pcscd's), kept in its filesystem.
    pub sockets: Vec<PathBuf>,
    /// `udp:` keys are named: it stays in the session's network namespace.
    pub host_network: bool,
}

impl Reach {
    /// What opening `specs` (and, with `pcsc`, PC/SC cards) needs.
    pub fn for_keys(specs: &[DeviceSpec], pcsc: bool) -> Self {
        Self {
            sockets: pcsc.then(pcscd_socket).into_iter().collect(),
            host_network: specs.iter().any(|s| matches!(s, DeviceSpec::Udp { .. })),
        }
    }
}

/// The most `unix:` key paths a worker's broker remembers as allowed (the latest first).
const MAX_ALLOWED: usize = 4 * MAX_SPECS;

/// Kills and reaps a worker that could not be started whole; `e` is why.
fn abandon(child: &mut Child, e: WorkerError) -> WorkerError {
    let _ = child.kill();
    let _ = child.wait();
    e
}

/// A socket kept in a worker's namespace: its path and the inode bound there.
type KeptSocket = (PathBuf, (u64, u64));

/// A running device worker.
pub struct DeviceWorker {
    link: Link,
    /// The sockets it was started with that existed then, as they were.
    sockets: Vec<KeptSocket>,
    /// Whether it stayed in the session's network namespace.
    host_network: bool,
    /// The `unix:` keys the broker connects for it ([`super::broker`]).
    allowed: Allowed,
    /// Whether latchkeyd's side of the broker still serves.
    broker_serves: Arc<AtomicBool>,
    waiters: Arc<Waiters>,
    next_seq: AtomicU64,
    alive: Arc<AtomicBool>,
    child: Mutex<Child>,
}

impl std::fmt::Debug for DeviceWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceWorker")
            .field("pid", &self.pid())
            .field("alive", &self.is_alive())
            .finish_non_exhaustive()
    }
}

impl DeviceWorker {
    /// Starts the worker, able to reach what `reach` says, and waits for its `Ready` (with this
    /// build's protocol version).
    pub fn start(config: &DeviceWorkerConfig, reach: &Reach) -> Result<Arc<Self>, WorkerError> {
        let (link, theirs) = Link::pair().map_err(WorkerError::Io)?;
        // The broker's socketpair: the worker's end is its standard output.
        let (broker, broker_theirs) =
            Socket::pair(Domain::UNIX, Type::SEQPACKET.cloexec(), None).map_err(WorkerError::Io)?;
        let mut command = Command::new(&config.program);
        command
            .arg("--log-level")
            .arg(&config.log_level)
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::from(OwnedFd::from(broker_theirs)))
            .stderr(Stdio::piped())
            // Nothing of latchkeyd's environment but where pcscd listens.
            .env_clear();
        match &config.usb {
            Some((sysfs, dev)) => {
                command.arg("--sysfs").arg(sysfs).arg("--dev").arg(dev);
            }
            None => {
                command.arg("--no-usb");
            }
        }
        command.env("PCSCLITE_CSOCK_NAME", pcscd_socket());
        if reach.host_network {
            command.arg("--host-network");
        }
        // Taken before the worker binds them: a socket replaced meanwhile is seen as replaced.
        let kept: Vec<KeptSocket> = reach
            .sockets
            .iter()
            .filter_map(|path| super::namespace::socket_identity(path).map(|id| (path.clone(), id)))
            .collect();
        for (path, _) in &kept {
            command.arg("--socket").arg(path);
        }
        let mut child = command.spawn().map_err(|source| WorkerError::Spawn {
            program: config.program.clone(),
            source,
        })?;
        if let Some(stderr) = child.stderr.take() {
            let pid = child.id();
            let relay = thread::Builder::new()
                .name(format!("keys-{pid}-stderr"))
                .spawn(move || crate::process::relay_stderr(stderr, pid));
            if let Err(e) = relay {
                return Err(abandon(&mut child, WorkerError::Io(e)));
            }
        }
        drop(command);
        if let Err(e) = wait_ready(&link) {
            return Err(abandon(&mut child, e));
        }
        let allowed = Allowed::default();
        let served = allowed.clone();
        let broker_serves = Arc::new(AtomicBool::new(true));
        let serving = broker_serves.clone();
        // Ends when the worker's end closes (the worker exited), or the broker socket failed:
        // then this worker reaches no `unix:` key any more, and is replaced ([`Self::suits`]).
        if let Err(e) = thread::Builder::new()
            .name(format!("keys-{}-broker", child.id()))
            .spawn(move || {
                super::broker::serve(&broker, &served);
                serving.store(false, Ordering::SeqCst);
            })
        {
            return Err(abandon(&mut child, WorkerError::Io(e)));
        }
        let worker = Arc::new(Self {
            link,
            sockets: kept,
            host_network: reach.host_network,
            allowed,
            broker_serves,
            waiters: Arc::new(Mutex::new(HashMap::new())),
            next_seq: AtomicU64::new(1),
            alive: Arc::new(AtomicBool::new(true)),
            child: Mutex::new(child),
        });
        let reader = worker.link.try_clone().map_err(WorkerError::Io)?;
        let waiters = worker.waiters.clone();
        let alive = worker.alive.clone();
        thread::Builder::new()
            .name("keys-reader".into())
            .spawn(move || read_replies(&reader, &waiters, &alive))
            .map_err(WorkerError::Io)?;
        Ok(worker)
    }

    /// The worker's process ID.
    pub fn pid(&self) -> Option<u32> {
        self.child.lock().ok().map(|c| c.id())
    }

    /// Whether this worker is the one `reach` needs: its broker still serves, it is in the
    /// network namespace `reach` names, and it can reach every socket in it that exists now,
    /// each a socket when the worker started and still the same one (pcscd restarted, or
    /// started since, needs a new worker).
    pub fn suits(&self, reach: &Reach) -> bool {
        self.broker_serves.load(Ordering::SeqCst)
            && self.host_network == reach.host_network
            && self.reaches(&reach.sockets)
    }

    /// The socket half of [`Self::suits`].
    pub fn reaches(&self, sockets: &[PathBuf]) -> bool {
        sockets.iter().all(|path| {
            super::namespace::socket_identity(path).is_none_or(|now| {
                self.sockets
                    .iter()
                    .any(|(kept, then)| kept == path && *then == now)
            })
        })
    }

    /// Whether the worker still runs (its link is open).
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Sends `body` as a new request; its replies arrive on the receiver.
    fn call(&self, body: DeviceRequest) -> Result<(u64, mpsc::Receiver<DeviceReply>), DeviceError> {
        let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = mpsc::channel();
        if !self.is_alive() {
            return Err(stopped());
        }
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.insert(seq, tx);
        }
        if let Err(e) = self.notify(seq, body) {
            self.forget(seq);
            return Err(e);
        }
        Ok((seq, rx))
    }

    /// Lets the worker's key `key` go (`Close`, no reply).
    fn close(&self, key: u32) {
        let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
        let _ = self.notify(seq, DeviceRequest::Close { key });
    }

    /// Stops a worker that did not answer in time (hung, or taken over by a hostile key): its
    /// link is shut and its process killed, so every request still waiting on it fails as
    /// stopped, and the next ceremony starts a new worker.
    fn stop_unresponsive(&self) {
        tracing::warn!("the security key worker did not answer in time; it is stopped");
        let _ = self.link.shutdown();
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
        }
    }

    /// Sends `body` under `seq`, expecting no reply.
    fn notify(&self, seq: u64, body: DeviceRequest) -> Result<(), DeviceError> {
        let bytes = (Message { seq, body }).encode().map_err(|e| {
            tracing::warn!(error = %e, "a request for the security key worker cannot be encoded");
            DeviceError::Transport(TransportError::Unencodable(Server::DeviceWorker))
        })?;
        self.link.send(&bytes).map_err(|e| {
            tracing::warn!(error = %e, "the security key worker's link failed");
            stopped()
        })
    }

    fn forget(&self, seq: u64) {
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.remove(&seq);
        }
    }

    /// Opens the keys present and follows new ones, in the worker (`crate::keys::find` there),
    /// each key tied to `ceremony`. `Err` when the worker is gone.
    pub fn find(
        self: &Arc<Self>,
        specs: &[DeviceSpec],
        usb: bool,
        pcsc: bool,
        ceremony: &CancelHandle,
    ) -> Result<Found, DeviceError> {
        let specs: Vec<Spec> = specs
            .iter()
            .take(MAX_SPECS)
            .map(|s| Spec(s.to_string()))
            .collect();
        // The `unix:` keys the worker may now have connected: these paths, as it reads them,
        // added to those of the ceremonies before (one may still wait for its keys).
        {
            let mut allowed = self.allowed.lock().unwrap_or_else(PoisonError::into_inner);
            for spec in &specs {
                if let Ok(DeviceSpec::Unix(path)) = spec.0.parse() {
                    allowed.retain(|p| *p != path);
                    allowed.insert(0, path);
                }
            }
            allowed.truncate(MAX_ALLOWED);
        }
        let (seq, rx) = self.call(DeviceRequest::Acquire { specs, usb, pcsc })?;
        let mut present = Vec::new();
        loop {
            // Each key present is opened within its transport's timeouts; a worker that does not
            // list them in REQUEST_LIMIT is hung (or taken over) and stopped.
            let reply = match rx.recv_timeout(REQUEST_LIMIT) {
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.forget(seq);
                    self.stop_unresponsive();
                    return Err(stopped());
                }
                other => other,
            };
            match reply {
                Ok(DeviceReply::Opened {
                    key,
                    name,
                    path,
                    transport,
                    cbor,
                }) => {
                    let key = RemoteKey::new(self, key, name, path, transport, cbor);
                    crate::keys::tie(&key, ceremony);
                    present.push(Box::new(key) as Box<dyn Device>);
                }
                Ok(DeviceReply::Listed {}) => break,
                Ok(other) => {
                    tracing::warn!(reply = ?kind(&other), "the security key worker answered out of turn");
                }
                Err(_) => {
                    self.forget(seq);
                    return Err(stopped());
                }
            }
        }
        // Keys that appear later: turned into RemoteKeys on a thread, until `Stop`. The thread
        // sleeps in `recv` until a reply comes or its sender goes (`Stop` forgets `seq`, and a
        // dead worker's reader drops every waiter); nothing wakes it on a timer.
        // The joins thread, the stop and each key hold the worker: one replaced by a newer
        // (`KeyAccess::running`) lives on until the ceremonies using it let go.
        let (tx, joins) = mpsc::channel();
        let stopped = Arc::new(AtomicBool::new(false));
        let worker = self.clone();
        let flag = stopped.clone();
        let tied = ceremony.clone();
        let spawned = thread::Builder::new()
            .name("keys-joins".into())
            .spawn(move || {
                while let Ok(reply) = rx.recv() {
                    // Keys the worker opened as `Stop` went out are not taken: each is let go
                    // (until `Stop` forgets the acquisition and this channel ends).
                    if flag.load(Ordering::SeqCst) {
                        if let DeviceReply::Opened { key, .. } = &reply {
                            worker.close(*key);
                        }
                        continue;
                    }
                    let DeviceReply::Opened {
                        key,
                        name,
                        path,
                        transport,
                        cbor,
                    } = reply
                    else {
                        continue;
                    };
                    let key = RemoteKey::new(&worker, key, name, path, transport, cbor);
                    crate::keys::tie(&key, &tied);
                    if tx.send(Box::new(key) as Box<dyn Device>).is_err() {
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot follow keys that appear");
        }
        let worker = self.clone();
        let stop = StopOnDrop::with(move || {
            stopped.store(true, Ordering::SeqCst);
            worker.forget(seq);
            let _ = worker.notify(seq, DeviceRequest::Stop {});
        });
        Ok(Found {
            present,
            joins,
            stop,
        })
    }
}

impl Drop for DeviceWorker {
    fn drop(&mut self) {
        let _ = self.link.shutdown();
        if let Ok(mut child) = self.child.lock() {
            if matches!(
                crate::link::wait_exit(&mut child, Duration::from_secs(2)),
                Ok(Some(_))
            ) {
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A reply's kind, for logs (never its bytes).
fn kind(reply: &DeviceReply) -> u64 {
    crate::protocol::platform::kind_of(reply)
}

fn wait_ready(link: &Link) -> Result<(), WorkerError> {
    link.set_write_timeout(Some(Duration::from_secs(10)))
        .map_err(WorkerError::Io)?;
    if link
        .wait(Instant::now() + START_TIMEOUT, None)
        .map_err(WorkerError::Io)?
        != Readiness::Readable
    {
        return Err(WorkerError::Timeout);
    }
    let bytes = match link.recv().map_err(WorkerError::Io)? {
        Received::Message(bytes) => bytes,
        Received::TooLarge | Received::Closed => {
            return Err(WorkerError::Refused(Refusal::KeysExited))
        }
    };
    match Message::<DeviceReply>::decode(&bytes) {
        Ok(Message {
            body: DeviceReply::Ready { version },
            ..
        }) if version == PROTOCOL_VERSION => Ok(()),
        Ok(Message {
            body: DeviceReply::Ready { version },
            ..
        }) => Err(WorkerError::Refused(Refusal::Version(version))),
        Ok(Message {
            body: DeviceReply::Failed { message, .. },
            ..
        }) => Err(WorkerError::Refused(Refusal::Said {
            store: None,
            message,
        })),
        Ok(_) => Err(WorkerError::Refused(Refusal::NotReadyFirst)),
        Err(e) => Err(WorkerError::Refused(Refusal::Malformed(e))),
    }
}

/// The reader thread: hands each reply to its waiter; when the link closes (the worker died or
/// exited), drops every waiter, which fails their requests as [`KEYS_STOPPED`].
pub(super) fn read_replies(link: &Link, waiters: &Waiters, alive: &AtomicBool) {
    loop {
        match link.recv() {
            Ok(Received::Message(bytes)) => match Message::<DeviceReply>::decode(&bytes) {
                Ok(Message { seq, body }) => {
                    let waiter = waiters.lock().ok().and_then(|w| w.get(&seq).cloned());
                    match (waiter, body) {
                        (Some(waiter), body) => {
                            let _ = waiter.send(body);
                        }
                        // A key opened for an acquisition latchkeyd stopped following (the key
                        // came as the ceremony ended): let go at once, or the worker would hold
                        // its descriptor and thread until it exits.
                        (None, DeviceReply::Opened { key, .. }) => {
                            let close = Message {
                                seq,
                                body: DeviceRequest::Close { key },
                            };
                            if let Ok(bytes) = close.encode() {
                                let _ = link.send(&bytes);
                            }
                        }
                        (None, _) => {}
                    }
                }
                Err(e) => {
                    // A worker that talks nonsense is not trusted with keys any longer.
                    tracing::warn!(error = %e.error, "the security key worker sent a malformed message");
                    break;
                }
            },
            Ok(Received::TooLarge) => {
                tracing::warn!("the security key worker sent an oversized message");
                break;
            }
            Ok(Received::Closed) => break,
            Err(e) if crate::link::is_timeout(&e) => {}
            Err(_) => break,
        }
    }
    alive.store(false, Ordering::SeqCst);
    let _ = link.shutdown();
    if let Ok(mut waiters) = waiters.lock() {
        waiters.clear();
    }
}

/// A key the device worker holds open, driven from latchkeyd. It holds its worker: one replaced
/// by a newer lives on until its keys are let go.
pub struct RemoteKey {
    worker: Arc<DeviceWorker>,
    key: u32,
    description: DeviceDescription,
    cancel: CancelHandle,
}

impl RemoteKey {
    fn new(
        worker: &Arc<DeviceWorker>,
        key: u32,
        name: String,
        path: String,
        transport: u8,
        cbor: bool,
    ) -> Self {
        let cancel = CancelHandle::new();
        // The ceremony's cancel handle may outlive the key: it does not keep the worker.
        let hook = Arc::downgrade(worker);
        cancel.on_cancel(move || {
            if let Some(worker) = hook.upgrade() {
                let seq = worker.next_seq.fetch_add(1, Ordering::SeqCst);
                let _ = worker.notify(seq, DeviceRequest::Cancel { key });
            }
        });
        let transport = match transport {
            2 => Transport::Virtual,
            3 => Transport::Nfc,
            _ => Transport::Usb,
        };
        Self {
            worker: worker.clone(),
            key,
            description: DeviceDescription {
                name,
                path,
                transport,
                cbor,
            },
            cancel,
        }
    }

    fn request(
        &self,
        body: DeviceRequest,
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        if self.cancel.is_cancelled() {
            return Err(DeviceError::Cancelled);
        }
        let worker = &self.worker;
        let (seq, rx) = worker.call(body)?;
        let started = Instant::now();
        let mut cancelled: Option<Instant> = None;
        let result = loop {
            // Checked at every turn, keepalives or not: a worker that keeps passing keepalives
            // on (hung in a loop, or taken over) holds no request past these bounds.
            if self.cancel.is_cancelled() {
                cancelled.get_or_insert_with(Instant::now);
            }
            if started.elapsed() >= REQUEST_LIMIT
                || cancelled.is_some_and(|at| at.elapsed() >= CANCELLED_ANSWER)
            {
                worker.stop_unresponsive();
                // The worker failed, not the key: the system's fault, as a worker that stops.
                break Err(stopped());
            }
            let reply = match rx.recv_timeout(Duration::from_millis(250)) {
                Ok(reply) => Ok(reply),
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => Err(()),
            };
            match reply {
                Ok(DeviceReply::Keepalive { status: byte }) => {
                    if let Some(s) = KeepaliveStatus::from_byte(byte) {
                        status(s);
                    }
                }
                Ok(DeviceReply::Answer { response }) => break Ok(response),
                Ok(DeviceReply::Failed { code, message }) => {
                    break Err(device_error(code, message))
                }
                Ok(other) => {
                    tracing::warn!(reply = ?kind(&other), "the security key worker answered a request out of turn");
                    break Err(DeviceError::Garbage(Malformed::Protocol(
                        Server::DeviceWorker,
                    )));
                }
                Err(_) => break Err(stopped()),
            }
        };
        worker.forget(seq);
        result
    }
}

/// A key request failing because the device worker went away.
fn stopped() -> DeviceError {
    DeviceError::Gone(Gone::Stopped(Server::DeviceWorker))
}

/// A `Failed` reply as the [`DeviceError`] the worker saw, of its kind, in its words (the
/// worker sends [`crate::device_worker::serve::failed`]'s detail, without the kind's prefix).
pub(super) fn device_error(code: u8, message: String) -> DeviceError {
    match code {
        failure::GONE => DeviceError::Gone(Gone::Reported(message)),
        failure::NOT_READY => {
            DeviceError::NotReady(Unreachable::new("", std::io::Error::other(message)))
        }
        failure::IO => DeviceError::Io(std::io::Error::other(message)),
        failure::GARBAGE => DeviceError::Garbage(Malformed::Reported(message)),
        failure::TIMEOUT => DeviceError::Timeout,
        failure::CANCELLED => DeviceError::Cancelled,
        failure::UNSUPPORTED => {
            tracing::debug!(%message, "the key refused a request");
            DeviceError::Unsupported("this request on this key")
        }
        _ => DeviceError::Transport(TransportError::Reported(message)),
    }
}

impl Device for RemoteKey {
    fn info(&self) -> DeviceDescription {
        self.description.clone()
    }

    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        if !self.description.cbor {
            return Err(DeviceError::Unsupported("CTAP2 (CTAPHID_CBOR)"));
        }
        let body = DeviceRequest::Cbor {
            key: self.key,
            request: request.to_vec(),
        };
        self.request(body, status)
    }

    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        let body = DeviceRequest::Msg {
            key: self.key,
            apdu: apdu.to_vec(),
        };
        self.request(body, &mut |_| {})
    }

    fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }
}

impl Drop for RemoteKey {
    fn drop(&mut self) {
        self.worker.close(self.key);
    }
}
