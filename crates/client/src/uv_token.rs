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
use latchkey_ctap::pin::Permissions;
use latchkey_ctap::status::StatusCode;
use latchkey_webauthn::WebAuthnError;

use crate::ctap2::{self, CtapError};
use crate::device::Device;
use crate::error::{to_webauthn, Step};
use crate::pin_policy;
use crate::pinuv::{self, Session, Token, TokenRequest};
use crate::ui::{BuiltInUvEnd, CeremonyUi, UvReason, UvRequest};

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

/// How the built-in attempts ended.
enum Outcome {
    /// A token.
    Token(Token),
    /// No token.
    Ended(BuiltInUvEnd),
}

/// Gets a pinUvAuthToken by built-in user verification, falling back to the PIN (through
/// [`pinuv::obtain`]) when built-in UV is blocked or gives up and the key has a PIN. A key with
/// `noMcGaPermissionsWithClientPin` gives mc and ga to built-in UV only: there the PIN only
/// unblocks the built-in method ([`pin_policy::unblock_built_in_uv`]), which is tried again.
pub fn obtain(
    device: &mut dyn Device,
    info: &mut GetInfoResponse,
    ui: &mut dyn CeremonyUi,
    request: TokenRequest<'_>,
) -> Result<Token, WebAuthnError> {
    let pin_set = info.option("clientPin") == Some(true);
    let mc_ga = Permissions::MAKE_CREDENTIAL | Permissions::GET_ASSERTION;
    let built_in_only = pin_policy::no_mc_ga_with_pin(info) && request.permissions.0 & mc_ga.0 != 0;
    // An earlier run of this ceremony already made the attempts and stopped at the PIN.
    let first = match ui.earlier_built_in_uv_end() {
        Some(end) => Outcome::Ended(end),
        None => attempts(device, info, ui, &request)?,
    };
    if let Outcome::Ended(end) = first {
        ui.built_in_uv_ended(end);
    }
    match first {
        Outcome::Token(token) => Ok(token),
        Outcome::Ended(BuiltInUvEnd::Blocked) if built_in_only && pin_set => {
            pin_policy::unblock_built_in_uv(device, info, ui)?;
            match attempts(device, info, ui, &request)? {
                Outcome::Token(token) => Ok(token),
                _ => Err(not_recognised()),
            }
        }
        _ if built_in_only => Err(not_recognised()),
        _ if pin_set => pinuv::obtain(device, info, ui, request),
        _ => Err(WebAuthnError::not_allowed(
            "the authenticator did not recognise the user, and it has no PIN to use instead",
        )),
    }
}

fn not_recognised() -> WebAuthnError {
    WebAuthnError::not_allowed(
        "the authenticator did not recognise the user, and it verifies users for this only by its built-in method",
    )
}

/// The built-in attempts: a token, or why there is none (the PIN may take over then).
fn attempts(
    device: &mut dyn Device,
    info: &GetInfoResponse,
    ui: &mut dyn CeremonyUi,
    request: &TokenRequest<'_>,
) -> Result<Outcome, WebAuthnError> {
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
            Ok(token) => return Ok(Outcome::Token(token)),
            Err(CtapError::Status(StatusCode::UvInvalid)) => {
                // The count is only told to the user: a key that fails getUVRetries is tried
                // again with the attempts left unknown.
                retries_left = uv_retries(device).ok().flatten();
                if retries_left == Some(0) {
                    return Ok(Outcome::Ended(BuiltInUvEnd::Blocked));
                }
                reason = UvReason::Retry;
            }
            Err(CtapError::Status(StatusCode::UvBlocked)) => {
                return Ok(Outcome::Ended(BuiltInUvEnd::Blocked))
            }
            Err(CtapError::Status(
                StatusCode::PinAuthBlocked | StatusCode::PinBlocked | StatusCode::NotAllowed,
            )) => return Ok(Outcome::Ended(BuiltInUvEnd::GaveUp)),
            Err(e) => return Err(to_webauthn(Step::UserVerification, &e)),
        }
    }
    Ok(Outcome::Ended(BuiltInUvEnd::GaveUp))
}
