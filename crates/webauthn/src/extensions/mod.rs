//! Client extension processing (L3 §9.4, §10; CTAP 2.1 §12), as pure functions.
//!
//! Inputs are parsed from JSON once ([`RegistrationExtensionInputs`],
//! [`AuthenticationExtensionInputs`]); [`ctap`] maps them onto plain CTAP-side requests
//! (bytes and booleans, which the client crate turns into `ctap`'s CBOR types) and turns what
//! the authenticator and client learned back into `clientExtensionResults`.
//!
//! Misuse that the spec answers with an exception raises it, as browsers do: `prf.evalByCredential`
//! at registration, `largeBlob.read`/`write` at registration or `support` at authentication, both
//! `read` and `write`, and `write` without exactly one allowed credential are `NotSupportedError`;
//! an `evalByCredential` key that is not an allowed credential ID is `SyntaxError` (§10.1.4).

pub mod appid;
pub mod ctap;
mod json;
pub mod prf;

pub use json::*;
pub use prf::{prf_salt, PrfOutputs, PrfSalts, PrfValues};

use crate::b64;
use crate::error::WebAuthnError;
use crate::ids::CredentialId;
use crate::options::CredentialDescriptor;

/// The largest `credBlob` accepted from the RP (CTAP 2.1 §12.2: authenticators offer ≥ 32).
pub const MAX_CRED_BLOB: usize = 4096;
/// The largest `largeBlob.write` accepted from the RP.
pub const MAX_LARGE_BLOB_WRITE: usize = 64 * 1024;

/// `largeBlob.support` (L3 §10.1.5); unknown values behave as `preferred`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LargeBlobSupport {
    /// `"required"`.
    Required,
    /// `"preferred"` or an unknown value.
    Preferred,
}

/// `credentialProtectionPolicy` (CTAP 2.1 §12.1), with its CTAP integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CredProtectPolicy {
    /// `"userVerificationOptional"` = 1.
    UserVerificationOptional = 1,
    /// `"userVerificationOptionalWithCredentialIDList"` = 2.
    UserVerificationOptionalWithCredentialIdList = 2,
    /// `"userVerificationRequired"` = 3.
    UserVerificationRequired = 3,
}

impl CredProtectPolicy {
    /// Parse the WebAuthn string; unknown values are ignored (`None`).
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "userVerificationOptional" => Some(Self::UserVerificationOptional),
            "userVerificationOptionalWithCredentialIDList" => {
                Some(Self::UserVerificationOptionalWithCredentialIdList)
            }
            "userVerificationRequired" => Some(Self::UserVerificationRequired),
            _ => None,
        }
    }
    /// The CTAP `credProtect` value.
    pub fn ctap_value(self) -> u8 {
        self as u8
    }
}

/// `credProtect` inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredProtect {
    /// The requested policy.
    pub policy: CredProtectPolicy,
    /// `enforceCredentialProtectionPolicy`.
    pub enforce: bool,
}

/// Registration extension inputs this platform supports (L3 §5.1.3 step 12).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistrationExtensionInputs {
    /// `credProps: true`.
    pub cred_props: bool,
    /// `prf` present; `Some(eval)` inside when `eval` was given.
    pub prf: Option<Option<PrfValues>>,
    /// `hmacCreateSecret: true`.
    pub hmac_create_secret: bool,
    /// `largeBlob.support`.
    pub large_blob: Option<LargeBlobSupport>,
    /// `credentialProtectionPolicy` (+ enforce).
    pub cred_protect: Option<CredProtect>,
    /// `credBlob` bytes.
    pub cred_blob: Option<Vec<u8>>,
    /// `minPinLength: true`.
    pub min_pin_length: bool,
    /// `appidExclude`, the FIDO AppID whose U2F credentials are excluded.
    pub appid_exclude: Option<String>,
}

impl RegistrationExtensionInputs {
    /// `prf` over `hmac-secret` must use the UV-protected PRF (§10.1.4), which overrides the
    /// RP's `userVerification`: the client then asks for UV.
    pub fn forces_user_verification(&self) -> bool {
        self.prf.is_some()
    }

    /// Parse and check registration inputs.
    pub fn parse(j: &AuthenticationExtensionsClientInputsJSON) -> Result<Self, WebAuthnError> {
        let prf = match &j.prf {
            None => None,
            Some(p) => {
                if p.eval_by_credential.is_some() {
                    return Err(WebAuthnError::not_supported(
                        "extensions.prf.evalByCredential is not allowed when creating a credential",
                    ));
                }
                Some(match &p.eval {
                    Some(v) => Some(PrfValues::parse("extensions.prf.eval", v)?),
                    None => None,
                })
            }
        };
        let large_blob = match &j.large_blob {
            None => None,
            Some(lb) => {
                if lb.read.is_some() || lb.write.is_some() {
                    return Err(WebAuthnError::not_supported(
                        "extensions.largeBlob.read/write are not allowed when creating a credential",
                    ));
                }
                Some(match lb.support.as_deref() {
                    Some("required") => LargeBlobSupport::Required,
                    _ => LargeBlobSupport::Preferred,
                })
            }
        };
        let cred_protect = j
            .credential_protection_policy
            .as_deref()
            .and_then(CredProtectPolicy::from_wire)
            .map(|policy| CredProtect {
                policy,
                enforce: j.enforce_credential_protection_policy.unwrap_or(false),
            });
        let cred_blob = match &j.cred_blob {
            Some(s) => {
                let b = b64::decode("extensions.credBlob", s)?;
                if b.len() > MAX_CRED_BLOB {
                    return Err(WebAuthnError::not_supported(format!(
                        "extensions.credBlob is {} bytes; at most {MAX_CRED_BLOB} are accepted",
                        b.len()
                    )));
                }
                Some(b)
            }
            None => None,
        };
        Ok(Self {
            cred_props: j.cred_props == Some(true),
            prf,
            hmac_create_secret: j.hmac_create_secret == Some(true),
            large_blob,
            cred_protect,
            cred_blob,
            min_pin_length: j.min_pin_length == Some(true),
            appid_exclude: j.appid_exclude.clone(),
        })
    }
}

/// `prf` inputs at authentication, with `evalByCredential` keys decoded and checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrfAuthenticationInputs {
    /// `eval`.
    pub eval: Option<PrfValues>,
    /// `evalByCredential`, keyed by allowed credential IDs, in key order.
    pub eval_by_credential: Vec<(CredentialId, PrfValues)>,
}

impl PrfAuthenticationInputs {
    /// The inputs that apply when `credential` is the one asserted (§10.1.4 step 4):
    /// its `evalByCredential` entry, else `eval`.
    pub fn for_credential(&self, credential: Option<&CredentialId>) -> Option<&PrfValues> {
        credential
            .and_then(|c| {
                self.eval_by_credential
                    .iter()
                    .find(|(id, _)| id == c)
                    .map(|(_, v)| v)
            })
            .or(self.eval.as_ref())
    }
}

/// `largeBlob` at authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LargeBlobAuthentication {
    /// `read: true`.
    Read,
    /// `write`: the blob to store for the single allowed credential.
    Write(Vec<u8>),
}

/// Authentication extension inputs this platform supports (L3 §5.1.4.1 step 10).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthenticationExtensionInputs {
    /// `appid`, the FIDO AppID for the U2F fallback.
    pub appid: Option<String>,
    /// `prf`.
    pub prf: Option<PrfAuthenticationInputs>,
    /// `largeBlob`; `read: false` alone is nothing to do and parses as `None`.
    pub large_blob: Option<LargeBlobAuthentication>,
    /// `getCredBlob: true`.
    pub get_cred_blob: bool,
}

impl AuthenticationExtensionInputs {
    /// `prf` evaluation must use the UV-protected PRF (§10.1.4): the client asks for UV.
    pub fn forces_user_verification(&self) -> bool {
        self.prf.is_some()
    }

    /// Parse and check authentication inputs against the allowed credentials.
    pub fn parse(
        j: &AuthenticationExtensionsClientInputsJSON,
        allow: &[CredentialDescriptor],
    ) -> Result<Self, WebAuthnError> {
        let prf = match &j.prf {
            None => None,
            Some(p) => Some(parse_prf_get(p, allow)?),
        };
        let large_blob = match &j.large_blob {
            None => None,
            Some(lb) => {
                if lb.support.is_some() {
                    return Err(WebAuthnError::not_supported(
                        "extensions.largeBlob.support is only allowed when creating a credential",
                    ));
                }
                match (lb.read, &lb.write) {
                    (Some(_), Some(_)) => {
                        return Err(WebAuthnError::not_supported(
                            "extensions.largeBlob cannot both read and write",
                        ))
                    }
                    (Some(true), None) => Some(LargeBlobAuthentication::Read),
                    (_, Some(w)) => {
                        if allow.len() != 1 {
                            return Err(WebAuthnError::not_supported(
                                "extensions.largeBlob.write needs exactly one allowCredentials entry",
                            ));
                        }
                        let blob = b64::decode("extensions.largeBlob.write", w)?;
                        if blob.len() > MAX_LARGE_BLOB_WRITE {
                            return Err(WebAuthnError::not_supported(format!(
                                "extensions.largeBlob.write is {} bytes; at most {MAX_LARGE_BLOB_WRITE} are accepted",
                                blob.len()
                            )));
                        }
                        Some(LargeBlobAuthentication::Write(blob))
                    }
                    _ => None,
                }
            }
        };
        Ok(Self {
            appid: j.appid.clone(),
            prf,
            large_blob,
            get_cred_blob: j.get_cred_blob == Some(true),
        })
    }
}

fn parse_prf_get(
    p: &PrfInputsJSON,
    allow: &[CredentialDescriptor],
) -> Result<PrfAuthenticationInputs, WebAuthnError> {
    let eval = match &p.eval {
        Some(v) => Some(PrfValues::parse("extensions.prf.eval", v)?),
        None => None,
    };
    let mut eval_by_credential = Vec::new();
    if let Some(map) = &p.eval_by_credential {
        if !map.is_empty() && allow.is_empty() {
            return Err(WebAuthnError::not_supported(
                "extensions.prf.evalByCredential needs a non-empty allowCredentials",
            ));
        }
        for (key, value) in map {
            let what = format!("extensions.prf.evalByCredential[{key:?}]");
            let id = b64::decode(&what, key)
                .ok()
                .filter(|b| !b.is_empty())
                .and_then(|b| allow.iter().find(|d| d.id.as_bytes() == b.as_slice()))
                .map(|d| d.id.clone())
                .ok_or_else(|| {
                    WebAuthnError::syntax(format!(
                        "{what}: the key is not the base64url ID of an allowed credential"
                    ))
                })?;
            let values: PrfValuesJSON = serde_json::from_value(value.clone())
                .map_err(|e| WebAuthnError::type_error(format!("{what}: {e}")))?;
            eval_by_credential.push((id, PrfValues::parse(&what, &values)?));
        }
    }
    Ok(PrfAuthenticationInputs {
        eval,
        eval_by_credential,
    })
}

#[cfg(test)]
mod tests;
