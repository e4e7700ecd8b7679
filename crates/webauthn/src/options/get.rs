//! Checked `PublicKeyCredentialRequestOptions` (L3 §5.5) from its JSON form (§5.1.9).

use super::*;
use crate::extensions::AuthenticationExtensionInputs;
use crate::ids::Challenge;

/// Checked request options.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestOptions {
    /// `challenge`.
    pub challenge: Challenge,
    /// `timeout` in milliseconds, as requested.
    pub timeout_ms: Option<u32>,
    /// `rpId` as requested; authorise it with [`crate::origin::AuthorizedRpId::check`].
    pub rp_id: Option<String>,
    /// `allowCredentials` of type `public-key`.
    pub allow_credentials: Vec<CredentialDescriptor>,
    /// `userVerification`.
    pub user_verification: UserVerificationRequirement,
    /// Known hints, in order, without repeats.
    pub hints: Vec<Hint>,
    /// Authentication extension inputs the platform supports.
    pub extensions: AuthenticationExtensionInputs,
}

impl RequestOptions {
    /// Parse `PublicKeyCredentialRequestOptionsJSON` text.
    pub fn from_json(json: &[u8]) -> Result<Self, WebAuthnError> {
        let raw: PublicKeyCredentialRequestOptionsJSON =
            from_json("PublicKeyCredentialRequestOptionsJSON", json)?;
        Self::from_wire(&raw)
    }

    /// Check an already deserialized dictionary.
    pub fn from_wire(raw: &PublicKeyCredentialRequestOptionsJSON) -> Result<Self, WebAuthnError> {
        let challenge = Challenge::new(b64::decode("challenge", &raw.challenge)?);
        let allow_credentials = parse_descriptors("allowCredentials", &raw.allow_credentials)?;
        let extensions = match &raw.extensions {
            Some(e) => AuthenticationExtensionInputs::parse(e, &allow_credentials)?,
            None => AuthenticationExtensionInputs::default(),
        };
        Ok(Self {
            challenge,
            timeout_ms: raw.timeout,
            rp_id: raw.rp_id.clone(),
            allow_credentials,
            user_verification: UserVerificationRequirement::from_wire(
                raw.user_verification.as_deref(),
            ),
            hints: parse_hints(&raw.hints)?,
            extensions,
        })
    }
}
