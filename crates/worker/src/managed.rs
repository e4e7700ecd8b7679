//! [`ManagedDevice`]: an authenticator whose platform credentials can be listed, deleted and
//! renamed without a PIN (the store's public data). The worker serves one; the gateway holds one
//! (the [`crate::WorkerDevice`], or in tests the authenticator in process).

use latchkey_authenticator::store::CredentialStore;
use latchkey_client::manage::{self, CredentialInfo};
use latchkey_client::platform::PlatformDevice;
use latchkey_client::Device;
use latchkey_webauthn::WebAuthnError;

/// A device whose platform credentials may be listed, deleted and renamed.
pub trait ManagedDevice: Device {
    /// Lists platform credentials; `None` when this device does not support it.
    fn list(&mut self, rp_id: Option<&str>) -> Option<Result<Vec<CredentialInfo>, WebAuthnError>>;
    /// Deletes a platform credential (`Ok(false)`: none with that ID); `None` if unsupported.
    fn delete(&mut self, id: &[u8]) -> Option<Result<bool, WebAuthnError>>;
    /// Sets `user.name` and `user.displayName` of a platform credential (`Ok(false)`: none with
    /// that ID); `None` if unsupported.
    fn update_user(
        &mut self,
        _id: &[u8],
        _name: &str,
        _display_name: &str,
    ) -> Option<Result<bool, WebAuthnError>> {
        None
    }
}

impl ManagedDevice for latchkey_client::PlatformAuthenticator {
    fn list(&mut self, rp_id: Option<&str>) -> Option<Result<Vec<CredentialInfo>, WebAuthnError>> {
        Some(latchkey_client::PlatformAuthenticator::list(self, rp_id))
    }
    fn delete(&mut self, id: &[u8]) -> Option<Result<bool, WebAuthnError>> {
        Some(latchkey_client::PlatformAuthenticator::delete(self, id))
    }
    fn update_user(
        &mut self,
        id: &[u8],
        name: &str,
        display_name: &str,
    ) -> Option<Result<bool, WebAuthnError>> {
        Some(latchkey_client::PlatformAuthenticator::update_user(
            self,
            id,
            name,
            display_name,
        ))
    }
}

impl<S: CredentialStore + Send> ManagedDevice for PlatformDevice<S> {
    fn list(&mut self, rp_id: Option<&str>) -> Option<Result<Vec<CredentialInfo>, WebAuthnError>> {
        Some(manage::list_store(self.core_mut().store_mut(), rp_id))
    }
    fn delete(&mut self, id: &[u8]) -> Option<Result<bool, WebAuthnError>> {
        Some(manage::delete_from_store(self.core_mut().store_mut(), id))
    }
    fn update_user(
        &mut self,
        id: &[u8],
        name: &str,
        display_name: &str,
    ) -> Option<Result<bool, WebAuthnError>> {
        Some(manage::update_user_in_store(
            self.core_mut().store_mut(),
            id,
            name,
            display_name,
        ))
    }
}
