//! PIN rules a key announces in getInfo (CTAP 2.1 §6.4), on the platform's side:
//!
//! - `forcePINChange`: the key issues no token until its PIN is changed (§6.5.5.7.1 step 11,
//!   §6.5.5.7.2 step 11). The platform asks for the current and a new PIN before the ceremony,
//!   changes it (§6.5.5.6), and goes on with the new one.
//! - `noMcGaPermissionsWithClientPin`: tokens for makeCredential and getAssertion come from
//!   built-in user verification only. The PIN still restores a blocked built-in method (a right
//!   PIN resets uvRetries, §6.5.2.2): the platform proves it through a token with a permission
//!   the key grants from the PIN, then asks for the finger again.

use latchkey_ctap::command::GetInfoResponse;
use latchkey_ctap::pin::Permissions;
use latchkey_ctap::status::StatusCode;
use latchkey_webauthn::WebAuthnError;

use crate::ctap2::{self, CtapError};
use crate::device::Device;
use crate::error::{status_to_webauthn, to_webauthn, Declined, Step};
use crate::pinuv::{self, Token};
use crate::ui::{CeremonyUi, Pin, PinReason, PinRequest, Status};

/// Whether the key wants its PIN changed before it issues a token.
pub fn change_required(info: &GetInfoResponse) -> bool {
    info.force_pin_change == Some(true) && info.option("clientPin") == Some(true)
}

/// Whether the key gives mc and ga only to tokens from built-in user verification.
pub fn no_mc_ga_with_pin(info: &GetInfoResponse) -> bool {
    info.option("noMcGaPermissionsWithClientPin") == Some(true)
}

/// Changes the PIN the key requires changed: asks for the current PIN (unless `current` is
/// already known to be right) and a new one, and sends changePIN; a wrong current PIN is asked
/// again with the retries left. Refreshes `info` and returns the new PIN, with which the token is
/// then asked for, without a third prompt.
pub fn forced_change(
    device: &mut dyn Device,
    info: &mut GetInfoResponse,
    ui: &mut dyn CeremonyUi,
    mut current: Option<Pin>,
) -> Result<Pin, WebAuthnError> {
    let name = device.info().name;
    let min_length = pinuv::min_pin_length(info);
    let mut reason = PinReason::ChangeRequired;
    let mut new: Option<Pin> = None;
    loop {
        let old = match current.take() {
            Some(pin) => pin,
            None => {
                let retries_left =
                    pinuv::pin_retries(device).map_err(|e| to_webauthn(Step::Pin, &e))?;
                if retries_left == Some(0) {
                    return Err(status_to_webauthn(Step::Pin, StatusCode::PinBlocked));
                }
                ui.pin(&PinRequest {
                    reason,
                    retries_left,
                    min_length,
                    device: name.clone(),
                })
                .map_err(|_| {
                    crate::error::declined(Declined::Pin, "the user did not enter the PIN")
                })?
            }
        };
        let replacement = match new.take() {
            Some(pin) => pin,
            None => ui
                .pin(&PinRequest {
                    reason: PinReason::New,
                    retries_left: None,
                    min_length,
                    device: name.clone(),
                })
                .map_err(|_| {
                    crate::error::declined(Declined::NewPin, "the user did not choose a new PIN")
                })?,
        };
        match pinuv::change(device, info, &old, &replacement)? {
            Ok(()) => {
                ui.status(Status::PinSet);
                *info = ctap2::get_info(device).map_err(|e| to_webauthn(Step::Info, &e))?;
                return Ok(replacement);
            }
            Err(CtapError::Status(StatusCode::PinInvalid)) => {
                reason = PinReason::Retry;
                new = Some(replacement);
            }
            Err(CtapError::Status(StatusCode::PinPolicyViolation)) => {
                return Err(WebAuthnError::not_allowed(
                    "the authenticator refused the new PIN: it must differ from the current one and meet the authenticator's rules",
                ))
            }
            Err(e) => return Err(to_webauthn(Step::Pin, &e)),
        }
    }
}

/// A permission the key grants to a PIN token without mc or ga (to prove the PIN), if any.
fn pin_only_permission(info: &GetInfoResponse) -> Option<Permissions> {
    [
        ("credMgmt", Permissions::CREDENTIAL_MANAGEMENT),
        ("authnrCfg", Permissions::AUTHENTICATOR_CONFIG),
        ("largeBlobs", Permissions::LARGE_BLOB_WRITE),
    ]
    .into_iter()
    .find(|(option, _)| info.option(option) == Some(true))
    .map(|(_, permission)| permission)
}

/// Restores a blocked built-in method with the PIN on a key with
/// `noMcGaPermissionsWithClientPin`: asks for the PIN (again after a wrong one) and gets a token
/// for a permission the key grants from the PIN, which resets uvRetries; the token is dropped.
pub fn unblock_built_in_uv(
    device: &mut dyn Device,
    info: &mut GetInfoResponse,
    ui: &mut dyn CeremonyUi,
) -> Result<(), WebAuthnError> {
    let Some(permission) = pin_only_permission(info) else {
        return Err(WebAuthnError::not_allowed(
            "the authenticator's built-in user verification is blocked, and it offers no way to unblock it with the PIN",
        ));
    };
    let token: Token = pinuv::obtain(
        device,
        info,
        ui,
        pinuv::TokenRequest {
            permissions: permission,
            rp_id: None,
            set_if_unset: false,
        },
    )?;
    drop(token);
    Ok(())
}
