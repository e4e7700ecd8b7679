//! The seam between latchkeyd and whatever runs a ceremony: the platform authenticator, a virtual
//! key, a USB key. latchkeyd holds no key material (DESIGN "Processes"); it hands over the checked
//! request and a [`PromptSession`] through which the authenticator side asks the user for a PIN or
//! an account, and receives the WebAuthn L3 response JSON (§5.1.10 `RegistrationResponseJSON`,
//! `AuthenticationResponseJSON`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
pub use latchkey_prompt::{Account, Pin, PinRequest};
use latchkey_webauthn::clientdata::CeremonyType;
use latchkey_webauthn::origin::AuthorizedRpId;
use latchkey_webauthn::WebAuthnError;

/// A request's number, unique within one latchkeyd run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Everything an authenticator needs for one ceremony; only latchkeyd builds it.
#[derive(Debug, Clone)]
pub struct Ceremony {
    /// The request.
    pub id: RequestId,
    /// Create or get.
    pub kind: CeremonyType,
    /// The caller's options, parsed (matches `kind`).
    pub options: crate::options::CheckedOptions,
    /// The origin and RP ID, checked.
    pub authorized: AuthorizedRpId,
    /// `clientDataJSON`, built by latchkeyd (§5.8.1.1).
    pub client_data_json: Vec<u8>,
    /// How the caller is shown to the user.
    pub caller_name: String,
}

impl Ceremony {
    /// The client crate's registration request for this ceremony.
    pub fn create_request(&self) -> Result<latchkey_client::CreateRequest, WebAuthnError> {
        let crate::options::CheckedOptions::Create(options) = &self.options else {
            return Err(WebAuthnError::unknown(
                "create ceremony without creation options",
            ));
        };
        Ok(latchkey_client::CreateRequest {
            options: (**options).clone(),
            rp_id: self.authorized.rp_id().as_str().to_owned(),
            client_data_json: self.client_data_json.clone(),
        })
    }

    /// The client crate's authentication request for this ceremony.
    pub fn get_request(&self) -> Result<latchkey_client::GetRequest, WebAuthnError> {
        let crate::options::CheckedOptions::Get(options) = &self.options else {
            return Err(WebAuthnError::unknown(
                "get ceremony without request options",
            ));
        };
        Ok(latchkey_client::GetRequest {
            options: (**options).clone(),
            rp_id: self.authorized.rp_id().as_str().to_owned(),
            client_data_json: self.client_data_json.clone(),
        })
    }
}

/// The user side of a ceremony, as the authenticator side sees it.
#[async_trait]
pub trait PromptSession: Send + Sync {
    /// Asks for a PIN (delivered over a file descriptor, zeroised after use).
    async fn pin(&self, request: PinRequest) -> Result<Pin, WebAuthnError>;
    /// Asks the user to pick one of `accounts`; returns its index.
    async fn choose_account(&self, accounts: &[Account]) -> Result<usize, WebAuthnError>;
    /// Shows a status line ("Touch your security key").
    async fn notice(&self, text: &str);
}

/// A platform credential, for management (`ListCredentials`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformCredential {
    /// The credential ID.
    pub credential_id: Vec<u8>,
    /// Its RP ID.
    pub rp_id: String,
    /// `user.name`.
    pub user_name: String,
    /// `user.displayName`.
    pub user_display_name: String,
}

/// A management failure.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// No such credential.
    #[error("no platform credential with that ID")]
    NotFound,
    /// The store failed.
    #[error("the credential store failed: {0}")]
    Store(String),
}

/// The authenticators latchkeyd routes ceremonies to (platform, virtual, USB), behind one trait.
#[async_trait]
pub trait Authenticators: Send + Sync + 'static {
    /// Runs `navigator.credentials.create()`; returns `RegistrationResponseJSON`.
    async fn create(
        &self,
        ceremony: &Ceremony,
        ui: Arc<dyn PromptSession>,
    ) -> Result<serde_json::Value, WebAuthnError>;
    /// Runs `navigator.credentials.get()`; returns `AuthenticationResponseJSON`.
    async fn get(
        &self,
        ceremony: &Ceremony,
        ui: Arc<dyn PromptSession>,
    ) -> Result<serde_json::Value, WebAuthnError>;
    /// Stops the ceremony for `id` (the caller cancelled, left or timed out); its future is dropped.
    fn cancel(&self, id: RequestId);
    /// Client capabilities this back-end provides (L3 §5.1.7 names, `extension:<id>` entries).
    fn capabilities(&self) -> BTreeMap<String, bool>;
    /// The platform authenticator's credentials, optionally for one RP ID.
    fn list_platform_credentials(
        &self,
        rp_id: Option<&str>,
    ) -> Result<Vec<PlatformCredential>, ManageError>;
    /// Deletes a platform credential.
    fn delete_platform_credential(&self, credential_id: &[u8]) -> Result<(), ManageError>;
    /// Which WebAuthn L3 signals (§5.1.10) this back-end applies to its platform credentials
    /// (`getClientCapabilities` reports exactly these). None unless a back-end says so.
    fn signal_support(&self) -> crate::signal::SignalSupport {
        crate::signal::SignalSupport::NONE
    }
    /// Applies a signal whose RP ID latchkeyd checked for the caller, without asking the user
    /// (see [`crate::signal`]: [`crate::signal::apply_to_store`] and
    /// [`crate::signal::apply_to_device`] do the work). Called on a blocking thread.
    fn apply_signal(
        &self,
        signal: &crate::signal::Signal,
    ) -> Result<crate::signal::SignalReport, crate::signal::SignalError> {
        Err(crate::signal::SignalError::NotSupported(
            signal.body.kind().capability(),
        ))
    }
}
