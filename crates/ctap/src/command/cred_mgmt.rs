//! authenticatorCredentialManagement (0x0A, prototype 0x41), CTAP 2.1 §6.8.
//!
//! <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-errata-20220621.html#authenticatorCredentialManagement>

use crate::cbor::{self, FromValue, IntMap, MapBuilder, ToValue, Value};
use crate::cose::CoseKey;
use crate::entity::{CredentialDescriptor, RpEntity, UserEntity};
use crate::error::Error;
use crate::extensions::CredProtect;
use crate::pin::PinUvAuthProtocol;

/// credentialManagement subCommand numbers (CTAP 2.1 §6.8).
pub mod subcommand {
    /// getCredsMetadata.
    pub const GET_CREDS_METADATA: u64 = 0x01;
    /// enumerateRPsBegin.
    pub const ENUMERATE_RPS_BEGIN: u64 = 0x02;
    /// enumerateRPsGetNextRP.
    pub const ENUMERATE_RPS_GET_NEXT_RP: u64 = 0x03;
    /// enumerateCredentialsBegin.
    pub const ENUMERATE_CREDENTIALS_BEGIN: u64 = 0x04;
    /// enumerateCredentialsGetNextCredential.
    pub const ENUMERATE_CREDENTIALS_GET_NEXT_CREDENTIAL: u64 = 0x05;
    /// deleteCredential.
    pub const DELETE_CREDENTIAL: u64 = 0x06;
    /// updateUserInformation.
    pub const UPDATE_USER_INFORMATION: u64 = 0x07;
}

/// A credentialManagement subcommand with its `subCommandParams`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialManagementSubcommand {
    /// 0x01 getCredsMetadata.
    GetCredsMetadata,
    /// 0x02 enumerateRPsBegin.
    EnumerateRpsBegin,
    /// 0x03 enumerateRPsGetNextRP.
    EnumerateRpsGetNextRp,
    /// 0x04 enumerateCredentialsBegin.
    EnumerateCredentialsBegin {
        /// params 0x01 `rpIDHash`.
        rp_id_hash: [u8; 32],
    },
    /// 0x05 enumerateCredentialsGetNextCredential.
    EnumerateCredentialsGetNextCredential,
    /// 0x06 deleteCredential.
    DeleteCredential {
        /// params 0x02 `credentialID`.
        credential_id: CredentialDescriptor,
    },
    /// 0x07 updateUserInformation.
    UpdateUserInformation {
        /// params 0x02 `credentialID`.
        credential_id: CredentialDescriptor,
        /// params 0x03 `user`.
        user: UserEntity,
    },
}

impl CredentialManagementSubcommand {
    /// The subCommand number.
    pub fn code(&self) -> u8 {
        use subcommand::*;
        (match self {
            Self::GetCredsMetadata => GET_CREDS_METADATA,
            Self::EnumerateRpsBegin => ENUMERATE_RPS_BEGIN,
            Self::EnumerateRpsGetNextRp => ENUMERATE_RPS_GET_NEXT_RP,
            Self::EnumerateCredentialsBegin { .. } => ENUMERATE_CREDENTIALS_BEGIN,
            Self::EnumerateCredentialsGetNextCredential => {
                ENUMERATE_CREDENTIALS_GET_NEXT_CREDENTIAL
            }
            Self::DeleteCredential { .. } => DELETE_CREDENTIAL,
            Self::UpdateUserInformation { .. } => UPDATE_USER_INFORMATION,
        }) as u8
    }

    /// The `subCommandParams` map, if this subcommand has one.
    pub fn params(&self) -> Option<Value> {
        match self {
            Self::EnumerateCredentialsBegin { rp_id_hash } => Some(
                MapBuilder::new()
                    .insert(0x01, rp_id_hash.as_slice())
                    .build(),
            ),
            Self::DeleteCredential { credential_id } => Some(
                MapBuilder::new()
                    .insert(0x02, credential_id.to_value())
                    .build(),
            ),
            Self::UpdateUserInformation {
                credential_id,
                user,
            } => Some(
                MapBuilder::new()
                    .insert(0x02, credential_id.to_value())
                    .insert(0x03, user.to_value())
                    .build(),
            ),
            _ => None,
        }
    }
}

/// An authenticatorCredentialManagement request (CTAP 2.1 §6.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialManagementRequest {
    /// 0x01 `subCommand` and 0x02 `subCommandParams`.
    pub subcommand: CredentialManagementSubcommand,
    /// 0x03 `pinUvAuthProtocol`.
    pub pin_uv_auth_protocol: Option<PinUvAuthProtocol>,
    /// 0x04 `pinUvAuthParam`.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// The canonical bytes of `subCommandParams` as received (including members this crate
    /// does not know), which the pinUvAuthParam covers. `None` when built locally.
    pub received_params: Option<Vec<u8>>,
}

impl CredentialManagementRequest {
    /// A request to send; `pin_uv_auth_param` is computed over [`Self::auth_message`].
    pub fn new(subcommand: CredentialManagementSubcommand) -> Self {
        Self {
            subcommand,
            pin_uv_auth_protocol: None,
            pin_uv_auth_param: None,
            received_params: None,
        }
    }

    /// The message the pinUvAuthParam authenticates: `subCommand ‖ subCommandParams`
    /// (CTAP 2.1 §6.8.2 and following).
    pub fn auth_message(&self) -> Vec<u8> {
        let mut out = vec![self.subcommand.code()];
        match (&self.received_params, self.subcommand.params()) {
            (Some(raw), _) => out.extend_from_slice(raw),
            (None, Some(params)) => out.extend_from_slice(&cbor::encode(&params)),
            (None, None) => {}
        }
        out
    }
}

impl FromValue for CredentialManagementRequest {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        use subcommand::*;
        let mut m = IntMap::parse(value, field)?;
        let sub: u64 = m.required(0x01, "subCommand")?;
        let raw_params = m.take(0x02);
        let received_params = raw_params.as_ref().map(cbor::encode);
        let mut params = match raw_params {
            Some(v) => Some(IntMap::parse(v, "subCommandParams")?),
            None => None,
        };
        let mut params = || params.take().ok_or(Error::missing("subCommandParams"));
        let subcommand = match sub {
            GET_CREDS_METADATA => CredentialManagementSubcommand::GetCredsMetadata,
            ENUMERATE_RPS_BEGIN => CredentialManagementSubcommand::EnumerateRpsBegin,
            ENUMERATE_RPS_GET_NEXT_RP => CredentialManagementSubcommand::EnumerateRpsGetNextRp,
            ENUMERATE_CREDENTIALS_BEGIN => {
                CredentialManagementSubcommand::EnumerateCredentialsBegin {
                    rp_id_hash: params()?.required(0x01, "rpIDHash")?,
                }
            }
            ENUMERATE_CREDENTIALS_GET_NEXT_CREDENTIAL => {
                CredentialManagementSubcommand::EnumerateCredentialsGetNextCredential
            }
            DELETE_CREDENTIAL => CredentialManagementSubcommand::DeleteCredential {
                credential_id: params()?.required(0x02, "credentialID")?,
            },
            UPDATE_USER_INFORMATION => {
                let mut p = params()?;
                CredentialManagementSubcommand::UpdateUserInformation {
                    credential_id: p.required(0x02, "credentialID")?,
                    user: p.required(0x03, "user")?,
                }
            }
            other => {
                return Err(Error::InvalidSubcommand {
                    field: "credentialManagement",
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

impl ToValue for CredentialManagementRequest {
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

/// An authenticatorCredentialManagement response (CTAP 2.1 §6.8); which members are present
/// depends on the subcommand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CredentialManagementResponse {
    /// 0x01 `existingResidentCredentialsCount`.
    pub existing_resident_credentials_count: Option<u64>,
    /// 0x02 `maxPossibleRemainingResidentCredentialsCount`.
    pub max_possible_remaining_resident_credentials_count: Option<u64>,
    /// 0x03 `rp`.
    pub rp: Option<RpEntity>,
    /// 0x04 `rpIDHash`.
    pub rp_id_hash: Option<[u8; 32]>,
    /// 0x05 `totalRPs`.
    pub total_rps: Option<u64>,
    /// 0x06 `user`.
    pub user: Option<UserEntity>,
    /// 0x07 `credentialID`.
    pub credential_id: Option<CredentialDescriptor>,
    /// 0x08 `publicKey`.
    pub public_key: Option<CoseKey>,
    /// 0x09 `totalCredentials`.
    pub total_credentials: Option<u64>,
    /// 0x0A `credProtect`.
    pub cred_protect: Option<CredProtect>,
    /// 0x0B `largeBlobKey`.
    pub large_blob_key: Option<Vec<u8>>,
    /// 0x0C `thirdPartyPayment` (CTAP 2.2).
    pub third_party_payment: Option<bool>,
}

impl FromValue for CredentialManagementResponse {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut m = IntMap::parse(value, field)?;
        Ok(Self {
            existing_resident_credentials_count: m
                .optional(0x01, "existingResidentCredentialsCount")?,
            max_possible_remaining_resident_credentials_count: m
                .optional(0x02, "maxPossibleRemainingResidentCredentialsCount")?,
            rp: m.optional(0x03, "rp")?,
            rp_id_hash: m.optional(0x04, "rpIDHash")?,
            total_rps: m.optional(0x05, "totalRPs")?,
            user: m.optional(0x06, "user")?,
            credential_id: m.optional(0x07, "credentialID")?,
            public_key: m.optional(0x08, "publicKey")?,
            total_credentials: m.optional(0x09, "totalCredentials")?,
            cred_protect: m.optional(0x0A, "credProtect")?,
            large_blob_key: m.optional(0x0B, "largeBlobKey")?,
            third_party_payment: m.optional(0x0C, "thirdPartyPayment")?,
        })
    }
}

impl ToValue for CredentialManagementResponse {
    fn to_value(&self) -> Value {
        MapBuilder::new()
            .insert_opt(0x01, self.existing_resident_credentials_count)
            .insert_opt(0x02, self.max_possible_remaining_resident_credentials_count)
            .insert_opt(0x03, self.rp.as_ref().map(ToValue::to_value))
            .insert_opt(0x04, self.rp_id_hash.as_ref().map(|h| h.as_slice()))
            .insert_opt(0x05, self.total_rps)
            .insert_opt(0x06, self.user.as_ref().map(ToValue::to_value))
            .insert_opt(0x07, self.credential_id.as_ref().map(ToValue::to_value))
            .insert_opt(0x08, self.public_key.as_ref().map(ToValue::to_value))
            .insert_opt(0x09, self.total_credentials)
            .insert_opt(0x0A, self.cred_protect)
            .insert_opt(0x0B, self.large_blob_key.as_deref())
            .insert_opt(0x0C, self.third_party_payment)
            .build()
    }
}
