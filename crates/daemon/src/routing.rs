//! Which authenticator a ceremony goes to: the platform authenticator or the security keys
//! (virtual keys and USB keys). The rules, first match wins:
//!
//! **create** (L3 §5.4.4 `authenticatorSelection`, §5.8.8 hints):
//! 1. `authenticatorAttachment: "platform"` → the platform authenticator only.
//! 2. `authenticatorAttachment: "cross-platform"` → security keys only.
//! 3. No attachment: the first `hints` entry that names one — `"security-key"` → keys,
//!    `"client-device"` → platform (`"hybrid"` is not offered and is skipped).
//! 4. Otherwise → the platform authenticator.
//!
//! **get** (L3 §5.5 `allowCredentials`, §5.8.3 `transports`):
//! 1. `allowCredentials` names a credential the platform store lists (a silent lookup of the
//!    store's public data: its discoverable credentials) → the platform authenticator.
//! 2. `allowCredentials` is not empty: every descriptor says only `"internal"` → the platform
//!    (which answers that it holds none of them); otherwise (`"usb"`, `"nfc"`, `"ble"`, or no
//!    transports given) → security keys.
//! 3. Empty `allowCredentials` (discoverable): the first hint that names one decides, as for
//!    create; without one → the platform if it holds a credential for the RP ID, else keys.
//!
//! When no security key is configured and USB discovery is off, a ceremony that did not ask for
//! keys explicitly (attachment `"cross-platform"` or the `"security-key"` hint) goes to the
//! platform authenticator.
//!
//! **The user's choice** (`Choose`, Prompt1 version 2): when the options leave the destination
//! open (no attachment, no hint naming one, no `allowCredentials`) and both destinations can
//! serve — security keys are enabled, and for a get the platform holds a passkey for the RP ID —
//! the prompt is asked where to go, with the rule's decision first ([`offer`]); a version 1
//! prompt is not asked and the rule stands. The prompt shows what latchkeyd offers and returns a
//! choice; the rules stay here. While a ceremony runs, the prompt's `Cancelled` ends it with
//! `NotAllowedError`.
//!
//! [`decide_create`] and [`decide_get`] are the rules, without I/O; [`Router`] applies them
//! in front of two [`Ceremonies`] back-ends, looking in the platform's [`PlatformStore`] for a get
//! when security keys are configured (without them, what the store holds decides nothing).
//! Management and signals (L3 §5.1.10) concern platform credentials and go to that store only
//! (`crate::server::Backends`), never through the router.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use latchkey_webauthn::options::create::AuthenticatorAttachment;
use latchkey_webauthn::options::{AuthenticatorTransport, CreationOptions, Hint, RequestOptions};
use latchkey_webauthn::WebAuthnError;

use latchkey_prompt::{Choice, ChoiceKind, ChoiceOffer};

use crate::ceremony::{
    in_place, Blame, CancelToken, Ceremonies, Ceremony, CeremonyResult, Fault, FaultKind,
    PromptSession,
};
use crate::keys::KeyBackend;
use crate::options::CheckedOptions;
use crate::state::Backends;
use crate::store::PlatformStore;

#[cfg(test)]
mod tests;

/// Where a ceremony goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The platform authenticator.
    Platform,
    /// The security keys present (or plugged in while the request waits).
    Keys,
}

impl Destination {
    /// For logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::Keys => "security keys",
        }
    }

    /// The `Choose` entry for it.
    pub fn choice(self) -> Choice {
        let (id, kind) = match self {
            Self::Platform => ("platform", ChoiceKind::Platform),
            Self::Keys => ("security-key", ChoiceKind::SecurityKey),
        };
        Choice {
            id: id.to_owned(),
            kind,
            label: String::new(),
            detail: String::new(),
        }
    }
}

/// Whether `options` leave the destination to the rules' defaults (module doc).
pub fn open_choice(options: &CheckedOptions) -> bool {
    match options {
        CheckedOptions::Create(o) => {
            o.authenticator_attachment.is_none() && from_hints(&o.hints).is_none()
        }
        CheckedOptions::Get(o) => o.allow_credentials.is_empty() && from_hints(&o.hints).is_none(),
    }
}

/// The destinations to offer the user, the rule's decision `r` first; fewer than two means the
/// user is not asked. `platform_holds` says whether the platform holds a passkey for the RP ID.
pub fn offer(
    r: Route,
    open: bool,
    create: bool,
    keys_enabled: bool,
    platform_holds: bool,
) -> Vec<Destination> {
    if !open || !keys_enabled || (!create && !platform_holds) {
        return vec![r.to];
    }
    match r.to {
        Destination::Platform => vec![Destination::Platform, Destination::Keys],
        Destination::Keys => vec![Destination::Keys, Destination::Platform],
    }
}

/// A routing decision and the rule that made it (logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Where.
    pub to: Destination,
    /// Why, in a few words.
    pub because: &'static str,
}

const fn route(to: Destination, because: &'static str) -> Route {
    Route { to, because }
}

/// What the platform authenticator holds for the request's RP ID (its public store data).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformHoldings {
    /// Credential IDs of the platform credentials for the RP ID.
    pub credential_ids: Vec<Vec<u8>>,
}

fn from_hints(hints: &[Hint]) -> Option<Route> {
    hints.iter().find_map(|h| match h {
        Hint::SecurityKey => Some(route(Destination::Keys, "hint security-key")),
        Hint::ClientDevice => Some(route(Destination::Platform, "hint client-device")),
        Hint::Hybrid => None,
    })
}

/// Falls back to the platform when keys are off, unless keys were asked for explicitly.
fn keys_or_platform(r: Route, keys_enabled: bool, explicit: bool) -> Route {
    if r.to == Destination::Keys && !keys_enabled && !explicit {
        route(Destination::Platform, "no security keys are configured")
    } else {
        r
    }
}

/// The create rules (module doc).
pub fn decide_create(options: &CreationOptions) -> Route {
    match options.authenticator_attachment {
        Some(AuthenticatorAttachment::Platform) => {
            route(Destination::Platform, "attachment platform")
        }
        Some(AuthenticatorAttachment::CrossPlatform) => {
            route(Destination::Keys, "attachment cross-platform")
        }
        None => match from_hints(&options.hints) {
            Some(r) => r,
            None => route(Destination::Platform, "no attachment or hint"),
        },
    }
}

/// The get rules (module doc). `holdings` is `None` when the platform store could not be read.
pub fn decide_get(
    options: &RequestOptions,
    holdings: Option<&PlatformHoldings>,
    keys_enabled: bool,
) -> Route {
    let holds = |id: &[u8]| holdings.is_some_and(|h| h.credential_ids.iter().any(|c| c == id));
    if !options.allow_credentials.is_empty() {
        if options
            .allow_credentials
            .iter()
            .any(|d| holds(d.id.as_bytes()))
        {
            return route(
                Destination::Platform,
                "allowList credential in the platform",
            );
        }
        let internal_only = options.allow_credentials.iter().all(|d| {
            !d.transports.is_empty()
                && d.transports
                    .iter()
                    .all(|t| *t == AuthenticatorTransport::Internal)
        });
        if internal_only {
            return route(Destination::Platform, "allowList transports internal");
        }
        return keys_or_platform(
            route(
                Destination::Keys,
                "allowList credential not in the platform",
            ),
            keys_enabled,
            false,
        );
    }
    if let Some(r) = from_hints(&options.hints) {
        return r;
    }
    if holdings.is_some_and(|h| !h.credential_ids.is_empty()) {
        return route(Destination::Platform, "platform holds a passkey for the RP");
    }
    keys_or_platform(
        route(Destination::Keys, "platform holds no passkey for the RP"),
        keys_enabled,
        false,
    )
}

/// [`Ceremonies`] that send each ceremony to the platform authenticator or to the security keys
/// by the rules above.
pub struct Router {
    platform: Arc<dyn Ceremonies>,
    store: Arc<dyn PlatformStore>,
    keys: Arc<dyn Ceremonies>,
    keys_enabled: bool,
}

impl Router {
    /// Routes between `platform` (whose credentials `store` lists) and `keys`; `keys_enabled`
    /// says whether any key can be used at all (a key is named, or USB discovery is on).
    pub fn new(
        platform: Arc<dyn Ceremonies>,
        store: Arc<dyn PlatformStore>,
        keys: Arc<dyn Ceremonies>,
        keys_enabled: bool,
    ) -> Self {
        Self {
            platform,
            store,
            keys,
            keys_enabled,
        }
    }

    /// latchkeyd's back-ends as the `latchkeyd` binary builds them: a router in front of
    /// `platform` (its ceremonies; it is also the store) and `keys`, which latchkeyd also
    /// manages; `keys_enabled` as for [`Router::new`].
    pub fn backends<P: Ceremonies + PlatformStore + 'static>(
        platform: Arc<P>,
        keys: Arc<KeyBackend>,
        keys_enabled: bool,
    ) -> Backends {
        Backends {
            ceremonies: Arc::new(Self::new(
                platform.clone(),
                platform.clone(),
                keys.clone(),
                keys_enabled,
            )),
            store: platform,
            keys: Some(keys),
        }
    }

    async fn holdings(&self, rp_id: &str) -> Option<PlatformHoldings> {
        let store = self.store.clone();
        let rp_id = rp_id.to_owned();
        // In place, as the platform's ceremony runs: a blocking thread would cost two thread
        // wake-ups on every get.
        let listed = in_place(move || store.list(Some(&rp_id))).await;
        match listed {
            Ok(Ok(list)) => Some(PlatformHoldings {
                credential_ids: list.into_iter().map(|c| c.credential_id).collect(),
            }),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "cannot look in the platform store; routing without it");
                None
            }
            Err(e) => {
                tracing::debug!(error = %e, "the platform lookup failed");
                None
            }
        }
    }

    /// The rule's route and the destinations to offer (the route's first).
    async fn decide(&self, c: &Ceremony) -> (Route, Vec<Destination>) {
        let open = open_choice(c.options());
        match c.options() {
            CheckedOptions::Create(o) => {
                let r = decide_create(o);
                (r, offer(r, open, true, self.keys_enabled, false))
            }
            CheckedOptions::Get(o) => {
                // With the security keys off, a get goes to the platform whatever it holds
                // ([`decide_get`], [`offer`]): its store is not looked in.
                let holdings = if self.keys_enabled {
                    self.holdings(c.authorized().rp_id().as_str()).await
                } else {
                    None
                };
                let r = decide_get(o, holdings.as_ref(), self.keys_enabled);
                let holds = holdings.is_some_and(|h| !h.credential_ids.is_empty());
                (r, offer(r, open, false, self.keys_enabled, holds))
            }
        }
    }

    async fn pick(
        &self,
        c: &Ceremony,
        ui: &dyn PromptSession,
    ) -> Result<&Arc<dyn Ceremonies>, WebAuthnError> {
        let (r, offered) = self.decide(c).await;
        let to = if offered.len() > 1 {
            let question = ChoiceOffer {
                kind: match c.options() {
                    CheckedOptions::Create(_) => "create",
                    CheckedOptions::Get(_) => "get",
                },
                rp_id: c.authorized().rp_id().as_str().to_owned(),
                choices: offered.iter().map(|d| d.choice()).collect(),
            };
            let i = ui.choose(&question).await?;
            let to = offered.get(i).copied().unwrap_or(r.to);
            tracing::info!(request = %c.id(), to = to.as_str(), rule = r.to.as_str(), "the user chose");
            to
        } else {
            tracing::info!(request = %c.id(), to = r.to.as_str(), because = r.because, "routing");
            r.to
        };
        Ok(match to {
            Destination::Platform => &self.platform,
            Destination::Keys => &self.keys,
        })
    }

    /// Routes and runs the ceremony, until the user cancels it in the prompt.
    async fn run(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
        create: bool,
    ) -> CeremonyResult {
        let user_cancel = ui.user_cancel().await;
        let work = async {
            // The prompt's answer to the choice of authenticator: refused is the user's.
            let to = self
                .pick(c, &*ui)
                .await
                .map_err(|e| Fault::from_backend(&e))?;
            if create {
                to.create(c, ui.clone(), cancel).await
            } else {
                to.get(c, ui.clone(), cancel).await
            }
        };
        tokio::select! {
            r = work => r,
            () = user_cancel => {
                tracing::info!(request = %c.id(), "the user cancelled in the prompt");
                Err(Fault::new(Blame::User, FaultKind::Refused, "the user cancelled the request"))
            }
        }
    }
}

#[async_trait]
impl Ceremonies for Router {
    async fn create(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> CeremonyResult {
        self.run(c, ui, cancel, true).await
    }

    async fn get(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> CeremonyResult {
        self.run(c, ui, cancel, false).await
    }

    fn capabilities(&self) -> BTreeMap<String, bool> {
        let mut caps = self.platform.capabilities();
        for (name, on) in self.keys.capabilities() {
            let entry = caps.entry(name).or_insert(false);
            *entry |= on;
        }
        caps
    }
}
