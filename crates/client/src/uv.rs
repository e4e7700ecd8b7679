//! Choosing how to verify the user, from `userVerification` and the authenticator's getInfo
//! options (CTAP 2.1 §6.4 `clientPin`, `uv`, `alwaysUv`, `makeCredUvNotRqd`), and the silent
//! pre-flight that finds which listed credentials an authenticator holds (CTAP 2.1 §6.2 with
//! `up = false`), so that no touch is asked for in vain.

use latchkey_ctap::command::{
    ClientDataHash as CtapHash, GetAssertionOptions, GetAssertionRequest, GetInfoResponse,
};
use latchkey_ctap::entity::CredentialDescriptor;
use latchkey_ctap::status::StatusCode;
use latchkey_webauthn::options::UserVerificationRequirement;
use latchkey_webauthn::WebAuthnError;

use crate::ctap2::{self, CtapError};
use crate::device::Device;
use crate::error::{to_webauthn, Step};
use crate::pinuv::Token;

/// How the ceremony verifies the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UvPlan {
    /// No user verification.
    Skip,
    /// The authenticator verifies the user itself (`options.uv = true`).
    BuiltIn,
    /// A pinUvAuthToken from the PIN; set a PIN first if none is set and `set_if_unset`.
    Pin {
        /// First use: set a PIN when none is set.
        set_if_unset: bool,
    },
}

/// Decides how to verify the user (CTAP 2.1 §6.1.1 and §6.2.1 platform steps).
pub fn plan(
    info: &GetInfoResponse,
    requirement: UserVerificationRequirement,
    make_credential: bool,
    discoverable: bool,
) -> Result<UvPlan, WebAuthnError> {
    let pin = info.option("clientPin");
    let built_in = info.option("uv") == Some(true);
    let always = info.option("alwaysUv") == Some(true);
    let mc_uv_not_required = info.option("makeCredUvNotRqd") == Some(true);
    let can_verify = pin == Some(true) || built_in;
    let needed = match requirement {
        UserVerificationRequirement::Required => true,
        UserVerificationRequirement::Preferred => can_verify,
        UserVerificationRequirement::Discouraged => false,
    } || always
        || (make_credential && pin == Some(true) && (discoverable || !mc_uv_not_required));
    if !needed {
        return Ok(UvPlan::Skip);
    }
    if built_in && !(pin == Some(true) && info.option("pinUvAuthToken") == Some(true)) {
        return Ok(UvPlan::BuiltIn);
    }
    match pin {
        Some(true) => Ok(UvPlan::Pin { set_if_unset: false }),
        Some(false) if requirement == UserVerificationRequirement::Required || always => {
            Ok(UvPlan::Pin { set_if_unset: true })
        }
        _ if requirement == UserVerificationRequirement::Preferred => Ok(UvPlan::Skip),
        _ => Err(WebAuthnError::not_allowed(
            "user verification is required, but the authenticator has neither a PIN nor built-in user verification",
        )),
    }
}

/// The clientDataHash used for pre-flight requests: nothing is signed for a relying party.
const PREFLIGHT_HASH: [u8; 32] = [0u8; 32];

/// Finds the first of `ids` the authenticator holds for `rp_id`, asking silently (`up = false`)
/// in batches of `maxCredentialCountInList`; IDs longer than `maxCredentialIdLength` are skipped.
pub fn preflight(
    device: &mut dyn Device,
    info: &GetInfoResponse,
    rp_id: &str,
    ids: &[Vec<u8>],
    token: Option<&Token>,
) -> Result<Option<Vec<u8>>, WebAuthnError> {
    let batch = usize::try_from(info.max_credential_count_in_list.unwrap_or(1))
        .unwrap_or(1)
        .max(1);
    let max_len = info
        .max_credential_id_length
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX);
    let usable: Vec<&Vec<u8>> = ids.iter().filter(|id| id.len() <= max_len).collect();
    for chunk in usable.chunks(batch) {
        let request = GetAssertionRequest {
            rp_id: rp_id.to_owned(),
            client_data_hash: CtapHash(PREFLIGHT_HASH),
            allow_list: Some(
                chunk
                    .iter()
                    .map(|id| CredentialDescriptor::public_key(id.as_slice()))
                    .collect(),
            ),
            extensions: None,
            options: GetAssertionOptions {
                rk: None,
                up: Some(false),
                uv: None,
            },
            pin_uv_auth_param: token.map(|t| t.authenticate(&PREFLIGHT_HASH)),
            pin_uv_auth_protocol: token.map(Token::protocol),
        };
        match ctap2::get_assertion(device, request, &mut |_| {}) {
            Ok(answer) => {
                let found = match (answer.credential, chunk) {
                    (Some(c), _) => c.id,
                    (None, [only]) => (*only).clone(),
                    (None, _) => {
                        return Err(WebAuthnError::not_allowed(
                            "the authenticator did not say which credential it found",
                        ))
                    }
                };
                return Ok(Some(found));
            }
            Err(CtapError::Status(StatusCode::NoCredentials)) => continue,
            Err(e) => return Err(to_webauthn(Step::Preflight, &e)),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use UserVerificationRequirement::{Discouraged, Preferred, Required};

    fn info(options: &[(&str, bool)]) -> GetInfoResponse {
        GetInfoResponse {
            versions: vec!["FIDO_2_1".into()],
            options: Some(
                options
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), *v))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..GetInfoResponse::default()
        }
    }

    #[test]
    fn a_key_with_a_pin_uses_it_unless_discouraged_and_allowed() {
        let i = info(&[("clientPin", true), ("makeCredUvNotRqd", true)]);
        assert_eq!(
            plan(&i, Required, true, false).unwrap(),
            UvPlan::Pin {
                set_if_unset: false
            }
        );
        assert_eq!(
            plan(&i, Preferred, false, false).unwrap(),
            UvPlan::Pin {
                set_if_unset: false
            }
        );
        assert_eq!(plan(&i, Discouraged, true, false).unwrap(), UvPlan::Skip);
        assert_eq!(plan(&i, Discouraged, false, false).unwrap(), UvPlan::Skip);
        // A discoverable credential needs UV whenever a PIN is set.
        assert_eq!(
            plan(&i, Discouraged, true, true).unwrap(),
            UvPlan::Pin {
                set_if_unset: false
            }
        );
    }

    #[test]
    fn make_credential_needs_uv_without_make_cred_uv_not_rqd() {
        let i = info(&[("clientPin", true)]);
        assert_eq!(
            plan(&i, Discouraged, true, false).unwrap(),
            UvPlan::Pin {
                set_if_unset: false
            }
        );
        assert_eq!(plan(&i, Discouraged, false, false).unwrap(), UvPlan::Skip);
    }

    #[test]
    fn no_pin_yet_sets_one_only_when_uv_is_required() {
        let i = info(&[("clientPin", false)]);
        assert_eq!(
            plan(&i, Required, true, true).unwrap(),
            UvPlan::Pin { set_if_unset: true }
        );
        assert_eq!(plan(&i, Preferred, true, true).unwrap(), UvPlan::Skip);
        assert_eq!(plan(&i, Discouraged, false, false).unwrap(), UvPlan::Skip);
        let always = info(&[("clientPin", false), ("alwaysUv", true)]);
        assert_eq!(
            plan(&always, Discouraged, false, false).unwrap(),
            UvPlan::Pin { set_if_unset: true }
        );
    }

    #[test]
    fn built_in_uv_is_used_and_no_uv_at_all_refuses_required() {
        let i = info(&[("uv", true)]);
        assert_eq!(plan(&i, Required, true, false).unwrap(), UvPlan::BuiltIn);
        let none = info(&[]);
        let err = plan(&none, Required, true, false).unwrap_err();
        assert_eq!(err.name(), "NotAllowedError");
        assert_eq!(plan(&none, Preferred, true, false).unwrap(), UvPlan::Skip);
    }
}
