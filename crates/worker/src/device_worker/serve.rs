//! The device worker's side: reads latchkeyd's requests, finds keys ([`crate::keys`]) on one
//! thread per `Acquire`, and drives each opened key on a thread of its own, so a key waiting for
//! a touch never holds up another key, a cancel or a new ceremony. Every thread sends its
//! replies on the shared link (one `SOCK_SEQPACKET` send is one whole message).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use latchkey_client::device::{Gone, Malformed};
use latchkey_client::{CancelHandle, Device, DeviceError, Transport};
use latchkey_transport::{DeviceSpec, Roots};

use crate::keys::{self, Sources, POLL};
use crate::link::{Link, Received};
use crate::protocol::device::{failure, DeviceReply, DeviceRequest};
use crate::protocol::Message;

/// One request for a key's thread.
pub(super) enum Job {
    Cbor(u64, Vec<u8>),
    Msg(u64, Vec<u8>),
}

impl Job {
    fn seq(&self) -> u64 {
        match self {
            Self::Cbor(seq, _) | Self::Msg(seq, _) => *seq,
        }
    }
}

/// A key latchkeyd holds: its thread's queue and its cancel handle.
struct Slot {
    jobs: mpsc::Sender<Job>,
    cancel: CancelHandle,
}

/// What the worker shares between its threads.
pub(super) struct Shared {
    link: Link,
    keys: Mutex<HashMap<u32, Slot>>,
    next_key: Mutex<u32>,
}

impl Shared {
    /// Shares `link` (to latchkeyd) with no key yet.
    pub(super) fn new(link: Link) -> Self {
        Self {
            link,
            keys: Mutex::default(),
            next_key: Mutex::default(),
        }
    }

    /// Answers `seq`. A reply the protocol cannot carry (a key's answer longer than any CTAP
    /// message) is answered as a failure of the key instead, never dropped: latchkeyd waits for
    /// an answer to every request.
    fn send(&self, seq: u64, body: DeviceReply) {
        let bytes = match (Message { seq, body }).encode() {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(error = %e, "a reply cannot be encoded; the request fails instead");
                let failed = DeviceReply::Failed {
                    code: failure::GARBAGE,
                    message: "the key's answer does not fit the worker protocol".to_owned(),
                };
                match (Message { seq, body: failed }).encode() {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        tracing::warn!(error = %e, "a failure cannot be encoded");
                        return;
                    }
                }
            }
        };
        if let Err(e) = self.link.send(&bytes) {
            tracing::debug!(error = %e, "cannot answer latchkeyd");
        }
    }

    /// Gives `device` a number and a thread, and tells latchkeyd (for the `Acquire` `seq`).
    fn register(self: &Arc<Self>, seq: u64, device: Box<dyn Device>) {
        let info = device.info();
        let key = {
            let Ok(mut next) = self.next_key.lock() else {
                return;
            };
            *next = next.wrapping_add(1);
            *next
        };
        let (jobs, rx) = mpsc::channel();
        let cancel = device.cancel_handle();
        let shared = self.clone();
        let spawned = thread::Builder::new()
            .name(format!("key-{key}"))
            .spawn(move || drive(&shared, device, &rx));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start a key's thread");
            return;
        }
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert(key, Slot { jobs, cancel });
        }
        let transport = match info.transport {
            Transport::Usb | Transport::Internal => 1,
            Transport::Virtual => 2,
            Transport::Nfc => 3,
        };
        self.send(
            seq,
            DeviceReply::Opened {
                key,
                name: cut(info.name, crate::protocol::device::MAX_NAME),
                path: cut(info.path, crate::protocol::device::MAX_SPEC),
                transport,
                cbor: info.cbor,
            },
        );
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// A [`DeviceError`] as a `Failed` reply.
pub fn failed(e: &DeviceError) -> DeviceReply {
    let code = match e {
        DeviceError::Gone(_) => failure::GONE,
        DeviceError::NotReady(_) => failure::NOT_READY,
        DeviceError::Io(_) => failure::IO,
        DeviceError::Garbage(_) => failure::GARBAGE,
        DeviceError::Transport(_) => failure::TRANSPORT,
        DeviceError::Timeout => failure::TIMEOUT,
        DeviceError::Cancelled => failure::CANCELLED,
        _ => failure::UNSUPPORTED,
    };
    // The detail only: latchkeyd's side puts the kind's words before it again.
    let detail = match e {
        DeviceError::Gone(g) => g.to_string(),
        DeviceError::NotReady(u) => u.to_string(),
        DeviceError::Garbage(m) => m.to_string(),
        DeviceError::Transport(t) => t.to_string(),
        DeviceError::Io(io) => io.to_string(),
        other => other.to_string(),
    };
    DeviceReply::Failed {
        code,
        message: cut(detail, crate::protocol::platform::MAX_ERROR_MESSAGE),
    }
}

/// A key's thread: runs its jobs in order until latchkeyd closes it (or the worker ends).
pub(super) fn drive(shared: &Shared, mut device: Box<dyn Device>, jobs: &mpsc::Receiver<Job>) {
    let gone = || {
        failed(&DeviceError::Gone(Gone::Reported(
            "the worker's thread for this key failed".into(),
        )))
    };
    let mut broken = false;
    for job in jobs {
        let seq = job.seq();
        if broken {
            shared.send(seq, gone());
            continue;
        }
        // A panic on this key's thread fails its request, and every later one until latchkeyd
        // lets the key go, instead of leaving latchkeyd waiting for answers that would never
        // come; the key is not used again.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match job {
            Job::Cbor(seq, request) => {
                let mut status = |s: latchkey_client::device::KeepaliveStatus| {
                    shared.send(
                        seq,
                        DeviceReply::Keepalive {
                            status: s.to_byte(),
                        },
                    );
                };
                device.cbor(&request, &mut status)
            }
            Job::Msg(_, apdu) => device.msg(&apdu),
        }));
        let Ok(result) = run else {
            tracing::warn!("a key's thread failed; the key is no longer used");
            shared.send(seq, gone());
            broken = true;
            continue;
        };
        let reply = match result {
            Ok(response) if response.is_empty() => failed(&DeviceError::Garbage(Malformed::Empty)),
            Ok(response) => DeviceReply::Answer { response },
            Err(e) => failed(&e),
        };
        shared.send(seq, reply);
    }
}

/// Finds the keys for the `Acquire` `seq` and follows new ones until `stopped` is set.
fn acquire(shared: &Arc<Shared>, seq: u64, sources: &Sources, stopped: &AtomicBool) {
    // Keys are cancelled one by one by latchkeyd (`Cancel`); this handle only ties them.
    let ceremony = CancelHandle::new();
    let found = keys::find(sources, &ceremony);
    for device in found.present {
        shared.register(seq, device);
    }
    shared.send(seq, DeviceReply::Listed {});
    while !stopped.load(Ordering::SeqCst) {
        match found.joins.recv_timeout(POLL) {
            Ok(device) => shared.register(seq, device),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// How the worker finds USB keys: `None` turns hidraw discovery off.
#[derive(Debug, Clone)]
pub struct Config {
    /// sysfs and `/dev` roots for hidraw discovery.
    pub usb: Option<Roots>,
    /// latchkeyd's broker, which connects `unix:` keys ([`super::broker`]).
    pub unix: Option<Arc<dyn latchkey_client::hid::UnixConnector>>,
    /// Follow USB keys with inotify (the worker's network namespace gets no uevents).
    pub inotify: bool,
}

/// Serves latchkeyd on `link` until it closes its end. `ready` is sent first.
pub fn serve(link: Link, ready: &[u8], config: &Config) -> std::io::Result<()> {
    link.send(ready)?;
    let reader = link.try_clone()?;
    let shared = Arc::new(Shared::new(link));
    let mut acquisitions: HashMap<u64, Arc<AtomicBool>> = HashMap::new();
    loop {
        let bytes = match reader.recv()? {
            Received::Message(bytes) => bytes,
            Received::TooLarge => {
                tracing::warn!("latchkeyd sent an oversized message; ignored");
                continue;
            }
            Received::Closed => break,
        };
        let message: Message<DeviceRequest> = match Message::decode(&bytes) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e.error, "latchkeyd sent a malformed message");
                if let Some(seq) = e.seq {
                    shared.send(
                        seq,
                        failed(&DeviceError::Unsupported("a malformed request")),
                    );
                }
                continue;
            }
        };
        let seq = message.seq;
        match message.body {
            DeviceRequest::Acquire { specs, usb, pcsc } => {
                let specs = specs
                    .into_iter()
                    .filter_map(|s| match s.0.parse::<DeviceSpec>() {
                        Ok(spec) => Some(spec),
                        Err(e) => {
                            tracing::warn!(spec = %s.0, error = %e, "ignoring a key spec");
                            None
                        }
                    })
                    .collect();
                let sources = Sources {
                    specs,
                    usb: if usb { config.usb.clone() } else { None },
                    pcsc,
                    unix: config.unix.clone(),
                    inotify: config.inotify,
                };
                let stopped = Arc::new(AtomicBool::new(false));
                acquisitions.insert(seq, stopped.clone());
                let shared = shared.clone();
                let spawned = thread::Builder::new()
                    .name("acquire".into())
                    .spawn(move || acquire(&shared, seq, &sources, &stopped));
                if let Err(e) = spawned {
                    tracing::warn!(error = %e, "cannot look for keys");
                }
            }
            DeviceRequest::Stop {} => {
                if let Some(stopped) = acquisitions.remove(&seq) {
                    stopped.store(true, Ordering::SeqCst);
                }
            }
            DeviceRequest::Cbor { key, request } => job(&shared, seq, key, Job::Cbor(seq, request)),
            DeviceRequest::Msg { key, apdu } => job(&shared, seq, key, Job::Msg(seq, apdu)),
            DeviceRequest::Cancel { key } => {
                if let Ok(keys) = shared.keys.lock() {
                    if let Some(slot) = keys.get(&key) {
                        slot.cancel.cancel();
                    }
                }
            }
            DeviceRequest::Close { key } => {
                if let Ok(mut keys) = shared.keys.lock() {
                    // Dropping the queue ends the key's thread, which closes the key.
                    keys.remove(&key);
                }
            }
        }
    }
    for stopped in acquisitions.values() {
        stopped.store(true, Ordering::SeqCst);
    }
    Ok(())
}

fn job(shared: &Shared, seq: u64, key: u32, job: Job) {
    let sent = shared
        .keys
        .lock()
        .ok()
        .and_then(|keys| keys.get(&key).map(|slot| slot.jobs.send(job).is_ok()));
    if sent != Some(true) {
        shared.send(
            seq,
            failed(&DeviceError::Gone(Gone::Reported(format!("no key {key}")))),
        );
    }
}
