//! The user's consent as a value: [`Consent`], which [`ask`] makes from the prompt's "approved"
//! (DESIGN "Security gates are types"), and [`remembered`] from a decision the user made earlier
//! in the trusted prompt ("Always allow", [`crate::remember`]). No other way to a [`Consent`]
//! exists; a remembered one makes the ceremony require user verification.

use std::collections::HashMap;

use latchkey_prompt::response;
use latchkey_webauthn::WebAuthnError;
use zbus::zvariant::Value;

use crate::ids::RequestId;
use crate::prompt::{ChosenPrompt, Trust};
use crate::remember::{Eligible, Remembered};

/// The user's consent to one request, the gate a [`crate::ceremony::Ceremony`] cannot be built
/// without. Only [`ask`] makes one, from the prompt's `APPROVED` answer; its
/// fields are private to this module, so nothing else in latchkeyd can claim the user agreed.
///
/// ```compile_fail
/// # use latchkey_daemon::ceremony::RequestId;
/// // Outside this module a Consent cannot be written down.
/// let forged = latchkey_daemon::consent::Consent { request: RequestId(1), trusted: true };
/// ```
#[derive(Debug)]
pub struct Consent {
    request: RequestId,
    trusted: bool,
    remember: bool,
    remembered: bool,
}

impl Consent {
    /// The request the user consented to.
    pub fn request(&self) -> RequestId {
        self.request
    }

    /// Whether the trusted prompt (not a caller-controlled one) gave it.
    pub fn trusted(&self) -> bool {
        self.trusted
    }

    /// Whether the user ticked "Always allow" (the prompt's `remember` result) in the trusted
    /// prompt; latchkeyd stores the decision only if it offered it.
    pub fn remember(&self) -> bool {
        self.remember
    }

    /// Whether this consent comes from a remembered decision rather than from a prompt now: the
    /// ceremony then requires user verification.
    pub fn remembered(&self) -> bool {
        self.remembered
    }

    /// A consent as a prompt would give it, for the pipeline's unit tests only (no build of
    /// latchkeyd has this constructor).
    #[cfg(test)]
    pub(crate) fn for_tests(request: RequestId, trusted: bool) -> Self {
        Self {
            request,
            trusted,
            remember: false,
            remembered: false,
        }
    }
}

/// The consent a remembered decision gives to `request`, if the user always allows `key`.
pub fn remembered(request: RequestId, key: &Eligible, decisions: &Remembered) -> Option<Consent> {
    decisions.contains(key).then_some(Consent {
        request,
        trusted: true,
        remember: false,
        remembered: true,
    })
}

/// Why a prompt gave no [`Consent`].
#[derive(Debug)]
pub enum NoConsent {
    /// The user refused or dismissed the request.
    Refused,
    /// The prompt failed or did not answer in time.
    Failed(WebAuthnError),
}

/// Asks the user, through `prompt`, to consent to `request`, shown with `details`.
pub async fn ask(
    prompt: &ChosenPrompt,
    request: RequestId,
    details: HashMap<&str, Value<'_>>,
) -> Result<Consent, NoConsent> {
    let (code, results) = prompt
        .answer(prompt.proxy.consent(&request.to_string(), details))
        .await
        .map_err(NoConsent::Failed)?;
    if code == response::APPROVED {
        let trusted = prompt.trust == Trust::Trusted;
        let remember = trusted
            && matches!(
                results.get("remember").map(|v| &**v),
                Some(Value::Bool(true))
            );
        Ok(Consent {
            request,
            trusted,
            remember,
            remembered: false,
        })
    } else {
        Err(NoConsent::Refused)
    }
}
