//! One end of the gateway ↔ worker socketpair: `SOCK_SEQPACKET`, so every send is one message and
//! every receive returns exactly one, with its bound ([`MAX_MESSAGE`]) checked on both sides.
//!
//! The worker's end reaches it as its standard input: `std::process::Command` moves it there in
//! the child without the parent needing `unsafe` code or leaving the descriptor inheritable for
//! other children started at the same time (both ends are close-on-exec in the gateway).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec};
use socket2::{Domain, Socket, Type};

use super::protocol::MAX_MESSAGE;

/// What [`Link::recv`] got.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// One message.
    Message(Vec<u8>),
    /// A message longer than [`MAX_MESSAGE`] (its bytes were dropped).
    TooLarge,
    /// The peer closed its end.
    Closed,
}

/// A connected `SOCK_SEQPACKET` socket carrying worker messages.
#[derive(Debug)]
pub struct Link {
    socket: Socket,
}

impl Link {
    /// A connected pair: the gateway's `Link` and the worker's end, to hand to the child.
    pub fn pair() -> io::Result<(Self, OwnedFd)> {
        let (ours, theirs) = Socket::pair(Domain::UNIX, Type::SEQPACKET, None)?;
        Ok((Self { socket: ours }, theirs.into()))
    }

    /// Wraps an inherited descriptor, which must be a `SOCK_SEQPACKET` socket.
    pub fn from_fd(fd: OwnedFd) -> io::Result<Self> {
        Ok(Self {
            socket: latchkey_transport::checked_seqpacket(fd)?,
        })
    }

    /// The worker's end, passed as standard input (a duplicate; fd 0 itself stays open).
    pub fn from_stdin() -> io::Result<Self> {
        Self::from_fd(io::stdin().as_fd().try_clone_to_owned()?)
    }

    /// Sends one message (at most [`MAX_MESSAGE`] bytes).
    pub fn send(&self, message: &[u8]) -> io::Result<()> {
        if message.len() > MAX_MESSAGE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a {}-byte message is longer than {MAX_MESSAGE}",
                    message.len()
                ),
            ));
        }
        let n = (&self.socket).write(message)?;
        if n == message.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short seqpacket send",
            ))
        }
    }

    /// Receives one message; a timeout set by [`Link::set_read_timeout`] shows as an error for
    /// which [`is_timeout`] holds.
    pub fn recv(&self) -> io::Result<Received> {
        // One byte more than the limit: a longer message arrives cut to MAX_MESSAGE + 1 bytes.
        let mut buf = vec![0u8; MAX_MESSAGE + 1];
        let n = (&self.socket).read(&mut buf)?;
        if n == 0 {
            return Ok(Received::Closed);
        }
        if n > MAX_MESSAGE {
            return Ok(Received::TooLarge);
        }
        buf.truncate(n);
        Ok(Received::Message(buf))
    }

    /// Bounds how long [`Link::recv`] waits (`None`: forever).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_read_timeout(timeout)
    }

    /// Bounds how long [`Link::send`] may block on a peer that does not read.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_write_timeout(timeout)
    }

    /// Another handle to the same socket.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            socket: self.socket.try_clone()?,
        })
    }

    /// Shuts both directions down: the peer reads end of stream.
    pub fn shutdown(&self) -> io::Result<()> {
        self.socket.shutdown(std::net::Shutdown::Both)
    }
}

/// What [`Link::wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// A message (or the end of stream) is there to [`Link::recv`].
    Readable,
    /// The [`Waker`] was woken.
    Woken,
    /// The deadline passed.
    TimedOut,
}

impl Link {
    /// Waits until a message arrives, `waker` is woken, or `deadline` passes: poll(2) on the
    /// socket and the waker's eventfd, so that nothing is polled on a timer.
    pub fn wait(&self, deadline: Instant, waker: Option<&Waker>) -> io::Result<Readiness> {
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Ok(Readiness::TimedOut);
            };
            let timeout = Timespec::try_from(left).unwrap_or(Timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0,
            });
            let mut fds = vec![PollFd::new(&self.socket, PollFlags::IN)];
            if let Some(w) = waker {
                fds.push(PollFd::new(&w.0, PollFlags::IN));
            }
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(0) => continue,
                Ok(_) => {}
            }
            if fds.get(1).is_some_and(|w| !w.revents().is_empty()) {
                if let Some(w) = waker {
                    w.drain();
                }
                return Ok(Readiness::Woken);
            }
            if fds.first().is_some_and(|s| !s.revents().is_empty()) {
                return Ok(Readiness::Readable);
            }
        }
    }
}

/// Waits up to `within` for `child` to exit and reaps it: its exit status, or `None` while it
/// still runs. The wait is poll(2) on a pidfd, which turns readable when the process exits, so
/// nothing is polled on a timer. The child is ours and not reaped until `try_wait` says so, so
/// its PID cannot name another process meanwhile.
pub fn wait_exit(
    child: &mut std::process::Child,
    within: Duration,
) -> io::Result<Option<std::process::ExitStatus>> {
    if let Some(status) = child.try_wait()? {
        return Ok(Some(status));
    }
    let pid = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| io::Error::other("the child has no valid PID"))?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())?;
    let deadline = Instant::now() + within;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let timeout = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => break,
        }
    }
    child.try_wait()
}

/// Wakes a thread waiting in [`Link::wait`] from another thread (an eventfd).
#[derive(Debug)]
pub struct Waker(OwnedFd);

impl Waker {
    /// A waker nobody has woken.
    pub fn new() -> io::Result<Self> {
        let fd = rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Self(fd))
    }

    /// Wakes the waiting thread (or the next one to wait).
    pub fn wake(&self) {
        // A full counter (2^64 - 2 wakes unread) fails with EAGAIN and is awake anyway.
        let _ = rustix::io::write(&self.0, &1u64.to_ne_bytes());
    }

    /// Forgets past wakes.
    pub fn drain(&self) {
        let mut buf = [0u8; 8];
        let _ = rustix::io::read(&self.0, &mut buf);
    }
}

/// Whether an error from [`Link::recv`] is its read timeout.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::wait_exit;
    use std::process::Command;
    use std::time::Duration;

    #[test]
    fn an_exited_child_is_reaped_with_its_status() {
        let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
        let status = wait_exit(&mut child, Duration::from_secs(30)).unwrap();
        assert_eq!(status.and_then(|s| s.code()), Some(3));
    }

    #[test]
    fn a_child_that_still_runs_is_not_reaped() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let status = wait_exit(&mut child, Duration::from_millis(20)).unwrap();
        assert_eq!(status, None);
        child.kill().unwrap();
        let status = wait_exit(&mut child, Duration::from_secs(30)).unwrap();
        assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    }
}
