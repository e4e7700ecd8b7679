//! The wire dictionaries, field for field (L3 §5.1.8, §5.1.9, §5.4, §5.5, §5.8.3, §5.4.4).
//! Binary members are base64url strings here; [`super::create`] and [`super::get`] decode them.

use crate::extensions::AuthenticationExtensionsClientInputsJSON;
use serde::{Deserialize, Serialize};

/// `PublicKeyCredentialRpEntity` (L3 §5.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyCredentialRpEntity {
    /// `name` (required, deprecated for display).
    pub name: String,
    /// `id`, the requested RP ID; the origin's effective domain when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// `PublicKeyCredentialUserEntityJSON` (L3 §5.1.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyCredentialUserEntityJSON {
    /// `id`, base64url of the user handle.
    pub id: String,
    /// `name`.
    pub name: String,
    /// `displayName`.
    pub display_name: String,
}

/// `PublicKeyCredentialParameters` (L3 §5.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyCredentialParameters {
    /// `type`, normally `"public-key"`.
    #[serde(rename = "type")]
    pub ty: String,
    /// `alg`, a COSEAlgorithmIdentifier.
    pub alg: i32,
}

/// `PublicKeyCredentialDescriptorJSON` (L3 §5.1.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyCredentialDescriptorJSON {
    /// `type`.
    #[serde(rename = "type")]
    pub ty: String,
    /// `id`, base64url.
    pub id: String,
    /// `transports`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<String>>,
}

/// `AuthenticatorSelectionCriteria` (L3 §5.4.4).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorSelectionCriteria {
    /// `authenticatorAttachment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// `residentKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_key: Option<String>,
    /// `requireResidentKey` (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_resident_key: Option<bool>,
    /// `userVerification` (default `"preferred"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<String>,
}

/// `PublicKeyCredentialCreationOptionsJSON` (L3 §5.1.8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyCredentialCreationOptionsJSON {
    /// `rp`.
    pub rp: PublicKeyCredentialRpEntity,
    /// `user`.
    pub user: PublicKeyCredentialUserEntityJSON,
    /// `challenge`, base64url.
    pub challenge: String,
    /// `pubKeyCredParams`.
    pub pub_key_cred_params: Vec<PublicKeyCredentialParameters>,
    /// `timeout`, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// `excludeCredentials`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_credentials: Vec<PublicKeyCredentialDescriptorJSON>,
    /// `authenticatorSelection`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_selection: Option<AuthenticatorSelectionCriteria>,
    /// `hints`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
    /// `attestation` (default `"none"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
    /// `attestationFormats`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestation_formats: Vec<String>,
    /// `extensions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<AuthenticationExtensionsClientInputsJSON>,
}

/// `PublicKeyCredentialRequestOptionsJSON` (L3 §5.1.9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyCredentialRequestOptionsJSON {
    /// `challenge`, base64url.
    pub challenge: String,
    /// `timeout`, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// `rpId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rp_id: Option<String>,
    /// `allowCredentials`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_credentials: Vec<PublicKeyCredentialDescriptorJSON>,
    /// `userVerification` (default `"preferred"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<String>,
    /// `hints`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
    /// `extensions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<AuthenticationExtensionsClientInputsJSON>,
}
