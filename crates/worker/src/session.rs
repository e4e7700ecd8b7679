//! The session between latchkeyd and a worker, without I/O: a [`client::Client`] (latchkeyd's
//! side) and a [`server::Server`] (the worker's side), state machines that take a received
//! message's bytes and give the bytes to send and what happened.
//!
//! They hold every rule of the conversation: the `Ready` handshake and its protocol version;
//! request numbers (increasing, one request at a time from latchkeyd); which reply answers which
//! request, and which is late (a reply to a cancelled request) and dropped; cancel races (a
//! `Cancel` that reaches the worker before its request runs, while it runs, or after its reply);
//! listings cut into parts of at most [`crate::protocol::platform::CHUNK_ITEMS`] credentials and
//! [`crate::protocol::platform::CREDENTIALS_CHUNK`] bytes, and put together up to
//! [`MAX_LIST_ITEMS`] and [`MAX_LIST_BYTES`]. The socket loops around them
//! ([`crate::device`], [`crate::serve`]) only move bytes and wait.

pub mod client;
pub mod server;

#[cfg(test)]
mod tests;

use latchkey_authenticator::store::StoreErrorKind;
use latchkey_client::manage::CredentialInfo;

use crate::protocol::{ErrorCode, Malformed, ProtocolError};

/// The most credentials one listing may bring, over all its parts.
pub const MAX_LIST_ITEMS: usize = 10_000;

/// The most reply bytes one listing may bring, over all its parts.
pub const MAX_LIST_BYTES: usize = 16 << 20;

/// The most requests the worker holds (one running, the rest waiting); latchkeyd sends one at a
/// time, so more means a confused peer.
pub const MAX_QUEUED: usize = 4;

/// What a finished request gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The CTAP response: status byte and CBOR.
    Ctap(Vec<u8>),
    /// Every listed credential (all parts put together).
    Credentials(Vec<CredentialInfo>),
    /// Whether a credential was deleted.
    Deleted(bool),
    /// Whether a credential's user names were set.
    Updated(bool),
    /// Whether the store's session was live and has ended.
    SessionEnded(bool),
}

/// The `Ready` a worker sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// `"file"` or `"tpm"`.
    pub store: String,
    /// The store, as shown to the user.
    pub path: String,
}

/// Why a session cannot go on, or a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A message that is not valid.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// A message that cannot be sent (too large, a field out of bounds).
    #[error("cannot send the message: {0}")]
    Unsendable(ProtocolError),
    /// The worker speaks another protocol version (`None`: one from before versions).
    #[error("{}", version_mismatch(*ours, *theirs))]
    VersionMismatch {
        /// This build's [`crate::protocol::PROTOCOL_VERSION`].
        ours: u64,
        /// The worker's.
        theirs: Option<u64>,
    },
    /// A message of a type that does not fit here (a `Deleted` answering a CTAP request, a
    /// second `Ready`, …).
    #[error("expected {expected}, got a message of type {got}")]
    Unexpected {
        /// What was expected.
        expected: &'static str,
        /// The type number received.
        got: u64,
    },
    /// A reply to a request that was never sent.
    #[error("a reply to request {seq}, which was not sent (the last was {last})")]
    UnknownSequence {
        /// The reply's `seq`.
        seq: u64,
        /// The last request's.
        last: u64,
    },
    /// A request number that does not increase.
    #[error("request {seq} does not follow request {last}")]
    Sequence {
        /// The request's `seq`.
        seq: u64,
        /// The last one's.
        last: u64,
    },
    /// A request while another waits for its reply.
    #[error("a request is already under way")]
    Busy,
    /// A listing longer than [`MAX_LIST_ITEMS`] credentials or [`MAX_LIST_BYTES`] bytes.
    #[error(
        "the credential list is longer than {MAX_LIST_ITEMS} credentials or {MAX_LIST_BYTES} \
         bytes ({items} credentials, {bytes} bytes so far)"
    )]
    ListTooLong {
        /// Credentials so far.
        items: usize,
        /// Bytes so far.
        bytes: usize,
    },
    /// The worker answered the request with an error.
    #[error("{message}")]
    Failed {
        /// Its code.
        code: ErrorCode,
        /// Its words.
        message: String,
        /// With code `Store`: the kind of store failure.
        store: Option<StoreErrorKind>,
    },
    /// The request was cancelled.
    #[error("the request was cancelled")]
    Cancelled,
}

fn version_mismatch(ours: u64, theirs: Option<u64>) -> String {
    match theirs {
        Some(v) => format!("the worker speaks protocol version {v}, latchkeyd version {ours}"),
        None => {
            format!("the worker speaks a protocol from before versions, latchkeyd version {ours}")
        }
    }
}
