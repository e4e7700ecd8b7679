//! [`PlatformStore`]: the platform authenticator's credentials, managed without a ceremony —
//! `ListCredentials`, `DeleteCredential` and the Signal API (L3 §5.1.10). Only the platform
//! back-end has one (security keys are not touched without the user); every operation runs on a
//! blocking thread within the call limits and may wait for a ceremony holding the authenticator.
//! A credential is `latchkey_client::manage::CredentialInfo` here, as in the worker's protocol.

use latchkey_client::manage::CredentialInfo;

use crate::signal::{Signal, SignalError, SignalReport, SignalSupport};

/// Why a management call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store failed (or the worker holding it).
    #[error("the credential store failed: {0}")]
    Failed(String),
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
}
