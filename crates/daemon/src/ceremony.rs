//! The seam between latchkeyd and whatever runs a ceremony: the platform authenticator, the
//! security keys, and later a phone over hybrid, a password manager, the device worker. latchkeyd
//! holds no key material (DESIGN "Processes"); a back-end implements [`Ceremonies`] and gets the
//! authorized request ([`Ceremony`]: RP ID and origin checked, clientDataJSON built, options
//! parsed), an interaction handle for the prompt ([`PromptSession`]) and a [`CancelToken`], and
//! answers with the WebAuthn L3 response JSON (§5.1.10 `RegistrationResponseJSON`,
//! `AuthenticationResponseJSON`) or a [`Fault`]: who is at fault (the caller, the user, the
//! authenticator, the store, the system) and the cause, from which latchkeyd alone picks the
//! DOMException name (`crate::fault`). The platform credentials' management is another trait,
//! [`crate::store::PlatformStore`].

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use latchkey_client::Device;
use latchkey_webauthn::clientdata::{CeremonyType, CollectedClientData};
use latchkey_webauthn::ids::ClientDataHash;
use latchkey_webauthn::origin::AuthorizedRpId;
use latchkey_webauthn::WebAuthnError;

use crate::authorize::Authorized;
pub use crate::cancel::CancelToken;
use crate::consent::Consent;
pub use crate::fault::{Blame, Fault, FaultKind};
pub use crate::ids::RequestId;
use crate::options::CheckedOptions;
pub use crate::session::PromptSession;
pub use latchkey_prompt::{Account, Pin, PinRequest};

/// Everything a back-end needs for one ceremony. Its fields are private: the one way to build it,
/// `Ceremony::new`, is crate-private and takes the two gates latchkeyd's pipeline passes —
/// the caller's authorization ([`Authorized`], which only [`crate::authorize`] mints) and the
/// user's [`Consent`] (which only a prompt's approval mints) — and builds `clientDataJSON` from
/// them itself, so a back-end never runs a ceremony that skipped either.
///
/// ```compile_fail
/// # use latchkey_daemon::ceremony::{Ceremony, RequestId};
/// // Outside latchkeyd's pipeline a Ceremony cannot be written down, not even as a copy of a
/// // real one pointed at another request.
/// fn forge(real: Ceremony) -> Ceremony {
///     Ceremony { id: RequestId(2), ..real }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Ceremony {
    id: RequestId,
    kind: CeremonyType,
    options: CheckedOptions,
    authorized: AuthorizedRpId,
    client_data_json: Vec<u8>,
    caller_name: String,
}

/// Why the gates did not let a ceremony be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// The consent was given to another request.
    #[error("the consent was given to another request")]
    OtherRequest,
    /// An unknown caller needs the user's approval in the trusted prompt, and the consent came
    /// from a caller-controlled one.
    #[error("an unverified caller can only be approved in the trusted prompt")]
    NeedsTrustedPrompt,
    /// The parsed options are not of the ceremony's kind.
    #[error("the options are not {0:?} options")]
    WrongOptions(CeremonyType),
}

impl Ceremony {
    /// The ceremony `id` of `kind` on `options`, for the caller shown as `caller_name`, through
    /// both gates (type doc).
    pub(crate) fn new(
        id: RequestId,
        kind: CeremonyType,
        options: CheckedOptions,
        authorized: Authorized,
        consent: Consent,
        caller_name: String,
    ) -> Result<Self, GateError> {
        if consent.request() != id {
            return Err(GateError::OtherRequest);
        }
        if authorized.needs_approval() && !consent.trusted() {
            return Err(GateError::NeedsTrustedPrompt);
        }
        let matches = matches!(
            (&options, kind),
            (CheckedOptions::Create(_), CeremonyType::Create)
                | (CheckedOptions::Get(_), CeremonyType::Get)
        );
        if !matches {
            return Err(GateError::WrongOptions(kind));
        }
        // A remembered decision stands for the consent step only, never for user verification.
        let options = if consent.remembered() {
            options.requiring_user_verification()
        } else {
            options
        };
        let (rp, ancestry) = authorized.into_parts();
        let client_data_json = CollectedClientData::new(
            kind,
            options.challenge(),
            &rp.origin().serialize(),
            ancestry,
        )
        .to_json_bytes();
        Ok(Self {
            id,
            kind,
            options,
            authorized: rp,
            client_data_json,
            caller_name,
        })
    }

    /// The request.
    pub fn id(&self) -> RequestId {
        self.id
    }

    /// Create or get.
    pub fn kind(&self) -> CeremonyType {
        self.kind
    }

    /// The caller's options, parsed once (matches [`Self::kind`]).
    pub fn options(&self) -> &CheckedOptions {
        &self.options
    }

    /// The origin and RP ID, authorized for the caller.
    pub fn authorized(&self) -> &AuthorizedRpId {
        &self.authorized
    }

    /// `clientDataJSON`, built by latchkeyd (§5.8.1.1).
    pub fn client_data_json(&self) -> &[u8] {
        &self.client_data_json
    }

    /// How the caller is shown to the user.
    pub fn caller_name(&self) -> &str {
        &self.caller_name
    }

    /// SHA-256 of `clientDataJSON`, the `clientDataHash` an authenticator signs (L3 §5.8.1).
    pub fn client_data_hash(&self) -> ClientDataHash {
        ClientDataHash::of(&self.client_data_json)
    }

    /// The client crate's registration request for this ceremony.
    pub fn create_request(&self) -> Result<latchkey_client::CreateRequest, WebAuthnError> {
        let CheckedOptions::Create(options) = &self.options else {
            return Err(WebAuthnError::unknown(
                "create ceremony without creation options",
            ));
        };
        Ok(latchkey_client::CreateRequest {
            options: (**options).clone(),
            rp_id: self.authorized.rp_id().as_str().to_owned(),
            client_data_json: self.client_data_json.clone(),
        })
    }

    /// The client crate's authentication request for this ceremony.
    pub fn get_request(&self) -> Result<latchkey_client::GetRequest, WebAuthnError> {
        let CheckedOptions::Get(options) = &self.options else {
            return Err(WebAuthnError::unknown(
                "get ceremony without request options",
            ));
        };
        Ok(latchkey_client::GetRequest {
            options: (**options).clone(),
            rp_id: self.authorized.rp_id().as_str().to_owned(),
            client_data_json: self.client_data_json.clone(),
        })
    }

    /// Runs this ceremony on `device` through the client crate (blocking): registration or
    /// authentication as `kind` says, the user side through `ui`, up to the choice of account
    /// when several discoverable credentials answered. They were all signed by the one
    /// getAssertion (CTAP 2.1 §6.2.2), so the choice is asked of the user afterwards and
    /// [`AccountChoice::finish`](latchkey_client::AccountChoice::finish) ends the ceremony
    /// without signing again.
    pub fn perform(
        &self,
        device: &mut dyn Device,
        ui: &mut dyn latchkey_client::CeremonyUi,
    ) -> Result<Performed, WebAuthnError> {
        match self.kind {
            CeremonyType::Create => {
                let registration = latchkey_client::register(device, &self.create_request()?, ui)?;
                Ok(Performed::Response(registration.to_json()?))
            }
            CeremonyType::Get => {
                match latchkey_client::authenticate_until_choice(device, &self.get_request()?, ui)?
                {
                    latchkey_client::Authentication::Done(assertion) => {
                        Ok(Performed::Response(assertion.to_json()?))
                    }
                    latchkey_client::Authentication::Choose(choice) => {
                        Ok(Performed::Choose(choice))
                    }
                }
            }
        }
    }
}

/// How [`Ceremony::perform`] ended, short of a question.
pub enum Performed {
    /// The response JSON.
    Response(serde_json::Value),
    /// Several discoverable credentials answered: the user chooses one.
    Choose(latchkey_client::AccountChoice),
}

/// What a back-end's ceremony answers: the response JSON, or whose fault it failed and why.
pub type CeremonyResult = Result<serde_json::Value, Fault>;

/// A back-end that runs ceremonies: the platform authenticator, the security keys, a router in
/// front of both. `create` and `get` are called with the request's [`CancelToken`], which latchkeyd
/// cancels when the caller closes the request, leaves the bus or the request times out; the
/// back-end then stops at once (its future may also simply be dropped).
#[async_trait]
pub trait Ceremonies: Send + Sync + 'static {
    /// Runs `navigator.credentials.create()`; returns `RegistrationResponseJSON`.
    async fn create(
        &self,
        ceremony: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> CeremonyResult;
    /// Runs `navigator.credentials.get()`; returns `AuthenticationResponseJSON`.
    async fn get(
        &self,
        ceremony: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> CeremonyResult;
    /// Client capabilities this back-end provides (L3 §5.1.7 names, `extension:<id>` entries).
    fn capabilities(&self) -> BTreeMap<String, bool>;
}

/// Runs the synchronous ceremony step `f` (a run of an authenticator, a look in the platform
/// store) to its end. On a multi-threaded runtime (latchkeyd's) it runs on this very thread
/// through `block_in_place`: the runtime hands this worker's other tasks to another thread, and
/// the step pays no hop to a blocking thread and back (two thread wake-ups, which were the larger
/// part of a get's own time through latchkeyd). It never waits on a person: the prompt's answers
/// are already in hand ([`crate::answers`]). A current-thread runtime (where `block_in_place` is
/// not allowed) sends it to a blocking thread instead.
pub(crate) async fn in_place<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, WebAuthnError> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let failed = |e: &dyn std::fmt::Display| {
        WebAuthnError::unknown(format!("the ceremony thread failed: {e}"))
    };
    let multi_thread = matches!(
        Handle::try_current().map(|h| h.runtime_flavor()),
        Ok(RuntimeFlavor::MultiThread)
    );
    if multi_thread {
        // As a blocking thread would, a panic fails this ceremony, not the request's task.
        tokio::task::block_in_place(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)))
            .map_err(|_| failed(&"it panicked"))
    } else {
        tokio::task::spawn_blocking(f).await.map_err(|e| failed(&e))
    }
}
