//! The worker's side of a session, without I/O.
//!
//! The reader thread gives each received message to `Server::receive`, which says what to do:
//! run a request, trip the running request's cancel handle, send an error reply, or nothing.
//! The executor calls `Server::start` before it runs a request (a request cancelled while it
//! waited is answered `Cancelled` instead) and `Server::finish` with its outcome, which gives
//! the replies' bytes (a listing in parts).
//!
//! Requests must be numbered upwards; at most [`MAX_QUEUED`] are held at once. A `Cancel` names
//! its request by its `seq`: the running one is tripped, a waiting one answered `Cancelled`
//! when its turn comes, one not received yet (the number after the last) is remembered for
//! when it arrives, and one already answered is ignored.

use std::collections::VecDeque;

use latchkey_client::manage::CredentialInfo;

use super::{Outcome, SessionError, MAX_QUEUED};
use crate::protocol::platform::{credential_size, CHUNK_ITEMS, CREDENTIALS_CHUNK};
use crate::protocol::{ErrorCode, Message, Reply, Request, PROTOCOL_VERSION};

/// What the worker is to do with a message it received.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Queue this request for the executor.
    Run(u64, Request),
    /// Trip the running request's cancel handle.
    CancelRunning,
    /// Send these bytes (an error reply).
    Send(Vec<u8>),
    /// Nothing.
    Nothing,
}

/// The worker's session with latchkeyd.
#[derive(Debug, Default)]
pub struct Server {
    /// The last request's `seq`.
    last: u64,
    /// Requests received and not finished, in order; the first may be running.
    queued: VecDeque<u64>,
    running: Option<u64>,
    /// Waiting requests that were cancelled.
    cancelled: Vec<u64>,
    /// A cancel for the request after the last, which has not arrived.
    ahead: Option<u64>,
}

/// Encodes a reply; one that cannot be (it would break a bound) becomes an `Error` reply.
fn reply_bytes(seq: u64, body: Reply) -> Vec<u8> {
    match (Message { seq, body }).encode() {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(error = %e, "a reply cannot be sent");
            let body = Reply::error(ErrorCode::Store, format!("the reply cannot be sent: {e}"));
            (Message { seq, body }).encode().unwrap_or_default()
        }
    }
}

impl Server {
    /// A session before any request.
    pub fn new() -> Self {
        Self::default()
    }

    /// The worker's first message: `Ready` with this build's protocol version.
    pub fn ready(store: &str, path: &str) -> Vec<u8> {
        reply_bytes(
            0,
            Reply::Ready {
                version: PROTOCOL_VERSION,
                store: store.to_owned(),
                path: path.to_owned(),
            },
        )
    }

    /// The `Error` a worker that cannot start sends instead of `Ready`.
    pub fn unavailable(message: impl Into<String>) -> Vec<u8> {
        reply_bytes(0, Reply::error(ErrorCode::Unavailable, message))
    }

    /// The answer to a message longer than the link carries.
    pub fn too_large(&self) -> Vec<u8> {
        reply_bytes(
            0,
            Reply::error(ErrorCode::TooLarge, "the message is too large"),
        )
    }

    /// Takes one received message.
    pub fn receive(&mut self, bytes: &[u8]) -> Action {
        let Message { seq, body } = match Message::<Request>::decode(bytes) {
            Ok(m) => m,
            Err(m) => return self.refuse(m.seq.unwrap_or(0), ErrorCode::Malformed, &m),
        };
        if let Request::Cancel {} = body {
            return self.cancel(seq);
        }
        if seq <= self.last {
            let e = SessionError::Sequence {
                seq,
                last: self.last,
            };
            return self.refuse(seq, ErrorCode::Malformed, &e);
        }
        self.last = seq;
        if self.queued.len() >= MAX_QUEUED {
            let message = format!("more than {MAX_QUEUED} requests at once");
            return Action::Send(reply_bytes(seq, Reply::error(ErrorCode::Busy, message)));
        }
        self.queued.push_back(seq);
        if self.ahead.take_if(|a| *a == seq).is_some() {
            self.cancelled.push(seq);
        }
        Action::Run(seq, body)
    }

    fn refuse(&self, seq: u64, code: ErrorCode, e: &dyn std::fmt::Display) -> Action {
        tracing::warn!(error = %e, "malformed request");
        Action::Send(reply_bytes(seq, Reply::error(code, e.to_string())))
    }

    fn cancel(&mut self, target: u64) -> Action {
        if self.running == Some(target) {
            Action::CancelRunning
        } else if self.queued.contains(&target) {
            if !self.cancelled.contains(&target) {
                self.cancelled.push(target);
            }
            Action::Nothing
        } else if self.last.checked_add(1) == Some(target) {
            self.ahead = Some(target);
            Action::Nothing
        } else {
            // Answered already, or never to come: nothing to cancel.
            Action::Nothing
        }
    }

    /// The executor is about to run `seq`: `Ok` to run it, or the bytes of its `Cancelled`
    /// reply (it was cancelled while it waited).
    pub fn start(&mut self, seq: u64) -> Result<(), Vec<u8>> {
        if let Some(at) = self.cancelled.iter().position(|s| *s == seq) {
            self.cancelled.swap_remove(at);
            self.queued.retain(|s| *s != seq);
            return Err(reply_bytes(
                seq,
                Reply::error(ErrorCode::Cancelled, "the request was cancelled"),
            ));
        }
        self.running = Some(seq);
        Ok(())
    }

    /// `seq` finished with `outcome`: the bytes of its replies, in order.
    pub fn finish(&mut self, seq: u64, outcome: Result<Outcome, Reply>) -> Vec<Vec<u8>> {
        if self.running == Some(seq) {
            self.running = None;
        }
        self.queued.retain(|s| *s != seq);
        let replies = match outcome {
            Ok(Outcome::Ctap(response)) => vec![Reply::Ctap { response }],
            Ok(Outcome::Credentials(items)) => chunk(items),
            Ok(Outcome::Deleted(deleted)) => vec![Reply::Deleted { deleted }],
            Ok(Outcome::Updated(updated)) => vec![Reply::Updated { updated }],
            Ok(Outcome::SessionEnded(ended)) => vec![Reply::SessionEnded { ended }],
            Err(error) => vec![error],
        };
        replies.into_iter().map(|r| reply_bytes(seq, r)).collect()
    }
}

/// Cuts a listing into `Credentials` replies of at most [`CHUNK_ITEMS`] credentials and
/// [`CREDENTIALS_CHUNK`] bytes of credentials each (at least one reply, the last with `more`
/// false).
pub fn chunk(items: Vec<CredentialInfo>) -> Vec<Reply> {
    let mut parts: Vec<Vec<CredentialInfo>> = vec![Vec::new()];
    let mut size = 0usize;
    for item in items {
        let n = credential_size(&item);
        if n == usize::MAX {
            // A field beyond the protocol's bounds (a record another program wrote, say): that
            // credential is left out, not the whole listing failed with it.
            tracing::warn!(
                "a platform credential is left out of a listing: a field of it is longer than the \
                 worker protocol carries"
            );
            continue;
        }
        let full = parts.last().is_some_and(|p| {
            !p.is_empty() && (p.len() >= CHUNK_ITEMS || size.saturating_add(n) > CREDENTIALS_CHUNK)
        });
        if full {
            parts.push(Vec::new());
            size = 0;
        }
        size = size.saturating_add(n);
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
