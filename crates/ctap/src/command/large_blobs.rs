//! authenticatorLargeBlobs (0x0C), CTAP 2.1 §6.10.
//!
//! <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-errata-20220621.html#authenticatorLargeBlobs>

use crate::cbor::{FromValue, IntMap, MapBuilder, ToValue, Value};
use crate::error::Error;
use crate::pin::PinUvAuthProtocol;

/// An authenticatorLargeBlobs request: a read or a write of one fragment.
///
/// Decoding enforces the shape rules of CTAP 2.1 §6.10.2 that need no authenticator state:
/// exactly one of `get`/`set` (else `CTAP1_ERR_INVALID_PARAMETER`), `offset` present
/// (`CTAP2_ERR_MISSING_PARAMETER`), and no `length` or pinUvAuth parameters with `get`
/// (`CTAP1_ERR_INVALID_PARAMETER`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LargeBlobsRequest {
    /// Read `get` bytes at `offset`.
    Get {
        /// 0x03 `offset`.
        offset: u64,
        /// 0x01 `get`: the number of bytes to read.
        get: u64,
    },
    /// Write a fragment at `offset`.
    Set {
        /// 0x03 `offset`.
        offset: u64,
        /// 0x02 `set`: the fragment.
        set: Vec<u8>,
        /// 0x04 `length`: the total length, present only when `offset` is 0.
        length: Option<u64>,
        /// 0x05 `pinUvAuthParam`.
        pin_uv_auth_param: Option<Vec<u8>>,
        /// 0x06 `pinUvAuthProtocol`.
        pin_uv_auth_protocol: Option<PinUvAuthProtocol>,
    },
}

impl FromValue for LargeBlobsRequest {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut m = IntMap::parse(value, field)?;
        let get: Option<u64> = m.optional(0x01, "get")?;
        let set: Option<Vec<u8>> = m.optional(0x02, "set")?;
        let offset: u64 = m.required(0x03, "offset")?;
        let length: Option<u64> = m.optional(0x04, "length")?;
        let pin_uv_auth_param: Option<Vec<u8>> = m.optional(0x05, "pinUvAuthParam")?;
        let pin_uv_auth_protocol = m.optional(0x06, "pinUvAuthProtocol")?;
        match (get, set) {
            (Some(_), Some(_)) | (None, None) => {
                Err(Error::invalid("get/set", "exactly one of get and set"))
            }
            (Some(get), None) => {
                if length.is_some() {
                    return Err(Error::invalid("length", "not allowed with get"));
                }
                if pin_uv_auth_param.is_some() || pin_uv_auth_protocol.is_some() {
                    return Err(Error::invalid("pinUvAuthParam", "not allowed with get"));
                }
                Ok(Self::Get { offset, get })
            }
            (None, Some(set)) => Ok(Self::Set {
                offset,
                set,
                length,
                pin_uv_auth_param,
                pin_uv_auth_protocol,
            }),
        }
    }
}

impl ToValue for LargeBlobsRequest {
    fn to_value(&self) -> Value {
        match self {
            Self::Get { offset, get } => MapBuilder::new()
                .insert(0x01, *get)
                .insert(0x03, *offset)
                .build(),
            Self::Set {
                offset,
                set,
                length,
                pin_uv_auth_param,
                pin_uv_auth_protocol,
            } => MapBuilder::new()
                .insert(0x02, set.as_slice())
                .insert(0x03, *offset)
                .insert_opt(0x04, *length)
                .insert_opt(0x05, pin_uv_auth_param.as_deref())
                .insert_opt(0x06, *pin_uv_auth_protocol)
                .build(),
        }
    }
}

/// An authenticatorLargeBlobs response: the fragment read (`get`), nothing for `set`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LargeBlobsResponse {
    /// 0x01 `config`: the bytes read.
    pub config: Option<Vec<u8>>,
}

impl FromValue for LargeBlobsResponse {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut m = IntMap::parse(value, field)?;
        Ok(Self {
            config: m.optional(0x01, "config")?,
        })
    }
}

impl ToValue for LargeBlobsResponse {
    fn to_value(&self) -> Value {
        MapBuilder::new()
            .insert_opt(0x01, self.config.as_deref())
            .build()
    }
}
