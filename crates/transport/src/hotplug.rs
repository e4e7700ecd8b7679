//! Hot-plug of FIDO security keys without a polling loop and without libudev.
//!
//! An [`EventSource`] reports hidraw nodes appearing and disappearing: [`NetlinkSource`] reads
//! the kernel's uevents (`NETLINK_KOBJECT_UEVENT`, group 1), [`InotifySource`] watches the
//! device directory where netlink is unavailable, and tests inject their own.
//! [`DeviceWatcher`] opens a source first, then lists the keys present (so none slips between
//! the two), and turns node events into [`WatchEvent`]s about FIDO keys only: each added node is
//! probed through sysfs ([`crate::discovery::probe`]) and kept only if it is a key.

mod inotify;
mod netlink;
#[cfg(test)]
mod tests;
pub mod uevent;

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::discovery::{self, DeviceInfo, HidrawNode, Roots};

pub use inotify::InotifySource;
pub use netlink::{to_hotplug, NetlinkSource};

/// A change to the hidraw nodes, as an [`EventSource`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HotplugEvent {
    /// A node appeared at this path.
    Added(PathBuf),
    /// The node at this path went away.
    Removed(PathBuf),
    /// Events were lost (a queue overflowed): list the devices again.
    Rescan,
}

/// Where hidraw node changes come from.
pub trait EventSource: Send {
    /// Waits up to `timeout` for the next change; `Ok(None)` if none came.
    fn next_event(&mut self, timeout: Duration) -> io::Result<Option<HotplugEvent>>;
}

impl<S: EventSource + ?Sized> EventSource for Box<S> {
    fn next_event(&mut self, timeout: Duration) -> io::Result<Option<HotplugEvent>> {
        (**self).next_event(timeout)
    }
}

/// Which source [`open_system_source`] opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// Kernel uevents over netlink.
    Netlink,
    /// inotify on the device directory.
    Inotify,
}

/// Opens the kernel's uevent socket, or inotify on `roots.dev` if netlink is refused.
pub fn open_system_source(roots: &Roots) -> io::Result<(Box<dyn EventSource>, SourceKind)> {
    match NetlinkSource::open(&roots.dev) {
        Ok(s) => Ok((Box::new(s), SourceKind::Netlink)),
        Err(e) => {
            tracing::info!(error = %e, "no uevent netlink socket; watching the device directory");
            Ok((
                Box::new(InotifySource::open(&roots.dev)?),
                SourceKind::Inotify,
            ))
        }
    }
}

/// A change to the set of FIDO keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A key was plugged in.
    Added(DeviceInfo),
    /// A key was removed; the last information known about it.
    Removed(DeviceInfo),
}

/// The FIDO keys present, kept current from an [`EventSource`].
pub struct DeviceWatcher {
    roots: Roots,
    source: Box<dyn EventSource>,
    known: BTreeMap<HidrawNode, DeviceInfo>,
    pending: VecDeque<WatchEvent>,
}

impl std::fmt::Debug for DeviceWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceWatcher")
            .field("roots", &self.roots)
            .field("known", &self.known.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl DeviceWatcher {
    /// Watches the real system (`/sys`, `/dev`) with [`open_system_source`].
    pub fn open(roots: Roots) -> io::Result<(Self, SourceKind)> {
        let (source, kind) = open_system_source(&roots)?;
        Ok((Self::with_source(roots, source)?, kind))
    }

    /// Starts from an already opened source, then lists the keys present.
    pub fn with_source(roots: Roots, source: Box<dyn EventSource>) -> io::Result<Self> {
        let listed = discovery::enumerate(&roots)?;
        let known = listed.devices.into_iter().map(|d| (d.node, d)).collect();
        Ok(Self {
            roots,
            source,
            known,
            pending: VecDeque::new(),
        })
    }

    /// The keys present now, by node number.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceInfo> {
        self.known.values()
    }

    /// Waits up to `timeout` for a key to come or go; `Ok(None)` if none did.
    pub fn next_event(&mut self, timeout: Duration) -> io::Result<Option<WatchEvent>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Ok(Some(ev));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(raw) = self.source.next_event(left)? else {
                return Ok(None);
            };
            self.apply(raw)?;
            if self.pending.is_empty() && Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    /// Folds one node change into the known set, queueing what changed.
    fn apply(&mut self, raw: HotplugEvent) -> io::Result<()> {
        match raw {
            HotplugEvent::Added(path) => {
                let Some(node) = self.node_of(&path) else {
                    return Ok(());
                };
                if self.known.contains_key(&node) {
                    return Ok(());
                }
                match discovery::probe(&self.roots, node) {
                    Ok(info) => {
                        self.known.insert(node, info.clone());
                        self.pending.push_back(WatchEvent::Added(info));
                    }
                    Err(reason) => tracing::debug!(%node, %reason, "added hidraw node skipped"),
                }
            }
            HotplugEvent::Removed(path) => {
                if let Some(info) = self.node_of(&path).and_then(|n| self.known.remove(&n)) {
                    self.pending.push_back(WatchEvent::Removed(info));
                }
            }
            HotplugEvent::Rescan => {
                let listed = discovery::enumerate(&self.roots)?;
                let now: BTreeMap<_, _> = listed.devices.into_iter().map(|d| (d.node, d)).collect();
                let gone: Vec<_> = self
                    .known
                    .keys()
                    .filter(|n| !now.contains_key(n))
                    .copied()
                    .collect();
                for node in gone {
                    if let Some(info) = self.known.remove(&node) {
                        self.pending.push_back(WatchEvent::Removed(info));
                    }
                }
                for (node, info) in now {
                    if let std::collections::btree_map::Entry::Vacant(slot) = self.known.entry(node)
                    {
                        slot.insert(info.clone());
                        self.pending.push_back(WatchEvent::Added(info));
                    }
                }
            }
        }
        Ok(())
    }

    /// The node of an event's path, if it is `hidrawN` directly under the device root.
    fn node_of(&self, path: &std::path::Path) -> Option<HidrawNode> {
        (path.parent()? == self.roots.dev).then_some(())?;
        HidrawNode::from_path(path)
    }
}
