//! [`PlatformStore`]: the platform authenticator's credentials, managed without a ceremony —
//! `ListCredentials`, `DeleteCredential`, the Signal API (L3 §5.1.10) and `ChangePlatformPin`. Only the platform
//! back-end has one (security keys are not touched without the user); every operation runs on a
//! blocking thread within the call limits and may wait for a ceremony holding the authenticator.
//! A credential is `latchkey_client::manage::CredentialInfo` here, as in the worker's protocol.

use latchkey_client::manage::CredentialInfo;
use latchkey_webauthn::WebAuthnError;
use latchkey_worker::ManageError;

use crate::fault::{Blame, Fault, FaultKind};
use crate::signal::{Signal, SignalError, SignalReport, SignalSupport};

/// Why a management call failed, typed to the D-Bus edge ([`StoreError::fault`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// This back-end keeps no platform credentials.
    #[error("this authenticator keeps no platform credentials")]
    Unsupported,
    /// The platform authenticator or its store failed.
    #[error("the platform credentials cannot be managed")]
    Manage(#[source] ManageError),
}

impl StoreError {
    /// Whose fault it was, and what the caller is told.
    pub fn fault(self) -> Fault {
        match self {
            Self::Unsupported => Fault::new(
                Blame::Authenticator,
                FaultKind::Unsupported,
                Self::Unsupported.to_string(),
            ),
            Self::Manage(e) => crate::fault::manage_fault(e),
        }
    }
}

/// The platform credentials (module doc).
pub trait PlatformStore: Send + Sync + 'static {
    /// The credentials, optionally of one RP ID.
    fn list(&self, rp_id: Option<&str>) -> Result<Vec<CredentialInfo>, StoreError>;
    /// Deletes one; `Ok(false)` when no credential has that ID.
    fn delete(&self, credential_id: &[u8]) -> Result<bool, StoreError>;
    /// Which signals this store applies (`getClientCapabilities` reports exactly these).
    fn signal_support(&self) -> SignalSupport;
    /// Applies a signal whose RP ID latchkeyd checked for the caller, without asking the user
    /// ([`crate::signal::apply`] does the work).
    fn apply_signal(&self, signal: &Signal) -> Result<SignalReport, SignalError>;
    /// Changes the authenticator's PIN from `current` to `new` (CTAP 2.1 §6.5.5.6
    /// changePIN); the PINs came from the trusted prompt ([`crate::pin_change`]).
    fn change_pin(&self, current: &str, new: &str) -> Result<(), WebAuthnError> {
        let _ = (current, new);
        Err(WebAuthnError::not_supported(
            "this authenticator has no PIN to change",
        ))
    }

    /// Ends the store's session now (screen locked, suspend: [`crate::lock_watch`]), so that its
    /// master key leaves memory; `Ok(true)` if one was live. A store without sessions has none.
    fn end_session(&self) -> Result<bool, StoreError> {
        Ok(false)
    }
}
