//! authenticatorMakeCredential (0x01), CTAP 2.1 §6.1.
//!
//! <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-errata-20220621.html#authenticatorMakeCredential>

use super::ClientDataHash;
use crate::authdata::AttestationStatement;
use crate::cbor::{array_value, FromValue, IntMap, MapBuilder, TextMap, ToValue, Value};
use crate::entity::{CredentialDescriptor, CredentialParameters, RpEntity, UserEntity};
use crate::error::Error;
use crate::extensions::MakeCredentialExtensions;
use crate::pin::PinUvAuthProtocol;

/// The `options` of authenticatorMakeCredential: `rk`, `up`, `uv` (unknown options ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MakeCredentialOptions {
    /// `rk`: create a discoverable credential.
    pub rk: Option<bool>,
    /// `up`: user presence (the platform must not send `false` here, §6.1.2 step 5).
    pub up: Option<bool>,
    /// `uv`: built-in user verification (deprecated in favour of pinUvAuthToken).
    pub uv: Option<bool>,
}

impl FromValue for MakeCredentialOptions {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut map = TextMap::parse(value, field)?;
        Ok(Self {
            rk: map.optional("rk", "options.rk")?,
            up: map.optional("up", "options.up")?,
            uv: map.optional("uv", "options.uv")?,
        })
    }
}

impl MakeCredentialOptions {
    fn to_value_opt(self) -> Option<Value> {
        if self == Self::default() {
            return None;
        }
        Some(
            MapBuilder::new()
                .insert_opt("rk", self.rk)
                .insert_opt("up", self.up)
                .insert_opt("uv", self.uv)
                .build(),
        )
    }
}

/// An authenticatorMakeCredential request (CTAP 2.1 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeCredentialRequest {
    /// 0x01 `clientDataHash`.
    pub client_data_hash: ClientDataHash,
    /// 0x02 `rp`.
    pub rp: RpEntity,
    /// 0x03 `user`.
    pub user: UserEntity,
    /// 0x04 `pubKeyCredParams`, in preference order, entries of other types already skipped.
    pub pub_key_cred_params: Vec<CredentialParameters>,
    /// 0x05 `excludeList`.
    pub exclude_list: Option<Vec<CredentialDescriptor>>,
    /// 0x06 `extensions`.
    pub extensions: Option<MakeCredentialExtensions>,
    /// 0x07 `options`.
    pub options: MakeCredentialOptions,
    /// 0x08 `pinUvAuthParam`.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// 0x09 `pinUvAuthProtocol`.
    pub pin_uv_auth_protocol: Option<PinUvAuthProtocol>,
    /// 0x0A `enterpriseAttestation` (1 vendor-facilitated, 2 platform-managed).
    pub enterprise_attestation: Option<u64>,
    /// 0x0B `attestationFormatsPreference` (CTAP 2.2).
    pub attestation_formats_preference: Option<Vec<String>>,
}

impl FromValue for MakeCredentialRequest {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut m = IntMap::parse(value, field)?;
        let client_data_hash = m.required(0x01, "clientDataHash")?;
        let rp = m.required(0x02, "rp")?;
        let user = m.required(0x03, "user")?;
        let params = m.take(0x04).ok_or(Error::missing("pubKeyCredParams"))?;
        let pub_key_cred_params = CredentialParameters::decode_list(params, "pubKeyCredParams")?;
        Ok(Self {
            client_data_hash,
            rp,
            user,
            pub_key_cred_params,
            exclude_list: m.optional_array(0x05, "excludeList")?,
            extensions: m.optional(0x06, "extensions")?,
            options: m.optional(0x07, "options")?.unwrap_or_default(),
            pin_uv_auth_param: m.optional(0x08, "pinUvAuthParam")?,
            pin_uv_auth_protocol: m.optional(0x09, "pinUvAuthProtocol")?,
            enterprise_attestation: m.optional(0x0A, "enterpriseAttestation")?,
            attestation_formats_preference: m
                .optional_array(0x0B, "attestationFormatsPreference")?,
        })
    }
}

impl ToValue for MakeCredentialRequest {
    fn to_value(&self) -> Value {
        MapBuilder::new()
            .insert(0x01, self.client_data_hash.0.as_slice())
            .insert(0x02, self.rp.to_value())
            .insert(0x03, self.user.to_value())
            .insert(0x04, array_value(&self.pub_key_cred_params))
            .insert_opt(0x05, self.exclude_list.as_deref().map(array_value))
            .insert_opt(0x06, self.extensions.as_ref().map(ToValue::to_value))
            .insert_opt(0x07, self.options.to_value_opt())
            .insert_opt(0x08, self.pin_uv_auth_param.as_deref())
            .insert_opt(0x09, self.pin_uv_auth_protocol)
            .insert_opt(0x0A, self.enterprise_attestation)
            .insert_opt(
                0x0B,
                self.attestation_formats_preference
                    .as_ref()
                    .map(|f| Value::Array(f.iter().map(|s| Value::text(s.as_str())).collect())),
            )
            .build()
    }
}

/// An authenticatorMakeCredential response (CTAP 2.1 §6.1.2 "response").
///
/// `fmt` (0x01) is derived from [`AttestationStatement::format`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeCredentialResponse {
    /// 0x02 `authData`, kept as bytes because signatures cover them exactly; parse with
    /// [`crate::authdata::AuthenticatorData::parse`].
    pub auth_data: Vec<u8>,
    /// 0x01 `fmt` and 0x03 `attStmt`.
    pub att_stmt: AttestationStatement,
    /// 0x04 `epAtt`: whether enterprise attestation was returned.
    pub ep_att: Option<bool>,
    /// 0x05 `largeBlobKey`.
    pub large_blob_key: Option<Vec<u8>>,
    /// 0x06 `unsignedExtensionOutputs` (CTAP 2.2).
    pub unsigned_extension_outputs: Option<Value>,
}

impl FromValue for MakeCredentialResponse {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut m = IntMap::parse(value, field)?;
        let fmt: String = m.required(0x01, "fmt")?;
        let auth_data = m.required(0x02, "authData")?;
        let stmt = m.take(0x03).ok_or(Error::missing("attStmt"))?;
        let unsigned = m.take(0x06);
        if let Some(v) = &unsigned {
            if v.as_map().is_none() {
                return Err(Error::unexpected("unsignedExtensionOutputs", "map"));
            }
        }
        Ok(Self {
            auth_data,
            att_stmt: AttestationStatement::decode(&fmt, stmt)?,
            ep_att: m.optional(0x04, "epAtt")?,
            large_blob_key: m.optional(0x05, "largeBlobKey")?,
            unsigned_extension_outputs: unsigned,
        })
    }
}

impl ToValue for MakeCredentialResponse {
    fn to_value(&self) -> Value {
        MapBuilder::new()
            .insert(0x01, self.att_stmt.format())
            .insert(0x02, self.auth_data.as_slice())
            .insert(0x03, self.att_stmt.to_value())
            .insert_opt(0x04, self.ep_att)
            .insert_opt(0x05, self.large_blob_key.as_deref())
            .insert_opt(0x06, self.unsigned_extension_outputs.clone())
            .build()
    }
}
