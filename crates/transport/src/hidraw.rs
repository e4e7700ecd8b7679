//! USB security keys through Linux `/dev/hidrawN` nodes (CTAP 2.1 §11.2 over the kernel's raw
//! HID interface, Documentation/hid/hidraw.rst).
//!
//! [`HidrawConnection`] is a [`HidConnection`]: it writes each 64-byte output report behind the
//! report-ID byte 0 that hidraw expects of devices without numbered reports (FIDO keys have
//! none), and reads input reports with `poll(2)` timeouts. A key that is unplugged turns every
//! later call into a [`DeviceGone`] error (`ENODEV`/`EIO`, end of file, or a hang-up from
//! `poll`), which [`is_device_gone`] tells apart from a timeout (`Ok(None)`) and from other I/O
//! failures.
//!
//! [`descriptor`] parses HID report descriptors; `ioctl` reads one from an open node
//! (`HIDIOCGRDESC`) for when sysfs cannot be read.

pub mod descriptor;
mod ioctl;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use latchkey_ctap::hid::{Report, REPORT_SIZE};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::connection::HidConnection;

pub use ioctl::{RawInfo, REQUESTS as IOCTL_REQUESTS};

/// How long a write may wait for the device to accept a report before it fails.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a device is gone for good: it was unplugged or its driver unbound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceGone {
    /// The node it was opened as.
    pub path: PathBuf,
    /// What the kernel said.
    pub cause: GoneCause,
}

/// The signal that a hidraw device is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoneCause {
    /// A read or write failed with this errno (`ENODEV`, `EIO`, `ENXIO`, `EPIPE`, …).
    Errno(i32),
    /// `poll` reported `POLLHUP` or `POLLERR` with nothing left to read.
    HangUp,
    /// A read returned end of file.
    EndOfFile,
}

impl fmt::Display for DeviceGone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is gone (", self.path.display())?;
        match self.cause {
            GoneCause::Errno(e) => write!(f, "{}", io::Error::from_raw_os_error(e))?,
            GoneCause::HangUp => f.write_str("hang-up")?,
            GoneCause::EndOfFile => f.write_str("end of file")?,
        }
        f.write_str(")")
    }
}

impl std::error::Error for DeviceGone {}

impl DeviceGone {
    /// Wraps it as an `io::Error` of kind `NotFound`, the kind callers already treat as "gone".
    fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::NotFound, self)
    }
}

/// Whether `e` says the device is gone (as opposed to a timeout or a passing failure).
pub fn is_device_gone(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<DeviceGone>().is_some())
}

/// The errnos with which hidraw reports a device that has been removed.
fn errno_means_gone(e: Errno) -> bool {
    [
        Errno::NODEV,
        Errno::IO,
        Errno::NXIO,
        Errno::PIPE,
        Errno::SHUTDOWN,
        Errno::CONNRESET,
    ]
    .contains(&e)
}

/// An open `/dev/hidrawN` node (or anything fd-shaped that behaves like one).
#[derive(Debug)]
pub struct HidrawConnection {
    fd: OwnedFd,
    path: PathBuf,
}

impl HidrawConnection {
    /// Opens `path` read-write, close-on-exec and non-blocking (reads wait in `poll`).
    pub fn open(path: &Path) -> io::Result<Self> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDWR | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
            Mode::empty(),
        )
        .map_err(|e| {
            if errno_means_gone(e) {
                // The node is still there but its device was removed (hidraw_open's ENODEV).
                return DeviceGone {
                    path: path.to_path_buf(),
                    cause: GoneCause::Errno(e.raw_os_error()),
                }
                .into_io();
            }
            let err = io::Error::from(e);
            io::Error::new(err.kind(), format!("{}: {err}", path.display()))
        })?;
        Ok(Self {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Opens `path`, retrying for up to `patience` while it is missing or not yet accessible:
    /// right after a hot-plug event the node may not exist yet (inotify on sysfs-less setups) or
    /// udev may not yet have granted the user access (`uaccess`).
    pub fn open_with_retry(path: &Path, patience: Duration) -> io::Result<Self> {
        let deadline = Instant::now() + patience;
        loop {
            match Self::open(path) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                    ) && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(25));
                }
                other => return other,
            }
        }
    }

    /// Wraps an already open descriptor; `path` names it in errors. It is made non-blocking.
    pub fn from_fd(fd: OwnedFd, path: impl Into<PathBuf>) -> io::Result<Self> {
        let flags = rustix::fs::fcntl_getfl(&fd)?;
        rustix::fs::fcntl_setfl(&fd, flags | OFlags::NONBLOCK)?;
        Ok(Self {
            fd,
            path: path.into(),
        })
    }

    /// The node's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The report descriptor, read with `HIDIOCGRDESCSIZE` + `HIDIOCGRDESC`.
    pub fn report_descriptor(&self) -> io::Result<Vec<u8>> {
        ioctl::report_descriptor(self.fd.as_fd()).map_err(|e| self.error(e))
    }

    /// Bus type and vendor/product IDs, read with `HIDIOCGRAWINFO`.
    pub fn raw_info(&self) -> io::Result<RawInfo> {
        ioctl::raw_info(self.fd.as_fd()).map_err(|e| self.error(e))
    }

    fn gone(&self, cause: GoneCause) -> io::Error {
        DeviceGone {
            path: self.path.clone(),
            cause,
        }
        .into_io()
    }

    fn error(&self, e: Errno) -> io::Error {
        if errno_means_gone(e) {
            self.gone(GoneCause::Errno(e.raw_os_error()))
        } else {
            e.into()
        }
    }

    /// Waits up to `timeout` for `events`; returns the events that came (empty on timeout).
    fn wait(&self, events: PollFlags, timeout: Duration) -> io::Result<PollFlags> {
        let mut fds = [PollFd::new(&self.fd, events)];
        let ts = Timespec {
            tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) | Err(Errno::INTR) => Ok(PollFlags::empty()),
            Ok(_) => Ok(fds[0].revents()),
            Err(e) => Err(self.error(e)),
        }
    }
}

impl HidConnection for HidrawConnection {
    fn send_report(&mut self, report: &Report) -> io::Result<()> {
        // hidraw takes the report ID first; FIDO devices have unnumbered reports, ID 0.
        let mut buf = [0u8; REPORT_SIZE + 1];
        buf[1..].copy_from_slice(report);
        let deadline = Instant::now() + WRITE_TIMEOUT;
        loop {
            match rustix::io::write(&self.fd, &buf) {
                Ok(n) if n == buf.len() => return Ok(()),
                Ok(n) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("{}: short write of {n} bytes", self.path.display()),
                    ))
                }
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("{}: the device accepts no report", self.path.display()),
                        ));
                    }
                    let ev = self.wait(PollFlags::OUT, left)?;
                    if ev.intersects(PollFlags::HUP | PollFlags::ERR) {
                        return Err(self.gone(GoneCause::HangUp));
                    }
                }
                Err(e) => return Err(self.error(e)),
            }
        }
    }

    fn recv_report(&mut self, timeout: Duration) -> io::Result<Option<Report>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ev = self.wait(PollFlags::IN, left)?;
            if ev.contains(PollFlags::NVAL) {
                return Err(io::Error::from(Errno::BADF));
            }
            if ev.is_empty() {
                if left.is_zero() {
                    return Ok(None);
                }
                continue;
            }
            // Read even on POLLHUP: a report may still be queued before the hang-up.
            let mut buf = [0u8; REPORT_SIZE + 1];
            match rustix::io::read(&self.fd, &mut buf) {
                Ok(0) => return Err(self.gone(GoneCause::EndOfFile)),
                Ok(REPORT_SIZE) => {
                    let mut report = [0u8; REPORT_SIZE];
                    report.copy_from_slice(&buf[..REPORT_SIZE]);
                    return Ok(Some(report));
                }
                // A report of another size is not CTAPHID: skip it, as the other transports do.
                Ok(_) => {}
                Err(Errno::AGAIN) | Err(Errno::INTR) => {
                    if ev.intersects(PollFlags::HUP | PollFlags::ERR) {
                        return Err(self.gone(GoneCause::HangUp));
                    }
                }
                Err(e) => return Err(self.error(e)),
            }
            if left.is_zero() {
                return Ok(None);
            }
        }
    }
}
