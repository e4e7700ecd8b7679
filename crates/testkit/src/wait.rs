//! Waiting for something to happen on the event that says it did, never by sleeping and looking
//! again: state in this process ticks a [`Changes`]; a file another process writes (a prompt's
//! record, latchkeyd's log) wakes its waiter through inotify ([`file_until`]); a process's exit
//! through its pidfd ([`exit`]); a bus name's release through `NameOwnerChanged`
//! ([`name_released`]).
//!
//! Each wait has a ceiling ([`LIMIT`]) past which it panics with what did not happen: it bounds a
//! test that would otherwise hang, and is never what a test measures.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// How long a wait may take before the test fails.
pub const LIMIT: Duration = Duration::from_secs(60);

/// State in this process that tells its waiters when it changed (a test back-end's record, a
/// virtual key's). Clones tick and wait on the same state.
#[derive(Clone)]
pub struct Changes(Arc<watch::Sender<u64>>);

impl Default for Changes {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(0)))
    }
}

impl std::fmt::Debug for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Changes({})", *self.0.borrow())
    }
}

impl Changes {
    /// Says the state changed: every waiter looks again.
    pub fn tick(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Waits until `done` holds, looking again at each [`Self::tick`] (panics after [`LIMIT`],
    /// naming `what`).
    pub async fn until(&self, what: &str, mut done: impl FnMut() -> bool) {
        // Subscribed before the first look: a tick between the look and the wait is not lost.
        let mut ticks = self.0.subscribe();
        let deadline = tokio::time::Instant::now() + LIMIT;
        while !done() {
            match tokio::time::timeout_at(deadline, ticks.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => unreachable!("the sender lives in self"),
                Err(_) => panic!("{what} did not happen within {LIMIT:?}"),
            }
        }
    }

    /// [`Self::until`] from a thread outside the runtime.
    pub fn blocking_until(&self, what: &str, done: impl FnMut() -> bool) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime to wait on");
        // The timer is made inside the runtime (`Self::until` is the whole wait).
        rt.block_on(self.until(what, done));
    }
}

/// An inotify descriptor watching `dir` for files created, written, closed or moved in.
fn watch_dir(dir: &Path) -> OwnedFd {
    use rustix::fs::inotify;
    let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
        .unwrap_or_else(|e| panic!("inotify: {e}"));
    inotify::add_watch(
        &fd,
        dir,
        inotify::WatchFlags::CREATE
            | inotify::WatchFlags::MODIFY
            | inotify::WatchFlags::CLOSE_WRITE
            | inotify::WatchFlags::MOVED_TO
            | inotify::WatchFlags::DELETE,
    )
    .unwrap_or_else(|e| panic!("inotify on {}: {e}", dir.display()));
    fd
}

/// Reads every event queued on a non-blocking descriptor (their content does not matter: the
/// waiter looks at the file again).
fn drain(fd: impl AsFd) {
    let mut buf = [0u8; 4096];
    while matches!(rustix::io::read(&fd, &mut buf), Ok(n) if n > 0) {}
}

/// Waits until `done` holds, looking again each time a file in `path`'s directory is created,
/// written or moved in — a file another process writes, such as a prompt's record or a log
/// (panics after [`LIMIT`], naming `what`).
pub async fn file_until(path: &Path, what: &str, mut done: impl FnMut() -> bool) {
    let dir = path.parent().unwrap_or(Path::new("/"));
    // Watching before the first look: a write between the look and the wait is not lost.
    let fd = Arc::new(watch_dir(dir));
    let deadline = std::time::Instant::now() + LIMIT;
    while !done() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let fd = fd.clone();
        // The descriptor is waited on by a blocking thread, so the runtime keeps serving the
        // test's other tasks meanwhile.
        let written = tokio::task::spawn_blocking(move || {
            let written = poll_readable(&fd, left);
            drain(&*fd);
            written
        })
        .await
        .unwrap_or_else(|e| panic!("waiting on inotify: {e}"));
        assert!(
            written,
            "{what} did not happen within {LIMIT:?} ({})",
            path.display()
        );
    }
}

/// [`file_until`] from a thread outside the runtime.
pub fn blocking_file_until(path: &Path, what: &str, mut done: impl FnMut() -> bool) {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let fd = watch_dir(dir);
    let deadline = std::time::Instant::now() + LIMIT;
    while !done() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(
            poll_readable(&fd, left),
            "{what} did not happen within {LIMIT:?} ({})",
            path.display()
        );
        drain(&fd);
    }
}

/// Whether `fd` became readable within `limit`.
fn poll_readable(fd: &OwnedFd, limit: Duration) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    let timeout = Timespec::try_from(limit).unwrap_or(Timespec {
        tv_sec: i64::MAX,
        tv_nsec: 0,
    });
    loop {
        match poll(&mut fds, Some(&timeout)) {
            Ok(n) => return n > 0,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => panic!("poll: {e}"),
        }
    }
}

/// A pidfd for `pid`; `None` when it has already exited.
fn pidfd(pid: u32) -> Option<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
    match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::NONBLOCK) {
        Ok(fd) => Some(fd),
        Err(rustix::io::Errno::SRCH) => None,
        Err(e) => panic!("pidfd_open({pid:?}): {e}"),
    }
}

/// Waits until the process `pid` exits — its pidfd becomes readable (panics after [`LIMIT`],
/// naming `what`). A process that is already gone has exited.
pub async fn exit(pid: u32, what: &str) {
    assert!(
        exited_within(pid, LIMIT).await,
        "{what}: PID {pid} did not exit within {LIMIT:?}"
    );
}

/// Whether the process `pid` exits within `limit` (its pidfd becomes readable), for a test that
/// stops it itself when it does not.
pub async fn exited_within(pid: u32, limit: Duration) -> bool {
    let Some(fd) = pidfd(pid) else { return true };
    tokio::task::spawn_blocking(move || poll_readable(&fd, limit))
        .await
        .unwrap_or_else(|e| panic!("waiting on a pidfd: {e}"))
}

/// [`exit`] from a thread outside the runtime.
pub fn blocking_exit(pid: u32, what: &str) {
    let Some(fd) = pidfd(pid) else { return };
    assert!(
        poll_readable(&fd, LIMIT),
        "{what}: PID {pid} did not exit within {LIMIT:?}"
    );
}

/// Waits until nobody owns `name` on the bus of `conn`, on `NameOwnerChanged` (panics after
/// [`LIMIT`], naming `what`).
pub async fn name_released(conn: &zbus::Connection, name: &str, what: &str) {
    name_owned_is(conn, name, false, what).await;
}

/// Waits until someone owns `name` on the bus of `conn`, on `NameOwnerChanged` (panics after
/// [`LIMIT`], naming `what`).
pub async fn name_owned(conn: &zbus::Connection, name: &str, what: &str) {
    name_owned_is(conn, name, true, what).await;
}

async fn name_owned_is(conn: &zbus::Connection, name: &str, owned: bool, what: &str) {
    use futures_lite::StreamExt as _;
    let dbus = zbus::fdo::DBusProxy::new(conn)
        .await
        .unwrap_or_else(|e| panic!("org.freedesktop.DBus: {e}"));
    // Subscribed before the first look: a change between the look and the wait is not lost.
    let mut changes = dbus
        .receive_name_owner_changed_with_args(&[(0, name)])
        .await
        .unwrap_or_else(|e| panic!("NameOwnerChanged: {e}"));
    let bus_name = zbus::names::BusName::try_from(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    if dbus.name_has_owner(bus_name).await.unwrap_or(false) == owned {
        return;
    }
    let changed = async {
        while let Some(signal) = changes.next().await {
            if signal
                .args()
                .is_ok_and(|a| a.new_owner().is_some() == owned)
            {
                return;
            }
        }
        panic!("{what}: the bus connection closed");
    };
    if tokio::time::timeout(LIMIT, changed).await.is_err() {
        let state = if owned { "owned" } else { "released" };
        panic!("{what}: {name} was not {state} within {LIMIT:?}");
    }
}

/// Waits until `daemon` (latchkeyd in this process) has `n` requests queued for the prompt,
/// woken by each change of its queue (panics after [`LIMIT`]).
pub async fn queued(daemon: &latchkey_daemon::server::Daemon, n: usize) {
    let mut queued = daemon.watch_queued();
    let reached = tokio::time::timeout(LIMIT, queued.wait_for(|q| *q == n))
        .await
        .map(|r| r.map(|_| ()));
    match reached {
        Ok(Ok(())) => {}
        Ok(Err(_)) => panic!("latchkeyd's queue is gone"),
        Err(_) => panic!(
            "latchkeyd's queue did not reach {n} within {LIMIT:?} (it holds {})",
            daemon.queued()
        ),
    }
}
