//! Managing an authenticator: its PIN (CTAP 2.1 §6.5.5.5–6) and its discoverable credentials
//! (authenticatorCredentialManagement, §6.8), and listing/deleting platform credentials straight
//! from the store (public data, no PIN needed).

use latchkey_authenticator::store::{CredentialStore, StoreError};
use latchkey_ctap::command::{
    CredentialManagementRequest, CredentialManagementResponse, CredentialManagementSubcommand,
};
use latchkey_ctap::entity::CredentialDescriptor;
use latchkey_ctap::pin::Permissions;
use latchkey_webauthn::options::truncate_utf8;
use latchkey_webauthn::WebAuthnError;

use crate::ctap2;
use crate::device::Device;
use crate::error::{to_webauthn, Declined, Step};
use crate::pinuv::{self, Token, TokenRequest};
use crate::ui::{CeremonyUi, PinReason, PinRequest};

/// A credential as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialInfo {
    /// The credential ID.
    pub credential_id: Vec<u8>,
    /// The RP ID.
    pub rp_id: String,
    /// `user.id`.
    pub user_id: Vec<u8>,
    /// `user.name`.
    pub user_name: Option<String>,
    /// `user.displayName`.
    pub user_display_name: Option<String>,
    /// Discoverable or not.
    pub discoverable: bool,
    /// The credProtect level (1–3).
    pub cred_protect: u8,
    /// The signature counter, where known.
    pub sign_count: Option<u32>,
}

/// A store failure as the WebAuthn error a caller in this process reports (`UnknownError`, the
/// store's message and its causes); latchkeyd keeps the [`StoreError`] and decides at its edge.
pub fn store_error(e: StoreError) -> WebAuthnError {
    WebAuthnError::unknown(format!("the credential store failed: {}", e.with_causes()))
}

/// Lists the credentials of a store (all RPs, or one).
pub fn list_store<S: CredentialStore>(
    store: &mut S,
    rp_id: Option<&str>,
) -> Result<Vec<CredentialInfo>, StoreError> {
    let rps: Vec<String> = match rp_id {
        Some(r) => vec![r.to_owned()],
        None => store.rps()?.into_iter().map(|r| r.id).collect(),
    };
    let mut out = Vec::new();
    for rp in rps {
        for c in store.by_rp(&rp)? {
            out.push(CredentialInfo {
                credential_id: c.id.clone(),
                rp_id: c.rp.id.clone(),
                user_id: c.user.id.clone(),
                user_name: c.user.name.clone(),
                user_display_name: c.user.display_name.clone(),
                discoverable: c.discoverable,
                cred_protect: c.cred_protect.value(),
                sign_count: Some(c.sign_count),
            });
        }
    }
    Ok(out)
}

/// Deletes a credential from a store; `false` if there was none with that ID.
pub fn delete_from_store<S: CredentialStore>(store: &mut S, id: &[u8]) -> Result<bool, StoreError> {
    store.delete(id)
}

/// The longest `user.name` or `user.displayName` [`update_user_in_store`] keeps, in UTF-8 bytes:
/// the file store's limit for every user string (a longer name makes makeCredential fail there),
/// and what the platform worker's protocol carries. Longer names are cut on a character boundary,
/// as CTAP 2.1 §6.1.2 lets an authenticator truncate user names.
pub const MAX_USER_FIELD: usize = 1024;

/// Sets `user.name` and `user.displayName` of the credential `id` in a store (for the Signal
/// API's `signalCurrentUserDetails`, WebAuthn L3 §5.1.10.3); each is cut to [`MAX_USER_FIELD`]
/// bytes. `false` if there was no credential with that ID.
pub fn update_user_in_store<S: CredentialStore + ?Sized>(
    store: &mut S,
    id: &[u8],
    name: &str,
    display_name: &str,
) -> Result<bool, StoreError> {
    let Some(mut credential) = store.get(id)? else {
        return Ok(false);
    };
    let name = truncate_utf8(name, MAX_USER_FIELD);
    let display_name = truncate_utf8(display_name, MAX_USER_FIELD);
    if credential.user.name.as_deref() == Some(name)
        && credential.user.display_name.as_deref() == Some(display_name)
    {
        return Ok(true);
    }
    credential.user.name = Some(name.to_owned());
    credential.user.display_name = Some(display_name.to_owned());
    store.update(&credential)?;
    Ok(true)
}

/// Sets the first PIN of `device`, asking the UI for it.
pub fn set_pin(device: &mut dyn Device, ui: &mut dyn CeremonyUi) -> Result<(), WebAuthnError> {
    let info = ctap2::get_info(device).map_err(|e| to_webauthn(Step::Info, &e))?;
    if info.option("clientPin") == Some(true) {
        return Err(WebAuthnError::invalid_state(
            "the authenticator already has a PIN; change it instead",
        ));
    }
    let pin = ui
        .pin(&PinRequest {
            reason: PinReason::New,
            retries_left: None,
            min_length: info.min_pin_length.unwrap_or(4),
            device: device.info().name,
        })
        .map_err(|_| crate::error::declined(Declined::Pin, "no PIN was entered"))?;
    pinuv::set_pin(device, &info, &pin)
}

/// Changes the PIN of `device`, asking the UI for the current and the new one.
pub fn change_pin(device: &mut dyn Device, ui: &mut dyn CeremonyUi) -> Result<(), WebAuthnError> {
    let info = ctap2::get_info(device).map_err(|e| to_webauthn(Step::Info, &e))?;
    if info.option("clientPin") != Some(true) {
        return Err(WebAuthnError::invalid_state(
            "the authenticator has no PIN yet; set one",
        ));
    }
    let retries_left = pinuv::pin_retries(device).map_err(|e| to_webauthn(Step::Pin, &e))?;
    let name = device.info().name;
    let min_length = info.min_pin_length.unwrap_or(4);
    let current = ui
        .pin(&PinRequest {
            reason: PinReason::Current,
            retries_left,
            min_length,
            device: name.clone(),
        })
        .map_err(|_| crate::error::declined(Declined::Pin, "no PIN was entered"))?;
    let new = ui
        .pin(&PinRequest {
            reason: PinReason::New,
            retries_left: None,
            min_length,
            device: name,
        })
        .map_err(|_| crate::error::declined(Declined::NewPin, "no new PIN was entered"))?;
    pinuv::change_pin(device, &info, &current, &new)
}

fn cm(
    device: &mut dyn Device,
    token: &Token,
    sub: CredentialManagementSubcommand,
) -> Result<CredentialManagementResponse, WebAuthnError> {
    let mut request = CredentialManagementRequest::new(sub);
    request.pin_uv_auth_protocol = Some(token.protocol());
    request.pin_uv_auth_param = Some(token.authenticate(&request.auth_message()));
    ctap2::credential_management(device, request)
        .map_err(|e| to_webauthn(Step::CredentialManagement, &e))
}

fn next(
    device: &mut dyn Device,
    sub: CredentialManagementSubcommand,
) -> Result<CredentialManagementResponse, WebAuthnError> {
    ctap2::credential_management(device, CredentialManagementRequest::new(sub))
        .map_err(|e| to_webauthn(Step::CredentialManagement, &e))
}

/// A token for credential management. `read_only` (listing) asks a key that offers it
/// (`perCredMgmtRO`, CTAP 2.2 §6.4) for the persistent token with only `pcmr`, which can list
/// but never delete; deleting asks for `cm`.
fn cm_token(
    device: &mut dyn Device,
    ui: &mut dyn CeremonyUi,
    read_only: bool,
) -> Result<Token, WebAuthnError> {
    let mut info = ctap2::get_info(device).map_err(|e| to_webauthn(Step::Info, &e))?;
    if info.option("credMgmt") != Some(true) && info.option("credentialMgmtPreview") != Some(true) {
        return Err(WebAuthnError::not_supported(
            "the authenticator does not support credential management",
        ));
    }
    let permissions = if read_only && info.option("perCredMgmtRO") == Some(true) {
        Permissions::PERSISTENT_CREDENTIAL_MANAGEMENT_READ_ONLY
    } else {
        Permissions::CREDENTIAL_MANAGEMENT
    };
    pinuv::obtain(
        device,
        &mut info,
        ui,
        TokenRequest {
            permissions,
            rp_id: None,
            set_if_unset: false,
        },
    )
}

/// Bound on enumerations, against a device that never stops.
const MAX_ITEMS: u64 = 1024;

/// Lists the discoverable credentials on `device` (credential management; asks for the PIN),
/// with the read-only persistent token where the key offers one.
pub fn list_device(
    device: &mut dyn Device,
    ui: &mut dyn CeremonyUi,
) -> Result<Vec<CredentialInfo>, WebAuthnError> {
    let token = cm_token(device, ui, true)?;
    let first = match cm(
        device,
        &token,
        CredentialManagementSubcommand::EnumerateRpsBegin,
    ) {
        Ok(r) => r,
        // A key without discoverable credentials answers the first enumeration so.
        Err(e)
            if matches!(
                crate::error::failure(&e),
                Some(crate::error::Failure::Status {
                    status: latchkey_ctap::status::StatusCode::NoCredentials,
                    ..
                })
            ) =>
        {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e),
    };
    let total = first.total_rps.unwrap_or(0).min(MAX_ITEMS);
    let mut rps = vec![first];
    for _ in 1..total {
        rps.push(next(
            device,
            CredentialManagementSubcommand::EnumerateRpsGetNextRp,
        )?);
    }
    let mut out = Vec::new();
    for rp in rps {
        let (Some(entity), Some(hash)) = (rp.rp, rp.rp_id_hash) else {
            continue;
        };
        let first = cm(
            device,
            &token,
            CredentialManagementSubcommand::EnumerateCredentialsBegin { rp_id_hash: hash },
        )?;
        let total = first.total_credentials.unwrap_or(1).min(MAX_ITEMS);
        let mut creds = vec![first];
        for _ in 1..total {
            creds.push(next(
                device,
                CredentialManagementSubcommand::EnumerateCredentialsGetNextCredential,
            )?);
        }
        for c in creds {
            let Some(id) = c.credential_id else { continue };
            out.push(CredentialInfo {
                credential_id: id.id,
                rp_id: entity.id.clone(),
                user_id: c
                    .user
                    .as_ref()
                    .map(|u| u.id.as_bytes().to_vec())
                    .unwrap_or_default(),
                user_name: c.user.as_ref().and_then(|u| u.name.clone()),
                user_display_name: c.user.as_ref().and_then(|u| u.display_name.clone()),
                discoverable: true,
                cred_protect: c.cred_protect.map(|p| p as u8).unwrap_or(1),
                sign_count: None,
            });
        }
    }
    Ok(out)
}

/// Deletes a discoverable credential on `device` (credential management; asks for the PIN).
pub fn delete_on_device(
    device: &mut dyn Device,
    ui: &mut dyn CeremonyUi,
    id: &[u8],
) -> Result<(), WebAuthnError> {
    let token = cm_token(device, ui, false)?;
    cm(
        device,
        &token,
        CredentialManagementSubcommand::DeleteCredential {
            credential_id: CredentialDescriptor::public_key(id),
        },
    )
    .map(drop)
}

/// What `latchkey devices` reports about one key: its getInfo (CTAP 2.1 §6.4) and, when a PIN is
/// set, the PIN retries left (§6.5.5.2).
#[derive(Debug, Clone)]
pub struct KeyReport {
    /// Name, path, transport.
    pub description: crate::device::DeviceDescription,
    /// authenticatorGetInfo.
    pub info: latchkey_ctap::command::GetInfoResponse,
    /// PIN retries left; `None` when no PIN is set or the key does not say.
    pub pin_retries: Option<u64>,
}

/// Asks `device` for its getInfo and PIN retries.
pub fn describe(device: &mut dyn Device) -> Result<KeyReport, WebAuthnError> {
    let info = ctap2::get_info(device).map_err(|e| to_webauthn(Step::Info, &e))?;
    let pin_retries = if info.option("clientPin") == Some(true) {
        pinuv::pin_retries(device).map_err(|e| to_webauthn(Step::Pin, &e))?
    } else {
        None
    };
    Ok(KeyReport {
        description: device.info(),
        info,
        pin_retries,
    })
}

/// Why authenticatorReset (CTAP 2.1 §6.6) erased nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResetError {
    /// `CTAP2_ERR_NOT_ALLOWED`: the key resets only within 10 seconds of being plugged in.
    #[error(
        "the key refused to reset: a reset works only within 10 seconds of plugging the key in; \
         unplug it, plug it back in and try again at once"
    )]
    TooLate,
    /// The key waited for a touch that did not come.
    #[error("the key was not touched in time; nothing was erased")]
    NotTouched,
    /// The touch was refused.
    #[error("the touch was refused; nothing was erased")]
    Refused,
    /// Anything else (the key did not answer, an unexpected status).
    #[error("{}", .0.message())]
    Other(WebAuthnError),
}

impl ResetError {
    /// The WebAuthn error a caller reports (`NotAllowedError` but for [`Self::Other`]).
    pub fn to_webauthn(&self) -> WebAuthnError {
        match self {
            Self::Other(e) => e.clone(),
            e => WebAuthnError::not_allowed(e.to_string()),
        }
    }
}

/// authenticatorReset (CTAP 2.1 §6.6): erases every credential and the PIN of `device`. Keys
/// refuse it (`CTAP2_ERR_NOT_ALLOWED`) unless it comes within 10 seconds of plugging them in,
/// and ask for a touch. Typed: [`ResetError`].
pub fn reset_key(device: &mut dyn Device, ui: &mut dyn CeremonyUi) -> Result<(), ResetError> {
    use latchkey_ctap::command::Request;
    use latchkey_ctap::status::StatusCode;
    let result = ctap2::call_empty(device, &Request::Reset, &mut crate::ui::on_change(ui));
    match result {
        Ok(()) => Ok(()),
        Err(e) => Err(match e.status() {
            Some(StatusCode::NotAllowed) => ResetError::TooLate,
            Some(StatusCode::UserActionTimeout | StatusCode::ActionTimeout) => {
                ResetError::NotTouched
            }
            Some(StatusCode::OperationDenied) => ResetError::Refused,
            _ => ResetError::Other(to_webauthn(Step::Info, &e)),
        }),
    }
}

/// [`reset_key`] with its refusal as the WebAuthn error a caller reports.
pub fn reset(device: &mut dyn Device, ui: &mut dyn CeremonyUi) -> Result<(), WebAuthnError> {
    reset_key(device, ui).map_err(|e| e.to_webauthn())
}

#[cfg(test)]
mod tests {
    use latchkey_authenticator::env::Rng;
    use latchkey_authenticator::memory::MemoryStore;
    use latchkey_authenticator::store::{Algorithm, Credential, RpEntity, UserEntity};

    use super::*;

    struct FixedRng;

    impl Rng for FixedRng {
        fn fill(&mut self, buf: &mut [u8]) {
            buf.fill(7);
        }
    }

    fn store_with(id: &[u8]) -> MemoryStore {
        let mut store = MemoryStore::default();
        let (public_key, key) = store.generate_key(Algorithm::Es256, &mut FixedRng).unwrap();
        store
            .insert(Credential {
                sign_count: 3,
                ..Credential::new(
                    id.to_vec(),
                    RpEntity {
                        id: "example.com".into(),
                        name: None,
                    },
                    UserEntity {
                        id: b"user".to_vec(),
                        name: Some("alice".into()),
                        display_name: Some("Alice".into()),
                    },
                    true,
                    public_key,
                    key,
                )
            })
            .unwrap();
        store
    }

    #[test]
    fn update_user_sets_both_names_and_cuts_long_ones() {
        let mut store = store_with(&[1; 16]);
        assert!(!update_user_in_store(&mut store, &[2; 16], "bob", "Bob").unwrap());
        assert!(update_user_in_store(&mut store, &[1; 16], "alice@new", "Alice N.").unwrap());
        let c = store.get(&[1; 16]).unwrap().unwrap();
        assert_eq!(c.user.id, b"user");
        assert_eq!(c.user.name.as_deref(), Some("alice@new"));
        assert_eq!(c.user.display_name.as_deref(), Some("Alice N."));
        assert_eq!(c.sign_count, 3);

        // 3-byte characters: 1024 bytes end inside one, so 341 whole ones are kept.
        let long = "€".repeat(MAX_USER_FIELD);
        assert!(update_user_in_store(&mut store, &[1; 16], &long, &long).unwrap());
        let listed = list_store(&mut store, Some("example.com")).unwrap();
        assert_eq!(listed[0].user_name, Some("€".repeat(341)));
        assert_eq!(listed[0].user_display_name, Some("€".repeat(341)));
    }
}
