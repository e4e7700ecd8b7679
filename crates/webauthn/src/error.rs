//! The one error type at the WebAuthn API edge: a DOMException name and a precise message.
//!
//! WebAuthn L3 §5.1.3.1 (create) and §5.1.4.3 (get) list the exceptions a ceremony can raise;
//! `parseCreationOptionsFromJSON()` (§5.1.8) adds `EncodingError`. Inner modules keep typed
//! errors ([`crate::origin::OriginError`], [`crate::rp::VerifyError`]) and convert into this
//! type only where a caller needs the DOMException name.

use serde::{Serialize, Serializer};
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// A DOMException name used by WebAuthn (plus the simple exception `TypeError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorName {
    /// Catch-all: the user cancelled, timed out, or the request was refused without detail.
    NotAllowed,
    /// The origin may not use the RP ID, or the effective domain is not a valid domain.
    Security,
    /// An excluded credential was recognised by the authenticator (after user consent).
    InvalidState,
    /// Nothing supports what was asked (no usable `pubKeyCredParams`, bad extension use).
    NotSupported,
    /// `residentKey`/`userVerification` required and no authenticator can do it.
    Constraint,
    /// The options were not a valid dictionary (missing member, wrong type, bad `user.id`).
    Type,
    /// The ceremony was aborted by the caller.
    Abort,
    /// A JSON type representation could not be decoded (bad base64url), §5.1.8/§5.1.9.
    Encoding,
    /// A PRF `evalByCredential` key is not an allowed credential ID (§10.1.4).
    Syntax,
    /// An internal failure not attributable to the caller.
    Unknown,
}

impl ErrorName {
    /// The DOMException `name` string, e.g. `"NotAllowedError"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotAllowed => "NotAllowedError",
            Self::Security => "SecurityError",
            Self::InvalidState => "InvalidStateError",
            Self::NotSupported => "NotSupportedError",
            Self::Constraint => "ConstraintError",
            Self::Type => "TypeError",
            Self::Abort => "AbortError",
            Self::Encoding => "EncodingError",
            Self::Syntax => "SyntaxError",
            Self::Unknown => "UnknownError",
        }
    }

    /// Every name, for exhaustive tests and for the D-Bus error table.
    pub const ALL: [ErrorName; 10] = [
        Self::NotAllowed,
        Self::Security,
        Self::InvalidState,
        Self::NotSupported,
        Self::Constraint,
        Self::Type,
        Self::Abort,
        Self::Encoding,
        Self::Syntax,
        Self::Unknown,
    ];

    /// Parse a DOMException name back (the D-Bus edge receives them from workers).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == name)
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A WebAuthn failure as a script would see it: `{"name": …, "message": …}`, and, for whoever
/// runs the ceremony, what caused it ([`Self::with_source`]): a typed cause that decides whose
/// fault it was without reading the message. Two errors are equal when their names and messages
/// are; the cause is neither compared nor serialized.
#[derive(Clone)]
pub struct WebAuthnError {
    name: ErrorName,
    message: String,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl PartialEq for WebAuthnError {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.message == other.message
    }
}

impl Eq for WebAuthnError {}

impl fmt::Debug for WebAuthnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("WebAuthnError");
        d.field("name", &self.name).field("message", &self.message);
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for WebAuthnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl StdError for WebAuthnError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.source {
            Some(s) => Some(s.as_ref()),
            None => None,
        }
    }
}

impl WebAuthnError {
    /// An error with the given DOMException name and message.
    pub fn new(name: ErrorName, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
            source: None,
        }
    }

    /// The same error, caused by `source` (kept for whoever runs the ceremony; the caller gets
    /// the name and the message only).
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The cause, when it is of type `T`.
    pub fn cause<T: StdError + 'static>(&self) -> Option<&T> {
        self.source.as_deref()?.downcast_ref::<T>()
    }

    /// `NotAllowedError`.
    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::new(ErrorName::NotAllowed, message)
    }
    /// `SecurityError`.
    pub fn security(message: impl Into<String>) -> Self {
        Self::new(ErrorName::Security, message)
    }
    /// `InvalidStateError`.
    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(ErrorName::InvalidState, message)
    }
    /// `NotSupportedError`.
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(ErrorName::NotSupported, message)
    }
    /// `ConstraintError`.
    pub fn constraint(message: impl Into<String>) -> Self {
        Self::new(ErrorName::Constraint, message)
    }
    /// `TypeError`.
    pub fn type_error(message: impl Into<String>) -> Self {
        Self::new(ErrorName::Type, message)
    }
    /// `AbortError`.
    pub fn abort(message: impl Into<String>) -> Self {
        Self::new(ErrorName::Abort, message)
    }
    /// `EncodingError`.
    pub fn encoding(message: impl Into<String>) -> Self {
        Self::new(ErrorName::Encoding, message)
    }
    /// `SyntaxError`.
    pub fn syntax(message: impl Into<String>) -> Self {
        Self::new(ErrorName::Syntax, message)
    }
    /// `UnknownError`.
    pub fn unknown(message: impl Into<String>) -> Self {
        Self::new(ErrorName::Unknown, message)
    }

    /// The typed DOMException name.
    pub fn kind(&self) -> ErrorName {
        self.name
    }
    /// The DOMException `name` string.
    pub fn name(&self) -> &'static str {
        self.name.as_str()
    }
    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl Serialize for WebAuthnError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("WebAuthnError", 2)?;
        st.serialize_field("name", self.name())?;
        st.serialize_field("message", &self.message)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for n in ErrorName::ALL {
            assert!(n.as_str().ends_with("Error"));
            assert!(seen.insert(n.as_str()));
            assert_eq!(ErrorName::from_name(n.as_str()), Some(n));
        }
        assert_eq!(ErrorName::from_name("NotAnError"), None);
    }

    #[test]
    fn serializes_as_name_and_message() {
        let e = WebAuthnError::security("rp.id \"evil.com\" is not a suffix of \"example.com\"");
        let j = serde_json::to_string(&e).unwrap();
        assert_eq!(
            j,
            r#"{"name":"SecurityError","message":"rp.id \"evil.com\" is not a suffix of \"example.com\""}"#
        );
        assert_eq!(
            e.to_string(),
            "SecurityError: rp.id \"evil.com\" is not a suffix of \"example.com\""
        );
    }

    #[derive(Debug, PartialEq, Eq, thiserror::Error)]
    #[error("status 0x31")]
    struct Status(u8);

    #[test]
    fn a_cause_travels_typed_and_stays_out_of_equality_and_json() {
        let plain = WebAuthnError::not_allowed("the PIN is wrong");
        let caused = plain.clone().with_source(Status(0x31));
        assert_eq!(caused.cause::<Status>(), Some(&Status(0x31)));
        assert_eq!(plain.cause::<Status>(), None);
        assert_eq!(caused.clone().cause::<Status>(), Some(&Status(0x31)));
        assert_eq!(caused, plain);
        assert_eq!(
            serde_json::to_string(&caused).unwrap(),
            r#"{"name":"NotAllowedError","message":"the PIN is wrong"}"#
        );
        assert_eq!(caused.to_string(), "NotAllowedError: the PIN is wrong");
        assert_eq!(
            StdError::source(&caused)
                .map(ToString::to_string)
                .as_deref(),
            Some("status 0x31")
        );
    }
}
