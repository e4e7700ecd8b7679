//! The worker's side of the link: answers requests with the platform authenticator it holds.
//!
//! Two threads. The reader (the caller of [`serve`]) receives every message, answers malformed
//! ones with an `Error` reply, and handles `Cancel` at once; the executor runs `Ctap`, `List`,
//! `Delete` and `UpdateUser` requests in order on the device. A `Cancel` for the running request trips the
//! device's [`CancelHandle`] (its presence check is then refused); one for a request still queued
//! makes the executor answer it with `Error(Cancelled)`. End of stream on the link ends both.

use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use latchkey_client::{CancelHandle, DeviceError};

use super::link::{is_timeout, Link, Received};
use super::protocol::{
    credential_size, ErrorCode, ErrorReply, Message, Ready, Reply, Request, CREDENTIALS_CHUNK,
};
use crate::managed::ManagedDevice;

/// Which request runs, and which one the gateway cancelled.
#[derive(Debug, Default)]
struct CancelState {
    running: Option<u64>,
    cancelled: Option<u64>,
}

struct Canceller {
    state: Mutex<CancelState>,
    handle: CancelHandle,
}

impl Canceller {
    fn cancel(&self, target: u64) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.cancelled = Some(target);
        if s.running == Some(target) {
            self.handle.cancel();
        }
    }

    /// Marks `seq` running; `false` if it was cancelled before it started.
    fn start(&self, seq: u64) -> bool {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.cancelled == Some(seq) {
            return false;
        }
        s.running = Some(seq);
        self.handle.reset();
        true
    }

    fn finish(&self) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.running = None;
        self.handle.reset();
    }
}

fn send(link: &Link, seq: u64, reply: &Reply) {
    if let Err(e) = link.send(&reply.encode(seq)) {
        tracing::warn!(error = %e, "cannot send a reply to latchkeyd");
    }
}

/// Sends `Ready`, then serves requests until latchkeyd closes the link.
pub fn serve<D: ManagedDevice + 'static>(link: Link, device: D, ready: Ready) -> io::Result<()> {
    link.set_write_timeout(Some(std::time::Duration::from_secs(10)))?;
    send(&link, 0, &Reply::Ready(ready));
    let canceller = Arc::new(Canceller {
        state: Mutex::new(CancelState::default()),
        handle: device.cancel_handle(),
    });
    let (tx, rx) = mpsc::channel::<Message<Request>>();
    let executor = {
        let link = link.try_clone()?;
        let canceller = canceller.clone();
        std::thread::Builder::new()
            .name("executor".into())
            .spawn(move || execute_all(device, &rx, &link, &canceller))?
    };
    let result = read_all(&link, &tx, &canceller);
    drop(tx);
    if executor.join().is_err() {
        tracing::error!("the executor thread panicked");
    }
    result
}

fn read_all(
    link: &Link,
    tx: &mpsc::Sender<Message<Request>>,
    canceller: &Canceller,
) -> io::Result<()> {
    loop {
        let bytes = match link.recv() {
            Ok(Received::Message(bytes)) => bytes,
            Ok(Received::Closed) => return Ok(()),
            Ok(Received::TooLarge) => {
                let e = ErrorReply::new(ErrorCode::TooLarge, "the message is too large");
                send(link, 0, &Reply::Error(e));
                continue;
            }
            Err(e) if is_timeout(&e) => continue,
            Err(e) => return Err(e),
        };
        match Request::decode(&bytes) {
            Err(m) => {
                tracing::warn!(error = %m, "malformed request");
                let e = ErrorReply::new(ErrorCode::Malformed, m.to_string());
                send(link, m.seq.unwrap_or(0), &Reply::Error(e));
            }
            Ok(Message {
                body: Request::Cancel { target },
                ..
            }) => canceller.cancel(target),
            Ok(message) => {
                if tx.send(message).is_err() {
                    return Ok(());
                }
            }
        }
    }
}

fn execute_all<D: ManagedDevice>(
    mut device: D,
    rx: &mpsc::Receiver<Message<Request>>,
    link: &Link,
    canceller: &Canceller,
) {
    while let Ok(Message { seq, body }) = rx.recv() {
        if !canceller.start(seq) {
            let e = ErrorReply::new(ErrorCode::Cancelled, "the request was cancelled");
            send(link, seq, &Reply::Error(e));
            continue;
        }
        for reply in execute(&mut device, body) {
            send(link, seq, &reply);
        }
        canceller.finish();
    }
}

fn store_error(message: impl Into<String>) -> Reply {
    Reply::Error(ErrorReply::new(ErrorCode::Store, message))
}

/// Runs one request; a `List` may need several replies.
pub fn execute<D: ManagedDevice + ?Sized>(device: &mut D, request: Request) -> Vec<Reply> {
    match request {
        Request::Ctap(bytes) => vec![match device.cbor(&bytes, &mut |_| {}) {
            Ok(response) => Reply::Ctap(response),
            Err(DeviceError::Cancelled) => Reply::Error(ErrorReply::new(
                ErrorCode::Cancelled,
                "the request was cancelled",
            )),
            Err(e) => store_error(e.to_string()),
        }],
        Request::List { rp_id } => match device.list(rp_id.as_deref()) {
            Some(Ok(items)) => chunk(items),
            Some(Err(e)) => vec![store_error(e.message())],
            None => vec![store_error(
                "this authenticator keeps no platform credentials",
            )],
        },
        Request::Delete { credential_id } => match device.delete(&credential_id) {
            Some(Ok(deleted)) => vec![Reply::Deleted(deleted)],
            Some(Err(e)) => vec![store_error(e.message())],
            None => vec![store_error(
                "this authenticator keeps no platform credentials",
            )],
        },
        Request::UpdateUser {
            credential_id,
            name,
            display_name,
        } => match device.update_user(&credential_id, &name, &display_name) {
            Some(Ok(updated)) => vec![Reply::Updated(updated)],
            Some(Err(e)) => vec![store_error(e.message())],
            None => vec![store_error(
                "this authenticator keeps no platform credentials",
            )],
        },
        // The reader handles Cancel; one that reaches here has nothing left to cancel.
        Request::Cancel { .. } => Vec::new(),
    }
}

/// Splits a credential list into replies of at most [`CREDENTIALS_CHUNK`] bytes of credentials.
pub(crate) fn chunk(items: Vec<latchkey_client::manage::CredentialInfo>) -> Vec<Reply> {
    let mut parts: Vec<Vec<_>> = vec![Vec::new()];
    let mut size = 0;
    for item in items {
        let n = credential_size(&item);
        if size + n > CREDENTIALS_CHUNK && parts.last().is_some_and(|p| !p.is_empty()) {
            parts.push(Vec::new());
            size = 0;
        }
        size += n;
        if let Some(part) = parts.last_mut() {
            part.push(item);
        }
    }
    let last = parts.len() - 1;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, items)| Reply::Credentials {
            items,
            more: i < last,
        })
        .collect()
}
