//! The request pipeline's decisions, without I/O: each step takes the state the one before it
//! produced (consuming it) and what the driver ([`super::driver`]) brought back from the bus or
//! the queue, and returns a [`Decision`]: the next state, or a [`Stop`] with the [`Fault`]: who
//! is at fault decides the name the caller gets (`crate::fault`). The order is fixed by the types: [`Admitted`] → [`Authorizing`] → [`Granted`] →
//! [`Asking`] → a [`Ceremony`], which needs the authorization and consent gates.

use std::collections::HashMap;

use latchkey_webauthn::clientdata::{Ancestry, CeremonyType};
use latchkey_webauthn::origin::Authorization;
use latchkey_webauthn::WebAuthnError;
use zbus::zvariant::Value;

use crate::authorize::{self, AuthorizeError, Grant, OriginClaims};
use crate::ceremony::{Ceremony, GateError, RequestId};
use crate::consent::{self, Consent, NoConsent};
use crate::fault::{Blame, Fault, FaultKind};
use crate::identity::CallerIdentity;
use crate::options::{CheckedOptions, Kind};
use crate::policy::CallerClass;
use crate::prompt::Trust;
use crate::remember;

/// Why a request ends before its back-end answered, or why the back-end failed.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The user refused or dismissed it (`Response` code 1).
    Refused(Fault),
    /// Anything else (`Response` code 2).
    Failed(Fault),
}

impl Stop {
    /// The fault: its blame decides the error the caller gets.
    pub(crate) fn fault(&self) -> &Fault {
        match self {
            Self::Refused(f) | Self::Failed(f) => f,
        }
    }

    /// The error the caller gets.
    pub(crate) fn error(&self) -> WebAuthnError {
        self.fault().webauthn()
    }
}

/// A failure of the caller's request (its options, its origin, its RP ID).
fn caller(e: &WebAuthnError) -> Stop {
    Stop::Failed(Fault::from_webauthn(Blame::Caller, e))
}

/// What a step decided: the next state, or where the request stops.
pub(crate) type Decision<T> = Result<T, Stop>;

/// The request as the caller sent it, for the steps to read.
#[derive(Debug, Clone)]
pub(crate) struct Asked<'a> {
    pub(crate) id: RequestId,
    pub(crate) kind: Kind,
    pub(crate) caller: &'a CallerIdentity,
    pub(crate) origin: Option<&'a str>,
    pub(crate) top_origin: Option<&'a str>,
    /// The caller's window, for the prompt's dialog.
    pub(crate) parent_window: Option<&'a latchkey_prompt::ParentWindow>,
}

/// Options parsed and the caller classified by policy.
#[derive(Debug)]
pub(crate) struct Admitted {
    options: CheckedOptions,
    class: CallerClass,
    shown: String,
}

impl Admitted {
    /// The first step: the options (parsed once, by the driver, for the timeout too) must have
    /// parsed; `class` is what policy said of the caller when the request was queued.
    pub(crate) fn new(
        class: CallerClass,
        asked: &Asked<'_>,
        options: Result<CheckedOptions, WebAuthnError>,
    ) -> Decision<Self> {
        let options = options.map_err(|e| caller(&e))?;
        let shown = shown_caller(&class, asked.caller);
        Ok(Self {
            options,
            class,
            shown,
        })
    }

    /// How the caller is shown to the user and in the log.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// Policy × origin (L3 §5.1.3 steps 6–8): granted, or Related Origin Requests (§5.11) to
    /// try when `related_origins` are enabled.
    pub(crate) fn authorize(
        self,
        asked: &Asked<'_>,
        related_origins: bool,
    ) -> Decision<Authorizing> {
        let claims = OriginClaims {
            origin: asked.origin,
            top_origin: asked.top_origin,
            rp_id: self.options.rp_id(),
        };
        match authorize::authorize(&self.class, asked.caller, &claims) {
            Ok(grant) => Ok(Authorizing::Granted(self.granted(grant)?)),
            Err(AuthorizeError::WebAuthn(e)) => Err(caller(&e)),
            Err(AuthorizeError::TryRelatedOrigins { origin, error }) if related_origins => {
                Ok(Authorizing::Related {
                    admitted: self,
                    origin,
                    fallback: error,
                })
            }
            Err(AuthorizeError::TryRelatedOrigins { error, .. }) => Err(caller(&error)),
        }
    }

    /// The RP ID the options claim (for the related-origins fetch).
    pub(crate) fn claimed_rp_id(&self) -> Option<&str> {
        self.options.rp_id()
    }

    /// Moves on with what Related Origin Requests decided.
    pub(crate) fn related(self, answer: Result<Grant, WebAuthnError>) -> Decision<Granted> {
        self.granted(answer.map_err(|e| caller(&e))?)
    }

    /// The RP ID is authorized; so must be the FIDO AppID the options name, which the
    /// authenticator is asked under as an RP ID of its own (`appid`: L3 §10.1.1 step 2,
    /// `appidExclude`: §10.1.2): the caller's origin must be allowed to claim it (FIDO AppID and
    /// Facet §3.1.2), or the ceremony stops with `SecurityError` before anyone is asked.
    fn granted(mut self, grant: Grant) -> Decision<Granted> {
        if let Some(app_id) = self.options.app_id() {
            let checked = latchkey_webauthn::extensions::appid::authorize_appid(
                grant.authorized().origin(),
                app_id,
            )
            .map_err(|e| caller(&e))?;
            // What the check settled on is what the authenticator is asked under: an empty
            // AppID is the caller's own origin (FIDO AppID and Facet §3.1.2 step 2).
            self.options.set_app_id(checked.as_str().to_owned());
        }
        Ok(Granted {
            admitted: self,
            grant,
        })
    }
}

/// What the authorization step decided to do next.
#[derive(Debug)]
pub(crate) enum Authorizing {
    /// Authorized by policy and the origin.
    Granted(Granted),
    /// The driver fetches the RP's `/.well-known/webauthn` for `origin`; `fallback` is the error
    /// if it does not list it. Then [`Admitted::related`].
    Related {
        admitted: Admitted,
        origin: String,
        fallback: WebAuthnError,
    },
}

/// Authorized; waits for its turn at the prompt.
#[derive(Debug)]
pub(crate) struct Granted {
    admitted: Admitted,
    grant: Grant,
}

impl Granted {
    /// The authorized RP ID, for the log.
    pub(crate) fn rp_id(&self) -> &str {
        self.grant.authorized().rp_id().as_str()
    }

    /// How the caller is shown.
    pub(crate) fn shown(&self) -> &str {
        &self.admitted.shown
    }

    /// The prompt step: a prompt must have been `found` (`trust` says how far it is trusted),
    /// and an unknown caller can only be approved in the trusted prompt.
    pub(crate) fn prompt<P>(
        self,
        found: Option<P>,
        trust: fn(&P) -> Trust,
    ) -> Decision<(Asking, P)> {
        let Some(prompt) = found else {
            return Err(Stop::Failed(Fault::new(
                Blame::System,
                FaultKind::Unavailable,
                "no prompt is available to ask the user",
            )));
        };
        let trust = trust(&prompt);
        if self.needs_approval() && trust != Trust::Trusted {
            return Err(Stop::Failed(Fault::new(
                Blame::Caller,
                FaultKind::Refused,
                "an unverified caller can only be approved in the trusted prompt",
            )));
        }
        let authorized = self.grant.authorized();
        // Whether "Always allow" may be offered, or a remembered decision stand for consent.
        let eligible = remember::Eligible::check(remember::Facts {
            privileged_browser: match &self.admitted.class {
                CallerClass::Privileged { name, .. } => Some(name.as_str()),
                _ => None,
            },
            verified: !self.needs_approval(),
            top_level: matches!(self.grant.ancestry(), Ancestry::SameOrigin),
            own_domain: authorized.via() == Authorization::EffectiveDomain,
            trusted_prompt: trust == Trust::Trusted,
            rp_id: authorized.rp_id().as_str(),
        });
        Ok((
            Asking {
                granted: self,
                eligible,
            },
            prompt,
        ))
    }

    fn needs_approval(&self) -> bool {
        matches!(self.grant, Grant::NeedsApproval(..))
    }
}

/// A prompt is chosen; the user is asked to consent.
#[derive(Debug)]
pub(crate) struct Asking {
    granted: Granted,
    /// The key of the decision "Always allow" would remember, where it may be offered.
    eligible: Option<remember::Eligible>,
}

impl Asking {
    /// The consent a remembered decision gives, instead of asking (`decisions`: the user's).
    pub(crate) fn remembered(
        &self,
        asked: &Asked<'_>,
        decisions: &remember::Remembered,
    ) -> Option<Consent> {
        let key = self.eligible.as_ref()?;
        consent::remembered(asked.id, key, decisions)
    }

    /// What to remember after `answer`: the user ticked "Always allow" where it was offered.
    pub(crate) fn to_remember(
        &self,
        answer: &Result<Consent, NoConsent>,
    ) -> Option<&remember::Eligible> {
        match answer {
            Ok(c) if c.remember() => self.eligible.as_ref(),
            _ => None,
        }
    }

    /// What the prompt's `Consent` shows (`dev.latchkey.Prompt1`).
    pub(crate) fn details(&self, asked: &Asked<'_>) -> HashMap<&'static str, Value<'static>> {
        let Granted { admitted, grant } = &self.granted;
        let eligible = self.eligible.is_some();
        let authorized = grant.authorized();
        let needs_approval = self.granted.needs_approval();
        let mut details: HashMap<&'static str, Value<'static>> = HashMap::new();
        details.insert("kind", Value::from(asked.kind.as_str()));
        details.insert("rp_id", Value::from(authorized.rp_id().as_str().to_owned()));
        details.insert("origin", Value::from(authorized.origin().serialize()));
        details.insert("caller", Value::from(admitted.shown.clone()));
        if let CallerClass::Privileged {
            via_native_host: Some(host),
            ..
        } = &admitted.class
        {
            details.insert("native_host", Value::from(host.display().to_string()));
        }
        details.insert("app_id", Value::from(asked.caller.app_id()));
        details.insert("caller_verified", Value::from(!needs_approval));
        details.insert("caller_class", Value::from(class_name(&admitted.class)));
        if let Some(user) = admitted.options.user_name() {
            details.insert("user_name", Value::from(user.to_owned()));
        }
        if let Ancestry::CrossOrigin {
            top_origin: Some(top),
        } = grant.ancestry()
        {
            details.insert("top_origin", Value::from(top.clone()));
        }
        details.insert("remember_offer", Value::from(eligible));
        if let Some(parent) = asked.parent_window {
            details.insert("parent_window", Value::from(parent.as_str().to_owned()));
        }
        details
    }

    /// The consent step: the prompt's answer decides; with the user's [`Consent`] the
    /// [`Ceremony`] is built through both gates.
    pub(crate) fn consented(
        self,
        asked: &Asked<'_>,
        answer: Result<Consent, NoConsent>,
    ) -> Decision<Ceremony> {
        let consent = match answer {
            Ok(c) => c,
            Err(NoConsent::Refused) => {
                return Err(Stop::Refused(Fault::new(
                    Blame::User,
                    FaultKind::Refused,
                    "the user refused the request",
                )))
            }
            // The prompt failed or did not answer: nobody could ask the user.
            Err(NoConsent::Failed(e)) => {
                return Err(Stop::Failed(Fault::new(
                    Blame::System,
                    FaultKind::Unavailable,
                    e.message(),
                )))
            }
        };
        let Granted { admitted, grant } = self.granted;
        let kind = match asked.kind {
            Kind::Create => CeremonyType::Create,
            Kind::Get => CeremonyType::Get,
        };
        Ceremony::new(
            asked.id,
            kind,
            admitted.options,
            grant.into_gate(),
            consent,
            admitted.shown,
        )
        .map_err(|e| {
            let (blame, kind) = match e {
                GateError::NeedsTrustedPrompt => (Blame::Caller, FaultKind::Refused),
                // The user gave no consent to this request.
                GateError::OtherRequest => (Blame::User, FaultKind::Refused),
                GateError::WrongOptions(_) => (Blame::System, FaultKind::Failed),
            };
            Stop::Failed(Fault::new(blame, kind, e.to_string()).caused_by(e))
        })
    }
}

/// How the caller is named to the user and in the log. A native messaging host that policy
/// recognised as a browser's is shown as that browser, and as having come through the host, so
/// the user sees both who vouches for the origin and the path the request took.
pub(crate) fn shown_caller(class: &CallerClass, caller: &CallerIdentity) -> String {
    match class {
        CallerClass::Privileged {
            name,
            via_native_host: Some(_),
        } => format!("{name} (via native messaging host)"),
        _ => caller.display_name(),
    }
}

fn class_name(class: &CallerClass) -> &'static str {
    match class {
        CallerClass::Privileged { .. } => "privileged",
        CallerClass::Bound { .. } => "bound",
        CallerClass::Unknown => "unknown",
        CallerClass::Denied => "denied",
    }
}
