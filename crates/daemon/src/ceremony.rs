//! The seam between latchkeyd and whatever runs a ceremony: the platform authenticator, the
//! security keys, and later a phone over hybrid, a password manager, the device worker. latchkeyd
//! holds no key material (DESIGN "Processes"); a back-end implements [`Ceremonies`] and gets the
//! authorized request ([`Ceremony`]: RP ID and origin checked, clientDataJSON built, options
//! parsed), an interaction handle for the prompt ([`PromptSession`]) and a [`CancelToken`], and
//! answers with the WebAuthn L3 response JSON (§5.1.10 `RegistrationResponseJSON`,
//! `AuthenticationResponseJSON`). The platform credentials' management is another trait,
//! [`crate::store::PlatformStore`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use latchkey_client::Device;
use latchkey_webauthn::clientdata::CeremonyType;
use latchkey_webauthn::ids::ClientDataHash;
use latchkey_webauthn::origin::AuthorizedRpId;
use latchkey_webauthn::WebAuthnError;

pub use crate::cancel::CancelToken;
use crate::options::CheckedOptions;
pub use latchkey_prompt::{Account, Pin, PinRequest};

/// A request's number, unique within one latchkeyd run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Everything a back-end needs for one ceremony; only latchkeyd builds it, once the caller's
/// claims were authorized and the user consented.
#[derive(Debug, Clone)]
pub struct Ceremony {
    /// The request.
    pub id: RequestId,
    /// Create or get.
    pub kind: CeremonyType,
    /// The caller's options, parsed (matches `kind`).
    pub options: CheckedOptions,
    /// The origin and RP ID, checked.
    pub authorized: AuthorizedRpId,
    /// `clientDataJSON`, built by latchkeyd (§5.8.1.1).
    pub client_data_json: Vec<u8>,
    /// How the caller is shown to the user.
    pub caller_name: String,
}

impl Ceremony {
    /// SHA-256 of `clientDataJSON`, the `clientDataHash` an authenticator signs (L3 §5.8.1).
    pub fn client_data_hash(&self) -> ClientDataHash {
        ClientDataHash::of(&self.client_data_json)
    }

    /// The client crate's registration request for this ceremony.
    pub fn create_request(&self) -> Result<latchkey_client::CreateRequest, WebAuthnError> {
        let CheckedOptions::Create(options) = &self.options else {
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
        let CheckedOptions::Get(options) = &self.options else {
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

    /// Runs this ceremony on `device` through the client crate (blocking): registration or
    /// authentication as `kind` says, the user side through `ui`.
    pub fn perform(
        &self,
        device: &mut dyn Device,
        ui: &mut dyn latchkey_client::CeremonyUi,
    ) -> Result<serde_json::Value, WebAuthnError> {
        match self.kind {
            CeremonyType::Create => {
                latchkey_client::register(device, &self.create_request()?, ui)?.to_json()
            }
            CeremonyType::Get => {
                latchkey_client::authenticate(device, &self.get_request()?, ui)?.to_json()
            }
        }
    }
}

/// The user side of a ceremony, as a back-end sees it: the prompt latchkeyd chose for the request.
#[async_trait]
pub trait PromptSession: Send + Sync {
    /// Asks for a PIN (delivered over a file descriptor, zeroised after use).
    async fn pin(&self, request: PinRequest) -> Result<Pin, WebAuthnError>;
    /// Asks the user to pick one of `accounts`; returns its index.
    async fn choose_account(&self, accounts: &[Account]) -> Result<usize, WebAuthnError>;
    /// Shows a status line ("Touch your security key").
    async fn notice(&self, text: &str);
    /// Whether the caller controls this prompt (a terminal prompt it registered), so that its
    /// answers stand for the caller, not the user (PROMPT-TRUST.md).
    fn caller_controlled(&self) -> bool {
        false
    }
}

/// A back-end that runs ceremonies: the platform authenticator, the security keys, a router in
/// front of both. `create` and `get` are called with the request's [`CancelToken`], which latchkeyd
/// cancels when the caller closes the request, leaves the bus or the request times out; the
/// back-end then stops at once (its future may also simply be dropped).
#[async_trait]
pub trait Ceremonies: Send + Sync + 'static {
    /// Runs `navigator.credentials.create()`; returns `RegistrationResponseJSON`.
    async fn create(
        &self,
        ceremony: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> Result<serde_json::Value, WebAuthnError>;
    /// Runs `navigator.credentials.get()`; returns `AuthenticationResponseJSON`.
    async fn get(
        &self,
        ceremony: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> Result<serde_json::Value, WebAuthnError>;
    /// Client capabilities this back-end provides (L3 §5.1.7 names, `extension:<id>` entries).
    fn capabilities(&self) -> BTreeMap<String, bool>;
}
