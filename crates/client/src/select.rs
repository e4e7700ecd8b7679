//! Choosing among several authenticators the way a browser does (CTAP 2.1 §6.9): every device
//! blinks for a touch at once (authenticatorSelection, or a dummy U2F registration on a U2F-only
//! key); the first one touched is used, the others are cancelled.

use std::sync::mpsc;
use std::thread;

use latchkey_ctap::u2f::{RegisterRequest, Request as U2fRequest, ResponseApdu, StatusWord};
use latchkey_webauthn::WebAuthnError;

use crate::ctap2::{self, CtapError};
use crate::device::Device;
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
    ui.status(Status::TouchNeeded);
    let cancels: Vec<_> = devices.iter().map(|d| d.cancel_handle()).collect();
    let (tx, rx) = mpsc::channel();
    let mut workers = Vec::new();
    for (index, mut device) in devices.into_iter().enumerate() {
        let tx = tx.clone();
        workers.push(thread::spawn(move || {
            let result = touched(&mut *device);
            let _ = tx.send((index, result.is_ok()));
            device
        }));
    }
    drop(tx);
    let mut winner = None;
    for (index, ok) in rx.iter() {
        if ok {
            winner = Some(index);
            for (i, c) in cancels.iter().enumerate() {
                if i != index {
                    c.cancel();
                }
            }
            break;
        }
    }
    let mut chosen = None;
    for (index, worker) in workers.into_iter().enumerate() {
        match worker.join() {
            Ok(device) if Some(index) == winner => chosen = Some(device),
            Ok(_) | Err(_) => {}
        }
    }
    chosen.ok_or_else(|| {
        WebAuthnError::not_allowed(
            "no authenticator was touched (all refused, failed or timed out)",
        )
    })
}
