//! CTAP2 commands: `command byte ‖ CBOR parameters` requests and `status byte ‖ CBOR`
//! responses (CTAP 2.1 §6 "Authenticator API" and §8 "Message encoding").
//!
//! Every request and response type converts both ways ([`FromValue`], [`ToValue`]): the
//! client encodes requests and decodes responses; the authenticator decodes requests and
//! encodes responses.

pub mod client_pin;
pub mod config;
pub mod cred_mgmt;
pub mod get_assertion;
pub mod get_info;
pub mod large_blobs;
pub mod make_credential;

#[cfg(test)]
mod malformed_tests;
#[cfg(test)]
mod response_tests;
#[cfg(test)]
mod tests;

pub use client_pin::{ClientPinRequest, ClientPinResponse};
pub use config::{ConfigRequest, ConfigSubcommand};
pub use cred_mgmt::{
    CredentialManagementRequest, CredentialManagementResponse, CredentialManagementSubcommand,
};
pub use get_assertion::{GetAssertionOptions, GetAssertionRequest, GetAssertionResponse};
pub use get_info::{Aaguid, GetInfoResponse};
pub use large_blobs::{LargeBlobsRequest, LargeBlobsResponse};
pub use make_credential::{MakeCredentialOptions, MakeCredentialRequest, MakeCredentialResponse};

use crate::cbor::{self, FromValue, ToValue, Value};
use crate::error::{Error, ResponseError};
use crate::status::StatusCode;

/// SHA-256 of the client data (WebAuthn L3 §5.8.1), 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientDataHash(pub [u8; 32]);

impl FromValue for ClientDataHash {
    /// A 32-byte string; another length is `CTAP1_ERR_INVALID_LENGTH`.
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        Ok(Self(FromValue::from_value(value, field)?))
    }
}

/// CTAP2 command bytes (CTAP 2.1 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Command {
    /// authenticatorMakeCredential.
    MakeCredential = 0x01,
    /// authenticatorGetAssertion.
    GetAssertion = 0x02,
    /// authenticatorGetInfo.
    GetInfo = 0x04,
    /// authenticatorClientPIN.
    ClientPin = 0x06,
    /// authenticatorReset.
    Reset = 0x07,
    /// authenticatorGetNextAssertion.
    GetNextAssertion = 0x08,
    /// authenticatorBioEnrollment (not modelled by [`Request`]).
    BioEnrollment = 0x09,
    /// authenticatorCredentialManagement.
    CredentialManagement = 0x0A,
    /// authenticatorSelection.
    Selection = 0x0B,
    /// authenticatorLargeBlobs.
    LargeBlobs = 0x0C,
    /// authenticatorConfig.
    Config = 0x0D,
    /// authenticatorBioEnrollment prototype (`FIDO_2_1_PRE`; not modelled by [`Request`]).
    BioEnrollmentPreview = 0x40,
    /// authenticatorCredentialManagement prototype (`FIDO_2_1_PRE`).
    CredentialManagementPreview = 0x41,
}

impl TryFrom<u8> for Command {
    type Error = Error;

    fn try_from(b: u8) -> Result<Self, Error> {
        Ok(match b {
            0x01 => Self::MakeCredential,
            0x02 => Self::GetAssertion,
            0x04 => Self::GetInfo,
            0x06 => Self::ClientPin,
            0x07 => Self::Reset,
            0x08 => Self::GetNextAssertion,
            0x09 => Self::BioEnrollment,
            0x0A => Self::CredentialManagement,
            0x0B => Self::Selection,
            0x0C => Self::LargeBlobs,
            0x0D => Self::Config,
            0x40 => Self::BioEnrollmentPreview,
            0x41 => Self::CredentialManagementPreview,
            other => return Err(Error::InvalidCommand(other)),
        })
    }
}

/// A decoded CTAP2 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// 0x01.
    MakeCredential(MakeCredentialRequest),
    /// 0x02.
    GetAssertion(GetAssertionRequest),
    /// 0x04.
    GetInfo,
    /// 0x06.
    ClientPin(ClientPinRequest),
    /// 0x07.
    Reset,
    /// 0x08.
    GetNextAssertion,
    /// 0x0A.
    CredentialManagement(CredentialManagementRequest),
    /// 0x41: the same structure under the `FIDO_2_1_PRE` command byte.
    CredentialManagementPreview(CredentialManagementRequest),
    /// 0x0B.
    Selection,
    /// 0x0C.
    LargeBlobs(LargeBlobsRequest),
    /// 0x0D.
    Config(ConfigRequest),
}

fn params<T: FromValue>(body: &[u8], field: &'static str) -> Result<T, Error> {
    if body.is_empty() {
        return Err(Error::missing(field));
    }
    T::from_value(cbor::decode(body)?, field)
}

impl Request {
    /// The command byte.
    pub fn command(&self) -> Command {
        match self {
            Self::MakeCredential(_) => Command::MakeCredential,
            Self::GetAssertion(_) => Command::GetAssertion,
            Self::GetInfo => Command::GetInfo,
            Self::ClientPin(_) => Command::ClientPin,
            Self::Reset => Command::Reset,
            Self::GetNextAssertion => Command::GetNextAssertion,
            Self::CredentialManagement(_) => Command::CredentialManagement,
            Self::CredentialManagementPreview(_) => Command::CredentialManagementPreview,
            Self::Selection => Command::Selection,
            Self::LargeBlobs(_) => Command::LargeBlobs,
            Self::Config(_) => Command::Config,
        }
    }

    /// Parses `command byte ‖ CBOR parameters` (the payload of a CTAPHID_CBOR message).
    ///
    /// Commands without parameters accept an empty body, or a well-formed CBOR body whose
    /// content is ignored. Bio enrollment and unknown commands are
    /// `CTAP1_ERR_INVALID_COMMAND`.
    pub fn decode(message: &[u8]) -> Result<Self, Error> {
        if message.len() > cbor::MAX_MESSAGE_SIZE {
            return Err(Error::MessageTooLong {
                len: message.len(),
                max: cbor::MAX_MESSAGE_SIZE,
            });
        }
        let (&code, body) = message.split_first().ok_or(Error::EmptyMessage)?;
        let no_params = |r: Self| -> Result<Self, Error> {
            if !body.is_empty() {
                cbor::decode(body)?;
            }
            Ok(r)
        };
        match Command::try_from(code)? {
            Command::MakeCredential => Ok(Self::MakeCredential(params(body, "makeCredential")?)),
            Command::GetAssertion => Ok(Self::GetAssertion(params(body, "getAssertion")?)),
            Command::GetInfo => no_params(Self::GetInfo),
            Command::ClientPin => Ok(Self::ClientPin(params(body, "clientPIN")?)),
            Command::Reset => no_params(Self::Reset),
            Command::GetNextAssertion => no_params(Self::GetNextAssertion),
            Command::CredentialManagement => Ok(Self::CredentialManagement(params(
                body,
                "credentialManagement",
            )?)),
            Command::CredentialManagementPreview => Ok(Self::CredentialManagementPreview(params(
                body,
                "credentialManagement",
            )?)),
            Command::Selection => no_params(Self::Selection),
            Command::LargeBlobs => Ok(Self::LargeBlobs(params(body, "largeBlobs")?)),
            Command::Config => Ok(Self::Config(params(body, "authenticatorConfig")?)),
            Command::BioEnrollment | Command::BioEnrollmentPreview => {
                Err(Error::InvalidCommand(code))
            }
        }
    }

    /// Encodes `command byte ‖ canonical CBOR parameters`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.command() as u8];
        let body = match self {
            Self::MakeCredential(r) => Some(r.to_value()),
            Self::GetAssertion(r) => Some(r.to_value()),
            Self::ClientPin(r) => Some(r.to_value()),
            Self::CredentialManagement(r) | Self::CredentialManagementPreview(r) => {
                Some(r.to_value())
            }
            Self::LargeBlobs(r) => Some(r.to_value()),
            Self::Config(r) => Some(r.to_value()),
            Self::GetInfo | Self::Reset | Self::GetNextAssertion | Self::Selection => None,
        };
        if let Some(body) = body {
            cbor::encode_into(&body, &mut out);
        }
        out
    }
}

/// A successful CTAP2 response body, by command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// authenticatorMakeCredential.
    MakeCredential(MakeCredentialResponse),
    /// authenticatorGetAssertion and authenticatorGetNextAssertion.
    GetAssertion(GetAssertionResponse),
    /// authenticatorGetInfo.
    GetInfo(GetInfoResponse),
    /// authenticatorClientPIN.
    ClientPin(ClientPinResponse),
    /// authenticatorCredentialManagement.
    CredentialManagement(CredentialManagementResponse),
    /// authenticatorLargeBlobs.
    LargeBlobs(LargeBlobsResponse),
    /// Commands that answer with no body (reset, selection, config, setPIN, ...).
    Empty,
}

impl Response {
    /// Encodes `0x00 ‖ canonical CBOR` (no CBOR for [`Response::Empty`] or an empty map).
    pub fn encode(&self) -> Vec<u8> {
        let body = match self {
            Self::MakeCredential(r) => r.to_value(),
            Self::GetAssertion(r) => r.to_value(),
            Self::GetInfo(r) => r.to_value(),
            Self::ClientPin(r) => r.to_value(),
            Self::CredentialManagement(r) => r.to_value(),
            Self::LargeBlobs(r) => r.to_value(),
            Self::Empty => Value::Map(Vec::new()),
        };
        let mut out = vec![u8::from(StatusCode::Ok)];
        if body.as_map().is_some_and(|m| !m.is_empty()) {
            cbor::encode_into(&body, &mut out);
        }
        out
    }
}

/// Encodes an error response: the status byte alone.
pub fn encode_error(status: StatusCode) -> Vec<u8> {
    vec![u8::from(status)]
}

/// Decodes `status byte ‖ CBOR` into `T`: a non-zero status is [`ResponseError::Status`], an
/// empty body decodes as an empty map (so all-optional responses default). The body must be
/// canonical CBOR.
pub fn decode_response<T: FromValue>(message: &[u8]) -> Result<T, ResponseError> {
    decode_response_with(message, cbor::decode)
}

/// Like [`decode_response`], but reads the body with [`cbor::decode_lenient`]: for
/// authenticators that emit unsorted map keys or non-shortest integers. Byte strings such as
/// `authData` are kept exactly as received, so signatures over them still verify.
pub fn decode_response_lenient<T: FromValue>(message: &[u8]) -> Result<T, ResponseError> {
    decode_response_with(message, cbor::decode_lenient)
}

fn decode_response_with<T: FromValue>(
    message: &[u8],
    decode: fn(&[u8]) -> Result<Value, Error>,
) -> Result<T, ResponseError> {
    let (&status, body) = message
        .split_first()
        .ok_or(ResponseError::Malformed(Error::EmptyMessage))?;
    let status = StatusCode::from(status);
    if !status.is_ok() {
        return Err(ResponseError::Status(status));
    }
    let value = if body.is_empty() {
        Value::Map(Vec::new())
    } else {
        decode(body)?
    };
    Ok(T::from_value(value, "response")?)
}
