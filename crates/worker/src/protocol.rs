//! The messages latchkeyd and the platform authenticator worker exchange over their socketpair
//! (DESIGN.md "Processes": workers are spoken to "over a socketpair with typed CBOR messages").
//!
//! Each message is one `SOCK_SEQPACKET` datagram of at most [`MAX_MESSAGE`] bytes holding one CBOR
//! map (RFC 8949) with small integer keys, as CTAP parameters are:
//!
//! | key | request (gateway → worker) | reply (worker → gateway) |
//! |---|---|---|
//! | 1 | `seq`: unsigned, ≥ 1, chosen by the gateway | `seq` of the request answered; 0 for `Ready` and for an error about a message without a readable `seq` |
//! | 2 | type: 1 `Ctap`, 2 `List`, 3 `Delete`, 4 `Cancel`, 5 `UpdateUser` | type: 1 `Ready`, 2 `Ctap`, 3 `Credentials`, 4 `Deleted`, 5 `Error`, 6 `Updated` |
//! | 3 | body (below) | body (below) |
//!
//! Request bodies: `Ctap` a byte string, the command byte and its CBOR parameters (CTAP 2.1 §8.1,
//! at most [`MAX_CTAP_REQUEST`] bytes); `List` an RP ID text or null; `Delete` the credential ID
//! bytes; `Cancel` the `seq` of the request to cancel (no reply); `UpdateUser` `{1: credential
//! ID, 2: user.name, 3: user.displayName}`, the names at most [`MAX_USER_FIELD`] bytes each (for
//! `signalCurrentUserDetails`, WebAuthn L3 §5.1.10.3).
//!
//! Reply bodies: `Ready` `{1: store kind, 2: store path}` once the store is open; `Ctap` the status
//! byte and its CBOR (CTAP 2.1 §8.1); `Credentials` `{1: [credential…], 2: more}` where a
//! credential is `{1: id, 2: rpId, 3: user.id, 4: user.name?, 5: user.displayName?,
//! 6: discoverable, 7: credProtect, 8: signCount?}` and `more` says another `Credentials` reply
//! with the same `seq` follows; `Deleted` a boolean; `Error` `{1: code, 2: message}`; `Updated` a
//! boolean (`false`: no credential had that ID).
//!
//! Decoding is bounded (message size, nesting depth, each field's length) and never panics: a
//! message that breaks any rule is a [`Malformed`], which the worker answers with an `Error`.

use ciborium::value::{Integer, Value};
use latchkey_client::manage::CredentialInfo;
pub use latchkey_client::manage::MAX_USER_FIELD;

use super::fields::{bool_field, bytes_field, text_field, uint, Fields};

/// The largest message either side sends or accepts.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// The largest CTAP request: a CTAPHID message carries at most 7609 bytes (CTAP 2.1 §11.2.4), and
/// the platform authenticator announces that `maxMsgSize`.
pub const MAX_CTAP_REQUEST: usize = 7609;
/// The longest credential ID accepted in `Delete` (CTAP 2.1 §6.1: at most 1023 bytes).
pub const MAX_CREDENTIAL_ID: usize = 1023;
/// The longest RP ID accepted in `List` (a DNS name: 253 characters).
pub const MAX_RP_ID: usize = 253;
/// How many bytes of credential data one `Credentials` reply carries at most.
pub const CREDENTIALS_CHUNK: usize = 48 * 1024;
/// The longest error message sent; longer ones are cut.
pub const MAX_ERROR_MESSAGE: usize = 1024;
/// CBOR nesting deeper than this is malformed (the deepest valid message nests 4 levels).
const MAX_DEPTH: usize = 8;

/// A message with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<T> {
    /// Which request this is, or answers.
    pub seq: u64,
    /// The request or reply.
    pub body: T,
}

/// What latchkeyd asks of the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// One CTAP2 request: command byte and CBOR parameters (CTAP 2.1 §8.1).
    Ctap(Vec<u8>),
    /// The public data of the platform credentials, of one RP or all.
    List {
        /// Only this RP's credentials.
        rp_id: Option<String>,
    },
    /// Delete a platform credential.
    Delete {
        /// Its credential ID.
        credential_id: Vec<u8>,
    },
    /// Cancel the request with this `seq` (refuses its presence check; no reply).
    Cancel {
        /// The request to cancel.
        target: u64,
    },
    /// Set the user names of a platform credential.
    UpdateUser {
        /// Its credential ID.
        credential_id: Vec<u8>,
        /// The new `user.name`, at most [`MAX_USER_FIELD`] bytes.
        name: String,
        /// The new `user.displayName`, at most [`MAX_USER_FIELD`] bytes.
        display_name: String,
    },
}

/// What the worker answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The store is open; requests may follow.
    Ready(Ready),
    /// The CTAP response: status byte and CBOR (CTAP 2.1 §8.1).
    Ctap(Vec<u8>),
    /// Listed credentials; `more` when another reply with the same `seq` follows.
    Credentials {
        /// This part of the list.
        items: Vec<CredentialInfo>,
        /// Whether more parts follow.
        more: bool,
    },
    /// Whether a credential was deleted (`false`: none had that ID).
    Deleted(bool),
    /// The request failed.
    Error(ErrorReply),
    /// Whether a credential's user names were set (`false`: none had that ID).
    Updated(bool),
}

/// The worker's first message: which store it opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// `"file"` or `"tpm"`.
    pub kind: String,
    /// The store, as shown to the user.
    pub path: String,
}

/// A failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    /// Whose fault, roughly.
    pub code: ErrorCode,
    /// What happened, for logs.
    pub message: String,
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The message was not a valid request (the gateway's fault).
    Malformed = 1,
    /// The message was longer than [`MAX_MESSAGE`].
    TooLarge = 2,
    /// The credential store failed.
    Store = 3,
    /// The request was cancelled.
    Cancelled = 4,
    /// The store could not be opened or the sandbox not applied: the worker stops.
    Unavailable = 5,
}

impl ErrorCode {
    fn from_u64(v: u64) -> Option<Self> {
        Some(match v {
            1 => Self::Malformed,
            2 => Self::TooLarge,
            3 => Self::Store,
            4 => Self::Cancelled,
            5 => Self::Unavailable,
            _ => return None,
        })
    }
}

impl ErrorReply {
    /// An error reply; the message is cut to [`MAX_ERROR_MESSAGE`] bytes.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.len() > MAX_ERROR_MESSAGE {
            let mut end = MAX_ERROR_MESSAGE;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        Self { code, message }
    }
}

/// A message that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed worker message: {reason}")]
pub struct Malformed {
    /// Its `seq`, if that much could be read.
    pub seq: Option<u64>,
    /// What was wrong.
    pub reason: Reason,
}

/// What was wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    /// Longer than [`MAX_MESSAGE`].
    #[error("{0} bytes is longer than the {MAX_MESSAGE}-byte limit")]
    TooLarge(usize),
    /// Not one well-formed CBOR item within the nesting limit.
    #[error("not valid CBOR: {0}")]
    Cbor(String),
    /// Bytes after the CBOR item.
    #[error("trailing bytes after the message")]
    Trailing,
    /// A required field is absent.
    #[error("missing field {0}")]
    Missing(&'static str),
    /// A field has the wrong CBOR type or an impossible value.
    #[error("field {field}: expected {expected}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What it should have been.
        expected: &'static str,
    },
    /// A field is longer than its limit.
    #[error("field {field} is {len} long, more than {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An unknown message type.
    #[error("unknown message type {0}")]
    UnknownType(u64),
}

fn int(v: u64) -> Value {
    Value::Integer(Integer::from(v))
}

fn map(entries: Vec<(u64, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (int(k), v)).collect())
}

fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and every Value built here is serialisable.
    if ciborium::into_writer(value, &mut out).is_err() {
        out.clear();
    }
    out
}

fn envelope(seq: u64, kind: u64, body: Value) -> Vec<u8> {
    encode(&map(vec![(1, int(seq)), (2, int(kind)), (3, body)]))
}

impl Request {
    /// The message bytes.
    pub fn encode(&self, seq: u64) -> Vec<u8> {
        let (kind, body) = match self {
            Self::Ctap(bytes) => (1, Value::Bytes(bytes.clone())),
            Self::List { rp_id } => (2, rp_id.clone().map_or(Value::Null, Value::Text)),
            Self::Delete { credential_id } => (3, Value::Bytes(credential_id.clone())),
            Self::Cancel { target } => (4, int(*target)),
            Self::UpdateUser {
                credential_id,
                name,
                display_name,
            } => (
                5,
                map(vec![
                    (1, Value::Bytes(credential_id.clone())),
                    (2, Value::Text(name.clone())),
                    (3, Value::Text(display_name.clone())),
                ]),
            ),
        };
        envelope(seq, kind, body)
    }

    /// Reads a request (`seq` ≥ 1).
    pub fn decode(bytes: &[u8]) -> Result<Message<Self>, Malformed> {
        let (seq, kind, body) = open_envelope(bytes)?;
        let fail = |reason| Malformed {
            seq: Some(seq),
            reason,
        };
        if seq == 0 {
            return Err(fail(Reason::Invalid {
                field: "seq",
                expected: "a request number of at least 1",
            }));
        }
        let request = match kind {
            1 => Self::Ctap(bytes_field(body, "ctap", MAX_CTAP_REQUEST).map_err(fail)?),
            2 => Self::List {
                rp_id: match body {
                    Value::Null => None,
                    other => Some(text_field(other, "rpId", MAX_RP_ID).map_err(fail)?),
                },
            },
            3 => Self::Delete {
                credential_id: credential_id_field(body).map_err(fail)?,
            },
            4 => Self::Cancel {
                target: uint(body, "target").map_err(fail)?,
            },
            5 => {
                let mut m = Fields::new(body, "updateUser").map_err(fail)?;
                let credential_id =
                    credential_id_field(m.take(1, "credentialId").map_err(fail)?).map_err(fail)?;
                let name = text_field(m.take(2, "name").map_err(fail)?, "name", MAX_USER_FIELD)
                    .map_err(fail)?;
                let display_name = text_field(
                    m.take(3, "displayName").map_err(fail)?,
                    "displayName",
                    MAX_USER_FIELD,
                )
                .map_err(fail)?;
                Self::UpdateUser {
                    credential_id,
                    name,
                    display_name,
                }
            }
            other => return Err(fail(Reason::UnknownType(other))),
        };
        Ok(Message { seq, body: request })
    }
}

/// A credential ID in a request: 1 to [`MAX_CREDENTIAL_ID`] bytes.
fn credential_id_field(v: Value) -> Result<Vec<u8>, Reason> {
    let credential_id = bytes_field(v, "credentialId", MAX_CREDENTIAL_ID)?;
    if credential_id.is_empty() {
        return Err(Reason::Invalid {
            field: "credentialId",
            expected: "a non-empty byte string",
        });
    }
    Ok(credential_id)
}

fn credential_value(c: &CredentialInfo) -> Value {
    let mut entries = vec![
        (1, Value::Bytes(c.credential_id.clone())),
        (2, Value::Text(c.rp_id.clone())),
        (3, Value::Bytes(c.user_id.clone())),
    ];
    if let Some(name) = &c.user_name {
        entries.push((4, Value::Text(name.clone())));
    }
    if let Some(name) = &c.user_display_name {
        entries.push((5, Value::Text(name.clone())));
    }
    entries.push((6, Value::Bool(c.discoverable)));
    entries.push((7, int(u64::from(c.cred_protect))));
    if let Some(count) = c.sign_count {
        entries.push((8, int(u64::from(count))));
    }
    map(entries)
}

/// The encoded size of one listed credential, for chunking `Credentials` replies.
pub fn credential_size(c: &CredentialInfo) -> usize {
    encode(&credential_value(c)).len()
}

/// What a log line may say of a reply: its kind and size, never its contents (CTAP responses,
/// user names and IDs). See [`Reply::summary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplySummary<'a>(&'a Reply);

impl std::fmt::Display for ReplySummary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Reply::Ready(_) => f.write_str("Ready"),
            Reply::Ctap(bytes) => write!(f, "Ctap ({} bytes)", bytes.len()),
            Reply::Credentials { items, more } => {
                write!(f, "Credentials ({} items, more: {more})", items.len())
            }
            Reply::Deleted(yes) => write!(f, "Deleted ({yes})"),
            Reply::Error(e) => write!(f, "Error ({:?}, {} bytes)", e.code, e.message.len()),
            Reply::Updated(yes) => write!(f, "Updated ({yes})"),
        }
    }
}

impl Reply {
    /// Its kind and size, for logs and error messages.
    pub fn summary(&self) -> ReplySummary<'_> {
        ReplySummary(self)
    }

    /// The message bytes.
    pub fn encode(&self, seq: u64) -> Vec<u8> {
        let (kind, body) = match self {
            Self::Ready(r) => (
                1,
                map(vec![
                    (1, Value::Text(r.kind.clone())),
                    (2, Value::Text(r.path.clone())),
                ]),
            ),
            Self::Ctap(bytes) => (2, Value::Bytes(bytes.clone())),
            Self::Credentials { items, more } => (
                3,
                map(vec![
                    (
                        1,
                        Value::Array(items.iter().map(credential_value).collect()),
                    ),
                    (2, Value::Bool(*more)),
                ]),
            ),
            Self::Deleted(yes) => (4, Value::Bool(*yes)),
            Self::Error(e) => (
                5,
                map(vec![
                    (1, int(e.code as u64)),
                    (2, Value::Text(e.message.clone())),
                ]),
            ),
            Self::Updated(yes) => (6, Value::Bool(*yes)),
        };
        envelope(seq, kind, body)
    }

    /// Reads a reply.
    pub fn decode(bytes: &[u8]) -> Result<Message<Self>, Malformed> {
        let (seq, kind, body) = open_envelope(bytes)?;
        let fail = |reason| Malformed {
            seq: Some(seq),
            reason,
        };
        let reply = match kind {
            1 => {
                let mut m = Fields::new(body, "ready").map_err(fail)?;
                Self::Ready(Ready {
                    kind: text_field(m.take(1, "kind").map_err(fail)?, "kind", 16).map_err(fail)?,
                    path: text_field(m.take(2, "path").map_err(fail)?, "path", 4096)
                        .map_err(fail)?,
                })
            }
            2 => Self::Ctap(bytes_field(body, "ctap", MAX_MESSAGE).map_err(fail)?),
            3 => {
                let mut m = Fields::new(body, "credentials").map_err(fail)?;
                let Value::Array(list) = m.take(1, "items").map_err(fail)? else {
                    return Err(fail(Reason::Invalid {
                        field: "items",
                        expected: "an array",
                    }));
                };
                let items = list
                    .into_iter()
                    .map(credential_from)
                    .collect::<Result<_, _>>()
                    .map_err(fail)?;
                let more = bool_field(m.take(2, "more").map_err(fail)?, "more").map_err(fail)?;
                Self::Credentials { items, more }
            }
            4 => Self::Deleted(bool_field(body, "deleted").map_err(fail)?),
            6 => Self::Updated(bool_field(body, "updated").map_err(fail)?),
            5 => {
                let mut m = Fields::new(body, "error").map_err(fail)?;
                let code = uint(m.take(1, "code").map_err(fail)?, "code").map_err(fail)?;
                let code = ErrorCode::from_u64(code).ok_or(fail(Reason::Invalid {
                    field: "code",
                    expected: "a known error code",
                }))?;
                let message = text_field(m.take(2, "message").map_err(fail)?, "message", 4096)
                    .map_err(fail)?;
                Self::Error(ErrorReply { code, message })
            }
            other => return Err(fail(Reason::UnknownType(other))),
        };
        Ok(Message { seq, body: reply })
    }
}

fn credential_from(v: Value) -> Result<CredentialInfo, Reason> {
    let mut m = Fields::new(v, "credential")?;
    let optional_text =
        |v: Option<Value>, field| v.map(|v| text_field(v, field, MAX_USER_FIELD)).transpose();
    Ok(CredentialInfo {
        credential_id: bytes_field(m.take(1, "id")?, "id", MAX_CREDENTIAL_ID)?,
        rp_id: text_field(m.take(2, "rpId")?, "rpId", MAX_RP_ID)?,
        user_id: bytes_field(m.take(3, "userId")?, "userId", 64)?,
        user_name: optional_text(m.optional(4), "userName")?,
        user_display_name: optional_text(m.optional(5), "userDisplayName")?,
        discoverable: bool_field(m.take(6, "discoverable")?, "discoverable")?,
        cred_protect: u8::try_from(uint(m.take(7, "credProtect")?, "credProtect")?).map_err(
            |_| Reason::Invalid {
                field: "credProtect",
                expected: "1, 2 or 3",
            },
        )?,
        sign_count: m
            .optional(8)
            .map(|v| {
                u32::try_from(uint(v, "signCount")?).map_err(|_| Reason::Invalid {
                    field: "signCount",
                    expected: "a 32-bit counter",
                })
            })
            .transpose()?,
    })
}

/// Splits the envelope, after checking size, CBOR well-formedness, depth and trailing bytes.
fn open_envelope(bytes: &[u8]) -> Result<(u64, u64, Value), Malformed> {
    let bare = |reason| Malformed { seq: None, reason };
    if bytes.len() > MAX_MESSAGE {
        return Err(bare(Reason::TooLarge(bytes.len())));
    }
    let mut reader = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut reader, MAX_DEPTH)
        .map_err(|e| bare(Reason::Cbor(e.to_string())))?;
    if !reader.is_empty() {
        return Err(bare(Reason::Trailing));
    }
    let mut m = Fields::new(value, "message").map_err(bare)?;
    let seq = uint(m.take(1, "seq").map_err(bare)?, "seq").map_err(bare)?;
    let with_seq = |reason| Malformed {
        seq: Some(seq),
        reason,
    };
    let kind = uint(m.take(2, "type").map_err(with_seq)?, "type").map_err(with_seq)?;
    let body = m.take(3, "body").map_err(with_seq)?;
    Ok((seq, kind, body))
}
