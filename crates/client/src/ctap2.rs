//! Typed CTAP2 calls over any [`Device`] (CTAP 2.1 §6): encode the request with `latchkey-ctap`,
//! send it, split the status byte from the body, decode the body.

use latchkey_ctap::cbor::FromValue;
use latchkey_ctap::command::{
    decode_response, ClientPinRequest, ClientPinResponse, CredentialManagementRequest,
    CredentialManagementResponse, GetAssertionRequest, GetAssertionResponse, GetInfoResponse,
    LargeBlobsRequest, LargeBlobsResponse, MakeCredentialRequest, MakeCredentialResponse, Request,
};
use latchkey_ctap::error::ResponseError;
use latchkey_ctap::status::StatusCode;

use crate::device::{Device, DeviceError, KeepaliveStatus};

/// Why a CTAP2 call failed, by who is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CtapError {
    /// The device did not answer (gone, garbage framing, timeout, cancelled).
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The authenticator answered with a non-zero status (CTAP 2.1 §8.2).
    #[error("the authenticator answered {0}")]
    Status(StatusCode),
    /// The authenticator answered `CTAP2_OK` with a body that is not the response it should be.
    #[error("the authenticator sent a malformed response: {0}")]
    Malformed(latchkey_ctap::error::Error),
}

impl CtapError {
    /// The CTAP status, if the authenticator answered with one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status(s) => Some(*s),
            _ => None,
        }
    }
}

impl From<ResponseError> for CtapError {
    fn from(e: ResponseError) -> Self {
        match e {
            ResponseError::Status(s) => Self::Status(s),
            ResponseError::Malformed(e) => Self::Malformed(e),
            // A future variant: treat it as a malformed answer.
            #[allow(unreachable_patterns)] // ResponseError is #[non_exhaustive]
            _ => Self::Malformed(latchkey_ctap::error::Error::EmptyMessage),
        }
    }
}

/// Sends `request` and decodes the answer as `T`.
pub fn call<T: FromValue>(
    device: &mut dyn Device,
    request: &Request,
    status: &mut dyn FnMut(KeepaliveStatus),
) -> Result<T, CtapError> {
    let answer = device.cbor(&request.encode(), status)?;
    Ok(decode_response::<T>(&answer)?)
}

/// Sends `request` and only checks the status (setPIN, selection, largeBlobs set, …).
pub fn call_empty(
    device: &mut dyn Device,
    request: &Request,
    status: &mut dyn FnMut(KeepaliveStatus),
) -> Result<(), CtapError> {
    let answer = device.cbor(&request.encode(), status)?;
    let (&code, _) = answer.split_first().ok_or(CtapError::Malformed(
        latchkey_ctap::error::Error::EmptyMessage,
    ))?;
    match StatusCode::from(code) {
        StatusCode::Ok => Ok(()),
        other => Err(CtapError::Status(other)),
    }
}

fn quiet(_: KeepaliveStatus) {}

/// The longest request the authenticator takes: its getInfo maxMsgSize (CTAP 2.1 §6.4), or
/// 1024 bytes when it does not say, the size a CTAP2 platform assumes then.
pub fn max_msg_size(info: &GetInfoResponse) -> usize {
    info.max_msg_size
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(1024)
}

/// Whether `request` (command byte and parameters) fits the authenticator's maxMsgSize.
pub fn fits(info: &GetInfoResponse, request: &Request) -> bool {
    request.encode().len() <= max_msg_size(info)
}

/// Refuses, before sending it, a request the authenticator would refuse as too long.
pub fn ensure_fits(
    info: &GetInfoResponse,
    request: &Request,
) -> Result<(), latchkey_webauthn::WebAuthnError> {
    let len = request.encode().len();
    let max = max_msg_size(info);
    if len > max {
        return Err(latchkey_webauthn::WebAuthnError::not_allowed(format!(
            "the request is {len} bytes, and the authenticator takes at most {max} (maxMsgSize)"
        )));
    }
    Ok(())
}

/// authenticatorGetInfo (CTAP 2.1 §6.4); the kept answer on a device that keeps it
/// ([`crate::kept`]).
pub fn get_info(device: &mut dyn Device) -> Result<GetInfoResponse, CtapError> {
    if let Some(info) = device.kept().and_then(|k| k.info().cloned()) {
        return Ok(info);
    }
    let info: GetInfoResponse = call(device, &Request::GetInfo, &mut quiet)?;
    if let Some(kept) = device.kept() {
        kept.keep_info(&info);
    }
    Ok(info)
}

/// authenticatorMakeCredential (CTAP 2.1 §6.1).
pub fn make_credential(
    device: &mut dyn Device,
    request: MakeCredentialRequest,
    status: &mut dyn FnMut(KeepaliveStatus),
) -> Result<MakeCredentialResponse, CtapError> {
    call(device, &Request::MakeCredential(request), status)
}

/// authenticatorGetAssertion (CTAP 2.1 §6.2).
pub fn get_assertion(
    device: &mut dyn Device,
    request: GetAssertionRequest,
    status: &mut dyn FnMut(KeepaliveStatus),
) -> Result<GetAssertionResponse, CtapError> {
    call(device, &Request::GetAssertion(request), status)
}

/// authenticatorGetNextAssertion (CTAP 2.1 §6.3).
pub fn get_next_assertion(device: &mut dyn Device) -> Result<GetAssertionResponse, CtapError> {
    call(device, &Request::GetNextAssertion, &mut quiet)
}

/// authenticatorClientPIN (CTAP 2.1 §6.5).
pub fn client_pin(
    device: &mut dyn Device,
    request: ClientPinRequest,
) -> Result<ClientPinResponse, CtapError> {
    call(device, &Request::ClientPin(request), &mut quiet)
}

/// authenticatorCredentialManagement (CTAP 2.1 §6.8).
pub fn credential_management(
    device: &mut dyn Device,
    request: CredentialManagementRequest,
) -> Result<CredentialManagementResponse, CtapError> {
    call(device, &Request::CredentialManagement(request), &mut quiet)
}

/// authenticatorLargeBlobs (CTAP 2.1 §6.10).
pub fn large_blobs(
    device: &mut dyn Device,
    request: LargeBlobsRequest,
) -> Result<LargeBlobsResponse, CtapError> {
    call(device, &Request::LargeBlobs(request), &mut quiet)
}

/// authenticatorSelection (CTAP 2.1 §6.9): waits for a touch.
pub fn selection(
    device: &mut dyn Device,
    status: &mut dyn FnMut(KeepaliveStatus),
) -> Result<(), CtapError> {
    call_empty(device, &Request::Selection, status)
}
