//! Kernel uevents from a `NETLINK_KOBJECT_UEVENT` socket bound to multicast group 1 (the
//! kernel's own broadcast; see [`super::uevent`] for why not udev's group 2). No libudev is
//! linked and no udev daemon is needed.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SocketFlags, SocketType};

use super::uevent::{self, Action, MAX_UEVENT_LEN};
use super::{EventSource, HotplugEvent};
use crate::discovery::HidrawNode;

/// The kernel's uevent multicast group.
const KERNEL_GROUP: u32 = 1;

/// Hidraw add/remove events from the kernel.
#[derive(Debug)]
pub struct NetlinkSource {
    fd: OwnedFd,
    dev_root: PathBuf,
}

impl NetlinkSource {
    /// Opens and binds the socket. Fails where netlink is not allowed (some containers and
    /// sandboxes); [`super::open_system_source`] then falls back to inotify.
    pub fn open(dev_root: &Path) -> io::Result<Self> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            Some(netlink::KOBJECT_UEVENT),
        )?;
        rustix::net::bind(&fd, &SocketAddrNetlink::new(0, KERNEL_GROUP))?;
        Ok(Self {
            fd,
            dev_root: dev_root.to_path_buf(),
        })
    }
}

/// Turns one parsed uevent into a hidraw event, if it is one; `DEVNAME` must be a plain
/// `hidrawN` so a message cannot point outside the device root.
pub fn to_hotplug(event: &uevent::Uevent, dev_root: &Path) -> Option<HotplugEvent> {
    if event.subsystem != "hidraw" {
        return None;
    }
    let node = HidrawNode::parse(event.devname.as_deref()?)?;
    let path = dev_root.join(node.to_string());
    match event.action {
        Action::Add => Some(HotplugEvent::Added(path)),
        Action::Remove => Some(HotplugEvent::Removed(path)),
        _ => None,
    }
}

impl EventSource for NetlinkSource {
    fn next_event(&mut self, timeout: Duration) -> io::Result<Option<HotplugEvent>> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; MAX_UEVENT_LEN];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            let ts = Timespec {
                tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(0) if left.is_zero() => return Ok(None),
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            match rustix::net::recvfrom(&self.fd, &mut buf[..], RecvFlags::TRUNC) {
                Ok((n, full, from)) => {
                    // Only the kernel (port 0) sends on group 1; a message cut short is dropped.
                    let from_kernel = from
                        .and_then(|a| SocketAddrNetlink::try_from(a).ok())
                        .is_some_and(|a| a.pid() == 0);
                    if from_kernel && n == full {
                        match uevent::parse(&buf[..n]) {
                            Ok(ev) => {
                                if let Some(out) = to_hotplug(&ev, &self.dev_root) {
                                    return Ok(Some(out));
                                }
                            }
                            Err(e) => tracing::debug!(error = %e, "uevent ignored"),
                        }
                    }
                }
                Err(Errno::AGAIN) | Err(Errno::INTR) => {}
                // The socket's buffer overflowed: events were lost, so the caller re-lists.
                Err(Errno::NOBUFS) => return Ok(Some(HotplugEvent::Rescan)),
                Err(e) => return Err(e.into()),
            }
            if left.is_zero() {
                return Ok(None);
            }
        }
    }
}
