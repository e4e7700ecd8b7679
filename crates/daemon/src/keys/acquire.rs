//! Getting hold of a security key for one ceremony, on its blocking thread:
//!
//! 1. Open every key present: the named specs (`--device`, `devices.toml`), with USB discovery
//!    on the FIDO hidraw nodes a [`DeviceWatcher`] lists, and with PC/SC on the cards on
//!    pcscd's readers (each watcher is opened before its listing, so no key slips in between).
//! 2. One key: it is used as is (no extra touch). Several: each is asked for a touch
//!    ([`select_joining`]); the first touched wins and the others get CTAPHID_CANCEL. None: the
//!    prompt says [`INSERT_KEY`] and the first key to appear is used.
//! 3. While it waits, a feeder thread sends keys that appear — hot-plugged hidraw nodes, cards
//!    put on a reader (pcscd's reader events; the [`CardWatcher`] retries a card whose arrival
//!    is not complete), and named specs that could not be opened before (a virtual key's socket
//!    showing up) — to the selection.
//!
//! Every key opened is tied to the ceremony's [`CancelHandle`]: cancelling the ceremony cancels
//! them all (CTAPHID_CANCEL to a key waiting for a touch) and stops the feeder.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use latchkey_client::devices::pcsc::{present_cards, CardWatcher};
use latchkey_client::hid::open_spec;
use latchkey_client::select::select_joining;
use latchkey_client::{CancelHandle, Device};
use latchkey_transport::{enumerate, DeviceSpec, DeviceWatcher, WatchEvent};
use latchkey_webauthn::WebAuthnError;

use super::KeySources;
use crate::bridge::{UiBridge, INSERT_KEY};

/// How often the feeder looks for new keys and at the cancel flag.
const POLL: Duration = Duration::from_millis(100);

/// Makes cancelling the ceremony cancel `device` too.
fn tie(device: &dyn Device, ceremony: &CancelHandle) {
    let handle = device.cancel_handle();
    let hook = handle.clone();
    ceremony.on_cancel(move || hook.cancel());
    if ceremony.is_cancelled() {
        handle.cancel();
    }
}

fn cancelled() -> WebAuthnError {
    WebAuthnError::abort("the request was cancelled while waiting for a security key")
}

/// The keys found at the start, and where later ones may come from.
struct Present {
    devices: Vec<Box<dyn Device>>,
    /// Named specs that could not be opened yet (tried again at every poll).
    pending: Vec<DeviceSpec>,
    /// Specs already in use (hot-plug events for them are ignored).
    known: Vec<DeviceSpec>,
    watcher: Option<DeviceWatcher>,
    cards: Option<CardWatcher>,
}

fn open_present(sources: &KeySources, ceremony: &CancelHandle) -> Present {
    let mut present = Present {
        devices: Vec::new(),
        pending: Vec::new(),
        known: Vec::new(),
        watcher: None,
        cards: None,
    };
    for spec in sources.named_specs() {
        match open_spec(&spec, None) {
            Ok(d) => {
                tie(&*d, ceremony);
                present.devices.push(d);
                present.known.push(spec);
            }
            Err(e) => {
                tracing::debug!(key = %spec, error = %e, "security key not available yet");
                present.pending.push(spec);
            }
        }
    }
    if let Some(roots) = &sources.usb {
        let listed: Vec<_> = match DeviceWatcher::open(roots.clone()) {
            Ok((watcher, _kind)) => {
                let listed = watcher.devices().cloned().collect();
                present.watcher = Some(watcher);
                listed
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot follow USB keys being plugged in");
                enumerate(roots).map(|e| e.devices).unwrap_or_default()
            }
        };
        for info in listed {
            let spec = info.spec();
            if present.known.contains(&spec) {
                continue;
            }
            match open_spec(&spec, Some(&info.display_name())) {
                Ok(d) => {
                    tie(&*d, ceremony);
                    present.devices.push(d);
                    present.known.push(spec);
                }
                Err(e) => tracing::info!(key = %spec, error = %e, "cannot open a USB key"),
            }
        }
    }
    if sources.pcsc {
        match CardWatcher::open() {
            Ok(watcher) => present.cards = Some(watcher),
            Err(e) => tracing::debug!(error = %e, "not following PC/SC readers"),
        }
        for spec in present_cards() {
            if present.known.contains(&spec) {
                continue;
            }
            match open_spec(&spec, None) {
                Ok(d) => {
                    tie(&*d, ceremony);
                    present.devices.push(d);
                    present.known.push(spec);
                }
                // A card just put on the reader (or one replacing a card just pulled) can
                // refuse its first connection, and no reader event comes for it after this
                // listing: the watcher tries it again while it stays there.
                Err(e) => {
                    tracing::info!(key = %spec, error = %e, "cannot open an NFC card yet");
                    if let Some(cards) = present.cards.as_mut() {
                        cards.retry(&spec);
                    }
                }
            }
        }
    }
    present
}

/// Sets its flag when dropped: stops the feeder when the ceremony has its key.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Starts the thread that sends keys appearing later; it ends when `stop` is set, the ceremony
/// is cancelled, or the receiver is gone (then the channel closes, which ends a selection).
fn feed(
    mut present: Present,
    ceremony: CancelHandle,
) -> (mpsc::Receiver<Box<dyn Device>>, StopOnDrop) {
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let spawned = thread::Builder::new()
        .name("latchkeyd-key-feed".into())
        .spawn(move || {
            let send = |d: Box<dyn Device>| {
                tie(&*d, &ceremony);
                tracing::info!(key = %d.info().path, "a security key appeared");
                tx.send(d).is_ok()
            };
            while !flag.load(Ordering::SeqCst) && !ceremony.is_cancelled() {
                // Both watchers share the poll interval when both are on.
                let wait = if present.cards.is_some() {
                    POLL / 2
                } else {
                    POLL
                };
                match present.watcher.as_mut().map(|w| w.next_event(wait)) {
                    Some(Ok(Some(WatchEvent::Added(info)))) => {
                        let spec = info.spec();
                        present.pending.retain(|p| *p != spec);
                        if !present.known.contains(&spec) {
                            if let Ok(d) = open_spec(&spec, Some(&info.display_name())) {
                                present.known.push(spec);
                                if !send(d) {
                                    return;
                                }
                            }
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "lost the USB hot-plug watch");
                        present.watcher = None;
                    }
                    None if present.cards.is_none() => thread::sleep(POLL),
                    None => {}
                }
                match present.cards.as_mut().map(|c| c.next_device(wait)) {
                    Some(Ok(Some((spec, d)))) => {
                        // The card left and came back, or is new: it was opened afresh.
                        present.pending.retain(|p| *p != spec);
                        if !present.known.contains(&spec) {
                            present.known.push(spec);
                        }
                        if !send(d) {
                            return;
                        }
                    }
                    Some(Ok(None)) | None => {}
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "lost pcscd's reader events");
                        present.cards = None;
                    }
                }
                let mut still = Vec::new();
                for spec in std::mem::take(&mut present.pending) {
                    match open_spec(&spec, None) {
                        Ok(d) => {
                            present.known.push(spec);
                            if !send(d) {
                                return;
                            }
                        }
                        Err(_) => still.push(spec),
                    }
                }
                present.pending = still;
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot watch for security keys");
    }
    (rx, StopOnDrop(stop))
}

/// The key the ceremony uses (module doc), or why there is none: `AbortError` when cancelled,
/// `NotAllowedError` when no key came before `deadline` or none can come at all.
pub(crate) fn acquire(
    sources: &KeySources,
    ceremony: &CancelHandle,
    ui: &mut UiBridge,
    deadline: Instant,
) -> Result<Box<dyn Device>, WebAuthnError> {
    if !sources.enabled() {
        return Err(WebAuthnError::not_allowed(
            "no security key is configured (latchkeyd runs with --no-usb, no --device and no PC/SC)",
        ));
    }
    let mut present = open_present(sources, ceremony);
    if ceremony.is_cancelled() {
        return Err(cancelled());
    }
    if present.devices.len() == 1 {
        return present
            .devices
            .pop()
            .ok_or_else(|| WebAuthnError::unknown("the key list changed"));
    }
    let devices = std::mem::take(&mut present.devices);
    let (joins, _stop) = feed(present, ceremony.clone());
    if devices.is_empty() {
        ui.notice(INSERT_KEY);
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
    ui.show(latchkey_prompt::StatusKind::SelectKey);
    let chosen = select_joining(devices, &joins, ui, left);
    if ceremony.is_cancelled() {
        return Err(cancelled());
    }
    chosen
}
