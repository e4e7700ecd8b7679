//! Who is at fault when a call or a request fails, and the one mapping from that to what the
//! caller sees (DESIGN "Errors"; STYLE 7). Failures below latchkeyd stay typed — the store's
//! `StoreError`, the worker's `WorkerError` with its protocol error code, the device's
//! `DeviceError` — and keep their cause as a `source()` chain; at the D-Bus edge a [`Fault`] is
//! made of them, and [`Blame`] with [`FaultKind`] alone decides the name: the WebAuthn
//! DOMException name of a `Response` ([`Fault::webauthn`]) or the
//! `dev.latchkey.Credentials1.Error.*` of a method ([`Fault::method_error`]). The log line
//! ([`Fault::log`]) carries the whole chain; the caller gets the top message only. Ceremony
//! back-ends answer with a `Fault` too: a failed CTAP ceremony's blame comes from the client
//! crate's typed cause ([`Fault::from_ceremony`], the `ceremony` submodule's table).
//!
//! | blame | kind | WebAuthn name | method error |
//! |---|---|---|---|
//! | caller | invalid | `TypeError` | `InvalidArgument` |
//! | caller | encoding | `EncodingError` | `InvalidArgument` |
//! | caller | syntax | `SyntaxError` | `InvalidArgument` |
//! | caller, authenticator | constraint | `ConstraintError` | `NotSupported` |
//! | caller | forbidden | `SecurityError` | `Security` |
//! | caller | unsupported | `NotSupportedError` | `NotSupported` |
//! | caller | missing | `NotAllowedError` | `NotFound` |
//! | user | refused, timed out | `NotAllowedError` | `CallerRefused` |
//! | user | cancelled | `AbortError` | `CallerRefused` |
//! | authenticator | unsupported | `NotSupportedError` | `NotSupported` |
//! | authenticator | excluded | `InvalidStateError` | `Failed` |
//! | authenticator | any other | `NotAllowedError` | `Failed` |
//! | store | any | `UnknownError` | `Failed` |
//! | system | busy | `NotAllowedError` | `Busy` |
//! | system | unavailable | `NotAllowedError` | `Failed` |
//! | system | any other | `UnknownError` | `Failed` |

use std::error::Error as StdError;
use std::fmt;

use latchkey_api::Error as MethodError;
use latchkey_authenticator::store::{StoreError, StoreErrorKind};
use latchkey_webauthn::{ErrorName, WebAuthnError};
use latchkey_worker::protocol::ErrorCode;
use latchkey_worker::{ManageError, WorkerError};

/// Who is at fault for a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Blame {
    /// The caller: malformed input, a request it may not make, something that does not exist.
    Caller,
    /// The user: refused, dismissed, cancelled or did not answer.
    User,
    /// The authenticator: a security key or the platform authenticator refused or failed.
    Authenticator,
    /// The credential store: I/O, damaged data, held by another process.
    Store,
    /// latchkeyd or its host: a worker that stopped, a thread that died, no room left.
    System,
}

impl Blame {
    /// Its name in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Caller => "caller",
            Self::User => "user",
            Self::Authenticator => "authenticator",
            Self::Store => "store",
            Self::System => "system",
        }
    }
}

/// What went wrong, within a [`Blame`]: the detail that picks the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// Malformed or out of range.
    Invalid,
    /// Not allowed for this caller (origin, RP ID, policy).
    Forbidden,
    /// Nothing here supports it.
    Unsupported,
    /// It does not exist (or the caller may not know it does).
    Missing,
    /// Refused or dismissed.
    Refused,
    /// Cancelled.
    Cancelled,
    /// No answer in time.
    TimedOut,
    /// A credential the request excludes is there.
    Excluded,
    /// Too much at once; retry later.
    Busy,
    /// A JSON type representation did not decode (bad base64url; WebAuthn L3 §5.1.8).
    Encoding,
    /// A value names something the request does not allow (a PRF `evalByCredential` key).
    Syntax,
    /// A requirement nothing here can meet (`residentKey` or `userVerification` required).
    Constraint,
    /// Nothing can serve it now (no prompt to ask the user, a prompt that failed).
    Unavailable,
    /// It failed.
    Failed,
}

/// A failure at the D-Bus edge: its blame, its kind, a message for the caller and the cause.
pub struct Fault {
    blame: Blame,
    kind: FaultKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Fault {
    /// A fault of `blame` and `kind`, told to the caller as `message`.
    pub fn new(blame: Blame, kind: FaultKind, message: impl Into<String>) -> Self {
        Self {
            blame,
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The same, caused by `source` (kept for the log, not sent to the caller).
    pub fn caused_by(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Who is at fault.
    pub fn blame(&self) -> Blame {
        self.blame
    }

    /// What went wrong.
    pub fn kind(&self) -> FaultKind {
        self.kind
    }

    /// The message the caller gets.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The DOMException name a `Response` carries for a fault of `blame` and `kind` (the table
    /// in the module doc): the one mapping for ceremonies.
    pub fn name_for(blame: Blame, kind: FaultKind) -> ErrorName {
        use FaultKind as K;
        match (blame, kind) {
            (Blame::Caller, K::Invalid) => ErrorName::Type,
            (Blame::Caller, K::Encoding) => ErrorName::Encoding,
            (Blame::Caller, K::Syntax) => ErrorName::Syntax,
            (Blame::Caller | Blame::Authenticator, K::Constraint) => ErrorName::Constraint,
            (Blame::Caller, K::Forbidden) => ErrorName::Security,
            (Blame::Caller | Blame::Authenticator, K::Unsupported) => ErrorName::NotSupported,
            (Blame::User, K::Cancelled) => ErrorName::Abort,
            (Blame::Authenticator, K::Excluded) => ErrorName::InvalidState,
            (Blame::Caller | Blame::User | Blame::Authenticator, _) => ErrorName::NotAllowed,
            (Blame::System, K::Busy | K::Unavailable) => ErrorName::NotAllowed,
            (Blame::Store | Blame::System, _) => ErrorName::Unknown,
        }
    }

    /// This fault as a `Response`'s WebAuthn error.
    pub fn webauthn(&self) -> WebAuthnError {
        WebAuthnError::new(Self::name_for(self.blame, self.kind), self.message.clone())
    }

    /// This fault as a method's error (`dev.latchkey.Credentials1.Error.*`, the table in the
    /// module doc): the one mapping for methods that answer directly.
    pub fn method_error(&self) -> MethodError {
        use FaultKind as K;
        let m = self.message.clone();
        match (self.blame, self.kind) {
            (Blame::Caller, K::Invalid | K::Encoding | K::Syntax) => {
                MethodError::InvalidArgument(m)
            }
            (Blame::Caller | Blame::Authenticator, K::Constraint) => MethodError::NotSupported(m),
            (Blame::Caller, K::Forbidden) => MethodError::Security(m),
            (Blame::Caller | Blame::Authenticator, K::Unsupported) => MethodError::NotSupported(m),
            (Blame::Caller, K::Missing) => MethodError::NotFound(m),
            (Blame::Caller | Blame::User, _) => MethodError::CallerRefused(m),
            (Blame::System, K::Busy) => MethodError::Busy(m),
            (Blame::Authenticator | Blame::Store | Blame::System, _) => MethodError::Failed(m),
        }
    }

    /// The kind a WebAuthn error's name stands for: under the blame that raised it, the table
    /// gives the name back (unit-tested for each name and its blame).
    pub fn kind_of(name: &str) -> FaultKind {
        use FaultKind as K;
        match ErrorName::from_name(name) {
            Some(ErrorName::Type) => K::Invalid,
            Some(ErrorName::Encoding) => K::Encoding,
            Some(ErrorName::Syntax) => K::Syntax,
            Some(ErrorName::Security) => K::Forbidden,
            Some(ErrorName::NotSupported) => K::Unsupported,
            Some(ErrorName::Constraint) => K::Constraint,
            Some(ErrorName::InvalidState) => K::Excluded,
            Some(ErrorName::Abort) => K::Cancelled,
            Some(ErrorName::NotAllowed) => K::Refused,
            Some(ErrorName::Unknown) | None => K::Failed,
        }
    }

    /// A check's WebAuthn error as the fault of `blame` (options parsing and origin checks
    /// answer in WebAuthn's terms already).
    pub fn from_webauthn(blame: Blame, e: &WebAuthnError) -> Self {
        Self::new(blame, Self::kind_of(e.name()), e.message())
    }

    /// A WebAuthn error without a typed cause as a fault, by its name alone (the fall-back of
    /// [`Self::from_ceremony`]; a prompt's answer is one such error): a
    /// cancellation is the user's, a malformed or forbidden request the caller's, an unknown
    /// failure the system's, and every other outcome the authenticator's (a refusal by the user
    /// at the authenticator is `NotAllowedError` either way).
    pub fn from_backend(e: &WebAuthnError) -> Self {
        let kind = Self::kind_of(e.name());
        let blame = match kind {
            FaultKind::Cancelled => Blame::User,
            FaultKind::Invalid | FaultKind::Encoding | FaultKind::Syntax | FaultKind::Forbidden => {
                Blame::Caller
            }
            FaultKind::Failed => Blame::System,
            _ => Blame::Authenticator,
        };
        Self::new(blame, kind, e.message())
    }

    /// The message and every cause below it, joined by ": ".
    pub fn chain(&self) -> String {
        let mut out = self.message.clone();
        let mut next: Option<&(dyn StdError + 'static)> = match &self.source {
            Some(s) => Some(s.as_ref()),
            None => None,
        };
        while let Some(e) = next {
            out.push_str(": ");
            out.push_str(&e.to_string());
            next = e.source();
        }
        out
    }

    /// Logs the fault with its blame, kind and source chain (`what`: the call or request).
    pub fn log(&self, what: &str) {
        tracing::warn!(
            call = what,
            blame = self.blame.as_str(),
            kind = ?self.kind,
            error = %self.chain(),
            "failed"
        );
    }
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fault")
            .field("blame", &self.blame)
            .field("kind", &self.kind)
            .field("chain", &self.chain())
            .finish()
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Fault {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.source {
            Some(s) => Some(s.as_ref()),
            None => None,
        }
    }
}

/// Whose fault a failure of the authenticator's credential store is.
pub fn store_blame(e: &StoreError) -> (Blame, FaultKind) {
    store_kind_blame(e.kind())
}

/// Whose fault a store failure of `kind` is (in this process, or told by the worker).
pub fn store_kind_blame(kind: StoreErrorKind) -> (Blame, FaultKind) {
    match kind {
        StoreErrorKind::Unsupported => (Blame::Authenticator, FaultKind::Unsupported),
        // A key that needs the user's verification first.
        StoreErrorKind::Locked => (Blame::User, FaultKind::Refused),
        StoreErrorKind::Full
        | StoreErrorKind::Corrupt
        | StoreErrorKind::Io
        | StoreErrorKind::ReadOnly
        | StoreErrorKind::NoSpace
        | StoreErrorKind::Denied
        | StoreErrorKind::Tpm
        | StoreErrorKind::Crypto
        | StoreErrorKind::InUse => (Blame::Store, FaultKind::Failed),
    }
}

/// The kind of store failure behind `e`, in this process or in the worker.
pub fn store_kind(e: &ManageError) -> Option<StoreErrorKind> {
    match e {
        ManageError::Store(s) => Some(s.kind()),
        ManageError::Worker(WorkerError::Failed { store, .. }) => *store,
        _ => None,
    }
}

/// Whose fault a failure talking to the platform authenticator worker is: its protocol's error
/// code says what failed inside it.
pub fn worker_blame(e: &WorkerError) -> (Blame, FaultKind) {
    match e {
        WorkerError::Failed { code, store, .. } => match code {
            ErrorCode::Store | ErrorCode::Unavailable => match store {
                Some(kind) => store_kind_blame(*kind),
                None => (Blame::Store, FaultKind::Failed),
            },
            ErrorCode::Cancelled => (Blame::User, FaultKind::Cancelled),
            ErrorCode::Busy => (Blame::System, FaultKind::Busy),
            // latchkeyd sent something the worker could not read.
            ErrorCode::Malformed | ErrorCode::TooLarge => (Blame::System, FaultKind::Failed),
        },
        WorkerError::Cancelled => (Blame::User, FaultKind::Cancelled),
        WorkerError::Timeout => (Blame::System, FaultKind::TimedOut),
        _ => (Blame::System, FaultKind::Failed),
    }
}

/// A management failure as a [`Fault`], its cause kept.
pub fn manage_fault(e: ManageError) -> Fault {
    let (blame, kind) = match &e {
        ManageError::Store(s) => store_blame(s),
        ManageError::Worker(w) => worker_blame(w),
        _ => (Blame::System, FaultKind::Failed),
    };
    let message = match (blame, store_kind(&e)) {
        (Blame::Store, Some(k)) => format!("the credential store failed: {}", k.describe()),
        (Blame::Store, None) => "the credential store failed".to_owned(),
        (Blame::User, Some(k)) => k.describe().to_owned(),
        (Blame::User, None) => "the request was cancelled".to_owned(),
        _ => "the platform authenticator failed".to_owned(),
    };
    Fault::new(blame, kind, message).caused_by(e)
}

mod ceremony;

pub use ceremony::{failure_blame, status_blame};

#[cfg(test)]
mod tests;
