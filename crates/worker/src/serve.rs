//! The worker's side of the link: the socket loop around [`Server`], answering requests with
//! the platform authenticator it holds.
//!
//! Two threads. The reader (the caller of [`serve`]) receives every message and hands it to the
//! session, which says what to do: queue a request for the executor, trip the running request's
//! cancel handle (its presence check is then refused), or send an error reply. The executor runs
//! `Ctap`, `List`, `Delete`, `UpdateUser` and `EndSession` requests in order on the device. End
//! of stream on the link ends both.
//!
//! While the store's session is live (keystore SECURITY.md, "Sessions") the executor waits for
//! the next request no longer than the session has left, and then ends it: the master key leaves
//! memory when the idle time is up, not at the next use. It logs when a session starts (a PIN
//! was checked with Argon2id) and ends, without anything secret.

use std::io;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use latchkey_client::{CancelHandle, DeviceError};

use super::link::{Link, Received};
use super::protocol::{ErrorCode, Reply, Request};
use super::session::server::{Action, Server};
use super::session::Outcome;
use crate::managed::ManagedDevice;

#[cfg(test)]
mod tests;

/// The session and the device's cancel handle, which the reader trips under the session's lock
/// so that a cancel is never lost between a request's start and its run.
struct Shared {
    server: Mutex<Server>,
    cancel: CancelHandle,
}

impl Shared {
    fn server(&self) -> MutexGuard<'_, Server> {
        self.server.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn send(link: &Link, bytes: &[u8]) {
    if let Err(e) = link.send(bytes) {
        tracing::warn!(error = %e, "cannot send a reply to latchkeyd");
    }
}

/// Sends `Ready` (the bytes of [`Server::ready`]), then serves requests until latchkeyd closes
/// the link.
pub fn serve<D: ManagedDevice + 'static>(link: Link, device: D, ready: &[u8]) -> io::Result<()> {
    link.set_write_timeout(Some(std::time::Duration::from_secs(10)))?;
    send(&link, ready);
    let shared = Arc::new(Shared {
        server: Mutex::new(Server::new()),
        cancel: device.cancel_handle(),
    });
    let (tx, rx) = mpsc::channel::<(u64, Request)>();
    let executor = {
        let link = link.try_clone()?;
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("executor".into())
            .spawn(move || execute_all(device, &rx, &link, &shared))?
    };
    let result = read_all(&link, &tx, &shared);
    drop(tx);
    if executor.join().is_err() {
        tracing::error!("the executor thread panicked");
    }
    result
}

fn read_all(link: &Link, tx: &mpsc::Sender<(u64, Request)>, shared: &Shared) -> io::Result<()> {
    loop {
        let received = match link.recv() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other?,
        };
        let action = match received {
            Received::Message(bytes) => {
                let mut server = shared.server();
                let action = server.receive(&bytes);
                if action == Action::CancelRunning {
                    shared.cancel.cancel();
                }
                action
            }
            Received::TooLarge => Action::Send(shared.server().too_large()),
            Received::Closed => return Ok(()),
        };
        match action {
            Action::Run(seq, request) => {
                if tx.send((seq, request)).is_err() {
                    return Ok(());
                }
            }
            Action::Send(bytes) => send(link, &bytes),
            Action::CancelRunning | Action::Nothing => {}
        }
    }
}

/// The next request, or `None` when latchkeyd has gone; meanwhile ends the store's session when
/// its idle time is up. `live`: whether a session was live when last looked at.
fn next_request<D: ManagedDevice>(
    device: &mut D,
    rx: &mpsc::Receiver<(u64, Request)>,
    live: &mut bool,
) -> Option<(u64, Request)> {
    loop {
        let left = device.expire_session();
        if *live && left.is_none() {
            tracing::info!("the store's session ended: idle for its limit");
        }
        *live = left.is_some();
        match left {
            None => return rx.recv().ok(),
            Some(left) => match rx.recv_timeout(left) {
                Ok(next) => return Some(next),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            },
        }
    }
}

/// Logs a change of the store's session that a request made.
fn session_change<D: ManagedDevice>(device: &mut D, live: &mut bool) {
    let now = device.expire_session().is_some();
    match (*live, now) {
        (false, true) => {
            tracing::info!("the store's session started: a PIN was checked with Argon2id")
        }
        (true, false) => tracing::info!("the store's session ended"),
        _ => {}
    }
    *live = now;
}

fn execute_all<D: ManagedDevice>(
    mut device: D,
    rx: &mpsc::Receiver<(u64, Request)>,
    link: &Link,
    shared: &Shared,
) {
    let mut live = false;
    while let Some((seq, request)) = next_request(&mut device, rx, &mut live) {
        let started = {
            let mut server = shared.server();
            let started = server.start(seq);
            if started.is_ok() {
                shared.cancel.reset();
            }
            started
        };
        if let Err(cancelled) = started {
            send(link, &cancelled);
            continue;
        }
        let outcome = execute(&mut device, request);
        session_change(&mut device, &mut live);
        let replies = shared.server().finish(seq, outcome);
        for bytes in replies {
            send(link, &bytes);
        }
    }
}

fn store_error(message: impl Into<String>) -> Reply {
    Reply::error(ErrorCode::Store, message)
}

/// A management failure as an `Error` reply: a store's failure with its kind.
fn manage_error(e: &crate::managed::ManageError) -> Reply {
    match e {
        crate::managed::ManageError::Store(s) => Reply::store_error(s),
        other => store_error(crate::managed::chain(other)),
    }
}

const NO_STORE: &str = "this authenticator keeps no platform credentials";

/// Runs one request on the device: its outcome, or the `Error` reply.
pub fn execute<D: ManagedDevice + ?Sized>(
    device: &mut D,
    request: Request,
) -> Result<Outcome, Reply> {
    match request {
        Request::Ctap { command } => match device.cbor(&command, &mut |_| {}) {
            // A command that failed on the store: its kind and causes go to latchkeyd, not the
            // bare CTAP1_ERR_OTHER.
            Ok(response) if response.first() != Some(&0) => match device.take_failure() {
                Some(e) => {
                    tracing::warn!(error = %crate::managed::chain(&e), "a CTAP command failed on the store");
                    Err(manage_error(&e))
                }
                None => Ok(Outcome::Ctap(response)),
            },
            Ok(response) => Ok(Outcome::Ctap(response)),
            Err(DeviceError::Cancelled) => Err(Reply::error(
                ErrorCode::Cancelled,
                "the request was cancelled",
            )),
            Err(e) => Err(store_error(e.to_string())),
        },
        Request::List { rp_id } => match device.list(rp_id.as_deref()) {
            Some(Ok(items)) => Ok(Outcome::Credentials(items)),
            Some(Err(e)) => Err(manage_error(&e)),
            None => Err(store_error(NO_STORE)),
        },
        Request::Delete { credential_id } => match device.delete(&credential_id) {
            Some(Ok(deleted)) => Ok(Outcome::Deleted(deleted)),
            Some(Err(e)) => Err(manage_error(&e)),
            None => Err(store_error(NO_STORE)),
        },
        Request::UpdateUser {
            credential_id,
            name,
            display_name,
        } => match device.update_user(&credential_id, &name, &display_name) {
            Some(Ok(updated)) => Ok(Outcome::Updated(updated)),
            Some(Err(e)) => Err(manage_error(&e)),
            None => Err(store_error(NO_STORE)),
        },
        Request::EndSession {} => match device.end_session() {
            Ok(ended) => Ok(Outcome::SessionEnded(ended)),
            Err(e) => Err(manage_error(&e)),
        },
        // The session handles Cancel; one that reaches here has nothing to run.
        Request::Cancel {} => Err(Reply::error(
            ErrorCode::Malformed,
            "a cancel is not a request",
        )),
    }
}
