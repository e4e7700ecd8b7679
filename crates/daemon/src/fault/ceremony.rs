//! Whose fault a failed ceremony is. The client crate answers a CTAP outcome with a WebAuthn
//! error that carries what happened as a typed [`Failure`] (`latchkey_client::error`): the CTAP
//! status, the kind of device failure, a malformed answer, or the user declining a question. That
//! cause, not the message, decides the [`Blame`]:
//!
//! | cause | blame | kind |
//! |---|---|---|
//! | wrong PIN, PIN or UV blocked, new PIN refused by policy, `OPERATION_DENIED` | user | refused |
//! | no touch in time (`USER_ACTION_TIMEOUT`, `ACTION_TIMEOUT`) | user | timed out |
//! | `KEEPALIVE_CANCEL`, the device's request cancelled | user | cancelled |
//! | the user declined the PIN, a new PIN or the account at the client | user | refused |
//! | `CREDENTIAL_EXCLUDED` | authenticator | excluded |
//! | unsupported algorithm or extension | authenticator | unsupported |
//! | unsupported or invalid option, no room for a discoverable credential | authenticator | constraint |
//! | no credential the request allows | authenticator | missing |
//! | any other status, a device that is gone or talked nonsense, a malformed answer | authenticator | failed |
//! | the device did not answer in time | authenticator | timed out |
//! | latchkeyd's own worker serving the device stopped or failed | system | failed |
//!
//! Under these blames [`Fault::name_for`] gives the caller the same DOMException name the client
//! chose (unit-tested for every status byte). An error without a typed cause — one the client
//! raised about the request before asking any authenticator, or a test back-end's — falls back to
//! [`Fault::from_backend`], which reads the name. Failures below the client (the platform worker
//! that stopped, its store) are decided by the back-end from the device's own error
//! ([`super::manage_fault`]) before this mapping is reached.

use latchkey_client::device::DeviceErrorKind;
use latchkey_client::error::StatusCode;
use latchkey_client::error::{failure, Failure};
use latchkey_webauthn::WebAuthnError;

use super::{Blame, Fault, FaultKind};

/// Whose fault a CTAP status is (the module doc's table).
pub fn status_blame(status: StatusCode) -> (Blame, FaultKind) {
    use FaultKind as K;
    use StatusCode as S;
    match status {
        S::PinInvalid
        | S::PinBlocked
        | S::PinAuthBlocked
        | S::UvBlocked
        | S::UvInvalid
        | S::PinPolicyViolation
        | S::OperationDenied => (Blame::User, K::Refused),
        S::UserActionTimeout | S::ActionTimeout => (Blame::User, K::TimedOut),
        S::KeepaliveCancel => (Blame::User, K::Cancelled),
        S::CredentialExcluded => (Blame::Authenticator, K::Excluded),
        S::UnsupportedAlgorithm | S::UnsupportedExtension => (Blame::Authenticator, K::Unsupported),
        S::UnsupportedOption | S::InvalidOption | S::KeyStoreFull => {
            (Blame::Authenticator, K::Constraint)
        }
        S::NoCredentials => (Blame::Authenticator, K::Missing),
        _ => (Blame::Authenticator, K::Failed),
    }
}

/// Whose fault a ceremony failure the client typed is (the module doc's table).
pub fn failure_blame(f: Failure) -> (Blame, FaultKind) {
    match f {
        Failure::Status { status, .. } => status_blame(status),
        Failure::Device { kind, .. } => match kind {
            DeviceErrorKind::Cancelled => (Blame::User, FaultKind::Cancelled),
            DeviceErrorKind::Timeout => (Blame::Authenticator, FaultKind::TimedOut),
            DeviceErrorKind::ServerStopped => (Blame::System, FaultKind::Failed),
            _ => (Blame::Authenticator, FaultKind::Failed),
        },
        Failure::Malformed(_) => (Blame::Authenticator, FaultKind::Failed),
        Failure::Declined(_) => (Blame::User, FaultKind::Refused),
    }
}

impl Fault {
    /// A ceremony's WebAuthn error from the client crate as a fault: its typed cause decides the
    /// blame and is kept as the source; without one, its name does ([`Self::from_backend`]).
    pub fn from_ceremony(e: &WebAuthnError) -> Self {
        match failure(e) {
            Some(f) => {
                let (blame, kind) = failure_blame(f);
                Self::new(blame, kind, e.message()).caused_by(f)
            }
            None => Self::from_backend(e),
        }
    }
}

impl From<WebAuthnError> for Fault {
    fn from(e: WebAuthnError) -> Self {
        Self::from_ceremony(&e)
    }
}
