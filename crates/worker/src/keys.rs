//! Finding the security keys for one ceremony, wherever keys are opened (the device worker, or
//! a process that runs its keys itself):
//!
//! 1. Open every key present: the named specs (`--device`, `devices.toml`), with USB discovery
//!    on the FIDO hidraw nodes a [`DeviceWatcher`] lists, and with PC/SC on the cards on
//!    pcscd's readers (each watcher is opened before its listing, so no key slips in between).
//! 2. Then a feeder thread sends keys that appear — hot-plugged hidraw nodes, cards put on a
//!    reader (pcscd's reader events; the [`CardWatcher`] retries a card whose arrival is not
//!    complete), and named specs that could not be opened before (a virtual key's socket
//!    showing up) — until it is stopped.
//!
//! Every key opened is tied to the ceremony's [`CancelHandle`]: cancelling the ceremony cancels
//! them all (CTAPHID_CANCEL to a key waiting for a touch) and stops the feeder. Which key is
//! used (one present, a touch among several, the first to appear) is the caller's choice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use latchkey_client::devices::pcsc::{present_cards, CardWatcher};
use latchkey_client::hid::{open_spec, open_spec_via, UnixConnector};
use latchkey_client::{CancelHandle, Device};
use latchkey_transport::{enumerate, DeviceSpec, DeviceWatcher, Roots, WatchEvent};

/// How often the feeder looks for new keys and at the cancel flag.
pub const POLL: Duration = Duration::from_millis(100);

/// Where one ceremony's keys come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Keys named by `--device` and `devices.toml`, without duplicates.
    pub specs: Vec<DeviceSpec>,
    /// sysfs and `/dev` for hidraw discovery and hot-plug; `None` turns USB discovery off.
    pub usb: Option<Roots>,
    /// Whether the cards on PC/SC readers are used.
    pub pcsc: bool,
    /// How `unix:` keys are reached when not connected in place (the device worker has
    /// latchkeyd connect them, [`crate::device_worker::broker`]).
    pub unix: Option<Arc<dyn UnixConnector>>,
    /// Follow USB keys with inotify on `/dev`, not the kernel's uevents: a process in a network
    /// namespace of its own gets none (the device worker's, `device_worker::namespace`).
    pub inotify: bool,
}

/// The keys present, opened, and the keys that appear later.
pub struct Found {
    /// The keys present now, each tied to the ceremony.
    pub present: Vec<Box<dyn Device>>,
    /// The keys that appear later, opened and tied to the ceremony.
    pub joins: mpsc::Receiver<Box<dyn Device>>,
    /// Stops the feeder when dropped.
    pub stop: StopOnDrop,
}

/// Opens the keys present and starts following the ones that appear (module doc).
pub fn find(sources: &Sources, ceremony: &CancelHandle) -> Found {
    let mut present = open_present(sources, ceremony);
    let devices = std::mem::take(&mut present.devices);
    let (joins, stop) = feed(present, ceremony.clone());
    Found {
        present: devices,
        joins,
        stop,
    }
}

/// Makes cancelling the ceremony cancel `device` too.
pub fn tie(device: &dyn Device, ceremony: &CancelHandle) {
    let handle = device.cancel_handle();
    let hook = handle.clone();
    ceremony.on_cancel(move || hook.cancel());
    if ceremony.is_cancelled() {
        handle.cancel();
    }
}

/// The keys found at the start, and where later ones may come from.
struct Present {
    devices: Vec<Box<dyn Device>>,
    /// Named specs that could not be opened yet (tried again at every poll).
    pending: Vec<DeviceSpec>,
    /// How `unix:` keys among them are reached.
    unix: Option<Arc<dyn UnixConnector>>,
    /// Specs already in use (hot-plug events for them are ignored).
    known: Vec<DeviceSpec>,
    watcher: Option<DeviceWatcher>,
    cards: Option<CardWatcher>,
}

fn open_present(sources: &Sources, ceremony: &CancelHandle) -> Present {
    let mut present = Present {
        devices: Vec::new(),
        pending: Vec::new(),
        unix: sources.unix.clone(),
        known: Vec::new(),
        watcher: None,
        cards: None,
    };
    for spec in sources.specs.iter().cloned() {
        match open_spec_via(&spec, None, present.unix.as_deref()) {
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
        let opened = if sources.inotify {
            latchkey_transport::hotplug::InotifySource::open(&roots.dev)
                .and_then(|s| DeviceWatcher::with_source(roots.clone(), Box::new(s)))
        } else {
            DeviceWatcher::open(roots.clone()).map(|(watcher, _kind)| watcher)
        };
        let listed: Vec<_> = match opened {
            Ok(watcher) => {
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

/// Stops following new keys when dropped (the ceremony has its key, or ended).
pub struct StopOnDrop(Option<Box<dyn FnOnce() + Send>>);

impl StopOnDrop {
    /// Runs `stop` when dropped.
    pub fn with(stop: impl FnOnce() + Send + 'static) -> Self {
        Self(Some(Box::new(stop)))
    }

    fn flag(flag: Arc<AtomicBool>) -> Self {
        Self::with(move || flag.store(true, Ordering::SeqCst))
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            stop();
        }
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
        .name("key-feed".into())
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
                    match open_spec_via(&spec, None, present.unix.as_deref()) {
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
    (rx, StopOnDrop::flag(stop))
}
