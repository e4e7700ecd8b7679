//! The messages latchkeyd and its workers exchange over their socketpair (DESIGN.md
//! "Processes": workers are spoken to "over a socketpair with typed CBOR messages").
//!
//! Each message is one `SOCK_SEQPACKET` datagram of at most [`MAX_MESSAGE`] bytes holding one
//! CBOR map in CTAP2 canonical form (CTAP 2.1 §8, written and read by `latchkey_ctap::cbor`
//! within [`LIMITS`]), with small integer keys as CTAP parameters have:
//!
//! | key | value |
//! |---|---|
//! | 1 | `seq`: a request's number (≥ 1, increasing, chosen by latchkeyd), the number of the request a reply answers, or 0 for `Ready` and for an error about a message without a readable `seq` |
//! | 2 | the message type |
//! | 3 | the body: a map whose keys the message type defines |
//!
//! The platform authenticator's messages are in [`platform`]. Every worker's first message is
//! `Ready` (type 1) whose body's key 1 is [`PROTOCOL_VERSION`]: a worker binary replaced by an
//! upgrade under a running latchkeyd says another version, and latchkeyd restarts it once and
//! then refuses it (`crate::session::client`).
//!
//! Both sides check the same rules: a message is encoded only if the peer would accept it
//! (bounds, size), and decoded only if it is the one encoding of a valid message; anything else
//! is a [`ProtocolError`] naming the rule. Each message is declared once, as a table from which
//! both directions follow ([`wire`]).

pub mod device;
pub mod error;
pub mod platform;
pub mod wire;

#[cfg(test)]
mod tests;

use latchkey_ctap::cbor::Limits;

pub use error::{Malformed, ProtocolError};
pub use latchkey_client::manage::MAX_USER_FIELD;
pub use platform::{ErrorCode, Reply, Request};

/// The version of these messages, in every `Ready`. Raise it with any change to a message.
pub const PROTOCOL_VERSION: u64 = 3;

/// The largest message either side sends or accepts: room for a CTAP message of
/// [`MAX_CTAP_MESSAGE`] bytes and its envelope.
pub const MAX_MESSAGE: usize = 80 * 1024;

/// The largest CTAP message (status byte or command byte included) in either direction: CTAP
/// over NFC bounds a response at 64 KiB (`latchkey_ctap::nfc::host`), CTAPHID at 7609 bytes.
pub const MAX_CTAP_MESSAGE: usize = 64 * 1024;

/// How the reader bounds a message. The deepest message nests four levels (a listing: the
/// envelope, its body, the array of credentials, a credential), the largest listing part
/// about 4,400 items ([`platform::CHUNK_ITEMS`] credentials of 17 items each), the longest
/// string is a CTAP message.
pub const LIMITS: Limits = Limits {
    max_size: MAX_MESSAGE,
    max_depth: 4,
    max_items: 8192,
    max_string: MAX_CTAP_MESSAGE,
};

/// A message with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<T> {
    /// Which request this is, or answers.
    pub seq: u64,
    /// The request or reply.
    pub body: T,
}

impl<T: wire::MessageSet> Message<T> {
    /// The message's bytes: checked against every bound the peer checks, at most
    /// [`MAX_MESSAGE`] long.
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        wire::encode(self.seq, &self.body)
    }

    /// Reads a message: canonical CBOR within [`LIMITS`], of a known type, every field of
    /// its type and within its bounds, no field unknown.
    pub fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
        wire::decode(bytes)
    }
}
