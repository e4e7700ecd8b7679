//! A pinUvAuthToken from the authenticator's built-in user verification — a fingerprint reader —
//! instead of the PIN (CTAP 2.1 §6.5.5.7.3 getPinUvAuthTokenUsingUvWithPermissions, §6.5.5.3
//! getUVRetries), with the fall-back to the PIN that §6.5.2.2 foresees once built-in UV is
//! blocked.
//!
//! The platform asks up to `preferredPlatformUvAttempts` times (each call is then one attempt on
//! the key); after a finger that was not recognised (`CTAP2_ERR_UV_INVALID`) it reads uvRetries
//! and tells the user how many attempts are left. Built-in UV blocked (`UV_BLOCKED`), PIN retries
//! blocked for this power cycle (`PIN_AUTH_BLOCKED`), UV not set up (`NOT_ALLOWED`) or the
//! attempts used up: the PIN takes over if the key has one.

use latchkey_ctap::command::{ClientPinRequest, GetInfoResponse};
use latchkey_ctap::status::StatusCode;
use latchkey_webauthn::WebAuthnError;

use crate::ctap2::{self, CtapError};
use crate::device::Device;
use crate::error::{to_webauthn, Step};
use crate::pinuv::{self, Session, Token, TokenRequest};
use crate::ui::{CeremonyUi, UvReason, UvRequest};

/// The most getPinUvAuthTokenUsingUvWithPermissions calls per token, whatever the key prefers
/// (maxUvRetries is at most 25, §6.5.2.2).
pub const MAX_PLATFORM_UV_ATTEMPTS: u64 = 25;

/// clientPIN getUVRetries (§6.5.5.3).
pub fn uv_retries(device: &mut dyn Device) -> Result<Option<u64>, CtapError> {
    Ok(ctap2::client_pin(device, ClientPinRequest::GetUvRetries)?.uv_retries)
}

/// One attempt: getPinUvAuthTokenUsingUvWithPermissions.
fn token_with_uv(
    device: &mut dyn Device,
    info: &GetInfoResponse,
    request: &TokenRequest<'_>,
) -> Result<Result<Token, CtapError>, WebAuthnError> {
    let session = Session::establish(device, pinuv::preferred_protocol(info))?;
    let ask = ClientPinRequest::GetPinUvAuthTokenUsingUvWithPermissions {
        protocol: session.protocol,
        key_agreement: session.platform_key,
        permissions: request.permissions,
        rp_id: request.rp_id.map(str::to_owned),
    };
    match ctap2::client_pin(device, ask) {
        Ok(answer) => {
            let encrypted = answer.pin_uv_auth_token.ok_or_else(|| {
                WebAuthnError::not_allowed("the authenticator sent no pinUvAuthToken")
            })?;
            Ok(Ok(Token::decrypt(session, &encrypted)?))
        }
        Err(e) => Ok(Err(e)),
    }
}

/// Gets a pinUvAuthToken by built-in user verification, falling back to the PIN (through
/// [`pinuv::obtain`]) when built-in UV is blocked or gives up and the key has a PIN.
pub fn obtain(
    device: &mut dyn Device,
    info: &mut GetInfoResponse,
    ui: &mut dyn CeremonyUi,
    request: TokenRequest<'_>,
) -> Result<Token, WebAuthnError> {
    match attempts(device, info, ui, &request)? {
        Some(token) => Ok(token),
        None if info.option("clientPin") == Some(true) => pinuv::obtain(device, info, ui, request),
        None => Err(WebAuthnError::not_allowed(
            "the authenticator did not recognise the user, and it has no PIN to use instead",
        )),
    }
}

/// The built-in attempts: a token, or `None` once built-in UV is blocked, not set up, or the
/// attempts are used up (the PIN may take over then).
fn attempts(
    device: &mut dyn Device,
    info: &GetInfoResponse,
    ui: &mut dyn CeremonyUi,
    request: &TokenRequest<'_>,
) -> Result<Option<Token>, WebAuthnError> {
    let name = device.info().name;
    let limit = info
        .preferred_platform_uv_attempts
        .unwrap_or(1)
        .clamp(1, MAX_PLATFORM_UV_ATTEMPTS);
    let mut reason = UvReason::Verify;
    let mut retries_left = None;
    for _ in 0..limit {
        ui.user_verification(&UvRequest {
            reason,
            retries_left,
            device: name.clone(),
        });
        match token_with_uv(device, info, request)? {
            Ok(token) => return Ok(Some(token)),
            Err(CtapError::Status(StatusCode::UvInvalid)) => {
                // The count is only told to the user: a key that fails getUVRetries is tried
                // again with the attempts left unknown.
                retries_left = uv_retries(device).ok().flatten();
                if retries_left == Some(0) {
                    return Ok(None);
                }
                reason = UvReason::Retry;
            }
            Err(CtapError::Status(
                StatusCode::UvBlocked
                | StatusCode::PinAuthBlocked
                | StatusCode::PinBlocked
                | StatusCode::NotAllowed,
            )) => return Ok(None),
            Err(e) => return Err(to_webauthn(Step::UserVerification, &e)),
        }
    }
    Ok(None)
}
