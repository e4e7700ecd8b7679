//! The platform side of clientPIN (CTAP 2.1 §6.5): key agreement, setting and changing a PIN,
//! and getting a pinUvAuthToken with permissions, with retries and blocking reported.

use latchkey_ctap::command::{ClientPinRequest, GetInfoResponse};
use latchkey_ctap::cose::P256Point;
use latchkey_ctap::pin::{self, Permissions, PinUvAuthProtocol, SharedSecret};
use latchkey_ctap::status::StatusCode;
use latchkey_webauthn::WebAuthnError;
use zeroize::Zeroizing;

use crate::ctap2::{self, CtapError};
use crate::device::Device;
use crate::error::{status_to_webauthn, to_webauthn, Declined, Step};
use crate::platform::SystemRng;
use crate::ui::{CeremonyUi, Pin, PinReason, PinRequest, Status};

/// The longest PIN in bytes (CTAP 2.1 §6.5.5.5: 63 bytes, padded to 64).
pub const MAX_PIN_BYTES: usize = pin::MAX_PIN_LEN;

/// A shared secret with the authenticator (CTAP 2.1 §6.5.4 `encapsulate`), and the platform
/// key-agreement public key that goes with every message under it.
#[derive(Clone)]
pub struct Session {
    /// The protocol.
    pub protocol: PinUvAuthProtocol,
    /// The platform's public key, sent as `keyAgreement`.
    pub platform_key: P256Point,
    secret: SharedSecret,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

fn bad_crypto(what: &str) -> WebAuthnError {
    WebAuthnError::not_allowed(format!("the PIN protocol failed: {what}"))
}

impl Session {
    /// clientPIN getKeyAgreement, then ECDH with a fresh platform key — or, on a device that
    /// keeps its key agreement ([`crate::kept`]), the kept session when the authenticator's key
    /// is still the one it was agreed with.
    pub fn establish(
        device: &mut dyn Device,
        protocol: PinUvAuthProtocol,
    ) -> Result<Self, WebAuthnError> {
        let answer = ctap2::client_pin(device, ClientPinRequest::GetKeyAgreement { protocol })
            .map_err(|e| to_webauthn(Step::Pin, &e))?;
        let peer = answer.key_agreement.ok_or_else(|| {
            WebAuthnError::not_allowed("the authenticator sent no key-agreement key")
        })?;
        if let Some(session) = device.kept().and_then(|k| k.session(protocol, &peer)) {
            return Ok(session);
        }
        let mut rng = |buf: &mut [u8]| latchkey_authenticator::env::Rng::fill(&mut SystemRng, buf);
        let (platform_key, secret) = pin::encapsulate(protocol, &peer, &mut rng)
            .map_err(|e| bad_crypto(&format!("key agreement failed: {e}")))?;
        let session = Self {
            protocol,
            platform_key,
            secret,
        };
        if let Some(kept) = device.kept() {
            kept.keep_session(peer, &session);
        }
        Ok(session)
    }

    /// `encrypt(sharedSecret, plaintext)`; the plaintext is a multiple of 16 bytes.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, WebAuthnError> {
        let mut rng = |buf: &mut [u8]| latchkey_authenticator::env::Rng::fill(&mut SystemRng, buf);
        self.secret
            .encrypt(&mut rng, plaintext)
            .map_err(|_| bad_crypto("encryption failed"))
    }

    /// `decrypt(sharedSecret, ciphertext)`.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, WebAuthnError> {
        self.secret
            .decrypt(ciphertext)
            .map_err(|_| bad_crypto("the authenticator's ciphertext does not decrypt"))
    }

    /// `authenticate(sharedSecret, message)`.
    pub fn authenticate(&self, message: &[u8]) -> Vec<u8> {
        self.secret.authenticate(message)
    }
}

/// A pinUvAuthToken (CTAP 2.1 §6.5.2), and the session it came over.
pub struct Token {
    token: Zeroizing<Vec<u8>>,
    /// The session the token was sent over (reused for hmac-secret).
    pub session: Session,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Decrypts the `pinUvAuthToken` the authenticator sent over `session`.
    pub(crate) fn decrypt(session: Session, encrypted: &[u8]) -> Result<Self, WebAuthnError> {
        let token = session.decrypt(encrypted)?;
        Ok(Self { token, session })
    }

    /// The protocol.
    pub fn protocol(&self) -> PinUvAuthProtocol {
        self.session.protocol
    }

    /// `authenticate(pinUvAuthToken, message)`: a `pinUvAuthParam`.
    pub fn authenticate(&self, message: &[u8]) -> Vec<u8> {
        pin::authenticate(self.session.protocol, &self.token, message)
    }
}

/// The protocol to use: 2 if the authenticator lists it, else 1 (CTAP 2.1 §6.5.4).
pub fn preferred_protocol(info: &GetInfoResponse) -> PinUvAuthProtocol {
    match &info.pin_uv_auth_protocols {
        Some(list) if list.contains(&2) => PinUvAuthProtocol::Two,
        Some(list) if list.contains(&1) => PinUvAuthProtocol::One,
        Some(_) => PinUvAuthProtocol::Two,
        None => PinUvAuthProtocol::One,
    }
}

/// Whether the authenticator knows permissions (CTAP 2.1 `pinUvAuthToken` option).
pub fn supports_permissions(info: &GetInfoResponse) -> bool {
    info.option("pinUvAuthToken") == Some(true) || info.versions.iter().any(|v| v == "FIDO_2_1")
}

/// clientPIN getPinRetries.
pub fn pin_retries(device: &mut dyn Device) -> Result<Option<u64>, CtapError> {
    Ok(ctap2::client_pin(device, ClientPinRequest::GetPinRetries { protocol: None })?.pin_retries)
}

fn left16_sha256(pin: &[u8]) -> Zeroizing<[u8; 16]> {
    Zeroizing::new(pin::pin_hash(pin))
}

fn padded(pin: &Pin) -> Result<Zeroizing<[u8; pin::PADDED_PIN_LEN]>, WebAuthnError> {
    pin::pad_pin(pin.as_bytes()).map_err(|_| {
        WebAuthnError::not_allowed(format!(
            "the PIN must be 1 to {MAX_PIN_BYTES} bytes long, without NUL characters"
        ))
    })
}

pub(crate) fn min_pin_length(info: &GetInfoResponse) -> u64 {
    info.min_pin_length.unwrap_or(4)
}

fn check_new_pin(info: &GetInfoResponse, pin: &Pin) -> Result<(), WebAuthnError> {
    let min = min_pin_length(info);
    if (pin.code_points() as u64) < min {
        return Err(WebAuthnError::not_allowed(format!(
            "the new PIN is too short: at least {min} characters are needed"
        )));
    }
    Ok(())
}

/// clientPIN setPIN (CTAP 2.1 §6.5.5.5).
pub fn set_pin(
    device: &mut dyn Device,
    info: &GetInfoResponse,
    pin: &Pin,
) -> Result<(), WebAuthnError> {
    check_new_pin(info, pin)?;
    let session = Session::establish(device, preferred_protocol(info))?;
    let new_pin_enc = session.encrypt(padded(pin)?.as_slice())?;
    let request = ClientPinRequest::SetPin {
        protocol: session.protocol,
        key_agreement: session.platform_key,
        pin_uv_auth_param: session.authenticate(&new_pin_enc),
        new_pin_enc,
    };
    ctap2::client_pin(device, request).map_err(|e| to_webauthn(Step::Pin, &e))?;
    Ok(())
}

/// clientPIN changePIN (CTAP 2.1 §6.5.5.6).
pub fn change_pin(
    device: &mut dyn Device,
    info: &GetInfoResponse,
    current: &Pin,
    new: &Pin,
) -> Result<(), WebAuthnError> {
    change(device, info, current, new)?.map_err(|e| to_webauthn(Step::Pin, &e))
}

/// changePIN, with the authenticator's refusal kept apart from local failures.
pub(crate) fn change(
    device: &mut dyn Device,
    info: &GetInfoResponse,
    current: &Pin,
    new: &Pin,
) -> Result<Result<(), CtapError>, WebAuthnError> {
    check_new_pin(info, new)?;
    let session = Session::establish(device, preferred_protocol(info))?;
    let pin_hash_enc = session.encrypt(left16_sha256(current.as_bytes()).as_slice())?;
    let new_pin_enc = session.encrypt(padded(new)?.as_slice())?;
    let message = pin::change_pin_message(&new_pin_enc, &pin_hash_enc);
    let request = ClientPinRequest::ChangePin {
        protocol: session.protocol,
        key_agreement: session.platform_key,
        pin_uv_auth_param: session.authenticate(&message),
        pin_hash_enc,
        new_pin_enc,
    };
    Ok(ctap2::client_pin(device, request).map(|_| ()))
}

/// One attempt: getPinUvAuthTokenUsingPinWithPermissions (or getPinToken on a CTAP 2.0 device).
pub(crate) fn token_with_pin(
    device: &mut dyn Device,
    info: &GetInfoResponse,
    pin: &Pin,
    permissions: Permissions,
    rp_id: Option<&str>,
) -> Result<Result<Token, CtapError>, WebAuthnError> {
    let session = Session::establish(device, preferred_protocol(info))?;
    let pin_hash_enc = session.encrypt(left16_sha256(pin.as_bytes()).as_slice())?;
    let request = if supports_permissions(info) {
        ClientPinRequest::GetPinUvAuthTokenUsingPinWithPermissions {
            protocol: session.protocol,
            key_agreement: session.platform_key,
            pin_hash_enc,
            permissions,
            rp_id: rp_id.map(str::to_owned),
        }
    } else {
        ClientPinRequest::GetPinToken {
            protocol: session.protocol,
            key_agreement: session.platform_key,
            pin_hash_enc,
        }
    };
    match ctap2::client_pin(device, request) {
        Ok(answer) => {
            let encrypted = answer.pin_uv_auth_token.ok_or_else(|| {
                WebAuthnError::not_allowed("the authenticator sent no pinUvAuthToken")
            })?;
            let token = session.decrypt(&encrypted)?;
            Ok(Ok(Token { token, session }))
        }
        Err(e) => Ok(Err(e)),
    }
}

/// What [`obtain`] needs to know.
#[derive(Debug, Clone, Copy)]
pub struct TokenRequest<'a> {
    /// The permissions to ask for.
    pub permissions: Permissions,
    /// The RP ID to bind the token to.
    pub rp_id: Option<&'a str>,
    /// Set a PIN first if none is set (first use of the platform authenticator).
    pub set_if_unset: bool,
}

/// Gets a pinUvAuthToken with the user's PIN: sets one first if none is set and
/// `set_if_unset`; changes it first if the authenticator requires that (`forcePINChange`, see
/// [`crate::pin_policy`]); asks again after a wrong PIN, telling the retries left; fails with a
/// clear `NotAllowedError` once the PIN is blocked.
pub fn obtain(
    device: &mut dyn Device,
    info: &mut GetInfoResponse,
    ui: &mut dyn CeremonyUi,
    request: TokenRequest<'_>,
) -> Result<Token, WebAuthnError> {
    let name = device.info().name;
    if info.option("clientPin") != Some(true) {
        if !(request.set_if_unset && info.option("clientPin") == Some(false)) {
            return Err(WebAuthnError::not_allowed(
                "the authenticator cannot verify the user: it has no PIN set",
            ));
        }
        let pin = ui
            .pin(&PinRequest {
                reason: PinReason::New,
                retries_left: None,
                min_length: min_pin_length(info),
                device: name.clone(),
            })
            .map_err(|_| {
                crate::error::declined(Declined::NewPin, "the user did not choose a PIN")
            })?;
        set_pin(device, info, &pin)?;
        ui.status(Status::PinSet);
        *info = ctap2::get_info(device).map_err(|e| to_webauthn(Step::Info, &e))?;
        return match token_with_pin(device, info, &pin, request.permissions, request.rp_id)? {
            Ok(token) => Ok(token),
            Err(e) => Err(to_webauthn(Step::Pin, &e)),
        };
    }
    if crate::pin_policy::change_required(info) {
        let pin = crate::pin_policy::forced_change(device, info, ui, None)?;
        return token_with_pin(device, info, &pin, request.permissions, request.rp_id)?
            .map_err(|e| to_webauthn(Step::Pin, &e));
    }
    let mut reason = PinReason::Verify;
    loop {
        let retries_left = match pin_retries(device) {
            Ok(r) => r,
            Err(e) => return Err(to_webauthn(Step::Pin, &e)),
        };
        if retries_left == Some(0) {
            return Err(status_to_webauthn(Step::Pin, StatusCode::PinBlocked));
        }
        let pin = ui
            .pin(&PinRequest {
                reason,
                retries_left,
                min_length: min_pin_length(info),
                device: name.clone(),
            })
            .map_err(|_| crate::error::declined(Declined::Pin, "the user did not enter the PIN"))?;
        match token_with_pin(device, info, &pin, request.permissions, request.rp_id)? {
            Ok(token) => return Ok(token),
            Err(CtapError::Status(StatusCode::PinInvalid)) => reason = PinReason::Retry,
            // The PIN was right, but the key wants it changed first (its getInfo said so only
            // now): change it from the PIN just entered.
            Err(CtapError::Status(StatusCode::PinPolicyViolation)) => {
                *info = ctap2::get_info(device).map_err(|e| to_webauthn(Step::Info, &e))?;
                if !crate::pin_policy::change_required(info) {
                    return Err(status_to_webauthn(
                        Step::Pin,
                        StatusCode::PinPolicyViolation,
                    ));
                }
                let pin = crate::pin_policy::forced_change(device, info, ui, Some(pin))?;
                return token_with_pin(device, info, &pin, request.permissions, request.rp_id)?
                    .map_err(|e| to_webauthn(Step::Pin, &e));
            }
            Err(e) => return Err(to_webauthn(Step::Pin, &e)),
        }
    }
}
