//! U2F-only (CTAP1) authenticators, driven through CTAP 2.1 §10 "Interoperating with CTAP1/U2F
//! authenticators": makeCredential → U2F_REGISTER with a `fido-u2f` attestation statement,
//! getAssertion → U2F_AUTHENTICATE, excludeList / allowList checked with check-only requests,
//! and the `appid` / `appidExclude` extensions (WebAuthn L3 §10.1.1, §10.1.2).

use std::time::{Duration, Instant};

use aws_lc_rs::digest::{digest, SHA256};
use latchkey_ctap::authdata::{
    AttestationObject, AttestationStatement, AttestedCredentialData, AuthenticatorData, Flags,
};
use latchkey_ctap::command::Aaguid;
use latchkey_ctap::cose::{CoseKey, P256Point};
use latchkey_ctap::u2f::{
    AuthenticateControl, AuthenticateRequest, AuthenticateResponse, KeyHandle, RegisterRequest,
    RegisterResponse, Request, ResponseApdu, StatusWord,
};
use latchkey_webauthn::extensions::ctap::{AuthenticationOutcome, RegistrationOutcome};
use latchkey_webauthn::ids::CoseAlgorithm;
use latchkey_webauthn::options::create::{AttestationConveyancePreference, ResidentKeyRequirement};
use latchkey_webauthn::options::UserVerificationRequirement;
use latchkey_webauthn::WebAuthnError;

use crate::device::{Device, DeviceError};
use crate::error::{to_webauthn, Step};
use crate::request::{CreateRequest, GetRequest};
use crate::response::{Assertion, Registration};
use crate::ui::{CeremonyUi, Status};

/// How long a U2F request waiting for a touch is retried.
pub const TOUCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Pause between retries of a request the device answered "touch needed" (6985).
const POLL: Duration = Duration::from_millis(100);

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, data).as_ref());
    out
}

fn send(
    device: &mut dyn Device,
    request: &Request,
    step: Step,
) -> Result<ResponseApdu, WebAuthnError> {
    let answer = device
        .msg(&request.to_bytes())
        .map_err(|e| to_webauthn(step, &e.into()))?;
    ResponseApdu::parse(&answer).ok_or_else(|| {
        to_webauthn(
            step,
            &DeviceError::Garbage(crate::device::Malformed::ShortU2f).into(),
        )
    })
}

/// Sends `request` until the device stops answering "user presence required", reporting that a
/// touch is needed; `Ok(data)` on 9000.
fn with_touch(
    device: &mut dyn Device,
    request: &Request,
    step: Step,
    ui: &mut dyn CeremonyUi,
) -> Result<Vec<u8>, WebAuthnError> {
    let start = Instant::now();
    let cancel = device.cancel_handle();
    let mut told = false;
    loop {
        if cancel.is_cancelled() {
            return Err(to_webauthn(step, &DeviceError::Cancelled.into()));
        }
        let answer = send(device, request, step)?;
        match answer.status {
            StatusWord::NO_ERROR => return Ok(answer.data),
            StatusWord::CONDITIONS_NOT_SATISFIED if start.elapsed() < TOUCH_TIMEOUT => {
                if !told {
                    ui.status(Status::TouchNeeded);
                    told = true;
                }
                std::thread::sleep(POLL);
            }
            StatusWord::CONDITIONS_NOT_SATISFIED => {
                return Err(WebAuthnError::not_allowed(
                    "the security key was not touched in time",
                ))
            }
            other => {
                return Err(WebAuthnError::not_allowed(format!(
                    "the U2F security key answered status {:04X}",
                    other.0
                )))
            }
        }
    }
}

/// Check-only U2F_AUTHENTICATE: whether `id` is a key handle of this device for `application`
/// (6985 means yes, CTAP 2.1 §10.3).
fn holds(
    device: &mut dyn Device,
    application: [u8; 32],
    id: &[u8],
    step: Step,
) -> Result<bool, WebAuthnError> {
    let Ok(key_handle) = KeyHandle::new(id.to_vec()) else {
        return Ok(false);
    };
    let request = Request::Authenticate(AuthenticateRequest {
        control: AuthenticateControl::CheckOnly,
        challenge: [0u8; 32],
        application,
        key_handle,
    });
    Ok(send(device, &request, step)?.status == StatusWord::CONDITIONS_NOT_SATISFIED)
}

/// Registration on a U2F-only device.
pub fn register(
    device: &mut dyn Device,
    request: &CreateRequest,
    ui: &mut dyn CeremonyUi,
) -> Result<Registration, WebAuthnError> {
    let options = &request.options;
    if options.resident_key == ResidentKeyRequirement::Required {
        return Err(WebAuthnError::constraint(
            "a U2F security key cannot store a discoverable credential",
        ));
    }
    if options.user_verification == UserVerificationRequirement::Required {
        return Err(WebAuthnError::not_allowed(
            "a U2F security key cannot verify the user",
        ));
    }
    if !options.algorithms.contains(&CoseAlgorithm(-7)) {
        return Err(WebAuthnError::not_supported(
            "a U2F security key only makes ES256 keys, which pubKeyCredParams does not allow",
        ));
    }
    let application = sha256(request.rp_id.as_bytes());
    let mut excluded_apps = vec![application];
    if let Some(appid) = &options.extensions.appid_exclude {
        excluded_apps.push(sha256(appid.as_bytes()));
    }
    for d in &options.exclude_credentials {
        for app in &excluded_apps {
            if holds(device, *app, d.id.as_bytes(), Step::Preflight)? {
                // The touch the spec requires before saying so (CTAP 2.1 §10.2): a registration
                // for a dummy application, then discarded.
                let dummy = Request::Register(RegisterRequest {
                    challenge: [0u8; 32],
                    application: [0u8; 32],
                });
                with_touch(device, &dummy, Step::MakeCredential, ui)?;
                return Err(WebAuthnError::invalid_state(
                    "the security key already holds a credential from excludeCredentials",
                ));
            }
        }
    }
    let challenge = request.client_data_hash();
    let body = with_touch(
        device,
        &Request::Register(RegisterRequest {
            challenge,
            application,
        }),
        Step::MakeCredential,
        ui,
    )?;
    let answer = RegisterResponse::parse(&body).map_err(|e| {
        WebAuthnError::not_allowed(format!("the U2F registration response is malformed: {e}"))
    })?;
    let point = P256Point::from_sec1(&answer.public_key)
        .ok_or_else(|| WebAuthnError::not_allowed("the U2F public key is not a P-256 point"))?;
    let credential_id = answer.key_handle.as_bytes().to_vec();
    let auth_data = AuthenticatorData {
        rp_id_hash: application,
        flags: Flags(Flags::UP),
        sign_count: 0,
        attested_credential_data: Some(AttestedCredentialData {
            aaguid: Aaguid([0u8; 16]),
            credential_id: credential_id.clone(),
            public_key: CoseKey::Es256(point),
        }),
        extensions: None,
    }
    .to_bytes();
    let att_stmt = match options.attestation {
        AttestationConveyancePreference::None => AttestationStatement::None,
        _ => AttestationStatement::FidoU2f {
            sig: answer.signature,
            x5c: answer.certificate,
        },
    };
    let attestation_object = AttestationObject {
        auth_data: auth_data.clone(),
        att_stmt,
    }
    .to_bytes();
    let outcome = RegistrationOutcome {
        rk: Some(false),
        ..RegistrationOutcome::default()
    };
    let description = device.info();
    Ok(Registration {
        credential_id,
        client_data_json: request.client_data_json.clone(),
        attestation_object,
        authenticator_data: auth_data,
        transports: vec![description.transport.as_webauthn()],
        attachment: description.transport.attachment(),
        extensions: options.extensions.client_outputs(&outcome),
    })
}

/// Authentication on a U2F-only device.
pub fn authenticate(
    device: &mut dyn Device,
    request: &GetRequest,
    ui: &mut dyn CeremonyUi,
) -> Result<Assertion, WebAuthnError> {
    let options = &request.options;
    if options.allow_credentials.is_empty() {
        return Err(WebAuthnError::not_allowed(
            "a U2F security key has no discoverable credentials: allowCredentials is needed",
        ));
    }
    if options.user_verification == UserVerificationRequirement::Required {
        return Err(WebAuthnError::not_allowed(
            "a U2F security key cannot verify the user",
        ));
    }
    let rp_app = sha256(request.rp_id.as_bytes());
    let mut apps = vec![(rp_app, false)];
    if let Some(appid) = &options.extensions.appid {
        apps.push((sha256(appid.as_bytes()), true));
    }
    let mut found = None;
    'search: for (app, via_appid) in &apps {
        for d in &options.allow_credentials {
            if holds(device, *app, d.id.as_bytes(), Step::Preflight)? {
                found = Some((*app, *via_appid, d.id.as_bytes().to_vec()));
                break 'search;
            }
        }
    }
    let Some((application, appid_used, credential_id)) = found else {
        return Err(WebAuthnError::not_allowed(
            "none of the credentials in allowCredentials is on this security key",
        ));
    };
    let challenge = request.client_data_hash();
    let key_handle = KeyHandle::new(credential_id.clone())
        .map_err(|_| WebAuthnError::not_allowed("the key handle is too long for U2F"))?;
    let body = with_touch(
        device,
        &Request::Authenticate(AuthenticateRequest {
            control: AuthenticateControl::EnforceUserPresenceAndSign,
            challenge,
            application,
            key_handle,
        }),
        Step::GetAssertion,
        ui,
    )?;
    let answer = AuthenticateResponse::parse(&body).map_err(|e| {
        WebAuthnError::not_allowed(format!("the U2F authentication response is malformed: {e}"))
    })?;
    // application ‖ flags ‖ counter is exactly authenticatorData (CTAP 2.1 §10.3).
    let mut auth_data = application.to_vec();
    auth_data.push(answer.user_presence);
    auth_data.extend_from_slice(&answer.counter.to_be_bytes());
    let outcome = AuthenticationOutcome {
        appid_used,
        ..AuthenticationOutcome::default()
    };
    let description = device.info();
    Ok(Assertion {
        credential_id,
        client_data_json: request.client_data_json.clone(),
        authenticator_data: auth_data,
        signature: answer.signature,
        user_handle: None,
        attachment: description.transport.attachment(),
        extensions: options.extensions.client_outputs(&outcome),
    })
}
