//! The ceremony results, and their WebAuthn L3 JSON (§5.1.10 `RegistrationResponseJSON`,
//! `AuthenticationResponseJSON`) through the webauthn crate's response types.

use latchkey_webauthn::extensions::AuthenticationExtensionsClientOutputsJSON;
use latchkey_webauthn::ids::{CredentialId, UserHandle};
use latchkey_webauthn::options::create::AuthenticatorAttachment;
use latchkey_webauthn::options::AuthenticatorTransport;
use latchkey_webauthn::response::{AuthenticationResponseJSON, RegistrationResponseJSON};
use latchkey_webauthn::WebAuthnError;

/// A new credential, as `navigator.credentials.create()` resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The credential ID.
    pub credential_id: Vec<u8>,
    /// `clientDataJSON`.
    pub client_data_json: Vec<u8>,
    /// The attestation object (CBOR), with the statement replaced by `none` when the RP asked
    /// for no attestation.
    pub attestation_object: Vec<u8>,
    /// The authenticator data inside it.
    pub authenticator_data: Vec<u8>,
    /// `getTransports()`.
    pub transports: Vec<AuthenticatorTransport>,
    /// `authenticatorAttachment`.
    pub attachment: AuthenticatorAttachment,
    /// `getClientExtensionResults()`.
    pub extensions: AuthenticationExtensionsClientOutputsJSON,
}

/// An assertion, as `navigator.credentials.get()` resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The credential ID.
    pub credential_id: Vec<u8>,
    /// `clientDataJSON`.
    pub client_data_json: Vec<u8>,
    /// The authenticator data.
    pub authenticator_data: Vec<u8>,
    /// The signature.
    pub signature: Vec<u8>,
    /// The user handle, for a discoverable credential.
    pub user_handle: Option<Vec<u8>>,
    /// `authenticatorAttachment`.
    pub attachment: AuthenticatorAttachment,
    /// `getClientExtensionResults()`.
    pub extensions: AuthenticationExtensionsClientOutputsJSON,
}

impl Registration {
    /// `RegistrationResponseJSON`.
    pub fn to_response(&self) -> Result<RegistrationResponseJSON, WebAuthnError> {
        RegistrationResponseJSON::from_attestation_object(
            &self.client_data_json,
            &self.attestation_object,
            &self.transports,
            Some(self.attachment),
            self.extensions.clone(),
        )
    }

    /// `RegistrationResponseJSON` as a JSON value.
    pub fn to_json(&self) -> Result<serde_json::Value, WebAuthnError> {
        serde_json::to_value(self.to_response()?)
            .map_err(|e| WebAuthnError::unknown(format!("RegistrationResponseJSON: {e}")))
    }
}

impl Assertion {
    /// `AuthenticationResponseJSON`.
    pub fn to_response(&self) -> Result<AuthenticationResponseJSON, WebAuthnError> {
        let id = CredentialId::new("credential ID", self.credential_id.clone())?;
        let user = match &self.user_handle {
            Some(h) => Some(UserHandle::new(h.clone())?),
            None => None,
        };
        Ok(AuthenticationResponseJSON::new(
            &id,
            &self.client_data_json,
            &self.authenticator_data,
            &self.signature,
            user.as_ref(),
            Some(self.attachment),
            self.extensions.clone(),
        ))
    }

    /// `AuthenticationResponseJSON` as a JSON value.
    pub fn to_json(&self) -> Result<serde_json::Value, WebAuthnError> {
        serde_json::to_value(self.to_response()?)
            .map_err(|e| WebAuthnError::unknown(format!("AuthenticationResponseJSON: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertion_json_carries_user_handle_only_when_present() {
        let mut a = Assertion {
            credential_id: vec![1, 2, 3],
            client_data_json: b"{}".to_vec(),
            authenticator_data: vec![0; 37],
            signature: vec![9],
            user_handle: None,
            attachment: AuthenticatorAttachment::Platform,
            extensions: Default::default(),
        };
        let j = a.to_json().unwrap();
        assert_eq!(j["id"], "AQID");
        assert_eq!(j["rawId"], "AQID");
        assert_eq!(j["authenticatorAttachment"], "platform");
        assert!(j["response"].get("userHandle").is_none());
        a.user_handle = Some(vec![0xff]);
        assert_eq!(a.to_json().unwrap()["response"]["userHandle"], "_w");
        assert_eq!(j["clientExtensionResults"], serde_json::json!({}));
    }
}
