//! latchkeyd's side of a session with the platform worker, without I/O.
//!
//! `Client::ready` reads the worker's first message (its protocol version before anything
//! else), `Client::start` numbers a request and gives its bytes, `Client::receive` takes each
//! message that arrives and says when the request is done, `Client::cancel` gives the bytes of a
//! `Cancel` for the request under way. One request at a time. Replies to earlier requests (late
//! replies to cancelled ones) are dropped; a reply to a request never sent, of the wrong type,
//! or malformed is an error after which the worker is not to be trusted.

use latchkey_client::manage::CredentialInfo;

use super::{Outcome, Ready, SessionError, MAX_LIST_BYTES, MAX_LIST_ITEMS};
use crate::protocol::wire::{self, MessageSet, Value};
use crate::protocol::{ErrorCode, Message, Reply, Request, PROTOCOL_VERSION};

/// The reply type a request expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ctap,
    Credentials,
    Deleted,
    Updated,
    SessionEnded,
}

impl Expect {
    fn name(self) -> &'static str {
        match self {
            Self::Ctap => "Ctap",
            Self::Credentials => "Credentials",
            Self::Deleted => "Deleted",
            Self::Updated => "Updated",
            Self::SessionEnded => "SessionEnded",
        }
    }
}

/// The request under way.
#[derive(Debug)]
struct Pending {
    seq: u64,
    expect: Expect,
    /// Listed so far (a listing in parts).
    listed: Vec<CredentialInfo>,
    listed_bytes: usize,
}

/// latchkeyd's session with one worker process.
#[derive(Debug, Default)]
pub struct Client {
    /// The last request's `seq` (0 before the first).
    last: u64,
    pending: Option<Pending>,
    ready: bool,
}

impl Client {
    /// A session with a worker that has not said `Ready` yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the worker's first message: its `Ready`, whose protocol version is checked before
    /// the rest is read (another version's `Ready` may have other fields), or the `Error` it
    /// sends when it cannot start.
    pub fn ready(&mut self, bytes: &[u8]) -> Result<Ready, SessionError> {
        let envelope = wire::open(bytes)?;
        if self.ready {
            return Err(SessionError::Unexpected {
                expected: "a reply",
                got: envelope.kind,
            });
        }
        if envelope.kind == READY {
            let theirs = envelope
                .body
                .get(&Value::from(1u64))
                .and_then(Value::as_int)
                .and_then(|v| v.as_u64());
            if theirs != Some(PROTOCOL_VERSION) {
                return Err(SessionError::VersionMismatch {
                    ours: PROTOCOL_VERSION,
                    theirs,
                });
            }
        }
        let seq = envelope.seq;
        let reply = Reply::from_body(envelope.kind, envelope.body).map_err(|error| {
            SessionError::Malformed(crate::protocol::Malformed {
                seq: Some(seq),
                error,
            })
        })?;
        match reply {
            Reply::Ready { store, path, .. } => {
                self.ready = true;
                Ok(Ready { store, path })
            }
            Reply::Error {
                code,
                message,
                store,
            } => Err(SessionError::Failed {
                code,
                message,
                store,
            }),
            other => Err(SessionError::Unexpected {
                expected: "Ready",
                got: other.kind(),
            }),
        }
    }

    /// Numbers `request` and gives its bytes; fails while another request is under way.
    pub fn start(&mut self, request: &Request) -> Result<Vec<u8>, SessionError> {
        if self.pending.is_some() {
            return Err(SessionError::Busy);
        }
        let expect = match request {
            Request::Ctap { .. } => Expect::Ctap,
            Request::List { .. } => Expect::Credentials,
            Request::Delete { .. } => Expect::Deleted,
            Request::UpdateUser { .. } => Expect::Updated,
            Request::EndSession {} => Expect::SessionEnded,
            Request::Cancel {} => {
                return Err(SessionError::Unexpected {
                    expected: "a request",
                    got: request.kind(),
                })
            }
        };
        let seq = self.last + 1;
        let bytes = wire::encode(seq, request).map_err(SessionError::Unsendable)?;
        self.last = seq;
        self.pending = Some(Pending {
            seq,
            expect,
            listed: Vec::new(),
            listed_bytes: 0,
        });
        Ok(bytes)
    }

    /// Whether a request waits for its reply.
    pub fn waiting(&self) -> bool {
        self.pending.is_some()
    }

    /// The `seq` of the request under way.
    pub fn pending_seq(&self) -> Option<u64> {
        self.pending.as_ref().map(|p| p.seq)
    }

    /// Cancels the request under way if it is a CTAP request (listing, deleting and renaming
    /// are no part of a ceremony): the bytes of its `Cancel`. Its reply, should one come, is
    /// dropped as late.
    pub fn cancel(&mut self) -> Option<Vec<u8>> {
        let pending = self.pending.take_if(|p| p.expect == Expect::Ctap)?;
        Message {
            seq: pending.seq,
            body: Request::Cancel {},
        }
        .encode()
        .ok()
    }

    /// Forgets the request under way (its worker is gone).
    pub fn abandon(&mut self) {
        self.pending = None;
    }

    /// Takes one message from the worker: `Ok(None)` while the request under way wants more (a
    /// listing's part) or when the message was a late reply to an earlier request;
    /// `Ok(Some(_))` when the request is done; an error when it failed (`Failed`,
    /// `Cancelled`) or when the worker broke the protocol.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Option<Outcome>, SessionError> {
        let Message { seq, body } = Message::<Reply>::decode(bytes)?;
        if seq > self.last {
            return Err(SessionError::UnknownSequence {
                seq,
                last: self.last,
            });
        }
        let Some(pending) = self.pending.as_mut() else {
            return if seq == 0 {
                Err(SessionError::Unexpected {
                    expected: "no message",
                    got: body.kind(),
                })
            } else {
                // Late: the reply to a request cancelled or abandoned.
                Ok(None)
            };
        };
        // seq 0: the worker could not read the request's number.
        if seq != pending.seq && seq != 0 {
            return Ok(None);
        }
        let expect = pending.expect;
        let done = match body {
            Reply::Error {
                code,
                message,
                store,
            } => {
                self.pending = None;
                return Err(match code {
                    ErrorCode::Cancelled => SessionError::Cancelled,
                    code => SessionError::Failed {
                        code,
                        message,
                        store,
                    },
                });
            }
            _ if seq == 0 => {
                return Err(SessionError::Unexpected {
                    expected: "an error about an unreadable request",
                    got: body.kind(),
                })
            }
            Reply::Ctap { response } if expect == Expect::Ctap => Outcome::Ctap(response),
            Reply::Deleted { deleted } if expect == Expect::Deleted => Outcome::Deleted(deleted),
            Reply::Updated { updated } if expect == Expect::Updated => Outcome::Updated(updated),
            Reply::SessionEnded { ended } if expect == Expect::SessionEnded => {
                Outcome::SessionEnded(ended)
            }
            Reply::Credentials { items, more } if expect == Expect::Credentials => {
                pending.listed_bytes = pending.listed_bytes.saturating_add(bytes.len());
                let items_so_far = pending.listed.len().saturating_add(items.len());
                if items_so_far > MAX_LIST_ITEMS || pending.listed_bytes > MAX_LIST_BYTES {
                    let error = SessionError::ListTooLong {
                        items: items_so_far,
                        bytes: pending.listed_bytes,
                    };
                    self.pending = None;
                    return Err(error);
                }
                pending.listed.extend(items);
                if more {
                    return Ok(None);
                }
                Outcome::Credentials(std::mem::take(&mut pending.listed))
            }
            other => {
                return Err(SessionError::Unexpected {
                    expected: expect.name(),
                    got: other.kind(),
                })
            }
        };
        self.pending = None;
        Ok(Some(done))
    }
}

/// The type number of `Ready`, which every worker sends first.
pub const READY: u64 = 1;
