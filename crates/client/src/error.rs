//! The one place where CTAP outcomes become WebAuthn errors (WebAuthn L3 §6.3.2, §6.3.3, and the
//! client steps of §5.1.3 / §5.1.4).

use latchkey_ctap::status::StatusCode;
use latchkey_webauthn::WebAuthnError;

use crate::ctap2::CtapError;
use crate::device::DeviceError;

/// Which ceremony step failed: the message names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Maps a failed CTAP call during `step` to the DOMException WebAuthn raises.
pub fn to_webauthn(step: Step, error: &CtapError) -> WebAuthnError {
    let what = step.what();
    match error {
        CtapError::Device(DeviceError::Cancelled) => {
            WebAuthnError::abort(format!("the request was cancelled while {what}"))
        }
        CtapError::Device(DeviceError::Timeout) => WebAuthnError::not_allowed(format!(
            "the authenticator did not answer in time while {what}"
        )),
        CtapError::Device(e) => WebAuthnError::not_allowed(format!("{e} (while {what})")),
        CtapError::Malformed(e) => WebAuthnError::not_allowed(format!(
            "the authenticator sent a malformed response while {what}: {e}"
        )),
        CtapError::Status(status) => status_to_webauthn(step, *status),
    }
}

/// Maps a CTAP status byte to the DOMException WebAuthn raises.
pub fn status_to_webauthn(step: Step, status: StatusCode) -> WebAuthnError {
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
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_dom_exceptions_webauthn_names() {
        let name = |s: StatusCode| status_to_webauthn(Step::MakeCredential, s).name();
        assert_eq!(name(StatusCode::CredentialExcluded), "InvalidStateError");
        assert_eq!(name(StatusCode::NoCredentials), "NotAllowedError");
        assert_eq!(name(StatusCode::PinBlocked), "NotAllowedError");
        assert_eq!(name(StatusCode::OperationDenied), "NotAllowedError");
        assert_eq!(name(StatusCode::KeepaliveCancel), "AbortError");
        assert_eq!(name(StatusCode::UnsupportedAlgorithm), "NotSupportedError");
        assert_eq!(name(StatusCode::KeyStoreFull), "ConstraintError");
        assert_eq!(name(StatusCode::from(0xF3)), "NotAllowedError");
    }

    #[test]
    fn messages_say_what_failed() {
        let e = status_to_webauthn(Step::GetAssertion, StatusCode::InvalidCbor);
        assert_eq!(
            e.message(),
            "the authenticator answered CTAP2_ERR_INVALID_CBOR (0x12) while signing in"
        );
        let e = to_webauthn(Step::Pin, &CtapError::Device(DeviceError::Timeout));
        assert_eq!(e.name(), "NotAllowedError");
        assert!(e
            .message()
            .contains("did not answer in time while verifying the PIN"));
        let e = to_webauthn(Step::Info, &CtapError::Device(DeviceError::Cancelled));
        assert_eq!(e.name(), "AbortError");
        let e = status_to_webauthn(Step::Pin, StatusCode::PinAuthBlocked);
        assert!(
            e.message().contains("remove and reinsert"),
            "{}",
            e.message()
        );
    }
}
