//! The fallback event source: inotify on the device directory, for when a netlink socket cannot
//! be opened (containers, some sandboxes). It sees `hidrawN` nodes appear and disappear as
//! devtmpfs or udev create and remove them.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;

use super::{EventSource, HotplugEvent};
use crate::discovery::HidrawNode;

/// Hidraw node changes in one directory.
#[derive(Debug)]
pub struct InotifySource {
    fd: OwnedFd,
    dev_root: PathBuf,
    /// Events read but not yet returned.
    queue: std::collections::VecDeque<HotplugEvent>,
}

impl InotifySource {
    /// Watches `dev_root` for entries created, deleted or renamed.
    pub fn open(dev_root: &Path) -> io::Result<Self> {
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
        inotify::add_watch(
            &fd,
            dev_root,
            WatchFlags::CREATE | WatchFlags::DELETE | WatchFlags::MOVED_FROM | WatchFlags::MOVED_TO,
        )?;
        Ok(Self {
            fd,
            dev_root: dev_root.to_path_buf(),
            queue: Default::default(),
        })
    }

    /// Reads every event queued in the kernel without blocking.
    fn drain(&mut self) -> io::Result<()> {
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&self.fd, &mut buf);
        loop {
            let ev = match reader.next() {
                Ok(ev) => ev,
                Err(Errno::AGAIN) | Err(Errno::INTR) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            let flags = ev.events();
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                self.queue.push_back(HotplugEvent::Rescan);
                continue;
            }
            let Some(node) = ev
                .file_name()
                .and_then(|n| n.to_str().ok())
                .and_then(HidrawNode::parse)
            else {
                continue;
            };
            let path = self.dev_root.join(node.to_string());
            if flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO) {
                self.queue.push_back(HotplugEvent::Added(path));
            } else if flags.intersects(ReadFlags::DELETE | ReadFlags::MOVED_FROM) {
                self.queue.push_back(HotplugEvent::Removed(path));
            }
        }
    }
}

impl EventSource for InotifySource {
    fn next_event(&mut self, timeout: Duration) -> io::Result<Option<HotplugEvent>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(ev) = self.queue.pop_front() {
                return Ok(Some(ev));
            }
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
            self.drain()?;
            if self.queue.is_empty() && left.is_zero() {
                return Ok(None);
            }
        }
    }
}
