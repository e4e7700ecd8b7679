//! authenticatorClientPIN (0x06), CTAP 2.1 §6.5.
//!
//! <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-errata-20220621.html#authenticatorClientPIN>

use crate::cbor::{FromValue, IntMap, MapBuilder, ToValue, Value};
use crate::cose::{CoseKey, P256Point};
use crate::error::Error;
use crate::pin::{Permissions, PinUvAuthProtocol};

/// ClientPIN subCommand numbers (CTAP 2.1 §6.5.5).
pub mod subcommand {
    /// getPINRetries.
    pub const GET_PIN_RETRIES: u64 = 0x01;
    /// getKeyAgreement.
    pub const GET_KEY_AGREEMENT: u64 = 0x02;
    /// setPIN.
    pub const SET_PIN: u64 = 0x03;
    /// changePIN.
    pub const CHANGE_PIN: u64 = 0x04;
    /// getPinToken (superseded by the two `...WithPermissions` subcommands).
    pub const GET_PIN_TOKEN: u64 = 0x05;
    /// getPinUvAuthTokenUsingUvWithPermissions.
    pub const GET_PIN_UV_AUTH_TOKEN_USING_UV_WITH_PERMISSIONS: u64 = 0x06;
    /// getUVRetries.
    pub const GET_UV_RETRIES: u64 = 0x07;
    /// getPinUvAuthTokenUsingPinWithPermissions.
    pub const GET_PIN_UV_AUTH_TOKEN_USING_PIN_WITH_PERMISSIONS: u64 = 0x09;
}

/// An authenticatorClientPIN request, one variant per subCommand with exactly the parameters
/// that subcommand requires (CTAP 2.1 §6.5.5).
///
/// Decoding reports the first required parameter that is missing as
/// `CTAP2_ERR_MISSING_PARAMETER` and an unknown subCommand as `CTAP2_ERR_INVALID_SUBCOMMAND`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientPinRequest {
    /// 0x01 getPINRetries.
    GetPinRetries {
        /// 0x01 `pinUvAuthProtocol` (optional here).
        protocol: Option<PinUvAuthProtocol>,
    },
    /// 0x02 getKeyAgreement.
    GetKeyAgreement {
        /// 0x01 `pinUvAuthProtocol`.
        protocol: PinUvAuthProtocol,
    },
    /// 0x03 setPIN.
    SetPin {
        /// 0x01 `pinUvAuthProtocol`.
        protocol: PinUvAuthProtocol,
        /// 0x03 `keyAgreement`: the platform's public key.
        key_agreement: P256Point,
        /// 0x05 `newPinEnc`.
        new_pin_enc: Vec<u8>,
        /// 0x04 `pinUvAuthParam` = authenticate(sharedSecret, newPinEnc).
        pin_uv_auth_param: Vec<u8>,
    },
    /// 0x04 changePIN.
    ChangePin {
        /// 0x01 `pinUvAuthProtocol`.
        protocol: PinUvAuthProtocol,
        /// 0x03 `keyAgreement`.
        key_agreement: P256Point,
        /// 0x06 `pinHashEnc`.
        pin_hash_enc: Vec<u8>,
        /// 0x05 `newPinEnc`.
        new_pin_enc: Vec<u8>,
        /// 0x04 `pinUvAuthParam` = authenticate(sharedSecret, newPinEnc ‖ pinHashEnc).
        pin_uv_auth_param: Vec<u8>,
    },
    /// 0x05 getPinToken.
    GetPinToken {
        /// 0x01 `pinUvAuthProtocol`.
        protocol: PinUvAuthProtocol,
        /// 0x03 `keyAgreement`.
        key_agreement: P256Point,
        /// 0x06 `pinHashEnc`.
        pin_hash_enc: Vec<u8>,
    },
    /// 0x06 getPinUvAuthTokenUsingUvWithPermissions.
    GetPinUvAuthTokenUsingUvWithPermissions {
        /// 0x01 `pinUvAuthProtocol`.
        protocol: PinUvAuthProtocol,
        /// 0x03 `keyAgreement`.
        key_agreement: P256Point,
        /// 0x09 `permissions`.
        permissions: Permissions,
        /// 0x0A `rpId`.
        rp_id: Option<String>,
    },
    /// 0x07 getUVRetries.
    GetUvRetries,
    /// 0x09 getPinUvAuthTokenUsingPinWithPermissions.
    GetPinUvAuthTokenUsingPinWithPermissions {
        /// 0x01 `pinUvAuthProtocol`.
        protocol: PinUvAuthProtocol,
        /// 0x03 `keyAgreement`.
        key_agreement: P256Point,
        /// 0x06 `pinHashEnc`.
        pin_hash_enc: Vec<u8>,
        /// 0x09 `permissions`.
        permissions: Permissions,
        /// 0x0A `rpId`.
        rp_id: Option<String>,
    },
}

impl ClientPinRequest {
    /// The subCommand number.
    pub fn subcommand(&self) -> u64 {
        use subcommand::*;
        match self {
            Self::GetPinRetries { .. } => GET_PIN_RETRIES,
            Self::GetKeyAgreement { .. } => GET_KEY_AGREEMENT,
            Self::SetPin { .. } => SET_PIN,
            Self::ChangePin { .. } => CHANGE_PIN,
            Self::GetPinToken { .. } => GET_PIN_TOKEN,
            Self::GetPinUvAuthTokenUsingUvWithPermissions { .. } => {
                GET_PIN_UV_AUTH_TOKEN_USING_UV_WITH_PERMISSIONS
            }
            Self::GetUvRetries => GET_UV_RETRIES,
            Self::GetPinUvAuthTokenUsingPinWithPermissions { .. } => {
                GET_PIN_UV_AUTH_TOKEN_USING_PIN_WITH_PERMISSIONS
            }
        }
    }
}

fn key_agreement(m: &mut IntMap) -> Result<P256Point, Error> {
    let value = m.take(0x03).ok_or(Error::missing("keyAgreement"))?;
    CoseKey::key_agreement(value, "keyAgreement")
}

impl FromValue for ClientPinRequest {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        use subcommand::*;
        let mut m = IntMap::parse(value, field)?;
        let sub: u64 = m.required(0x02, "subCommand")?;
        let protocol = |m: &mut IntMap| m.required(0x01, "pinUvAuthProtocol");
        Ok(match sub {
            GET_PIN_RETRIES => Self::GetPinRetries {
                protocol: m.optional(0x01, "pinUvAuthProtocol")?,
            },
            GET_KEY_AGREEMENT => Self::GetKeyAgreement {
                protocol: protocol(&mut m)?,
            },
            SET_PIN => Self::SetPin {
                protocol: protocol(&mut m)?,
                key_agreement: key_agreement(&mut m)?,
                new_pin_enc: m.required(0x05, "newPinEnc")?,
                pin_uv_auth_param: m.required(0x04, "pinUvAuthParam")?,
            },
            CHANGE_PIN => Self::ChangePin {
                protocol: protocol(&mut m)?,
                key_agreement: key_agreement(&mut m)?,
                pin_hash_enc: m.required(0x06, "pinHashEnc")?,
                new_pin_enc: m.required(0x05, "newPinEnc")?,
                pin_uv_auth_param: m.required(0x04, "pinUvAuthParam")?,
            },
            GET_PIN_TOKEN => Self::GetPinToken {
                protocol: protocol(&mut m)?,
                key_agreement: key_agreement(&mut m)?,
                pin_hash_enc: m.required(0x06, "pinHashEnc")?,
            },
            GET_PIN_UV_AUTH_TOKEN_USING_UV_WITH_PERMISSIONS => {
                Self::GetPinUvAuthTokenUsingUvWithPermissions {
                    protocol: protocol(&mut m)?,
                    key_agreement: key_agreement(&mut m)?,
                    permissions: m.required(0x09, "permissions")?,
                    rp_id: m.optional(0x0A, "rpId")?,
                }
            }
            GET_UV_RETRIES => Self::GetUvRetries,
            GET_PIN_UV_AUTH_TOKEN_USING_PIN_WITH_PERMISSIONS => {
                Self::GetPinUvAuthTokenUsingPinWithPermissions {
                    protocol: protocol(&mut m)?,
                    key_agreement: key_agreement(&mut m)?,
                    pin_hash_enc: m.required(0x06, "pinHashEnc")?,
                    permissions: m.required(0x09, "permissions")?,
                    rp_id: m.optional(0x0A, "rpId")?,
                }
            }
            other => {
                return Err(Error::InvalidSubcommand {
                    field: "clientPIN",
                    value: other,
                })
            }
        })
    }
}

impl ToValue for ClientPinRequest {
    fn to_value(&self) -> Value {
        let ka = |p: &P256Point| CoseKey::EcdhEsHkdf256(*p).to_value();
        let b = MapBuilder::new().insert(0x02, self.subcommand());
        match self {
            Self::GetPinRetries { protocol } => b.insert_opt(0x01, *protocol),
            Self::GetKeyAgreement { protocol } => b.insert(0x01, *protocol),
            Self::SetPin {
                protocol,
                key_agreement,
                new_pin_enc,
                pin_uv_auth_param,
            } => b
                .insert(0x01, *protocol)
                .insert(0x03, ka(key_agreement))
                .insert(0x04, pin_uv_auth_param.as_slice())
                .insert(0x05, new_pin_enc.as_slice()),
            Self::ChangePin {
                protocol,
                key_agreement,
                pin_hash_enc,
                new_pin_enc,
                pin_uv_auth_param,
            } => b
                .insert(0x01, *protocol)
                .insert(0x03, ka(key_agreement))
                .insert(0x04, pin_uv_auth_param.as_slice())
                .insert(0x05, new_pin_enc.as_slice())
                .insert(0x06, pin_hash_enc.as_slice()),
            Self::GetPinToken {
                protocol,
                key_agreement,
                pin_hash_enc,
            } => b
                .insert(0x01, *protocol)
                .insert(0x03, ka(key_agreement))
                .insert(0x06, pin_hash_enc.as_slice()),
            Self::GetPinUvAuthTokenUsingUvWithPermissions {
                protocol,
                key_agreement,
                permissions,
                rp_id,
            } => b
                .insert(0x01, *protocol)
                .insert(0x03, ka(key_agreement))
                .insert(0x09, *permissions)
                .insert_opt(0x0A, rp_id.as_deref()),
            Self::GetUvRetries => b,
            Self::GetPinUvAuthTokenUsingPinWithPermissions {
                protocol,
                key_agreement,
                pin_hash_enc,
                permissions,
                rp_id,
            } => b
                .insert(0x01, *protocol)
                .insert(0x03, ka(key_agreement))
                .insert(0x06, pin_hash_enc.as_slice())
                .insert(0x09, *permissions)
                .insert_opt(0x0A, rp_id.as_deref()),
        }
        .build()
    }
}

/// An authenticatorClientPIN response (CTAP 2.1 §6.5.5); setPIN and changePIN answer with
/// an empty body, which decodes to the default (all absent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientPinResponse {
    /// 0x01 `keyAgreement`: the authenticator's key-agreement public key.
    pub key_agreement: Option<P256Point>,
    /// 0x02 `pinUvAuthToken`, encrypted with the shared secret.
    pub pin_uv_auth_token: Option<Vec<u8>>,
    /// 0x03 `pinRetries`.
    pub pin_retries: Option<u64>,
    /// 0x04 `powerCycleState`.
    pub power_cycle_state: Option<bool>,
    /// 0x05 `uvRetries`.
    pub uv_retries: Option<u64>,
}

impl FromValue for ClientPinResponse {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut m = IntMap::parse(value, field)?;
        Ok(Self {
            key_agreement: m
                .take(0x01)
                .map(|v| CoseKey::key_agreement(v, "keyAgreement"))
                .transpose()?,
            pin_uv_auth_token: m.optional(0x02, "pinUvAuthToken")?,
            pin_retries: m.optional(0x03, "pinRetries")?,
            power_cycle_state: m.optional(0x04, "powerCycleState")?,
            uv_retries: m.optional(0x05, "uvRetries")?,
        })
    }
}

impl ToValue for ClientPinResponse {
    fn to_value(&self) -> Value {
        MapBuilder::new()
            .insert_opt(
                0x01,
                self.key_agreement
                    .map(|p| CoseKey::EcdhEsHkdf256(p).to_value()),
            )
            .insert_opt(0x02, self.pin_uv_auth_token.as_deref())
            .insert_opt(0x03, self.pin_retries)
            .insert_opt(0x04, self.power_cycle_state)
            .insert_opt(0x05, self.uv_retries)
            .build()
    }
}
