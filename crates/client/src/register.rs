//! `navigator.credentials.create()` on one authenticator (WebAuthn L3 §5.1.3 from step 20, and the
//! platform's part of CTAP 2.1 §6.1).

use latchkey_ctap::authdata::{AttestationObject, AttestationStatement, AuthenticatorData};
use latchkey_ctap::command::{
    ClientDataHash as CtapHash, GetInfoResponse, MakeCredentialOptions, MakeCredentialRequest,
};
use latchkey_ctap::entity::{
    CoseAlgorithm, CredentialDescriptor, CredentialParameters, RpEntity, UserEntity, UserId,
};
use latchkey_ctap::extensions::{
    CredBlobOutput, CredProtect, HmacSecretOutput, MakeCredentialExtensions as CtapMcExtensions,
};
use latchkey_ctap::pin::Permissions;
use latchkey_ctap::status::StatusCode;
use latchkey_webauthn::extensions::ctap::{AuthenticatorExtensionSupport, RegistrationOutcome};
use latchkey_webauthn::options::create::{
    AttestationConveyancePreference, AuthenticatorAttachment, ResidentKeyRequirement,
};
use latchkey_webauthn::WebAuthnError;

use crate::ctap2::{self, CtapError};
use crate::device::{Device, DeviceError, Transport};
use crate::error::{to_webauthn, Step};
use crate::pinuv::{self, Session, Token, TokenRequest};
use crate::request::CreateRequest;
use crate::response::Registration;
use crate::ui::CeremonyUi;
use crate::uv::{self, UvPlan};

/// What the authenticator's getInfo says about extensions.
pub fn extension_support(info: &GetInfoResponse) -> AuthenticatorExtensionSupport {
    let has = |name: &str| {
        info.extensions
            .as_ref()
            .is_some_and(|e| e.iter().any(|x| x == name))
    };
    AuthenticatorExtensionSupport {
        hmac_secret: has("hmac-secret"),
        hmac_secret_mc: has("hmac-secret-mc"),
        cred_protect: has("credProtect"),
        max_cred_blob_length: if has("credBlob") {
            usize::try_from(info.max_cred_blob_length.unwrap_or(32)).unwrap_or(32)
        } else {
            0
        },
        min_pin_length: has("minPinLength"),
        large_blobs: info.option("largeBlobs") == Some(true) && has("largeBlobKey"),
    }
}

/// Whether the device speaks CTAP2 (its getInfo lists FIDO_2_0 or later).
pub fn speaks_ctap2(info: &GetInfoResponse) -> bool {
    info.versions.iter().any(|v| v.starts_with("FIDO_2"))
}

/// What a device speaks.
#[derive(Debug)]
pub enum Protocol {
    /// CTAP2, with its getInfo.
    Ctap2(Box<GetInfoResponse>),
    /// Only U2F (CTAP1).
    U2f,
}

/// Finds out what `device` speaks: no CTAPHID_CBOR capability, a getInfo refused as an unknown
/// command, or no FIDO_2 version means U2F only (CTAP 2.1 §10).
pub fn probe(device: &mut dyn Device) -> Result<Protocol, WebAuthnError> {
    if !device.info().cbor {
        return Ok(Protocol::U2f);
    }
    match ctap2::get_info(device) {
        Ok(info) if speaks_ctap2(&info) => Ok(Protocol::Ctap2(Box::new(info))),
        Ok(_) => Ok(Protocol::U2f),
        Err(CtapError::Status(StatusCode::InvalidCommand))
        | Err(CtapError::Device(DeviceError::Unsupported(_))) => Ok(Protocol::U2f),
        Err(e) => Err(to_webauthn(Step::Info, &e)),
    }
}

pub(crate) fn check_attachment(
    device: &dyn Device,
    wanted: Option<AuthenticatorAttachment>,
) -> Result<(), WebAuthnError> {
    let transport = device.info().transport;
    match (wanted, transport) {
        (
            Some(AuthenticatorAttachment::Platform),
            Transport::Usb | Transport::Virtual | Transport::Nfc,
        ) => Err(WebAuthnError::not_allowed(
            "the request asks for a platform authenticator, and this one is a security key",
        )),
        (Some(AuthenticatorAttachment::CrossPlatform), Transport::Internal) => {
            Err(WebAuthnError::not_allowed(
                "the request asks for a security key, and this is the platform authenticator",
            ))
        }
        _ => Ok(()),
    }
}

/// Gets a token for `plan`, or none.
pub(crate) fn token_for(
    device: &mut dyn Device,
    info: &mut GetInfoResponse,
    ui: &mut dyn CeremonyUi,
    plan: UvPlan,
    permissions: Permissions,
    rp_id: &str,
) -> Result<Option<Token>, WebAuthnError> {
    match plan {
        UvPlan::Pin { set_if_unset } => pinuv::obtain(
            device,
            info,
            ui,
            TokenRequest {
                permissions,
                rp_id: Some(rp_id),
                set_if_unset,
            },
        )
        .map(Some),
        UvPlan::BuiltInToken => crate::uv_token::obtain(
            device,
            info,
            ui,
            TokenRequest {
                permissions,
                rp_id: Some(rp_id),
                set_if_unset: false,
            },
        )
        .map(Some),
        UvPlan::Skip | UvPlan::BuiltIn => Ok(None),
    }
}

fn cred_protect(level: u8) -> Option<CredProtect> {
    match level {
        1 => Some(CredProtect::UserVerificationOptional),
        2 => Some(CredProtect::UserVerificationOptionalWithCredentialIdList),
        3 => Some(CredProtect::UserVerificationRequired),
        _ => None,
    }
}

/// Runs a registration ceremony on `device`.
pub fn register(
    device: &mut dyn Device,
    request: &CreateRequest,
    ui: &mut dyn CeremonyUi,
) -> Result<Registration, WebAuthnError> {
    let options = &request.options;
    check_attachment(device, options.authenticator_attachment)?;
    let mut info = match probe(device)? {
        Protocol::Ctap2(info) => *info,
        Protocol::U2f => return crate::u2f::register(device, request, ui),
    };
    let rk_supported = info.option("rk") == Some(true);
    let rk = match options.resident_key {
        ResidentKeyRequirement::Required if !rk_supported => {
            return Err(WebAuthnError::constraint(
                "the request requires a discoverable credential, and the authenticator cannot store one",
            ))
        }
        ResidentKeyRequirement::Required => true,
        ResidentKeyRequirement::Preferred => rk_supported,
        ResidentKeyRequirement::Discouraged => false,
    };
    let algorithms: Vec<CredentialParameters> = options
        .algorithms
        .iter()
        .map(|a| CredentialParameters {
            alg: CoseAlgorithm(i64::from(a.0)),
        })
        .filter(|p| match &info.algorithms {
            Some(supported) => supported.iter().any(|s| s.alg == p.alg),
            None => true,
        })
        .collect();
    if algorithms.is_empty() {
        return Err(WebAuthnError::not_supported(
            "the authenticator supports none of the algorithms in pubKeyCredParams",
        ));
    }
    let ext = options
        .extensions
        .to_ctap(&extension_support(&info))
        .map_err(|e| WebAuthnError::not_supported(e.to_string()))?;

    let plan = uv::plan(&info, options.user_verification, true, rk)?;
    let excluded: Vec<Vec<u8>> = options
        .exclude_credentials
        .iter()
        .map(|d| d.id.as_bytes().to_vec())
        .collect();
    let mut permissions = Permissions::MAKE_CREDENTIAL;
    if !excluded.is_empty() {
        permissions = permissions | Permissions::GET_ASSERTION;
    }
    let token = token_for(device, &mut info, ui, plan, permissions, &request.rp_id)?;

    let exclude_list = if excluded.is_empty() {
        None
    } else {
        let mut found = uv::preflight(device, &info, &request.rp_id, &excluded, token.as_ref())?;
        // appidExclude (WebAuthn L3 §10.1.2): a U2F credential made for the AppID counts too.
        if let (None, Some(appid)) = (&found, &options.extensions.appid_exclude) {
            if uv::preflight(device, &info, appid, &excluded, None)?.is_some() {
                let selection = ctap2::selection(device, &mut crate::ui::on_change(ui));
                return match selection {
                    Ok(()) => Err(WebAuthnError::invalid_state(
                        "the authenticator already holds a credential from excludeCredentials (by appidExclude)",
                    )),
                    Err(e) => Err(to_webauthn(Step::MakeCredential, &e)),
                };
            }
        }
        found
            .take()
            .map(|id| vec![CredentialDescriptor::public_key(id)])
    };

    let hash = request.client_data_hash();
    let mc_session = match &ext.hmac_secret_mc {
        Some(_) => Some(Session::establish(
            device,
            pinuv::preferred_protocol(&info),
        )?),
        None => None,
    };
    let hmac_secret_mc = match (&ext.hmac_secret_mc, &mc_session) {
        (Some(salts), Some(session)) => Some(crate::prf::input(session, salts)?),
        _ => None,
    };
    let extensions = CtapMcExtensions {
        cred_protect: ext.cred_protect.and_then(cred_protect),
        hmac_secret: ext.hmac_secret.then_some(true),
        hmac_secret_mc,
        cred_blob: ext.cred_blob.clone(),
        large_blob_key: ext.large_blob_key.then_some(true),
        min_pin_length: ext.min_pin_length.then_some(true),
        // Secure Payment Confirmation's `payment` extension is not a client feature here.
        third_party_payment: None,
        unknown: Vec::new(),
    };
    let user = UserEntity {
        id: UserId::new(options.user.id.as_bytes().to_vec())
            .map_err(|_| WebAuthnError::type_error("user.id is longer than 64 bytes"))?,
        name: Some(options.user.name.clone()),
        display_name: Some(options.user.display_name.clone()),
    };
    let mc = MakeCredentialRequest {
        client_data_hash: CtapHash(hash),
        rp: RpEntity {
            id: request.rp_id.clone(),
            name: Some(options.rp_name.clone()),
        },
        user,
        pub_key_cred_params: algorithms,
        exclude_list,
        extensions: (extensions != CtapMcExtensions::default()).then_some(extensions),
        options: MakeCredentialOptions {
            rk: rk.then_some(true),
            up: None,
            uv: (plan == UvPlan::BuiltIn).then_some(true),
        },
        pin_uv_auth_param: token.as_ref().map(|t| t.authenticate(&hash)),
        pin_uv_auth_protocol: token.as_ref().map(Token::protocol),
        enterprise_attestation: None,
        attestation_formats_preference: attestation_formats_preference(&info, options),
    };
    ctap2::ensure_fits(
        &info,
        &latchkey_ctap::command::Request::MakeCredential(mc.clone()),
    )?;
    let answer = ctap2::make_credential(device, mc, &mut crate::ui::on_change(ui))
        .map_err(|e| to_webauthn(Step::MakeCredential, &e))?;

    let auth_data = AuthenticatorData::parse(&answer.auth_data).map_err(|e| {
        WebAuthnError::not_allowed(format!(
            "the authenticator's authenticatorData is malformed: {e}"
        ))
    })?;
    if auth_data.rp_id_hash
        != *latchkey_webauthn::ids::ClientDataHash::of(request.rp_id.as_bytes()).as_bytes()
    {
        return Err(WebAuthnError::not_allowed(
            "the authenticator signed for a different RP ID",
        ));
    }
    let attested = auth_data.attested_credential_data.as_ref().ok_or_else(|| {
        WebAuthnError::not_allowed("the authenticator returned no attested credential data")
    })?;
    let outputs = auth_data.extensions.clone().unwrap_or_default();
    let prf_results = match (&outputs.hmac_secret_mc, &mc_session, &ext.hmac_secret_mc) {
        (Some(enc), Some(session), Some(salts)) => {
            Some(crate::prf::output(session, enc, salts.salt2.is_some())?)
        }
        _ => None,
    };
    let outcome = RegistrationOutcome {
        rk: Some(rk),
        hmac_secret: match outputs.hmac_secret {
            Some(HmacSecretOutput::Created(b)) => Some(b),
            _ => None,
        },
        prf_results,
        large_blob_key_returned: answer.large_blob_key.is_some(),
        cred_blob: match outputs.cred_blob {
            Some(CredBlobOutput::Stored(b)) => Some(b),
            _ => None,
        },
    };
    let att_stmt = match options.attestation {
        AttestationConveyancePreference::None => AttestationStatement::None,
        _ => answer.att_stmt.clone(),
    };
    let attestation_object = AttestationObject {
        auth_data: answer.auth_data.clone(),
        att_stmt,
    }
    .to_bytes();
    let description = device.info();
    Ok(Registration {
        credential_id: attested.credential_id.clone(),
        client_data_json: request.client_data_json.clone(),
        attestation_object,
        authenticator_data: answer.auth_data.clone(),
        transports: vec![description.transport.as_webauthn()],
        attachment: description.transport.attachment(),
        extensions: options.extensions.client_outputs(&outcome),
    })
}

/// The RP's `attestationFormats` (WebAuthn L3 §5.4; `["none"]` when it asked for no attestation)
/// as CTAP 2.2 §6.1 `attestationFormatsPreference`, for authenticators that speak CTAP 2.2: an
/// older one might refuse the unknown parameter.
fn attestation_formats_preference(
    info: &latchkey_ctap::command::GetInfoResponse,
    options: &latchkey_webauthn::options::CreationOptions,
) -> Option<Vec<String>> {
    let ctap22 = info.versions.iter().any(|v| v == "FIDO_2_2");
    (ctap22 && !options.attestation_formats.is_empty()).then(|| options.attestation_formats.clone())
}
