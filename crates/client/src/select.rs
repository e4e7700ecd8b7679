//! Choosing among several authenticators the way a browser does (CTAP 2.1 §6.9): every device
//! blinks for a touch at once (authenticatorSelection, or a dummy U2F registration on a U2F-only
//! key); the first one touched is used, the others are cancelled. With [`select_joining`], keys
//! plugged in while it waits join the choice.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use latchkey_ctap::u2f::{RegisterRequest, Request as U2fRequest, ResponseApdu, StatusWord};
use latchkey_webauthn::WebAuthnError;

use crate::ctap2::{self, CtapError};
use crate::device::{CancelHandle, Device};
use crate::ui::{CeremonyUi, Status};

/// Waits for a touch on one device: `Ok` once the user touched it.
fn touched(device: &mut dyn Device) -> Result<(), CtapError> {
    if device.info().cbor {
        return ctap2::selection(device, &mut |_| {});
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
                thread::sleep(std::time::Duration::from_millis(100))
            }
            _ => {
                return Err(CtapError::Device(crate::device::DeviceError::Garbage(
                    "the U2F key refused a registration".into(),
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
}

fn enter(
    contenders: &mut Vec<Contender>,
    mut device: Box<dyn Device>,
    tx: &mpsc::Sender<(usize, Result<(), CtapError>)>,
) {
    let index = contenders.len();
    let name = device.info().path;
    let cancel = device.cancel_handle();
    let tx = tx.clone();
    let worker = thread::spawn(move || {
        let result = touched(&mut *device);
        let _ = tx.send((index, result));
        device
    });
    contenders.push(Contender {
        name,
        cancel,
        worker,
    });
}

/// Polling interval for newly joined keys.
const JOIN_POLL: Duration = Duration::from_millis(50);

fn race(
    devices: Vec<Box<dyn Device>>,
    joins: &mpsc::Receiver<Box<dyn Device>>,
    ui: &mut dyn CeremonyUi,
    timeout: Option<Duration>,
) -> Result<Box<dyn Device>, WebAuthnError> {
    ui.status(Status::TouchNeeded);
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let (tx, rx) = mpsc::channel();
    let mut contenders = Vec::new();
    for device in devices {
        enter(&mut contenders, device, &tx);
    }
    let mut joins_open = true;
    let mut failures = Vec::new();
    let mut timed_out = false;
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
        match rx.recv_timeout(wait) {
            Ok((index, Ok(()))) => break Some(index),
            Ok((index, Err(e))) => {
                let name = contenders.get(index).map_or("?", |c| c.name.as_str());
                failures.push(format!("{name}: {e}"));
            }
            Err(_) => {}
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
