//! The Signal API (WebAuthn L3 §5.1.10, "Signal Credential Changes to the Authenticator"):
//! `signalUnknownCredential`, `signalAllAcceptedCredentials`, `signalCurrentUserDetails`.
//!
//! Three layers, the first two without I/O:
//! 1. [`SignalRequest::parse`] reads the L3 options JSON (`UnknownCredentialOptions`,
//!    `AllAcceptedCredentialsOptions`, `CurrentUserDetailsOptions`); a bad member is a
//!    `TypeError`, as the client algorithms say. The D-Bus layer then checks `rpId` for the caller
//!    exactly as for a ceremony (`SecurityError` when it may not use it) and makes a [`Signal`].
//! 2. [`plan`] turns a signal and the RP's stored credentials into [`Action`]s.
//! 3. [`apply`] carries them out on a [`ManagedDevice`] (the platform authenticator, through its
//!    list, delete and update-user operations), all three signals; the platform back-end calls it
//!    from [`crate::store::PlatformStore::apply_signal`].
//!
//! `signalCurrentUserDetails` sets `user.name` and `user.displayName` of every credential of the
//! RP whose user handle is `userId` (L3 §5.1.10.3), each cut to
//! [`latchkey_client::manage::MAX_USER_FIELD`] bytes as any stored user string is.
//!
//! Signals are silent (L3: no user interaction) and answer nothing about what they found: a
//! caller learns neither whether a credential existed nor how many were removed, since
//! `signalUnknownCredential` may be sent for a user who has not signed in.
//!
//! Removal, not hiding: L3 says the authenticator SHOULD remove the credential (it MAY hide it
//! instead). We remove, because the store has no hidden state to keep consistent, a hidden
//! credential still holds a private key the RP has disowned, and nothing could un-hide a
//! credential an RP said it does not know. The cost, that an RP wrongly omitting a credential from
//! `allAcceptedCredentialIds` deletes it for good, is the RP's to avoid; the log records each
//! removal.

use latchkey_client::manage::{CredentialInfo, MAX_USER_FIELD};
use latchkey_webauthn::ids::{CredentialId, UserHandle};
use latchkey_webauthn::options::truncate_utf8;
use latchkey_webauthn::origin::RpId;
use latchkey_webauthn::{b64, WebAuthnError};
use serde::Deserialize;

use latchkey_worker::ManagedDevice;

use crate::options::MAX_OPTIONS_JSON;

/// Which signal (L3 §5.1.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// `signalUnknownCredential`.
    UnknownCredential,
    /// `signalAllAcceptedCredentials`.
    AllAcceptedCredentials,
    /// `signalCurrentUserDetails`.
    CurrentUserDetails,
}

impl SignalKind {
    /// The client capability name (L3 §5.1.7).
    pub fn capability(self) -> &'static str {
        match self {
            Self::UnknownCredential => "signalUnknownCredential",
            Self::AllAcceptedCredentials => "signalAllAcceptedCredentials",
            Self::CurrentUserDetails => "signalCurrentUserDetails",
        }
    }
}

/// Which signals a back-end applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalSupport {
    /// `signalUnknownCredential`.
    pub unknown_credential: bool,
    /// `signalAllAcceptedCredentials`.
    pub all_accepted_credentials: bool,
    /// `signalCurrentUserDetails`.
    pub current_user_details: bool,
}

impl SignalSupport {
    /// None.
    pub const NONE: Self = Self {
        unknown_credential: false,
        all_accepted_credentials: false,
        current_user_details: false,
    };
    /// All three ([`apply`]).
    pub const ALL: Self = Self {
        unknown_credential: true,
        all_accepted_credentials: true,
        current_user_details: true,
    };
    /// Removing, not updating (a back-end that can delete but not rename).
    pub const REMOVE_ONLY: Self = Self {
        unknown_credential: true,
        all_accepted_credentials: true,
        current_user_details: false,
    };

    /// Whether `kind` is supported.
    pub fn supports(self, kind: SignalKind) -> bool {
        match kind {
            SignalKind::UnknownCredential => self.unknown_credential,
            SignalKind::AllAcceptedCredentials => self.all_accepted_credentials,
            SignalKind::CurrentUserDetails => self.current_user_details,
        }
    }
}

/// What a signal says, its IDs decoded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalBody {
    /// The RP does not know this credential.
    UnknownCredential {
        /// `credentialId`.
        credential_id: CredentialId,
    },
    /// These are all of this user's credentials the RP accepts.
    AllAcceptedCredentials {
        /// `userId`.
        user_id: UserHandle,
        /// `allAcceptedCredentialIds`.
        accepted: Vec<CredentialId>,
    },
    /// The user's current names.
    CurrentUserDetails {
        /// `userId`.
        user_id: UserHandle,
        /// `name`.
        name: String,
        /// `displayName`.
        display_name: String,
    },
}

impl SignalBody {
    /// Which signal this is.
    pub fn kind(&self) -> SignalKind {
        match self {
            Self::UnknownCredential { .. } => SignalKind::UnknownCredential,
            Self::AllAcceptedCredentials { .. } => SignalKind::AllAcceptedCredentials,
            Self::CurrentUserDetails { .. } => SignalKind::CurrentUserDetails,
        }
    }
}

/// A parsed signal whose `rpId` is not yet checked for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalRequest {
    /// `rpId`, as the caller sent it.
    pub rp_id: String,
    /// The rest.
    pub body: SignalBody,
}

/// A signal whose RP ID latchkeyd checked for the caller; only the D-Bus layer makes one from a
/// request (and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// The RP ID, authorised for the caller.
    pub rp_id: RpId,
    /// What it says.
    pub body: SignalBody,
}

/// L3 §5.1.10 `UnknownCredentialOptions`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UnknownCredentialOptions {
    rp_id: String,
    credential_id: String,
}

/// L3 §5.1.10 `AllAcceptedCredentialsOptions`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AllAcceptedCredentialsOptions {
    rp_id: String,
    user_id: String,
    all_accepted_credential_ids: Vec<String>,
}

/// L3 §5.1.10 `CurrentUserDetailsOptions`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CurrentUserDetailsOptions {
    rp_id: String,
    user_id: String,
    name: String,
    display_name: String,
}

/// base64url that fails to decode is a `TypeError` in the signal algorithms (not the
/// `EncodingError` of the ceremony options' parsers).
fn decode(what: &str, text: &str) -> Result<Vec<u8>, WebAuthnError> {
    b64::decode(what, text).map_err(|e| WebAuthnError::type_error(e.message().to_owned()))
}

fn credential_id(what: &str, text: &str) -> Result<CredentialId, WebAuthnError> {
    CredentialId::new(what, decode(what, text)?)
}

fn user_id(text: &str) -> Result<UserHandle, WebAuthnError> {
    UserHandle::new(decode("userId", text)?)
        .map_err(|e| WebAuthnError::type_error(e.message().replace("user.id", "userId")))
}

fn json<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, WebAuthnError> {
    serde_json::from_str(text)
        .map_err(|e| WebAuthnError::type_error(format!("the signal options are invalid: {e}")))
}

impl SignalRequest {
    /// Parses the options JSON of `kind`.
    pub fn parse(kind: SignalKind, text: &str) -> Result<Self, WebAuthnError> {
        if text.len() > MAX_OPTIONS_JSON {
            return Err(WebAuthnError::type_error(format!(
                "signal options JSON is larger than {MAX_OPTIONS_JSON} bytes"
            )));
        }
        Ok(match kind {
            SignalKind::UnknownCredential => {
                let o: UnknownCredentialOptions = json(text)?;
                Self {
                    body: SignalBody::UnknownCredential {
                        credential_id: credential_id("credentialId", &o.credential_id)?,
                    },
                    rp_id: o.rp_id,
                }
            }
            SignalKind::AllAcceptedCredentials => {
                let o: AllAcceptedCredentialsOptions = json(text)?;
                let accepted = o
                    .all_accepted_credential_ids
                    .iter()
                    .map(|id| credential_id("allAcceptedCredentialIds", id))
                    .collect::<Result<_, _>>()?;
                Self {
                    body: SignalBody::AllAcceptedCredentials {
                        user_id: user_id(&o.user_id)?,
                        accepted,
                    },
                    rp_id: o.rp_id,
                }
            }
            SignalKind::CurrentUserDetails => {
                let o: CurrentUserDetailsOptions = json(text)?;
                Self {
                    body: SignalBody::CurrentUserDetails {
                        user_id: user_id(&o.user_id)?,
                        name: o.name,
                        display_name: o.display_name,
                    },
                    rp_id: o.rp_id,
                }
            }
        })
    }

    /// The signal, once the D-Bus layer authorised `rp_id` for the caller.
    pub fn authorized(self, rp_id: RpId) -> Signal {
        Signal {
            rp_id,
            body: self.body,
        }
    }
}

/// One change to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Remove the credential with this ID.
    Remove(Vec<u8>),
    /// Set the names of the credential with this ID.
    UpdateUser {
        /// The credential ID.
        id: Vec<u8>,
        /// New `user.name`.
        name: String,
        /// New `user.displayName`.
        display_name: String,
    },
}

/// What a signal changed (for the log; never told to the caller).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalReport {
    /// Credentials removed.
    pub removed: usize,
    /// Credentials whose user names changed.
    pub updated: usize,
}

/// Why a signal was not applied.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// This back-end does not apply this signal.
    #[error("this authenticator does not support {0}")]
    NotSupported(&'static str),
    /// The store (or the worker holding it) failed.
    #[error("the credential store failed")]
    Store(#[source] latchkey_worker::ManageError),
}

/// The changes `signal` asks of `stored`, the RP's credentials (L3 §5.1.10's authenticator
/// actions): an unknown credential is removed; of the user's credentials, those not accepted are
/// removed; the user's credentials get the current names, cut to [`MAX_USER_FIELD`] bytes (only
/// where they differ).
pub fn plan(signal: &Signal, stored: &[CredentialInfo]) -> Vec<Action> {
    match &signal.body {
        SignalBody::UnknownCredential { credential_id } => stored
            .iter()
            .filter(|c| c.credential_id == credential_id.as_bytes())
            .map(|c| Action::Remove(c.credential_id.clone()))
            .collect(),
        SignalBody::AllAcceptedCredentials { user_id, accepted } => stored
            .iter()
            .filter(|c| c.user_id == user_id.as_bytes())
            .filter(|c| !accepted.iter().any(|a| a.as_bytes() == c.credential_id))
            .map(|c| Action::Remove(c.credential_id.clone()))
            .collect(),
        SignalBody::CurrentUserDetails {
            user_id,
            name,
            display_name,
        } => {
            let name = truncate_utf8(name, MAX_USER_FIELD);
            let display_name = truncate_utf8(display_name, MAX_USER_FIELD);
            stored
                .iter()
                .filter(|c| c.user_id == user_id.as_bytes())
                .filter(|c| {
                    c.user_name.as_deref() != Some(name)
                        || c.user_display_name.as_deref() != Some(display_name)
                })
                .map(|c| Action::UpdateUser {
                    id: c.credential_id.clone(),
                    name: name.to_owned(),
                    display_name: display_name.to_owned(),
                })
                .collect()
        }
    }
}

/// Applies `signal` to a device's platform credentials through its list, delete and update-user
/// operations (all three signals; `NotSupported` from a device without them).
pub fn apply(device: &mut dyn ManagedDevice, signal: &Signal) -> Result<SignalReport, SignalError> {
    let kind = signal.body.kind();
    let stored = device
        .list(Some(signal.rp_id.as_str()))
        .ok_or(SignalError::NotSupported(kind.capability()))?
        .map_err(SignalError::Store)?;
    let mut report = SignalReport::default();
    for action in plan(signal, &stored) {
        match action {
            Action::Remove(id) => {
                let removed = device
                    .delete(&id)
                    .ok_or(SignalError::NotSupported(kind.capability()))?
                    .map_err(SignalError::Store)?;
                if removed {
                    report.removed += 1;
                }
            }
            Action::UpdateUser {
                id,
                name,
                display_name,
            } => {
                let updated = device
                    .update_user(&id, &name, &display_name)
                    .ok_or(SignalError::NotSupported(kind.capability()))?
                    .map_err(SignalError::Store)?;
                if updated {
                    report.updated += 1;
                }
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests;
