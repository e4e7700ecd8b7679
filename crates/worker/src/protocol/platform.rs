//! The platform authenticator worker's messages (`latchkey-platform-worker`).
//!
//! | type | request (latchkeyd → worker), body | reply (worker → latchkeyd), body |
//! |---|---|---|
//! | 1 | `Ctap` `{1: command}`: the command byte and its CBOR (CTAP 2.1 §8.1) | `Ready` `{1: version, 2: store, 3: path}` once the store is open and the sandbox on |
//! | 2 | `List` `{1: rpId?}`: credentials of one RP, or all | `Ctap` `{1: response}`: the status byte and its CBOR (CTAP 2.1 §8.1) |
//! | 3 | `Delete` `{1: credentialId}` | `Credentials` `{1: [credential…], 2: more}`; `more`: another part with the same `seq` follows |
//! | 4 | `Cancel` `{}`: cancels the request whose `seq` it carries (no reply of its own) | `Deleted` `{1: deleted}` |
//! | 5 | `UpdateUser` `{1: credentialId, 2: name, 3: displayName}` (`signalCurrentUserDetails`, WebAuthn L3 §5.1.10.3) | `Error` `{1: code, 2: message, 3: store?}`; `store`: the [`StoreErrorKind`] of a `Store` error |
//! | 6 | `EndSession` `{}`: end the store's session now (screen locked, suspend) | `Updated` `{1: updated}` (`false`: no credential had that ID) |
//! | 7 | | `SessionEnded` `{1: ended}` (`false`: no session was live) |
//!
//! A credential is `{1: id, 2: rpId, 3: user.id, 4: user.name?, 5: user.displayName?,
//! 6: discoverable, 7: credProtect, 8: signCount?}`. The bounds below are in the tables.

use latchkey_authenticator::store::{StoreError, StoreErrorKind};
use latchkey_client::manage::CredentialInfo;

use super::wire::{wire_messages, wire_record, MessageSet, Value, Wire};
use super::{ProtocolError, MAX_CTAP_MESSAGE, MAX_USER_FIELD};

/// The largest CTAP request: a CTAPHID message carries at most 7609 bytes (CTAP 2.1 §11.2.4),
/// and the platform authenticator announces that `maxMsgSize`.
pub const MAX_CTAP_REQUEST: usize = 7609;
/// The longest credential ID (CTAP 2.1 §6.1: at most 1023 bytes).
pub const MAX_CREDENTIAL_ID: usize = 1023;
/// The longest RP ID: a DNS name of 253 characters and the trailing dot a canonical RP ID
/// keeps.
pub const MAX_RP_ID: usize = latchkey_webauthn::origin::MAX_RP_ID_LEN;
/// The longest `user.id` (WebAuthn L3 §5.4.3: at most 64 bytes).
pub const MAX_USER_ID: usize = 64;
/// The longest store kind in `Ready` (`"file"`, `"tpm"`).
pub const MAX_STORE_KIND: usize = 16;
/// The longest store path in `Ready` (`PATH_MAX`).
pub const MAX_STORE_PATH: usize = 4096;
/// How many bytes of credentials one `Credentials` reply carries at most.
pub const CREDENTIALS_CHUNK: usize = 48 * 1024;
/// How many credentials one `Credentials` reply carries at most.
pub const CHUNK_ITEMS: usize = 256;
/// The longest error message sent; longer ones are cut.
pub const MAX_ERROR_MESSAGE: usize = 1024;

wire_messages! {
    /// What latchkeyd asks of the platform worker.
    pub enum Request {
        /// One CTAP2 request: command byte and CBOR parameters (CTAP 2.1 §8.1).
        1 => Ctap {
            /// The request.
            1 => command: Vec<u8> [1 ..= MAX_CTAP_REQUEST],
        },
        /// The public data of the platform credentials, of one RP or all.
        2 => List {
            /// Only this RP's credentials.
            1 => rp_id: Option<String> [1 ..= MAX_RP_ID],
        },
        /// Delete a platform credential.
        3 => Delete {
            /// Its credential ID.
            1 => credential_id: Vec<u8> [1 ..= MAX_CREDENTIAL_ID],
        },
        /// Cancel the request with this message's `seq` (its presence check is refused; no
        /// reply of its own).
        4 => Cancel {},
        /// Set the user names of a platform credential.
        5 => UpdateUser {
            /// Its credential ID.
            1 => credential_id: Vec<u8> [1 ..= MAX_CREDENTIAL_ID],
            /// The new `user.name`.
            2 => name: String [0 ..= MAX_USER_FIELD],
            /// The new `user.displayName`.
            3 => display_name: String [0 ..= MAX_USER_FIELD],
        },
        /// End the store's session now: its master key and PIN verifier leave memory, and the
        /// next PIN pays Argon2id (latchkeyd sends it at screen lock and before suspend).
        6 => EndSession {},
    }
}

wire_messages! {
    /// What the platform worker answers.
    pub enum Reply {
        /// The store is open and the sandbox on; requests may follow.
        1 => Ready {
            /// [`super::PROTOCOL_VERSION`] of the worker's build.
            1 => version: u64,
            /// `"file"` or `"tpm"`.
            2 => store: String [1 ..= MAX_STORE_KIND],
            /// The store, as shown to the user.
            3 => path: String [0 ..= MAX_STORE_PATH],
        },
        /// The CTAP response: status byte and CBOR (CTAP 2.1 §8.1).
        2 => Ctap {
            /// The response.
            1 => response: Vec<u8> [1 ..= MAX_CTAP_MESSAGE],
        },
        /// Listed credentials.
        3 => Credentials {
            /// This part of the list.
            1 => items: Vec<CredentialInfo> [0 ..= CHUNK_ITEMS],
            /// Whether another part with the same `seq` follows.
            2 => more: bool,
        },
        /// Whether a credential was deleted (`false`: none had that ID).
        4 => Deleted {
            /// Deleted or not.
            1 => deleted: bool,
        },
        /// The request failed.
        5 => Error {
            /// Whose fault, roughly.
            1 => code: ErrorCode,
            /// What happened, for logs (never secrets).
            2 => message: String [0 ..= MAX_ERROR_MESSAGE],
            /// With code `Store`: what kind of store failure (latchkeyd decides whose fault it
            /// is from this, not from the words).
            3 => store: Option<StoreErrorKind>,
        },
        /// Whether a credential's user names were set (`false`: none had that ID).
        6 => Updated {
            /// Set or not.
            1 => updated: bool,
        },
        /// Whether a session was live and has ended (`false`: none was, or the store has none).
        7 => SessionEnded {
            /// Ended or not.
            1 => ended: bool,
        },
    }
}

wire_record! {
    impl CredentialInfo as "credential" {
        1 => credential_id [1 ..= MAX_CREDENTIAL_ID],
        2 => rp_id [0 ..= MAX_RP_ID],
        3 => user_id [0 ..= MAX_USER_ID],
        4 => user_name [0 ..= MAX_USER_FIELD],
        5 => user_display_name [0 ..= MAX_USER_FIELD],
        6 => discoverable,
        7 => cred_protect [1 ..= 3],
        8 => sign_count,
    }
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The message was not a valid request (latchkeyd's fault).
    Malformed = 1,
    /// The message was longer than [`super::MAX_MESSAGE`].
    TooLarge = 2,
    /// The credential store failed.
    Store = 3,
    /// The request was cancelled.
    Cancelled = 4,
    /// The store could not be opened or the sandbox not applied: the worker stops.
    Unavailable = 5,
    /// More requests wait than the worker queues.
    Busy = 6,
}

impl ErrorCode {
    /// What failed in the worker, for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Malformed => "it could not read latchkeyd's request",
            Self::TooLarge => "latchkeyd's request was too large",
            Self::Store => "the credential store failed",
            Self::Cancelled => "the request was cancelled",
            Self::Unavailable => "the credential store is unavailable",
            Self::Busy => "it is busy",
        }
    }
}

impl Wire for ErrorCode {
    fn to_value(&self) -> Result<Value, ProtocolError> {
        Ok(Value::from(*self as u64))
    }
    fn from_value(value: Value, field: &'static str) -> Result<Self, ProtocolError> {
        Ok(match u64::from_value(value, field)? {
            1 => Self::Malformed,
            2 => Self::TooLarge,
            3 => Self::Store,
            4 => Self::Cancelled,
            5 => Self::Unavailable,
            6 => Self::Busy,
            value => return Err(ProtocolError::UnknownValue { field, value }),
        })
    }
}

impl Wire for StoreErrorKind {
    fn to_value(&self) -> Result<Value, ProtocolError> {
        Ok(Value::from(self.code()))
    }
    fn from_value(value: Value, field: &'static str) -> Result<Self, ProtocolError> {
        let code = u64::from_value(value, field)?;
        Self::from_code(code).ok_or(ProtocolError::UnknownValue { field, value: code })
    }
}

impl Reply {
    /// An `Error` reply; the message is cut to [`MAX_ERROR_MESSAGE`] bytes on a character
    /// boundary.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.len() > MAX_ERROR_MESSAGE {
            let mut end = MAX_ERROR_MESSAGE;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        Self::Error {
            code,
            message,
            store: None,
        }
    }

    /// The `Error` reply for a store failure: code `Store`, its kind, and its words with every
    /// cause (for latchkeyd's log; the caller gets no path).
    pub fn store_error(e: &StoreError) -> Self {
        let Self::Error { code, message, .. } = Self::error(ErrorCode::Store, e.with_causes())
        else {
            return Self::error(ErrorCode::Store, String::new());
        };
        Self::Error {
            code,
            message,
            store: Some(e.kind()),
        }
    }

    /// Its kind and size, for logs and error messages.
    pub fn summary(&self) -> ReplySummary<'_> {
        ReplySummary(self)
    }
}

/// The encoded size of one listed credential, for cutting a listing into parts.
pub fn credential_size(c: &CredentialInfo) -> usize {
    c.to_value()
        .map_or(usize::MAX, |v| latchkey_ctap::cbor::encode(&v).len())
}

/// What a log line may say of a reply: its kind and size, never its contents (CTAP responses,
/// user names and IDs). See [`Reply::summary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplySummary<'a>(&'a Reply);

impl std::fmt::Display for ReplySummary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Reply::Ready { version, .. } => write!(f, "Ready (version {version})"),
            Reply::Ctap { response } => write!(f, "Ctap ({} bytes)", response.len()),
            Reply::Credentials { items, more } => {
                write!(f, "Credentials ({} items, more: {more})", items.len())
            }
            Reply::Deleted { deleted } => write!(f, "Deleted ({deleted})"),
            Reply::Error { code, message, .. } => {
                write!(f, "Error ({code:?}, {} bytes)", message.len())
            }
            Reply::Updated { updated } => write!(f, "Updated ({updated})"),
            Reply::SessionEnded { ended } => write!(f, "SessionEnded ({ended})"),
        }
    }
}

/// The type number of a message, for tests and the fuzz target.
pub fn kind_of<M: MessageSet>(m: &M) -> u64 {
    m.kind()
}
