//! [`ManagedDevice`]: an authenticator whose platform credentials can be listed, deleted and
//! renamed without a PIN (the store's public data). The worker serves one; the gateway holds one
//! (the [`crate::WorkerDevice`], or in tests the authenticator in process).

use std::time::Duration;

use latchkey_authenticator::store::{CredentialStore, StoreError};
use latchkey_client::manage::{self, CredentialInfo};
use latchkey_client::platform::PlatformDevice;
use latchkey_client::Device;

use crate::process::WorkerError;

/// Why listing, deleting or renaming platform credentials failed: typed up to latchkeyd's edge,
/// which decides whose fault it was, with the cause as `source()` (never a string on the way).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManageError {
    /// The credential store in this process failed.
    #[error("the credential store failed")]
    Store(#[source] StoreError),
    /// The platform authenticator worker failed, or the store it holds did (its error code says
    /// which).
    #[error("the platform authenticator worker failed")]
    Worker(#[source] WorkerError),
}

impl From<StoreError> for ManageError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// `e` and its causes, joined by ": " (what crosses the worker's socket, and the log).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

/// A device whose platform credentials may be listed, deleted and renamed.
pub trait ManagedDevice: Device {
    /// Lists platform credentials; `None` when this device does not support it.
    fn list(&mut self, rp_id: Option<&str>) -> Option<Result<Vec<CredentialInfo>, ManageError>>;
    /// Deletes a platform credential (`Ok(false)`: none with that ID); `None` if unsupported.
    fn delete(&mut self, id: &[u8]) -> Option<Result<bool, ManageError>>;
    /// Sets `user.name` and `user.displayName` of a platform credential (`Ok(false)`: none with
    /// that ID); `None` if unsupported.
    fn update_user(
        &mut self,
        _id: &[u8],
        _name: &str,
        _display_name: &str,
    ) -> Option<Result<bool, ManageError>> {
        None
    }
    /// Ends the store's session now (keystore SECURITY.md, "Sessions"): `true` if one was live.
    /// A device without sessions has none to end.
    fn end_session(&mut self) -> Result<bool, ManageError> {
        Ok(false)
    }
    /// Ends the store's session if it has been idle too long, and says how long the live one
    /// has left (`None`: none is live), for the worker's timer.
    fn expire_session(&mut self) -> Option<Duration> {
        None
    }
    /// Why the last CTAP request failed below CTAP, if it did, taking it: a store failure the
    /// status byte hides (`CTAP1_ERR_OTHER`), a worker that stopped or broke the protocol. What
    /// the status byte already tells (a full store, a locked one) is not repeated here.
    fn take_failure(&mut self) -> Option<ManageError> {
        None
    }
    /// Whether the process behind the device stopped while idle since it last answered, as the
    /// error its next request would have met: it is reaped, and the next request starts a new
    /// one. A ceremony asks between its runs, so that a worker lost mid-ceremony fails that
    /// ceremony instead of finishing it on a new worker. In process, nothing stops.
    fn take_exit(&mut self) -> Option<ManageError> {
        None
    }
}

/// The store failure an authenticator core recorded in its last command, where its CTAP status
/// hides it.
fn hidden_store_failure<S, U, C, R>(
    core: &mut latchkey_authenticator::Authenticator<S, U, C, R>,
) -> Option<ManageError>
where
    S: CredentialStore,
    U: latchkey_authenticator::env::UserPresence,
    C: latchkey_authenticator::env::Clock,
    R: latchkey_authenticator::env::Rng,
{
    hidden(core.take_store_failure())
}

/// A recorded store failure, unless its kind has a CTAP status of its own (which said it).
fn hidden(failure: Option<StoreError>) -> Option<ManageError> {
    failure
        .filter(|e| !e.kind().has_own_status())
        .map(ManageError::Store)
}

/// Through the client's own methods, never its variants: which stores it has follows the client
/// crate's `tpm` feature, which another package can turn on without this crate's.
impl ManagedDevice for latchkey_client::PlatformAuthenticator {
    fn list(&mut self, rp_id: Option<&str>) -> Option<Result<Vec<CredentialInfo>, ManageError>> {
        Some(latchkey_client::PlatformAuthenticator::list(self, rp_id).map_err(ManageError::Store))
    }
    fn delete(&mut self, id: &[u8]) -> Option<Result<bool, ManageError>> {
        Some(latchkey_client::PlatformAuthenticator::delete(self, id).map_err(ManageError::Store))
    }
    fn update_user(
        &mut self,
        id: &[u8],
        name: &str,
        display_name: &str,
    ) -> Option<Result<bool, ManageError>> {
        Some(
            latchkey_client::PlatformAuthenticator::update_user(self, id, name, display_name)
                .map_err(ManageError::Store),
        )
    }
    fn end_session(&mut self) -> Result<bool, ManageError> {
        Ok(latchkey_client::PlatformAuthenticator::end_session(self))
    }
    fn expire_session(&mut self) -> Option<Duration> {
        latchkey_client::PlatformAuthenticator::expire_session(self)
    }
    fn take_failure(&mut self) -> Option<ManageError> {
        hidden(self.take_store_failure())
    }
}

impl<S: CredentialStore + Send> ManagedDevice for PlatformDevice<S> {
    fn list(&mut self, rp_id: Option<&str>) -> Option<Result<Vec<CredentialInfo>, ManageError>> {
        Some(manage::list_store(self.core_mut().store_mut(), rp_id).map_err(ManageError::Store))
    }
    fn delete(&mut self, id: &[u8]) -> Option<Result<bool, ManageError>> {
        self.forget_kept();
        Some(manage::delete_from_store(self.core_mut().store_mut(), id).map_err(ManageError::Store))
    }
    fn update_user(
        &mut self,
        id: &[u8],
        name: &str,
        display_name: &str,
    ) -> Option<Result<bool, ManageError>> {
        self.forget_kept();
        Some(
            manage::update_user_in_store(self.core_mut().store_mut(), id, name, display_name)
                .map_err(ManageError::Store),
        )
    }
    fn take_failure(&mut self) -> Option<ManageError> {
        hidden_store_failure(self.core_mut())
    }
}
