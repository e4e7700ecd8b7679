//! authenticatorGetAssertion (0x02) and authenticatorGetNextAssertion (0x08), CTAP 2.1 §6.2–6.3.
//!
//! <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-errata-20220621.html#authenticatorGetAssertion>

use super::ClientDataHash;
use crate::cbor::{array_value, FromValue, IntMap, MapBuilder, TextMap, ToValue, Value};
use crate::entity::{CredentialDescriptor, UserEntity};
use crate::error::Error;
use crate::extensions::GetAssertionExtensions;
use crate::pin::PinUvAuthProtocol;

/// The `options` of authenticatorGetAssertion: `up`, `uv` (unknown options ignored; `rk`
/// is rejected by the authenticator, not here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GetAssertionOptions {
    /// `rk`: not valid for getAssertion; kept so the authenticator can answer
    /// `CTAP2_ERR_UNSUPPORTED_OPTION`.
    pub rk: Option<bool>,
    /// `up`: require user presence (default true).
    pub up: Option<bool>,
    /// `uv`: built-in user verification.
    pub uv: Option<bool>,
}

impl FromValue for GetAssertionOptions {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut map = TextMap::parse(value, field)?;
        Ok(Self {
            rk: map.optional("rk", "options.rk")?,
            up: map.optional("up", "options.up")?,
            uv: map.optional("uv", "options.uv")?,
        })
    }
}

impl GetAssertionOptions {
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

/// An authenticatorGetAssertion request (CTAP 2.1 §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAssertionRequest {
    /// 0x01 `rpId`.
    pub rp_id: String,
    /// 0x02 `clientDataHash`.
    pub client_data_hash: ClientDataHash,
    /// 0x03 `allowList`.
    pub allow_list: Option<Vec<CredentialDescriptor>>,
    /// 0x04 `extensions`.
    pub extensions: Option<GetAssertionExtensions>,
    /// 0x05 `options`.
    pub options: GetAssertionOptions,
    /// 0x06 `pinUvAuthParam`.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// 0x07 `pinUvAuthProtocol`.
    pub pin_uv_auth_protocol: Option<PinUvAuthProtocol>,
}

impl FromValue for GetAssertionRequest {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut m = IntMap::parse(value, field)?;
        Ok(Self {
            rp_id: m.required(0x01, "rpId")?,
            client_data_hash: m.required(0x02, "clientDataHash")?,
            allow_list: m.optional_array(0x03, "allowList")?,
            extensions: m.optional(0x04, "extensions")?,
            options: m.optional(0x05, "options")?.unwrap_or_default(),
            pin_uv_auth_param: m.optional(0x06, "pinUvAuthParam")?,
            pin_uv_auth_protocol: m.optional(0x07, "pinUvAuthProtocol")?,
        })
    }
}

impl ToValue for GetAssertionRequest {
    fn to_value(&self) -> Value {
        MapBuilder::new()
            .insert(0x01, self.rp_id.as_str())
            .insert(0x02, self.client_data_hash.0.as_slice())
            .insert_opt(0x03, self.allow_list.as_deref().map(array_value))
            .insert_opt(0x04, self.extensions.as_ref().map(ToValue::to_value))
            .insert_opt(0x05, self.options.to_value_opt())
            .insert_opt(0x06, self.pin_uv_auth_param.as_deref())
            .insert_opt(0x07, self.pin_uv_auth_protocol)
            .build()
    }
}

/// An authenticatorGetAssertion or authenticatorGetNextAssertion response (CTAP 2.1 §6.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAssertionResponse {
    /// 0x01 `credential` (may be omitted when the allowList had exactly one entry).
    pub credential: Option<CredentialDescriptor>,
    /// 0x02 `authData`, kept as the signed bytes.
    pub auth_data: Vec<u8>,
    /// 0x03 `signature`.
    pub signature: Vec<u8>,
    /// 0x04 `user` (discoverable credentials).
    pub user: Option<UserEntity>,
    /// 0x05 `numberOfCredentials`.
    pub number_of_credentials: Option<u64>,
    /// 0x06 `userSelected`.
    pub user_selected: Option<bool>,
    /// 0x07 `largeBlobKey`.
    pub large_blob_key: Option<Vec<u8>>,
    /// 0x08 `unsignedExtensionOutputs` (CTAP 2.2).
    pub unsigned_extension_outputs: Option<Value>,
}

impl FromValue for GetAssertionResponse {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut m = IntMap::parse(value, field)?;
        let unsigned = m.take(0x08);
        if let Some(v) = &unsigned {
            if v.as_map().is_none() {
                return Err(Error::unexpected("unsignedExtensionOutputs", "map"));
            }
        }
        Ok(Self {
            credential: m.optional(0x01, "credential")?,
            auth_data: m.required(0x02, "authData")?,
            signature: m.required(0x03, "signature")?,
            user: m.optional(0x04, "user")?,
            number_of_credentials: m.optional(0x05, "numberOfCredentials")?,
            user_selected: m.optional(0x06, "userSelected")?,
            large_blob_key: m.optional(0x07, "largeBlobKey")?,
            unsigned_extension_outputs: unsigned,
        })
    }
}

impl ToValue for GetAssertionResponse {
    fn to_value(&self) -> Value {
        MapBuilder::new()
            .insert_opt(0x01, self.credential.as_ref().map(ToValue::to_value))
            .insert(0x02, self.auth_data.as_slice())
            .insert(0x03, self.signature.as_slice())
            .insert_opt(0x04, self.user.as_ref().map(ToValue::to_value))
            .insert_opt(0x05, self.number_of_credentials)
            .insert_opt(0x06, self.user_selected)
            .insert_opt(0x07, self.large_blob_key.as_deref())
            .insert_opt(0x08, self.unsigned_extension_outputs.clone())
            .build()
    }
}
