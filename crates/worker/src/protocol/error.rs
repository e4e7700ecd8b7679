//! What can be wrong with a worker message: one enum, each variant naming the rule broken.

use latchkey_ctap::cbor::Kind;
use latchkey_ctap::error::{CborError, Error as CtapError};

/// Why bytes are not a valid worker message (or why a message cannot be sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Longer than [`super::MAX_MESSAGE`].
    #[error("a {len}-byte message is longer than the {max}-byte limit")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not one item of canonical CBOR within the reader's limits: not shortest form, keys out
    /// of order or repeated, indefinite lengths, tags, floats, truncated, trailing bytes,
    /// nested too deep, too many items, a string too long.
    #[error("not canonical CBOR within the limits: {0}")]
    Cbor(CborError),
    /// A message type this protocol does not have.
    #[error("unknown message type {0}")]
    UnknownMessage(u64),
    /// A field of the wrong CBOR type.
    #[error("{field}: expected {expected}, got {got}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// The type it must have.
        expected: Kind,
        /// The type it had.
        got: Kind,
    },
    /// A required field is absent.
    #[error("missing field {0}")]
    Missing(&'static str),
    /// A map holds a key its message does not define.
    #[error("{within} has an unknown field")]
    UnknownField {
        /// The map.
        within: &'static str,
    },
    /// A length (of a string or array) or an integer outside its bounds.
    #[error("{field} is {value}, outside {min}..={max}")]
    OutOfBounds {
        /// The field.
        field: &'static str,
        /// Its length or value.
        value: u64,
        /// The least allowed.
        min: u64,
        /// The most allowed.
        max: u64,
    },
    /// An integer that names nothing (an unknown error code, …).
    #[error("{field}: {value} is not a known value")]
    UnknownValue {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
}

impl From<CtapError> for ProtocolError {
    fn from(e: CtapError) -> Self {
        match e {
            CtapError::Cbor(c) => Self::Cbor(c),
            CtapError::MessageTooLong { len, max } => Self::TooLarge { len, max },
            // The reader returns nothing else; keep a CBOR reason rather than panicking.
            _ => Self::Cbor(CborError::Truncated),
        }
    }
}

/// A message that could not be decoded, with its `seq` when that much could be read (so that
/// the error reply can name the request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed worker message: {error}")]
pub struct Malformed {
    /// Its `seq`, if that much could be read.
    pub seq: Option<u64>,
    /// What was wrong.
    pub error: ProtocolError,
}

impl Malformed {
    /// A message longer than [`super::MAX_MESSAGE`], as the link reports it: it reads one byte
    /// more than the limit, so `len` says how much arrived, not the whole length.
    pub fn too_large() -> Self {
        Self {
            seq: None,
            error: ProtocolError::TooLarge {
                len: super::MAX_MESSAGE + 1,
                max: super::MAX_MESSAGE,
            },
        }
    }
}
