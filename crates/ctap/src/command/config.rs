//! authenticatorConfig (0x0D), CTAP 2.1 §6.11.
//!
//! <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-errata-20220621.html#authenticatorConfig>

use crate::cbor::{self, FromValue, IntMap, MapBuilder, ToValue, Value};
use crate::error::Error;
use crate::pin::PinUvAuthProtocol;

/// authenticatorConfig subCommand numbers (CTAP 2.1 §6.11).
pub mod subcommand {
    /// enableEnterpriseAttestation.
    pub const ENABLE_ENTERPRISE_ATTESTATION: u64 = 0x01;
    /// toggleAlwaysUv.
    pub const TOGGLE_ALWAYS_UV: u64 = 0x02;
    /// setMinPINLength.
    pub const SET_MIN_PIN_LENGTH: u64 = 0x03;
    /// vendorPrototype.
    pub const VENDOR_PROTOTYPE: u64 = 0xFF;
}

/// An authenticatorConfig subcommand with its `subCommandParams`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSubcommand {
    /// 0x01 enableEnterpriseAttestation.
    EnableEnterpriseAttestation,
    /// 0x02 toggleAlwaysUv.
    ToggleAlwaysUv,
    /// 0x03 setMinPINLength.
    SetMinPinLength {
        /// params 0x01 `newMinPINLength`.
        new_min_pin_length: Option<u64>,
        /// params 0x02 `minPinLengthRPIDs`.
        min_pin_length_rp_ids: Option<Vec<String>>,
        /// params 0x03 `forceChangePin`.
        force_change_pin: Option<bool>,
    },
    /// 0xFF vendorPrototype.
    VendorPrototype {
        /// params 0x01 `vendorCommandId`.
        vendor_command_id: u64,
    },
}

impl ConfigSubcommand {
    /// The subCommand number.
    pub fn code(&self) -> u8 {
        use subcommand::*;
        (match self {
            Self::EnableEnterpriseAttestation => ENABLE_ENTERPRISE_ATTESTATION,
            Self::ToggleAlwaysUv => TOGGLE_ALWAYS_UV,
            Self::SetMinPinLength { .. } => SET_MIN_PIN_LENGTH,
            Self::VendorPrototype { .. } => VENDOR_PROTOTYPE,
        }) as u8
    }

    /// The `subCommandParams` map, if any (setMinPINLength with no member sends none).
    pub fn params(&self) -> Option<Value> {
        match self {
            Self::SetMinPinLength {
                new_min_pin_length: None,
                min_pin_length_rp_ids: None,
                force_change_pin: None,
            } => None,
            Self::SetMinPinLength {
                new_min_pin_length,
                min_pin_length_rp_ids,
                force_change_pin,
            } => Some(
                MapBuilder::new()
                    .insert_opt(0x01, *new_min_pin_length)
                    .insert_opt(
                        0x02,
                        min_pin_length_rp_ids.as_ref().map(|ids| {
                            Value::Array(ids.iter().map(|s| Value::text(s.as_str())).collect())
                        }),
                    )
                    .insert_opt(0x03, *force_change_pin)
                    .build(),
            ),
            Self::VendorPrototype { vendor_command_id } => {
                Some(MapBuilder::new().insert(0x01, *vendor_command_id).build())
            }
            _ => None,
        }
    }
}

/// An authenticatorConfig request (CTAP 2.1 §6.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRequest {
    /// 0x01 `subCommand` and 0x02 `subCommandParams`.
    pub subcommand: ConfigSubcommand,
    /// 0x03 `pinUvAuthProtocol`.
    pub pin_uv_auth_protocol: Option<PinUvAuthProtocol>,
    /// 0x04 `pinUvAuthParam`.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// The canonical bytes of `subCommandParams` as received, which the pinUvAuthParam
    /// covers. `None` when built locally.
    pub received_params: Option<Vec<u8>>,
}

impl ConfigRequest {
    /// A request to send.
    pub fn new(subcommand: ConfigSubcommand) -> Self {
        Self {
            subcommand,
            pin_uv_auth_protocol: None,
            pin_uv_auth_param: None,
            received_params: None,
        }
    }

    /// The message the pinUvAuthParam authenticates (CTAP 2.1 §6.11):
    /// `32×0xff ‖ 0x0d ‖ subCommand ‖ subCommandParams`.
    pub fn auth_message(&self) -> Vec<u8> {
        let params = match &self.received_params {
            Some(raw) => raw.clone(),
            None => self
                .subcommand
                .params()
                .map(|p| cbor::encode(&p))
                .unwrap_or_default(),
        };
        crate::pin::config_message(self.subcommand.code(), &params)
    }
}

impl FromValue for ConfigRequest {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        use subcommand::*;
        let mut m = IntMap::parse(value, field)?;
        let sub: u64 = m.required(0x01, "subCommand")?;
        let raw = m.take(0x02);
        let received_params = raw.as_ref().map(cbor::encode);
        let mut params = raw
            .map(|v| IntMap::parse(v, "subCommandParams"))
            .transpose()?;
        let subcommand = match sub {
            ENABLE_ENTERPRISE_ATTESTATION => ConfigSubcommand::EnableEnterpriseAttestation,
            TOGGLE_ALWAYS_UV => ConfigSubcommand::ToggleAlwaysUv,
            SET_MIN_PIN_LENGTH => match params.as_mut() {
                Some(p) => ConfigSubcommand::SetMinPinLength {
                    new_min_pin_length: p.optional(0x01, "newMinPINLength")?,
                    min_pin_length_rp_ids: p.optional_array(0x02, "minPinLengthRPIDs")?,
                    force_change_pin: p.optional(0x03, "forceChangePin")?,
                },
                None => ConfigSubcommand::SetMinPinLength {
                    new_min_pin_length: None,
                    min_pin_length_rp_ids: None,
                    force_change_pin: None,
                },
            },
            VENDOR_PROTOTYPE => {
                let mut p = params.ok_or(Error::missing("subCommandParams"))?;
                ConfigSubcommand::VendorPrototype {
                    vendor_command_id: p.required(0x01, "vendorCommandId")?,
                }
            }
            other => {
                return Err(Error::InvalidSubcommand {
                    field: "authenticatorConfig",
                    value: other,
                })
            }
        };
        Ok(Self {
            subcommand,
            pin_uv_auth_protocol: m.optional(0x03, "pinUvAuthProtocol")?,
            pin_uv_auth_param: m.optional(0x04, "pinUvAuthParam")?,
            received_params,
        })
    }
}

impl ToValue for ConfigRequest {
    fn to_value(&self) -> Value {
        let params = match &self.received_params {
            Some(raw) => cbor::decode(raw).ok(),
            None => self.subcommand.params(),
        };
        MapBuilder::new()
            .insert(0x01, self.subcommand.code())
            .insert_opt(0x02, params)
            .insert_opt(0x03, self.pin_uv_auth_protocol)
            .insert_opt(0x04, self.pin_uv_auth_param.as_deref())
            .build()
    }
}
