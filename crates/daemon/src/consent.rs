//! The user's consent as a value: [`Consent`], which [`ask`] alone makes from the prompt's
//! "approved" (DESIGN "Security gates are types"). latchkeyd has no policy that skips the prompt
//! for a ceremony, so no other way to a [`Consent`] exists.

use std::collections::HashMap;

use latchkey_prompt::response;
use latchkey_webauthn::WebAuthnError;
use zbus::zvariant::Value;

use crate::ids::RequestId;
use crate::prompt::{ChosenPrompt, Trust};

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
    let (code, _results) = prompt
        .answer(prompt.proxy.consent(&request.to_string(), details))
        .await
        .map_err(NoConsent::Failed)?;
    if code == response::APPROVED {
        Ok(Consent {
            request,
            trusted: prompt.trust == Trust::Trusted,
        })
    } else {
        Err(NoConsent::Refused)
    }
}
