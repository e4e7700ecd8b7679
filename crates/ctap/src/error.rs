//! Decoding errors, each mapped to the CTAP status code the specification asks for.

use crate::status::StatusCode;

/// Why bytes are not CTAP2 canonical CBOR (CTAP 2.1 §8 "Message encoding").
///
/// Every variant maps to `CTAP2_ERR_INVALID_CBOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CborError {
    /// The input ends inside an item, or a declared length exceeds the remaining input.
    #[error("input ends inside an item")]
    Truncated,
    /// Bytes remain after the top-level item.
    #[error("{0} bytes follow the item")]
    TrailingBytes(usize),
    /// An indefinite-length string, array or map, or a stray "break".
    #[error("indefinite-length item")]
    IndefiniteLength,
    /// An integer or length not in its shortest form.
    #[error("integer or length not in shortest form")]
    NonCanonicalInteger,
    /// Additional information 28..=30, which CBOR reserves.
    #[error("reserved additional information {0}")]
    ReservedAdditionalInfo(u8),
    /// Map keys are not in CTAP2 canonical order.
    #[error("map keys out of canonical order")]
    UnsortedMapKeys,
    /// A map key occurs twice.
    #[error("duplicate map key")]
    DuplicateMapKey,
    /// A map key that is neither an integer nor a text string.
    #[error("map key is neither an integer nor a text string")]
    UnsupportedMapKey,
    /// A text string that is not UTF-8.
    #[error("text string is not UTF-8")]
    InvalidUtf8,
    /// Arrays and maps nested deeper than the reader's limit ([`crate::cbor::MAX_DEPTH`] for
    /// CTAP).
    #[error("arrays and maps nested deeper than allowed")]
    TooDeep,
    /// More items (map keys and containers counted) than the reader's limit.
    #[error("more than {max} items")]
    TooManyItems {
        /// The limit.
        max: usize,
    },
    /// A byte or text string longer than the reader's limit.
    #[error("a {len}-byte string is longer than {max}")]
    StringTooLong {
        /// Its declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A tag (major type 6): CTAP has none.
    #[error("tags are not used in CTAP")]
    Tag,
    /// A floating-point number, `undefined` or another simple value CTAP does not use.
    #[error("simple value or float {0} not used in CTAP")]
    UnsupportedSimple(u8),
}

/// A message that cannot be decoded into the typed CTAP structure.
///
/// [`Error::status`] gives the status code an authenticator answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Malformed or non-canonical CBOR (`CTAP2_ERR_INVALID_CBOR`).
    #[error("invalid CBOR: {0}")]
    Cbor(#[from] CborError),
    /// The message is longer than the transport allows (`CTAP1_ERR_INVALID_LENGTH`).
    #[error("message of {len} bytes exceeds the maximum of {max}")]
    MessageTooLong {
        /// Bytes received.
        len: usize,
        /// Bytes allowed.
        max: usize,
    },
    /// The message is empty: there is no command or status byte (`CTAP1_ERR_INVALID_LENGTH`).
    #[error("empty message")]
    EmptyMessage,
    /// A known parameter has the wrong CBOR type (`CTAP2_ERR_CBOR_UNEXPECTED_TYPE`).
    #[error("{field}: expected {expected}")]
    UnexpectedType {
        /// The parameter, as the specification names it.
        field: &'static str,
        /// The CBOR type the specification requires.
        expected: &'static str,
    },
    /// A required parameter is absent (`CTAP2_ERR_MISSING_PARAMETER`).
    #[error("missing required parameter {field}")]
    MissingParameter {
        /// The parameter, as the specification names it.
        field: &'static str,
    },
    /// A parameter has a value the specification does not allow (`CTAP1_ERR_INVALID_PARAMETER`).
    #[error("invalid {field}: {reason}")]
    InvalidParameter {
        /// The parameter, as the specification names it.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A byte string has the wrong or an excessive length (`CTAP1_ERR_INVALID_LENGTH`).
    #[error("{field} has length {len}, allowed: {allowed}")]
    InvalidLength {
        /// The parameter, as the specification names it.
        field: &'static str,
        /// Its length in bytes (or elements).
        len: usize,
        /// The allowed lengths, in words.
        allowed: &'static str,
    },
    /// A parameter exceeds an authenticator limit (`CTAP2_ERR_LIMIT_EXCEEDED`).
    #[error("{field} has {len} elements, more than {max}")]
    LimitExceeded {
        /// The parameter, as the specification names it.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The command byte names no CTAP command (`CTAP1_ERR_INVALID_COMMAND`).
    #[error("unknown command 0x{0:02X}")]
    InvalidCommand(u8),
    /// The subCommand is not defined (`CTAP2_ERR_INVALID_SUBCOMMAND`).
    #[error("unknown {field} subcommand {value}")]
    InvalidSubcommand {
        /// The command whose subcommand is unknown.
        field: &'static str,
        /// The subcommand received.
        value: u64,
    },
    /// A COSE key or algorithm this crate does not support (`CTAP2_ERR_UNSUPPORTED_ALGORITHM`).
    #[error("unsupported algorithm in {field}")]
    UnsupportedAlgorithm {
        /// The parameter, as the specification names it.
        field: &'static str,
    },
}

impl Error {
    /// The CTAP status code an authenticator returns for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Cbor(_) => StatusCode::InvalidCbor,
            Self::MessageTooLong { .. } | Self::EmptyMessage | Self::InvalidLength { .. } => {
                StatusCode::InvalidLength
            }
            Self::UnexpectedType { .. } => StatusCode::CborUnexpectedType,
            Self::MissingParameter { .. } => StatusCode::MissingParameter,
            Self::InvalidParameter { .. } => StatusCode::InvalidParameter,
            Self::LimitExceeded { .. } => StatusCode::LimitExceeded,
            Self::InvalidCommand(_) => StatusCode::InvalidCommand,
            Self::InvalidSubcommand { .. } => StatusCode::InvalidSubcommand,
            Self::UnsupportedAlgorithm { .. } => StatusCode::UnsupportedAlgorithm,
        }
    }

    pub(crate) fn unexpected(field: &'static str, expected: &'static str) -> Self {
        Self::UnexpectedType { field, expected }
    }

    pub(crate) fn missing(field: &'static str) -> Self {
        Self::MissingParameter { field }
    }

    pub(crate) fn invalid(field: &'static str, reason: &'static str) -> Self {
        Self::InvalidParameter { field, reason }
    }
}

impl From<Error> for StatusCode {
    fn from(e: Error) -> Self {
        e.status()
    }
}

/// A response whose status byte is not `CTAP2_OK`, or whose body does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The authenticator answered with an error status.
    #[error("authenticator returned {0}")]
    Status(StatusCode),
    /// The authenticator answered OK but the body is malformed.
    #[error("malformed response: {0}")]
    Malformed(#[from] Error),
}
