//! `navigator.credentials.get()` on one authenticator (WebAuthn L3 §5.1.4 from step 18, and the
//! platform's part of CTAP 2.1 §6.2 and §6.3).

use latchkey_ctap::authdata::AuthenticatorData;
use latchkey_ctap::command::{
    ClientDataHash as CtapHash, GetAssertionOptions, GetAssertionRequest, GetAssertionResponse,
    GetInfoResponse,
};
use latchkey_ctap::entity::CredentialDescriptor;
use latchkey_ctap::extensions::{
    CredBlobOutput, GetAssertionExtensions as CtapGaExtensions, HmacSecretOutput,
};
use latchkey_ctap::pin::Permissions;
use latchkey_ctap::status::StatusCode;
use latchkey_webauthn::extensions::ctap::AuthenticationOutcome;
use latchkey_webauthn::extensions::LargeBlobAuthentication;
use latchkey_webauthn::ids::CredentialId;
use latchkey_webauthn::WebAuthnError;

use crate::ctap2::{self, CtapError};
use crate::device::Device;
use crate::error::{to_webauthn, Declined, Step};
use crate::pinuv::{self, Session, Token};
use crate::register::{extension_support, probe, token_for, Protocol};
use crate::request::GetRequest;
use crate::response::Assertion;
use crate::ui::{Account, CeremonyUi};
use crate::uv::{self, UvPlan};

/// The most credentials offered to choose from (getNextAssertion calls are bounded by it).
pub const MAX_ACCOUNTS: u64 = 64;

fn account(r: &GetAssertionResponse, fallback_id: Option<&[u8]>) -> Account {
    Account {
        credential_id: r
            .credential
            .as_ref()
            .map(|c| c.id.clone())
            .or_else(|| fallback_id.map(<[u8]>::to_vec))
            .unwrap_or_default(),
        user_id: r
            .user
            .as_ref()
            .map(|u| u.id.as_bytes().to_vec())
            .unwrap_or_default(),
        name: r.user.as_ref().and_then(|u| u.name.clone()),
        display_name: r.user.as_ref().and_then(|u| u.display_name.clone()),
    }
}

fn not_in_allow_list() -> WebAuthnError {
    WebAuthnError::not_allowed(
        "none of the credentials in allowCredentials is on this authenticator",
    )
}

/// Looks for the listed credentials under the `appid` extension's AppID, if the request has one.
fn appid_preflight(
    device: &mut dyn Device,
    info: &GetInfoResponse,
    options: &latchkey_webauthn::options::get::RequestOptions,
    allowed: &[Vec<u8>],
) -> Result<Option<(String, Vec<u8>)>, WebAuthnError> {
    let Some(appid) = &options.extensions.appid else {
        return Ok(None);
    };
    Ok(uv::preflight(device, info, appid, allowed, None)?.map(|id| (appid.clone(), id)))
}

/// A credential found only under its FIDO AppID is asked for there without a PIN token (a token
/// is bound to the RP ID it was made for, and U2F has none); only built-in UV in the request
/// (`carries_uv`) still verifies the user. Without it, with `userVerification` required, the
/// credential cannot be used, rather than signing unverified (L3 §10.1.1 leaves
/// `userVerification` as it is).
fn appid_without_uv(
    options: &latchkey_webauthn::options::get::RequestOptions,
    carries_uv: bool,
) -> Result<(), WebAuthnError> {
    if !carries_uv
        && options.user_verification
            == latchkey_webauthn::options::UserVerificationRequirement::Required
    {
        return Err(WebAuthnError::not_allowed(
            "the credential answers only under its FIDO AppID, which cannot verify the user, and \
             user verification is required",
        ));
    }
    Ok(())
}

/// Runs an authentication ceremony on `device`; with several discoverable credentials the user
/// chooses through `ui`.
pub fn authenticate(
    device: &mut dyn Device,
    request: &GetRequest,
    ui: &mut dyn CeremonyUi,
) -> Result<Assertion, WebAuthnError> {
    match authenticate_until_choice(device, request, ui)? {
        Authentication::Done(assertion) => Ok(assertion),
        Authentication::Choose(choice) => {
            let index = ui
                .choose_credential(choice.accounts())
                .map_err(|_| not_chosen())?;
            choice.finish(device, index)
        }
    }
}

/// Runs an authentication ceremony on `device` up to the choice of account, if there is one
/// ([`AccountChoice`]): `ui` is asked for PINs and shown statuses, never for an account.
pub fn authenticate_until_choice(
    device: &mut dyn Device,
    request: &GetRequest,
    ui: &mut dyn CeremonyUi,
) -> Result<Authentication, WebAuthnError> {
    let options = &request.options;
    let mut info = match probe(device)? {
        Protocol::Ctap2(info) => *info,
        Protocol::U2f => {
            return crate::u2f::authenticate(device, request, ui).map(Authentication::Done)
        }
    };
    let support = extension_support(&info);
    let large_blob_write = matches!(
        options.extensions.large_blob,
        Some(LargeBlobAuthentication::Write(_))
    ) && support.large_blobs;
    let mut plan = uv::plan(&info, options.user_verification, false, false)?;
    if large_blob_write && plan == UvPlan::Skip {
        // Writing a large blob needs a token with the lbw permission (CTAP 2.1 §6.10.2).
        if info.option("uv") == Some(true) && info.option("pinUvAuthToken") == Some(true) {
            plan = UvPlan::BuiltInToken;
        } else if info.option("clientPin") == Some(true)
            && !crate::pin_policy::no_mc_ga_with_pin(&info)
        {
            plan = UvPlan::Pin {
                set_if_unset: false,
            };
        }
    }
    let mut permissions = Permissions::GET_ASSERTION;
    if large_blob_write {
        permissions = permissions | Permissions::LARGE_BLOB_WRITE;
    }
    let token = token_for(device, &mut info, ui, plan, permissions, &request.rp_id)?;

    let allowed: Vec<Vec<u8>> = options
        .allow_credentials
        .iter()
        .map(|d| d.id.as_bytes().to_vec())
        .collect();
    // The `appid` extension (WebAuthn L3 §10.1.1): a credential made through U2F for the AppID
    // is asked for with the AppID as RP ID, whose SHA-256 is the U2F application parameter.
    let mut rp_id = request.rp_id.clone();
    let mut appid_used = false;
    let direct = uv::needs_no_preflight(&info, plan, &allowed);
    let chosen = if allowed.is_empty() {
        None
    } else if direct {
        // One credential, and a CTAP 2.1 key answers NO_CREDENTIALS before asking for a touch
        // (§6.2.2 steps 7-9): the silent pre-flight would only cost a signature and a count.
        allowed.first().cloned()
    } else {
        match uv::preflight(device, &info, &request.rp_id, &allowed, token.as_ref())? {
            Some(id) => Some(id),
            None => match appid_preflight(device, &info, options, &allowed)? {
                Some((appid, id)) => {
                    // Built-in UV goes with the request under the AppID; a PIN token does not.
                    appid_without_uv(options, plan == UvPlan::BuiltIn)?;
                    rp_id = appid;
                    appid_used = true;
                    Some(id)
                }
                None => return Err(not_in_allow_list()),
            },
        }
    };
    // A token is bound to the RP ID it was made for: none is used under the AppID.
    let token = if appid_used { None } else { token };
    let chosen_id = match &chosen {
        Some(id) => Some(
            CredentialId::new("credential", id.clone())
                .map_err(|e| WebAuthnError::not_allowed(e.message().to_owned()))?,
        ),
        None => None,
    };
    let ext = options.extensions.to_ctap(&support, chosen_id.as_ref());
    let hmac_session = match &ext.hmac_secret {
        Some(_) => Some(Session::establish(
            device,
            pinuv::preferred_protocol(&info),
        )?),
        None => None,
    };
    let hmac_secret = match (&ext.hmac_secret, &hmac_session) {
        (Some(salts), Some(session)) => Some(crate::prf::input(session, salts)?),
        _ => None,
    };
    let extensions = CtapGaExtensions {
        hmac_secret,
        cred_blob: ext.get_cred_blob.then_some(true),
        large_blob_key: ext.large_blob_key.then_some(true),
        // Secure Payment Confirmation's `payment` extension is not a client feature here.
        third_party_payment: None,
        unknown: Vec::new(),
    };
    let hash = request.client_data_hash();
    let ga = GetAssertionRequest {
        rp_id,
        client_data_hash: CtapHash(hash),
        allow_list: chosen
            .as_ref()
            .map(|id| vec![CredentialDescriptor::public_key(id.as_slice())]),
        extensions: (extensions != CtapGaExtensions::default()).then_some(extensions),
        options: GetAssertionOptions {
            rk: None,
            up: None,
            uv: (plan == UvPlan::BuiltIn).then_some(true),
        },
        pin_uv_auth_param: token.as_ref().map(|t| t.authenticate(&hash)),
        pin_uv_auth_protocol: token.as_ref().map(Token::protocol),
    };
    ctap2::ensure_fits(
        &info,
        &latchkey_ctap::command::Request::GetAssertion(ga.clone()),
    )?;
    let result = ctap2::get_assertion(device, ga.clone(), &mut crate::ui::on_change(ui));
    let first = match result {
        Ok(first) => first,
        Err(CtapError::Status(StatusCode::NoCredentials)) if direct => {
            // Not under the RP ID: perhaps a U2F credential under the AppID, asked for directly
            // too (the key again answers before any touch).
            let Some(appid) = &options.extensions.appid else {
                return Err(not_in_allow_list());
            };
            appid_without_uv(options, false)?;
            appid_used = true;
            // No built-in UV in the request either: the direct path never carries it (see
            // `uv::needs_no_preflight`), and with it the key would verify before the lookup.
            let ga = GetAssertionRequest {
                rp_id: appid.clone(),
                options: GetAssertionOptions {
                    uv: None,
                    ..ga.options
                },
                pin_uv_auth_param: None,
                pin_uv_auth_protocol: None,
                ..ga
            };
            let result = ctap2::get_assertion(device, ga, &mut crate::ui::on_change(ui));
            match result {
                Ok(first) => first,
                Err(CtapError::Status(StatusCode::NoCredentials)) => {
                    return Err(not_in_allow_list())
                }
                Err(e) => return Err(to_webauthn(Step::GetAssertion, &e)),
            }
        }
        Err(e) => return Err(to_webauthn(Step::GetAssertion, &e)),
    };
    // A token is bound to the RP ID it was made for: none is used under the AppID.
    let token = if appid_used { None } else { token };
    let rest = Rest {
        info,
        token,
        prf: hmac_session.zip(ext.hmac_secret.map(|salts| salts.salt2.is_some())),
        appid_used,
        chosen,
    };
    let count = first.number_of_credentials.unwrap_or(1).min(MAX_ACCOUNTS);
    if count <= 1 || rest.chosen.is_some() {
        return rest
            .finish(device, request, first)
            .map(Authentication::Done);
    }
    // Several discoverable credentials (CTAP 2.1 §6.2.2): the platform fetches them all, with
    // no further touch, and the user picks one.
    let mut all = vec![first];
    for _ in 1..count {
        all.push(
            ctap2::get_next_assertion(device).map_err(|e| to_webauthn(Step::GetAssertion, &e))?,
        );
    }
    Ok(Authentication::Choose(AccountChoice {
        accounts: all.iter().map(|r| account(r, None)).collect(),
        answers: all,
        request: Box::new(request.clone()),
        rest: Box::new(rest),
    }))
}

/// How [`authenticate_until_choice`] ended.
#[derive(Debug)]
pub enum Authentication {
    /// The ceremony is done.
    Done(Assertion),
    /// Several discoverable credentials answered: the user chooses one of them.
    Choose(AccountChoice),
}

/// Several discoverable credentials answered one getAssertion (CTAP 2.1 §6.2.2): each is already
/// signed (the one touch is spent), so the choice can be asked at leisure — on another thread,
/// after the device was put aside — and [`AccountChoice::finish`] completes the ceremony with the
/// chosen one on the same device, without asking the authenticator for another signature.
#[derive(Debug)]
pub struct AccountChoice {
    accounts: Vec<Account>,
    answers: Vec<GetAssertionResponse>,
    request: Box<GetRequest>,
    rest: Box<Rest>,
}

impl AccountChoice {
    /// The accounts to choose from, in the authenticator's order.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// Completes the ceremony with `accounts()[index]` on `device`, the device the choice came
    /// from (large-blob reads and writes go to it).
    pub fn finish(self, device: &mut dyn Device, index: usize) -> Result<Assertion, WebAuthnError> {
        let AccountChoice {
            mut answers,
            request,
            rest,
            ..
        } = self;
        if index >= answers.len() {
            return Err(not_chosen());
        }
        let answer = answers.swap_remove(index);
        rest.finish(device, &request, answer)
    }
}

fn not_chosen() -> WebAuthnError {
    crate::error::declined(Declined::Account, "the user did not choose an account")
}

/// What the ceremony keeps from before the assertion for what comes after it.
#[derive(Debug)]
struct Rest {
    info: GetInfoResponse,
    token: Option<Token>,
    /// The hmac-secret session and whether two salts were sent, when prf was asked.
    prf: Option<(Session, bool)>,
    appid_used: bool,
    /// The credential asked for, when the allow list named one.
    chosen: Option<Vec<u8>>,
}

impl Rest {
    /// The client's part after the authenticator answered with `answer`: prf outputs, large
    /// blobs, the assertion.
    fn finish(
        self,
        device: &mut dyn Device,
        request: &GetRequest,
        answer: GetAssertionResponse,
    ) -> Result<Assertion, WebAuthnError> {
        let Self {
            info,
            token,
            prf,
            appid_used,
            chosen,
        } = self;
        let options = &request.options;
        let credential_id = answer
            .credential
            .as_ref()
            .map(|c| c.id.clone())
            .or_else(|| chosen.clone())
            .ok_or_else(|| {
                WebAuthnError::not_allowed("the authenticator did not name the credential")
            })?;
        if let Some(c) = &chosen {
            if *c != credential_id {
                return Err(WebAuthnError::not_allowed(
                    "the authenticator answered with a credential that was not asked for",
                ));
            }
        }
        let auth_data = AuthenticatorData::parse(&answer.auth_data).map_err(|e| {
            WebAuthnError::not_allowed(format!(
                "the authenticator's authenticatorData is malformed: {e}"
            ))
        })?;
        let outputs = auth_data.extensions.clone().unwrap_or_default();
        let prf_results = match (&outputs.hmac_secret, &prf) {
            (Some(HmacSecretOutput::Output(enc)), Some((session, two))) => {
                Some(crate::prf::output(session, enc, *two)?)
            }
            _ => None,
        };
        let mut outcome = AuthenticationOutcome {
            appid_used,
            prf_results,
            large_blob: None,
            large_blob_written: false,
            cred_blob: match outputs.cred_blob {
                Some(CredBlobOutput::Blob(b)) => Some(b),
                _ => None,
            },
        };
        if let (Some(key), Some(large)) = (&answer.large_blob_key, &options.extensions.large_blob) {
            match large {
                LargeBlobAuthentication::Read => {
                    outcome.large_blob = crate::large_blob::read(device, &info, key)?;
                }
                LargeBlobAuthentication::Write(blob) => {
                    if let Some(token) = &token {
                        crate::large_blob::write(device, &info, token, key, blob)?;
                        outcome.large_blob_written = true;
                    }
                }
            }
        }
        let description = device.info();
        Ok(Assertion {
            credential_id,
            client_data_json: request.client_data_json.clone(),
            authenticator_data: answer.auth_data.clone(),
            signature: answer.signature.clone(),
            user_handle: answer
                .user
                .as_ref()
                .map(|u| u.id.as_bytes().to_vec())
                .filter(|h| !h.is_empty()),
            attachment: description.transport.attachment(),
            extensions: options.extensions.client_outputs(&outcome),
        })
    }
}
