//! Why a worker did not start serving: [`Refusal`], the cause inside
//! [`crate::WorkerError::Refused`]. Each kind keeps what it is (the store error, the malformed
//! first message, the other protocol version); only what the worker itself says about its store
//! or sandbox stays in its words.

use latchkey_authenticator::store::StoreErrorKind;
use latchkey_client::platform::StoreOpenError;

use crate::protocol::{Malformed, PROTOCOL_VERSION};

/// Why a worker did not start serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// There is no place for the platform store (no home directory, unreadable settings).
    #[error("{0}")]
    NoStore(#[source] StoreOpenError),
    /// The worker said why: its store could not be opened or its sandbox not applied, in its
    /// words (which name files), with the store's kind of failure when that was it.
    #[error("{message}")]
    Said {
        /// With a store failure: its kind, which decides whose fault it is.
        store: Option<StoreErrorKind>,
        /// The worker's words.
        message: String,
    },
    /// The platform worker exited before it said `Ready`.
    #[error("the worker exited before opening the store")]
    PlatformExited,
    /// The security key worker exited (or sent more than a message may hold) before `Ready`.
    #[error("the security key worker exited before it was ready")]
    KeysExited,
    /// The security key worker's first message was another one than `Ready` or `Failed`.
    #[error("the security key worker did not say Ready first")]
    NotReadyFirst,
    /// The security key worker's first message could not be decoded.
    #[error("the security key worker sent a malformed message: {}", .0.error)]
    Malformed(#[source] Malformed),
    /// The security key worker speaks this other protocol version (an upgrade replaced it under
    /// a running latchkeyd).
    #[error(
        "the security key worker speaks protocol version {0}, latchkeyd version \
         {PROTOCOL_VERSION}: restart latchkeyd"
    )]
    Version(u64),
}

#[cfg(test)]
mod tests;
