//! Extension inputs and outputs as JSON (`AuthenticationExtensionsClientInputsJSON`,
//! `…OutputsJSON`, L3 §5.1.8, §5.7, §10; CTAP 2.1 §12 for credProtect, credBlob, minPinLength
//! and hmac-secret's WebAuthn-facing members). Unknown extensions are ignored on input.

use serde::{Deserialize, Serialize};

/// `AuthenticationExtensionsPRFValuesJSON` (L3 §10.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrfValuesJSON {
    /// `first`, base64url.
    pub first: String,
    /// `second`, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second: Option<String>,
}

/// `AuthenticationExtensionsPRFInputsJSON` (L3 §10.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrfInputsJSON {
    /// `eval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval: Option<PrfValuesJSON>,
    /// `evalByCredential`: base64url credential ID → values. Kept in document order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_by_credential: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `AuthenticationExtensionsLargeBlobInputsJSON` (L3 §10.1.5).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LargeBlobInputsJSON {
    /// `support`: `"required"` or `"preferred"` (registration only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<String>,
    /// `read` (authentication only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<bool>,
    /// `write`, base64url (authentication only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<String>,
}

/// `AuthenticationExtensionsClientInputsJSON` with the members this platform understands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationExtensionsClientInputsJSON {
    /// `appid` (L3 §10.1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// `appidExclude` (L3 §10.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid_exclude: Option<String>,
    /// `credProps` (L3 §10.1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred_props: Option<bool>,
    /// `prf` (L3 §10.1.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prf: Option<PrfInputsJSON>,
    /// `largeBlob` (L3 §10.1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_blob: Option<LargeBlobInputsJSON>,
    /// `credentialProtectionPolicy` (CTAP 2.1 §12.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_protection_policy: Option<String>,
    /// `enforceCredentialProtectionPolicy` (CTAP 2.1 §12.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_credential_protection_policy: Option<bool>,
    /// `credBlob`, base64url (CTAP 2.1 §12.2, registration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred_blob: Option<String>,
    /// `getCredBlob` (CTAP 2.1 §12.2, authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_cred_blob: Option<bool>,
    /// `minPinLength` (CTAP 2.1 §12.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_pin_length: Option<bool>,
    /// `hmacCreateSecret` (CTAP 2.1 §12.5, registration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac_create_secret: Option<bool>,
}

/// `CredentialPropertiesOutput` (L3 §10.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CredentialPropertiesOutput {
    /// `rk`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rk: Option<bool>,
}

/// `AuthenticationExtensionsPRFOutputsJSON` (L3 §10.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PrfOutputsJSON {
    /// `enabled` (registration only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `results`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<PrfValuesJSON>,
}

/// `AuthenticationExtensionsLargeBlobOutputsJSON` (L3 §10.1.5).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LargeBlobOutputsJSON {
    /// `supported` (registration only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported: Option<bool>,
    /// `blob`, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
    /// `written`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<bool>,
}

/// `AuthenticationExtensionsClientOutputsJSON` with the members this platform produces.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationExtensionsClientOutputsJSON {
    /// `appid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<bool>,
    /// `appidExclude`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid_exclude: Option<bool>,
    /// `credProps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred_props: Option<CredentialPropertiesOutput>,
    /// `prf`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prf: Option<PrfOutputsJSON>,
    /// `largeBlob`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_blob: Option<LargeBlobOutputsJSON>,
    /// `credBlob`: whether the blob was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred_blob: Option<bool>,
    /// `getCredBlob`, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_cred_blob: Option<String>,
    /// `hmacCreateSecret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac_create_secret: Option<bool>,
}
