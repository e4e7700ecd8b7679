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
    /// The authenticator verifies the user itself within the ceremony (`options.uv = true`): a
    /// CTAP 2.0 key with built-in UV and no pinUvAuthToken.
    BuiltIn,
    /// A pinUvAuthToken from built-in UV (getPinUvAuthTokenUsingUvWithPermissions), the PIN
    /// as fall-back: a key with built-in UV set up and `pinUvAuthToken`.
    BuiltInToken,
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
    // With noMcGaPermissionsWithClientPin the PIN cannot authorise a ceremony (§6.5.5.7.2
    // step 4), though it still makes the key "protected by some form of user verification".
    let no_mc_ga = crate::pin_policy::no_mc_ga_with_pin(info);
    let protected = pin == Some(true) || built_in;
    let can_verify = (pin == Some(true) && !no_mc_ga) || built_in;
    // A key protected by some form of UV wants it for a discoverable credential, and for any
    // credential without makeCredUvNotRqd (CTAP 2.1 §6.1.2 steps 7-8).
    let needed = match requirement {
        UserVerificationRequirement::Required => true,
        UserVerificationRequirement::Preferred => can_verify,
        UserVerificationRequirement::Discouraged => false,
    } || always
        || (make_credential && protected && (discoverable || !mc_uv_not_required));
    if !needed {
        return Ok(UvPlan::Skip);
    }
    // Built-in UV set up (`uv: true`): a token from it where the key issues tokens (the PIN
    // stays the fall-back), else `uv` in the request itself. Built-in UV present but not set
    // up (`uv: false`) is passed over for the PIN.
    if built_in {
        return Ok(if info.option("pinUvAuthToken") == Some(true) {
            UvPlan::BuiltInToken
        } else {
            UvPlan::BuiltIn
        });
    }
    if no_mc_ga {
        return Err(WebAuthnError::not_allowed(
            "the authenticator verifies users for this only by its built-in method (a fingerprint), which is not set up",
        ));
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

/// Whether a sign-in can name the one listed credential directly, without the silent pre-flight.
///
/// A pre-flight is an assertion like any other: the authenticator signs it and counts it
/// (CTAP 2.1 §6.2.2 increments the signature counter for every assertion it signs, whatever
/// `up` is, and a counter that skipped signatures would let a clone go unnoticed), so a sign-in
/// with a pre-flight moves the counter by 2. It is needed where it tells the platform something:
/// a list longer than `maxCredentialCountInList` (it finds the batch to send), or a CTAP 2.0
/// key, which may ask for a touch before answering NO_CREDENTIALS. A CTAP 2.1 key checks the
/// allowList before asking for a touch (§6.2.2 steps 7-9), so one credential that fits
/// `maxCredentialIdLength` is sent as is and the counter moves once per sign-in.
///
/// Not with built-in UV in the request itself ([`UvPlan::BuiltIn`], `options.uv = true`): the
/// key verifies the user (§6.2.2 step 6.2) before it looks up the allowList (step 7), so a
/// credential it does not hold would still cost a finger scan; the silent pre-flight finds out
/// first.
pub fn needs_no_preflight(info: &GetInfoResponse, plan: UvPlan, ids: &[Vec<u8>]) -> bool {
    let max_len = info
        .max_credential_id_length
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX);
    let ctap21 = info.versions.iter().any(|v| v == "FIDO_2_1");
    matches!(ids, [only] if only.len() <= max_len) && ctap21 && plan != UvPlan::BuiltIn
}

/// The clientDataHash used for pre-flight requests: nothing is signed for a relying party.
const PREFLIGHT_HASH: [u8; 32] = [0u8; 32];

/// Splits `ids` into the allowLists the authenticator takes: at most
/// `maxCredentialCountInList` IDs each (1 when it does not say), each request within
/// `maxMsgSize` (a batch is closed early when the next ID would not fit); IDs longer than
/// `maxCredentialIdLength`, and any that alone would not fit, are left out.
pub fn batches<'a>(
    info: &GetInfoResponse,
    ids: &'a [Vec<u8>],
    request: impl Fn(&[&'a Vec<u8>]) -> GetAssertionRequest,
) -> Vec<Vec<&'a Vec<u8>>> {
    let count = usize::try_from(info.max_credential_count_in_list.unwrap_or(1))
        .unwrap_or(1)
        .max(1);
    let max_len = info
        .max_credential_id_length
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX);
    let fits = |batch: &[&'a Vec<u8>]| {
        ctap2::fits(
            info,
            &latchkey_ctap::command::Request::GetAssertion(request(batch)),
        )
    };
    let mut out = Vec::new();
    let mut current: Vec<&'a Vec<u8>> = Vec::new();
    for id in ids.iter().filter(|id| id.len() <= max_len) {
        current.push(id);
        if current.len() <= count && fits(&current) {
            continue;
        }
        current.pop();
        if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        current.push(id);
        if !fits(&current) {
            current.pop();
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Finds the first of `ids` the authenticator holds for `rp_id`, asking silently (`up = false`)
/// in the [`batches`] the authenticator takes.
pub fn preflight(
    device: &mut dyn Device,
    info: &GetInfoResponse,
    rp_id: &str,
    ids: &[Vec<u8>],
    token: Option<&Token>,
) -> Result<Option<Vec<u8>>, WebAuthnError> {
    let request = |chunk: &[&Vec<u8>]| GetAssertionRequest {
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
    for chunk in batches(info, ids, request) {
        match ctap2::get_assertion(device, request(&chunk), &mut |_| {}) {
            Ok(answer) => {
                let found = match (answer.credential, chunk.as_slice()) {
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
    fn only_one_listed_credential_on_a_ctap21_key_skips_the_preflight() {
        let mut i = info(&[]);
        i.max_credential_id_length = Some(64);
        let one = vec![vec![1u8; 32]];
        let skip = UvPlan::Skip;
        assert!(needs_no_preflight(&i, skip, &one));
        assert!(!needs_no_preflight(
            &i,
            skip,
            &[vec![1u8; 32], vec![2u8; 32]]
        ));
        assert!(!needs_no_preflight(&i, skip, &[]));
        // Longer than the key takes: the pre-flight skips it (and finds nothing).
        assert!(!needs_no_preflight(&i, skip, &[vec![1u8; 65]]));
        let mut old = i.clone();
        old.versions = vec!["U2F_V2".into(), "FIDO_2_0".into()];
        assert!(!needs_no_preflight(&old, skip, &one));
        // A token (from the PIN or the finger) is had before the request: the key still looks
        // the credential up before asking for anything.
        assert!(needs_no_preflight(&i, UvPlan::BuiltInToken, &one));
        let pin = UvPlan::Pin {
            set_if_unset: false,
        };
        assert!(needs_no_preflight(&i, pin, &one));
    }

    #[test]
    fn built_in_uv_in_the_request_keeps_the_preflight() {
        // §6.2.2 verifies the user (step 6.2) before it looks for the credential (step 7).
        let mut i = info(&[("uv", true)]);
        i.max_credential_id_length = Some(64);
        assert!(!needs_no_preflight(&i, UvPlan::BuiltIn, &[vec![1u8; 32]]));
    }

    #[test]
    fn built_in_uv_gives_a_token_where_the_key_issues_them_and_the_pin_stays_the_fallback() {
        let i = info(&[("uv", true), ("clientPin", true), ("pinUvAuthToken", true)]);
        assert_eq!(
            plan(&i, Required, true, false).unwrap(),
            UvPlan::BuiltInToken
        );
        assert_eq!(
            plan(&i, Preferred, false, false).unwrap(),
            UvPlan::BuiltInToken
        );
        assert_eq!(plan(&i, Discouraged, false, false).unwrap(), UvPlan::Skip);
        // No PIN set: still by finger.
        let i = info(&[("uv", true), ("clientPin", false), ("pinUvAuthToken", true)]);
        assert_eq!(
            plan(&i, Required, false, false).unwrap(),
            UvPlan::BuiltInToken
        );
        // A discoverable credential on a key protected by a finger needs it.
        let i = info(&[
            ("uv", true),
            ("pinUvAuthToken", true),
            ("makeCredUvNotRqd", true),
        ]);
        assert_eq!(
            plan(&i, Discouraged, true, true).unwrap(),
            UvPlan::BuiltInToken
        );
        assert_eq!(plan(&i, Discouraged, true, false).unwrap(), UvPlan::Skip);
        // Built-in UV not set up: the PIN.
        let i = info(&[("uv", false), ("clientPin", true), ("pinUvAuthToken", true)]);
        assert_eq!(
            plan(&i, Required, false, false).unwrap(),
            UvPlan::Pin {
                set_if_unset: false
            }
        );
    }

    #[test]
    fn built_in_uv_is_used_and_no_uv_at_all_refuses_required() {
        let i = info(&[("uv", true)]);
        assert_eq!(plan(&i, Required, true, false).unwrap(), UvPlan::BuiltIn);
        // A CTAP 2.0 key with a PIN and a finger (no pinUvAuthToken): `uv` in the request.
        let i = info(&[("uv", true), ("clientPin", true)]);
        assert_eq!(plan(&i, Required, true, false).unwrap(), UvPlan::BuiltIn);
        let none = info(&[]);
        let err = plan(&none, Required, true, false).unwrap_err();
        assert_eq!(err.name(), "NotAllowedError");
        assert_eq!(plan(&none, Preferred, true, false).unwrap(), UvPlan::Skip);
    }
}
