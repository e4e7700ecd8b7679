//! authenticatorGetInfo (0x04), CTAP 2.1 §6.4, with the CTAP 2.2 §6.4 additions 0x16..=0x1E
//! and CTAP 2.3's 0x1F.
//!
//! <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-errata-20220621.html#authenticatorGetInfo>
//! <https://fidoalliance.org/specs/fido-v2.2-ps-20250714/fido-client-to-authenticator-protocol-v2.2-ps-20250714.html#authenticatorGetInfo>

use crate::cbor::{array_of, array_value, FromValue, IntMap, MapBuilder, ToValue, Value};
use crate::entity::CredentialParameters;
use crate::error::Error;
use std::collections::BTreeMap;

/// An authenticator model identifier (WebAuthn L3 §6.5.1), 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Aaguid(pub [u8; 16]);

impl FromValue for Aaguid {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        Ok(Self(FromValue::from_value(value, field)?))
    }
}

fn texts(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::text(s.as_str())).collect())
}

fn uints(items: &[u64]) -> Value {
    Value::Array(items.iter().map(|n| Value::from(*n)).collect())
}

/// The authenticatorGetInfo response (CTAP 2.1 §6.4). Every member but `versions` and
/// `aaguid` is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetInfoResponse {
    /// 0x01 `versions`: `"FIDO_2_0"`, `"FIDO_2_1_PRE"`, `"FIDO_2_1"`, `"FIDO_2_2"`, `"U2F_V2"`.
    pub versions: Vec<String>,
    /// 0x02 `extensions`.
    pub extensions: Option<Vec<String>>,
    /// 0x03 `aaguid`.
    pub aaguid: Aaguid,
    /// 0x04 `options` (`plat`, `rk`, `clientPin`, `up`, `uv`, `pinUvAuthToken`, ...).
    pub options: Option<BTreeMap<String, bool>>,
    /// 0x05 `maxMsgSize`.
    pub max_msg_size: Option<u64>,
    /// 0x06 `pinUvAuthProtocols`, in order of preference (unknown numbers kept).
    pub pin_uv_auth_protocols: Option<Vec<u64>>,
    /// 0x07 `maxCredentialCountInList`.
    pub max_credential_count_in_list: Option<u64>,
    /// 0x08 `maxCredentialIdLength`.
    pub max_credential_id_length: Option<u64>,
    /// 0x09 `transports`.
    pub transports: Option<Vec<String>>,
    /// 0x0A `algorithms`.
    pub algorithms: Option<Vec<CredentialParameters>>,
    /// 0x0B `maxSerializedLargeBlobArray`.
    pub max_serialized_large_blob_array: Option<u64>,
    /// 0x0C `forcePINChange`.
    pub force_pin_change: Option<bool>,
    /// 0x0D `minPINLength`.
    pub min_pin_length: Option<u64>,
    /// 0x0E `firmwareVersion`.
    pub firmware_version: Option<u64>,
    /// 0x0F `maxCredBlobLength`.
    pub max_cred_blob_length: Option<u64>,
    /// 0x10 `maxRPIDsForSetMinPINLength`.
    pub max_rp_ids_for_set_min_pin_length: Option<u64>,
    /// 0x11 `preferredPlatformUvAttempts`.
    pub preferred_platform_uv_attempts: Option<u64>,
    /// 0x12 `uvModality` (FIDO Registry USER_VERIFY_* bits).
    pub uv_modality: Option<u64>,
    /// 0x13 `certifications` (e.g. `{"FIDO": 1}`), kept as a map value.
    pub certifications: Option<Value>,
    /// 0x14 `remainingDiscoverableCredentials`.
    pub remaining_discoverable_credentials: Option<u64>,
    /// 0x15 `vendorPrototypeConfigCommands`.
    pub vendor_prototype_config_commands: Option<Vec<u64>>,
    /// 0x16 `attestationFormats` (CTAP 2.2).
    pub attestation_formats: Option<Vec<String>>,
    /// 0x17 `uvCountSinceLastPinEntry` (CTAP 2.2).
    pub uv_count_since_last_pin_entry: Option<u64>,
    /// 0x18 `longTouchForReset` (CTAP 2.2).
    pub long_touch_for_reset: Option<bool>,
    /// 0x19 `encIdentifier` (CTAP 2.2): `IV ‖ AES-128-CBC(key, identifier)`, the key derived
    /// from the persistent pinUvAuthToken (see [`crate::pin::decrypt_info_member`]).
    pub enc_identifier: Option<Vec<u8>>,
    /// 0x1A `transportsForReset` (CTAP 2.2).
    pub transports_for_reset: Option<Vec<String>>,
    /// 0x1B `pinComplexityPolicy` (CTAP 2.2).
    pub pin_complexity_policy: Option<bool>,
    /// 0x1C `pinComplexityPolicyURL` (CTAP 2.2).
    pub pin_complexity_policy_url: Option<Vec<u8>>,
    /// 0x1D `maxPINLength` (CTAP 2.2).
    pub max_pin_length: Option<u64>,
    /// 0x1E `encCredStoreState` (CTAP 2.2): `IV ‖ AES-128-CBC(key, state)`, the key derived from
    /// the persistent pinUvAuthToken (see [`crate::pin::decrypt_info_member`]).
    pub enc_cred_store_state: Option<Vec<u8>>,
    /// 0x1F `authenticatorConfigCommands` (CTAP 2.3): the authenticatorConfig subcommands
    /// supported.
    pub authenticator_config_commands: Option<Vec<u64>>,
}

impl GetInfoResponse {
    /// The value of option `name`, if the authenticator reported it.
    pub fn option(&self, name: &str) -> Option<bool> {
        self.options.as_ref()?.get(name).copied()
    }
}

fn options_from(value: Value) -> Result<BTreeMap<String, bool>, Error> {
    let Value::Map(entries) = value else {
        return Err(Error::unexpected("options", "map"));
    };
    let mut out = BTreeMap::new();
    for (k, v) in entries {
        let Value::Text(k) = k else {
            return Err(Error::unexpected("options", "text keys"));
        };
        out.insert(k, bool::from_value(v, "options")?);
    }
    Ok(out)
}

impl FromValue for GetInfoResponse {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut m = IntMap::parse(value, field)?;
        let certifications = m.take(0x13);
        if let Some(c) = &certifications {
            if c.as_map().is_none() {
                return Err(Error::unexpected("certifications", "map"));
            }
        }
        Ok(Self {
            versions: m.required_array(0x01, "versions")?,
            extensions: m.optional_array(0x02, "extensions")?,
            aaguid: m.required(0x03, "aaguid")?,
            options: m.take(0x04).map(options_from).transpose()?,
            max_msg_size: m.optional(0x05, "maxMsgSize")?,
            pin_uv_auth_protocols: m.optional_array(0x06, "pinUvAuthProtocols")?,
            max_credential_count_in_list: m.optional(0x07, "maxCredentialCountInList")?,
            max_credential_id_length: m.optional(0x08, "maxCredentialIdLength")?,
            transports: m.optional_array(0x09, "transports")?,
            algorithms: m
                .take(0x0A)
                .map(|v| array_of(v, "algorithms"))
                .transpose()?,
            max_serialized_large_blob_array: m.optional(0x0B, "maxSerializedLargeBlobArray")?,
            force_pin_change: m.optional(0x0C, "forcePINChange")?,
            min_pin_length: m.optional(0x0D, "minPINLength")?,
            firmware_version: m.optional(0x0E, "firmwareVersion")?,
            max_cred_blob_length: m.optional(0x0F, "maxCredBlobLength")?,
            max_rp_ids_for_set_min_pin_length: m.optional(0x10, "maxRPIDsForSetMinPINLength")?,
            preferred_platform_uv_attempts: m.optional(0x11, "preferredPlatformUvAttempts")?,
            uv_modality: m.optional(0x12, "uvModality")?,
            certifications,
            remaining_discoverable_credentials: m
                .optional(0x14, "remainingDiscoverableCredentials")?,
            vendor_prototype_config_commands: m
                .optional_array(0x15, "vendorPrototypeConfigCommands")?,
            attestation_formats: m.optional_array(0x16, "attestationFormats")?,
            uv_count_since_last_pin_entry: m.optional(0x17, "uvCountSinceLastPinEntry")?,
            long_touch_for_reset: m.optional(0x18, "longTouchForReset")?,
            enc_identifier: m.optional(0x19, "encIdentifier")?,
            transports_for_reset: m.optional_array(0x1A, "transportsForReset")?,
            pin_complexity_policy: m.optional(0x1B, "pinComplexityPolicy")?,
            pin_complexity_policy_url: m.optional(0x1C, "pinComplexityPolicyURL")?,
            max_pin_length: m.optional(0x1D, "maxPINLength")?,
            enc_cred_store_state: m.optional(0x1E, "encCredStoreState")?,
            authenticator_config_commands: m.optional_array(0x1F, "authenticatorConfigCommands")?,
        })
    }
}

impl ToValue for GetInfoResponse {
    fn to_value(&self) -> Value {
        MapBuilder::new()
            .insert(0x01, texts(&self.versions))
            .insert_opt(0x02, self.extensions.as_deref().map(texts))
            .insert(0x03, self.aaguid.0.as_slice())
            .insert_opt(
                0x04,
                self.options.as_ref().map(|o| {
                    o.iter()
                        .fold(MapBuilder::new(), |b, (k, v)| b.insert(k.as_str(), *v))
                        .build()
                }),
            )
            .insert_opt(0x05, self.max_msg_size)
            .insert_opt(0x06, self.pin_uv_auth_protocols.as_deref().map(uints))
            .insert_opt(0x07, self.max_credential_count_in_list)
            .insert_opt(0x08, self.max_credential_id_length)
            .insert_opt(0x09, self.transports.as_deref().map(texts))
            .insert_opt(0x0A, self.algorithms.as_deref().map(array_value))
            .insert_opt(0x0B, self.max_serialized_large_blob_array)
            .insert_opt(0x0C, self.force_pin_change)
            .insert_opt(0x0D, self.min_pin_length)
            .insert_opt(0x0E, self.firmware_version)
            .insert_opt(0x0F, self.max_cred_blob_length)
            .insert_opt(0x10, self.max_rp_ids_for_set_min_pin_length)
            .insert_opt(0x11, self.preferred_platform_uv_attempts)
            .insert_opt(0x12, self.uv_modality)
            .insert_opt(0x13, self.certifications.clone())
            .insert_opt(0x14, self.remaining_discoverable_credentials)
            .insert_opt(
                0x15,
                self.vendor_prototype_config_commands.as_deref().map(uints),
            )
            .insert_opt(0x16, self.attestation_formats.as_deref().map(texts))
            .insert_opt(0x17, self.uv_count_since_last_pin_entry)
            .insert_opt(0x18, self.long_touch_for_reset)
            .insert_opt(0x19, self.enc_identifier.as_deref())
            .insert_opt(0x1A, self.transports_for_reset.as_deref().map(texts))
            .insert_opt(0x1B, self.pin_complexity_policy)
            .insert_opt(0x1C, self.pin_complexity_policy_url.as_deref())
            .insert_opt(0x1D, self.max_pin_length)
            .insert_opt(0x1E, self.enc_cred_store_state.as_deref())
            .insert_opt(
                0x1F,
                self.authenticator_config_commands.as_deref().map(uints),
            )
            .build()
    }
}
