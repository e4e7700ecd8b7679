//! Choosing among several authenticators the way a browser does (CTAP 2.1 §6.9): every device
//! blinks for a touch at once (authenticatorSelection, or a dummy U2F registration on a U2F-only
//! key); the first one touched is used, the others are cancelled. With [`select_joining`], keys
//! plugged in while it waits join the choice.
//!
//! While the keys wait, their CTAPHID keepalives (CTAP 2.1 §11.2.9.1.5) reach
//! [`CeremonyUi::status`] once per change of what the user should be told, not once per
//! 100 ms packet: [`Status::TouchNeeded`] as soon as any key says UPNEEDED, else
//! [`Status::Processing`] while any key says PROCESSING. Keepalives are only a SHOULD
//! (CTAP 2.1 §11.2.9.1.5) and some keys send none: if nothing was told within
//! [`SILENT_PROMPT`] while a key still waits, the user is told to touch one anyway.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use latchkey_ctap::u2f::{RegisterRequest, Request as U2fRequest, ResponseApdu, StatusWord};
use latchkey_webauthn::WebAuthnError;

use crate::ctap2::{self, CtapError};
use crate::device::{CancelHandle, Device, KeepaliveStatus};
use crate::ui::{CeremonyUi, Status};

/// Waits for a touch on one device: `Ok` once the user touched it. `status` hears the device's
/// keepalives (a U2F-only key's "conditions not satisfied" is its way of saying UPNEEDED).
fn touched(
    device: &mut dyn Device,
    status: &mut dyn FnMut(KeepaliveStatus),
) -> Result<(), CtapError> {
    if device.info().cbor {
        return ctap2::selection(device, status);
    }
    // A U2F-only key: a registration for a dummy application, polled until touched.
    let dummy = U2fRequest::Register(RegisterRequest {
        challenge: [0u8; 32],
        application: [0u8; 32],
    });
    let cancel = device.cancel_handle();
    for _ in 0..300 {
        if cancel.is_cancelled() {
            return Err(CtapError::Device(crate::device::DeviceError::Cancelled));
        }
        let answer = device.msg(&dummy.to_bytes())?;
        match ResponseApdu::parse(&answer).map(|r| r.status) {
            Some(StatusWord::NO_ERROR) => return Ok(()),
            Some(StatusWord::CONDITIONS_NOT_SATISFIED) => {
                status(KeepaliveStatus::UpNeeded);
                thread::sleep(std::time::Duration::from_millis(100))
            }
            _ => {
                return Err(CtapError::Device(crate::device::DeviceError::Garbage(
                    crate::device::Malformed::U2fRefused,
                )))
            }
        }
    }
    Err(CtapError::Device(crate::device::DeviceError::Timeout))
}

/// Returns the device the user touched; one device is returned as is, without a touch.
pub fn select(
    mut devices: Vec<Box<dyn Device>>,
    ui: &mut dyn CeremonyUi,
) -> Result<Box<dyn Device>, WebAuthnError> {
    if devices.len() <= 1 {
        return devices
            .pop()
            .ok_or_else(|| WebAuthnError::not_allowed("no authenticator is available"));
    }
    let (_, no_joins) = mpsc::channel();
    race(devices, &no_joins, ui, None)
}

/// [`select`] for hot-plugged keys: keys that arrive on `joins` while it waits (a
/// [`crate::devices::watch`] feed) join the choice. Every key, even a lone one, is asked for a
/// touch, since another may still arrive; it gives up after `timeout` without a touch.
pub fn select_joining(
    devices: Vec<Box<dyn Device>>,
    joins: &mpsc::Receiver<Box<dyn Device>>,
    ui: &mut dyn CeremonyUi,
    timeout: Duration,
) -> Result<Box<dyn Device>, WebAuthnError> {
    race(devices, joins, ui, Some(timeout))
}

/// A key being asked for a touch on its own thread.
struct Contender {
    name: String,
    cancel: CancelHandle,
    worker: thread::JoinHandle<Box<dyn Device>>,
    /// The last keepalive it sent, until it finished.
    status: Option<KeepaliveStatus>,
}

/// What a contender's thread reports.
enum Report {
    /// A keepalive (CTAP 2.1 §11.2.9.1.5) while it waits.
    Keepalive(usize, KeepaliveStatus),
    /// It was touched (`Ok`) or failed.
    Done(usize, Result<(), CtapError>),
}

fn enter(contenders: &mut Vec<Contender>, mut device: Box<dyn Device>, tx: &mpsc::Sender<Report>) {
    let index = contenders.len();
    let name = device.info().path;
    let cancel = device.cancel_handle();
    let tx = tx.clone();
    let worker = thread::spawn(move || {
        let keepalives = tx.clone();
        let result = touched(&mut *device, &mut |k| {
            let _ = keepalives.send(Report::Keepalive(index, k));
        });
        let _ = tx.send(Report::Done(index, result));
        device
    });
    contenders.push(Contender {
        name,
        cancel,
        worker,
        status: None,
    });
}

/// What the user is told while keys wait: "touch" as soon as any key waits for one, else
/// "working" while any key works, else nothing yet.
fn overall(contenders: &[Contender]) -> Option<Status> {
    let any = |k: KeepaliveStatus| contenders.iter().any(|c| c.status == Some(k));
    if any(KeepaliveStatus::UpNeeded) {
        Some(Status::TouchNeeded)
    } else if any(KeepaliveStatus::Processing) {
        Some(Status::Processing)
    } else {
        None
    }
}

/// Polling interval for newly joined keys.
const JOIN_POLL: Duration = Duration::from_millis(50);

/// How long the UI waits for a keepalive before it says "touch" on its own: a key that sends
/// none is still waiting for a touch.
pub const SILENT_PROMPT: Duration = Duration::from_millis(300);

/// What the user is told now: what the keepalives say, or "touch" once [`SILENT_PROMPT`] has
/// passed with nothing told and a key still in the race.
fn to_tell(
    contenders: &[Contender],
    failed: usize,
    shown: Option<&Status>,
    waited: Duration,
) -> Option<Status> {
    overall(contenders).or_else(|| {
        (shown.is_none() && waited >= SILENT_PROMPT && contenders.len() > failed)
            .then_some(Status::TouchNeeded)
    })
}

fn race(
    devices: Vec<Box<dyn Device>>,
    joins: &mpsc::Receiver<Box<dyn Device>>,
    ui: &mut dyn CeremonyUi,
    timeout: Option<Duration>,
) -> Result<Box<dyn Device>, WebAuthnError> {
    let started = Instant::now();
    let deadline = timeout.and_then(|t| started.checked_add(t));
    let (tx, rx) = mpsc::channel();
    let mut contenders = Vec::new();
    for device in devices {
        enter(&mut contenders, device, &tx);
    }
    let mut joins_open = true;
    let mut failures = Vec::new();
    let mut timed_out = false;
    // Keepalives come every 100 ms from every key: the UI hears each change once.
    let mut shown: Option<Status> = None;
    let winner = loop {
        while joins_open {
            match joins.try_recv() {
                Ok(device) => enter(&mut contenders, device, &tx),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => joins_open = false,
            }
        }
        if !joins_open && failures.len() == contenders.len() {
            break None;
        }
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left.min(JOIN_POLL),
                _ => {
                    timed_out = true;
                    break None;
                }
            },
            None => JOIN_POLL,
        };
        // Wake up in time to tell the user to touch a key that sends no keepalives.
        let wait = match SILENT_PROMPT.checked_sub(started.elapsed()) {
            Some(left) if shown.is_none() && !left.is_zero() => wait.min(left),
            _ => wait,
        };
        match rx.recv_timeout(wait) {
            Ok(Report::Done(index, Ok(()))) => break Some(index),
            Ok(Report::Done(index, Err(e))) => {
                let name = contenders.get(index).map_or("?", |c| c.name.as_str());
                failures.push(format!("{name}: {e}"));
                if let Some(c) = contenders.get_mut(index) {
                    c.status = None;
                }
            }
            Ok(Report::Keepalive(index, k)) => {
                if let Some(c) = contenders.get_mut(index) {
                    c.status = Some(k);
                }
            }
            Err(_) => {}
        }
        let now = to_tell(
            &contenders,
            failures.len(),
            shown.as_ref(),
            started.elapsed(),
        );
        if let Some(now) = now {
            if shown.as_ref() != Some(&now) {
                ui.status(now.clone());
                shown = Some(now);
            }
        }
    };
    // The others stop waiting for a touch (CTAPHID_CANCEL); their threads end on their own.
    for (i, c) in contenders.iter().enumerate() {
        if Some(i) != winner {
            c.cancel.cancel();
        }
    }
    if let Some(index) = winner {
        let chosen = contenders.swap_remove(index);
        return chosen
            .worker
            .join()
            .map_err(|_| WebAuthnError::unknown("the selection thread failed"));
    }
    let why = if timed_out {
        "no authenticator was touched in time".to_string()
    } else if contenders.is_empty() {
        "no authenticator is available".to_string()
    } else {
        "no authenticator was touched (all refused, failed or timed out)".to_string()
    };
    Err(WebAuthnError::not_allowed(if failures.is_empty() {
        why
    } else {
        format!("{why}: {}", failures.join("; "))
    }))
}
