//! The one place where CTAP outcomes become WebAuthn errors (WebAuthn L3 §6.3.2, §6.3.3, and the
//! client steps of §5.1.3 / §5.1.4). Each such error keeps what happened as a typed [`Failure`]
//! (its `source`, read back with [`failure`]): the CTAP status, the kind of device failure, a
//! malformed answer, or the user declining at the client. Whoever runs the ceremony decides from
//! it whose fault the error is (latchkeyd's `fault` module), never from the message.

pub use latchkey_ctap::status::StatusCode;
use latchkey_webauthn::WebAuthnError;

use crate::ctap2::CtapError;
use crate::device::{DeviceError, DeviceErrorKind};

/// Which ceremony step failed: the message names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// authenticatorGetInfo.
    Info,
    /// PIN entry, setPIN, getPinUvAuthToken.
    Pin,
    /// Built-in user verification (getPinUvAuthTokenUsingUvWithPermissions).
    UserVerification,
    /// The excludeList / allowList pre-flight.
    Preflight,
    /// authenticatorMakeCredential.
    MakeCredential,
    /// authenticatorGetAssertion / getNextAssertion.
    GetAssertion,
    /// authenticatorLargeBlobs.
    LargeBlob,
    /// authenticatorCredentialManagement.
    CredentialManagement,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.what())
    }
}

/// What the user declined at the client (the [`crate::CeremonyUi`] answered `Cancelled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Declined {
    /// The PIN of a key that has one.
    Pin,
    /// A new PIN (for a key without one, or one that must change it).
    NewPin,
    /// The account to sign in with.
    Account,
}

/// Why a ceremony failed, as the client saw it: the typed cause a WebAuthn error from this crate
/// carries ([`failure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Failure {
    /// The authenticator answered `status` during `step` (CTAP 2.1 §8.2).
    #[error("the authenticator answered {status} while {step}")]
    Status {
        /// The ceremony step.
        step: Step,
        /// The CTAP status.
        status: StatusCode,
    },
    /// The device did not answer during `step` ([`DeviceError`]).
    #[error("the authenticator did not answer ({kind:?}) while {step}")]
    Device {
        /// The ceremony step.
        step: Step,
        /// What kind of device failure.
        kind: DeviceErrorKind,
    },
    /// The authenticator answered `CTAP2_OK` with a body that is not the response it should be.
    #[error("the authenticator sent a malformed response while {0}")]
    Malformed(Step),
    /// The user declined to answer the client's question.
    #[error("the user declined: {0:?}")]
    Declined(Declined),
}

impl Failure {
    /// The typed failure of a failed CTAP call during `step`.
    pub fn of(step: Step, error: &CtapError) -> Self {
        match error {
            CtapError::Device(e) => Self::Device {
                step,
                kind: e.kind(),
            },
            CtapError::Status(status) => Self::Status {
                step,
                status: *status,
            },
            CtapError::Malformed(_) => Self::Malformed(step),
        }
    }
}

/// The typed cause of a WebAuthn error this crate raised, if it has one (errors about the
/// request itself, raised before any authenticator was asked, have none).
pub fn failure(e: &WebAuthnError) -> Option<Failure> {
    e.cause::<Failure>().copied()
}

/// The `NotAllowedError` of the user declining `what` at the client.
pub fn declined(what: Declined, message: &str) -> WebAuthnError {
    WebAuthnError::not_allowed(message).with_source(Failure::Declined(what))
}

impl Step {
    fn what(self) -> &'static str {
        match self {
            Self::Info => "asking the authenticator what it supports",
            Self::Pin => "verifying the PIN",
            Self::UserVerification => "verifying the user on the authenticator",
            Self::Preflight => "checking which credentials the authenticator holds",
            Self::MakeCredential => "creating the credential",
            Self::GetAssertion => "signing in",
            Self::LargeBlob => "reading or writing the large blob",
            Self::CredentialManagement => "managing credentials",
        }
    }
}

/// Maps a failed CTAP call during `step` to the DOMException WebAuthn raises, its [`Failure`]
/// kept as the cause.
pub fn to_webauthn(step: Step, error: &CtapError) -> WebAuthnError {
    let cause = Failure::of(step, error);
    let e = match error {
        CtapError::Status(status) => return status_to_webauthn(step, *status),
        other => device_to_webauthn(step, other),
    };
    e.with_source(cause)
}

fn device_to_webauthn(step: Step, error: &CtapError) -> WebAuthnError {
    let what = step.what();
    match error {
        CtapError::Device(DeviceError::Cancelled) => {
            WebAuthnError::abort(format!("the request was cancelled while {what}"))
        }
        CtapError::Device(DeviceError::Timeout) => WebAuthnError::not_allowed(format!(
            "the authenticator did not answer in time while {what}"
        )),
        // latchkeyd's own worker process stopped: not the authenticator's doing nor the user's
        // (WebAuthn L3 §6.3.2 names "UnknownError" for such failures).
        CtapError::Device(e) if e.kind() == DeviceErrorKind::ServerStopped => {
            WebAuthnError::unknown(format!("{e} (while {what})"))
        }
        CtapError::Device(e) => WebAuthnError::not_allowed(format!("{e} (while {what})")),
        CtapError::Malformed(e) => WebAuthnError::not_allowed(format!(
            "the authenticator sent a malformed response while {what}: {e}"
        )),
        CtapError::Status(status) => status_message(step, *status),
    }
}

/// Maps a CTAP status byte to the DOMException WebAuthn raises, the status kept as the cause
/// ([`Failure::Status`]).
pub fn status_to_webauthn(step: Step, status: StatusCode) -> WebAuthnError {
    status_message(step, status).with_source(Failure::Status { step, status })
}

fn status_message(step: Step, status: StatusCode) -> WebAuthnError {
    let what = step.what();
    match status {
        StatusCode::CredentialExcluded => WebAuthnError::invalid_state(
            "the authenticator already holds a credential from excludeCredentials for this account",
        ),
        StatusCode::NoCredentials => WebAuthnError::not_allowed(
            "the authenticator holds no credential for this relying party that the request allows",
        ),
        StatusCode::PinBlocked => WebAuthnError::not_allowed(
            "the PIN is blocked after too many wrong attempts; the authenticator must be reset",
        ),
        StatusCode::PinAuthBlocked => WebAuthnError::not_allowed(
            "too many wrong PINs in a row; remove and reinsert the authenticator (or restart it) to try again",
        ),
        StatusCode::PinInvalid => WebAuthnError::not_allowed("the PIN is wrong"),
        StatusCode::PinNotSet => WebAuthnError::not_allowed("the authenticator has no PIN set"),
        StatusCode::PinPolicyViolation => WebAuthnError::not_allowed(
            "the new PIN does not meet the authenticator's PIN policy (too short or too long)",
        ),
        StatusCode::UvBlocked => {
            WebAuthnError::not_allowed("built-in user verification is blocked; use the PIN")
        }
        StatusCode::KeepaliveCancel => {
            WebAuthnError::abort(format!("the request was cancelled while {what}"))
        }
        StatusCode::OperationDenied | StatusCode::NotAllowed => {
            WebAuthnError::not_allowed(format!("the user refused while {what}"))
        }
        StatusCode::UserActionTimeout | StatusCode::ActionTimeout => WebAuthnError::not_allowed(
            format!("the authenticator was not touched in time while {what}"),
        ),
        StatusCode::UnsupportedAlgorithm => WebAuthnError::not_supported(
            "the authenticator supports none of the algorithms in pubKeyCredParams",
        ),
        StatusCode::UnsupportedOption | StatusCode::InvalidOption => WebAuthnError::constraint(
            format!("the authenticator does not support an option the request needs, while {what}"),
        ),
        StatusCode::KeyStoreFull => WebAuthnError::constraint(
            "the authenticator has no room for another discoverable credential",
        ),
        StatusCode::LargeBlobStorageFull => {
            WebAuthnError::not_allowed("the authenticator's large-blob storage is full")
        }
        StatusCode::UnsupportedExtension => WebAuthnError::not_supported(format!(
            "the authenticator does not support a requested extension, while {what}"
        )),
        other => WebAuthnError::not_allowed(format!("the authenticator answered {other} while {what}")),
    }
}

#[cfg(test)]
mod tests;
