//! `RegistrationResponseJSON` and `AuthenticationResponseJSON` (L3 §5.1 `toJSON()`), built
//! from what the authenticator returned and parsed back (by the RP side and in tests).

use crate::b64;
use crate::error::WebAuthnError;
use crate::extensions::AuthenticationExtensionsClientOutputsJSON;
use crate::ids::{CoseAlgorithm, CredentialId, UserHandle};
use crate::options::create::{AttestationConveyancePreference, AuthenticatorAttachment};
use crate::options::AuthenticatorTransport;
use crate::publickey::CredentialPublicKey;
use latchkey_ctap::authdata::{AttestationObject, AttestationStatement, AuthenticatorData};
use serde::{Deserialize, Serialize};

/// `AuthenticatorAttestationResponseJSON` (L3 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorAttestationResponseJSON {
    /// `clientDataJSON`, base64url.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// `authenticatorData`, base64url.
    pub authenticator_data: String,
    /// `transports`, sorted, unique.
    pub transports: Vec<String>,
    /// `publicKey`: SPKI DER, base64url; absent for algorithms the client cannot convert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// `publicKeyAlgorithm`.
    pub public_key_algorithm: i64,
    /// `attestationObject`, base64url.
    pub attestation_object: String,
}

/// `RegistrationResponseJSON` (L3 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationResponseJSON {
    /// `id`: base64url of the credential ID.
    pub id: String,
    /// `rawId`: the same.
    pub raw_id: String,
    /// `response`.
    pub response: AuthenticatorAttestationResponseJSON,
    /// `authenticatorAttachment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// `clientExtensionResults`.
    pub client_extension_results: AuthenticationExtensionsClientOutputsJSON,
    /// `type`: `"public-key"`.
    #[serde(rename = "type")]
    pub ty: String,
}

/// `AuthenticatorAssertionResponseJSON` (L3 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorAssertionResponseJSON {
    /// `clientDataJSON`, base64url.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// `authenticatorData`, base64url.
    pub authenticator_data: String,
    /// `signature`, base64url.
    pub signature: String,
    /// `userHandle`, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_handle: Option<String>,
}

/// `AuthenticationResponseJSON` (L3 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationResponseJSON {
    /// `id`.
    pub id: String,
    /// `rawId`.
    pub raw_id: String,
    /// `response`.
    pub response: AuthenticatorAssertionResponseJSON,
    /// `authenticatorAttachment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// `clientExtensionResults`.
    pub client_extension_results: AuthenticationExtensionsClientOutputsJSON,
    /// `type`.
    #[serde(rename = "type")]
    pub ty: String,
}

fn transports_json(t: &[AuthenticatorTransport]) -> Vec<String> {
    let mut v: Vec<String> = t.iter().map(|t| t.as_str().to_owned()).collect();
    v.sort();
    v.dedup();
    v
}

impl RegistrationResponseJSON {
    /// Build the response from the attestation object the authenticator returned (after any
    /// attestation replacement), the platform's clientDataJSON and what the client knows.
    /// `authenticatorData`, the credential ID, `publicKey` and `publicKeyAlgorithm` are taken
    /// from the attestation object (§5.2.1.1).
    pub fn from_attestation_object(
        client_data_json: &[u8],
        attestation_object: &[u8],
        transports: &[AuthenticatorTransport],
        attachment: Option<AuthenticatorAttachment>,
        client_extension_results: AuthenticationExtensionsClientOutputsJSON,
    ) -> Result<Self, WebAuthnError> {
        let att = AttestationObject::from_bytes(attestation_object)
            .map_err(|e| WebAuthnError::unknown(format!("attestationObject: {e}")))?;
        let auth_data = AuthenticatorData::parse(&att.auth_data)
            .map_err(|e| WebAuthnError::unknown(format!("authenticatorData: {e}")))?;
        let acd = auth_data.attested_credential_data.ok_or_else(|| {
            WebAuthnError::unknown("authenticatorData has no attested credential data")
        })?;
        let id = CredentialId::new("credentialId", acd.credential_id)?;
        let (public_key, alg) = match CredentialPublicKey::from_cose(&acd.public_key) {
            Ok(k) => (Some(b64::encode(&k.to_spki())), k.alg().0.into()),
            Err(_) => (None, acd.public_key.alg().0),
        };
        Ok(Self {
            id: id.to_base64url(),
            raw_id: id.to_base64url(),
            response: AuthenticatorAttestationResponseJSON {
                client_data_json: b64::encode(client_data_json),
                authenticator_data: b64::encode(&att.auth_data),
                transports: transports_json(transports),
                public_key,
                public_key_algorithm: alg,
                attestation_object: b64::encode(attestation_object),
            },
            authenticator_attachment: attachment.map(|a| a.as_str().to_owned()),
            client_extension_results,
            ty: "public-key".to_owned(),
        })
    }

    /// Parse JSON text; errors are `TypeError` (shape) or `EncodingError` (base64url).
    pub fn from_json(json: &[u8]) -> Result<Self, WebAuthnError> {
        let r: Self = serde_json::from_slice(json)
            .map_err(|e| WebAuthnError::type_error(format!("RegistrationResponseJSON: {e}")))?;
        check_ids(&r.id, &r.raw_id, &r.ty)?;
        Ok(r)
    }
}

impl AuthenticationResponseJSON {
    /// Build the response from an assertion.
    pub fn new(
        credential_id: &CredentialId,
        client_data_json: &[u8],
        authenticator_data: &[u8],
        signature: &[u8],
        user_handle: Option<&UserHandle>,
        attachment: Option<AuthenticatorAttachment>,
        client_extension_results: AuthenticationExtensionsClientOutputsJSON,
    ) -> Self {
        Self {
            id: credential_id.to_base64url(),
            raw_id: credential_id.to_base64url(),
            response: AuthenticatorAssertionResponseJSON {
                client_data_json: b64::encode(client_data_json),
                authenticator_data: b64::encode(authenticator_data),
                signature: b64::encode(signature),
                user_handle: user_handle.map(|u| b64::encode(u.as_bytes())),
            },
            authenticator_attachment: attachment.map(|a| a.as_str().to_owned()),
            client_extension_results,
            ty: "public-key".to_owned(),
        }
    }

    /// Parse JSON text; errors are `TypeError` (shape) or `EncodingError` (base64url).
    pub fn from_json(json: &[u8]) -> Result<Self, WebAuthnError> {
        let r: Self = serde_json::from_slice(json)
            .map_err(|e| WebAuthnError::type_error(format!("AuthenticationResponseJSON: {e}")))?;
        check_ids(&r.id, &r.raw_id, &r.ty)?;
        Ok(r)
    }
}

/// Apply the RP's attestation conveyance preference to the authenticator's attestation object
/// (§5.1.3 step 22, `constructCredentialAlg` step 1). For `none`, self attestation (`packed`
/// without `x5c` and an all-zero AAGUID) passes unchanged; anything else becomes
/// `fmt: "none"`, `attStmt: {}` over the same authenticator data. `indirect`, `direct` and
/// `enterprise` convey the object unaltered.
pub fn convey_attestation(
    attestation_object: &[u8],
    preference: AttestationConveyancePreference,
) -> Result<Vec<u8>, WebAuthnError> {
    if preference != AttestationConveyancePreference::None {
        return Ok(attestation_object.to_vec());
    }
    let att = AttestationObject::from_bytes(attestation_object)
        .map_err(|e| WebAuthnError::unknown(format!("attestationObject: {e}")))?;
    let auth_data = AuthenticatorData::parse(&att.auth_data)
        .map_err(|e| WebAuthnError::unknown(format!("authenticatorData: {e}")))?;
    let zero_aaguid = auth_data
        .attested_credential_data
        .as_ref()
        .is_some_and(|a| a.aaguid.0 == [0u8; 16]);
    let self_attestation =
        zero_aaguid && matches!(att.att_stmt, AttestationStatement::Packed { x5c: None, .. });
    if self_attestation {
        return Ok(attestation_object.to_vec());
    }
    Ok(AttestationObject {
        auth_data: att.auth_data,
        att_stmt: AttestationStatement::None,
    }
    .to_bytes())
}

fn check_ids(id: &str, raw_id: &str, ty: &str) -> Result<(), WebAuthnError> {
    let raw = b64::decode("rawId", raw_id)?;
    if b64::decode("id", id)? != raw {
        return Err(WebAuthnError::type_error(
            "id and rawId name different credentials",
        ));
    }
    CredentialId::new("rawId", raw)?;
    if ty != "public-key" {
        return Err(WebAuthnError::type_error(format!(
            "type is {ty:?}, not \"public-key\""
        )));
    }
    Ok(())
}

/// Public-key algorithm as `i64` for JSON (COSEAlgorithmIdentifier is a WebIDL `long`).
impl From<CoseAlgorithm> for i64 {
    fn from(a: CoseAlgorithm) -> Self {
        i64::from(a.0)
    }
}
