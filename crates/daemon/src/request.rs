//! One request's life: its exported object (`dev.latchkey.Request1`: `Close()`, `Response`), the
//! task that checks, queues, prompts and runs the ceremony, and the `Response` at the end.
//!
//! `Response` codes (xdg-desktop-portal convention): 0 success, 1 the user refused or dismissed,
//! 2 any other error. After `Close()` or the caller leaving the bus no `Response` is sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use latchkey_webauthn::clientdata::CeremonyType;
use latchkey_webauthn::WebAuthnError;
use tokio::sync::watch;
use zbus::message::Header;
use zbus::names::{BusName, OwnedUniqueName};
use zbus::object_server::{ObjectServer, SignalEmitter};
use zbus::zvariant::{OwnedObjectPath, Value};
use zbus::Connection;

use crate::authorize::{self, AuthorizeError, Grant, OriginClaims};
use crate::ceremony::{CancelToken, Ceremony, PromptSession, RequestId};
use crate::consent::{self, NoConsent};
use crate::identity::CallerIdentity;
use crate::options::CheckedOptions;
use crate::options::{self, Kind};
use crate::policy::CallerClass;
use crate::prompt::{micros, ChosenPrompt, DbusPromptSession, Trust};
use crate::queue::{self, Ticket};
use crate::remember;
use crate::state::{CancelReason, LiveRequest, Shared};
use latchkey_api::Error;
use latchkey_prompt as prompt;

pub use latchkey_api::{RESPONSE_CANCELLED, RESPONSE_ERROR, RESPONSE_SUCCESS};

/// The object at a request handle.
pub struct RequestObject {
    owner: OwnedUniqueName,
    cancel: watch::Sender<Option<CancelReason>>,
}

#[zbus::interface(name = "dev.latchkey.Request1")]
impl RequestObject {
    /// Cancels the request (only its caller may); no `Response` follows.
    async fn close(&self, #[zbus(header)] hdr: Header<'_>) -> Result<(), Error> {
        if hdr.sender().map(|s| s.as_str()) != Some(self.owner.as_str()) {
            return Err(Error::AccessDenied(
                "only the caller may close its request".into(),
            ));
        }
        self.cancel.send_replace(Some(CancelReason::Closed));
        Ok(())
    }

    /// The result of the request.
    #[zbus(signal)]
    async fn response(
        emitter: &SignalEmitter<'_>,
        code: u32,
        results: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<()>;
}

/// What the method call gathered.
pub(crate) struct NewRequest {
    pub(crate) id: RequestId,
    pub(crate) kind: Kind,
    pub(crate) path: OwnedObjectPath,
    pub(crate) sender: OwnedUniqueName,
    pub(crate) caller: CallerIdentity,
    pub(crate) options_json: String,
    pub(crate) origin: Option<String>,
    pub(crate) top_origin: Option<String>,
}

/// How a ceremony ended.
enum Outcome {
    Done(serde_json::Value),
    Refused(WebAuthnError),
    Failed(WebAuthnError),
}

/// Takes the caller's place in the prompt queue, then exports the request object (before the
/// method returns) and starts its task. A caller beyond its share (or a full queue) costs nothing
/// more: no object is exported and no work starts; the refusal is the handle's `Response`.
pub(crate) async fn spawn(
    shared: Arc<Shared>,
    conn: Connection,
    server: &ObjectServer,
    req: NewRequest,
) -> Result<(), Error> {
    let t = Instant::now();
    let class = shared.settings.policy.classify(&req.caller);
    let privileged = matches!(class, CallerClass::Privileged { .. });
    let named = !matches!(class, CallerClass::Unknown);
    let key = queue::request_key(
        queue::queue_key(&req.caller, named, shared.settings.uid),
        privileged,
        req.origin.as_deref(),
        req.top_origin.as_deref(),
    );
    let ticket = match shared.queue.enter(key.clone()) {
        Ok(t) => t,
        Err(e) => {
            tracing::info!(request = %req.id, caller = key.as_str(), reason = %e, "request not queued");
            let refusal = WebAuthnError::not_allowed(e.to_string());
            tokio::spawn(respond(
                conn,
                req.path,
                req.sender,
                RESPONSE_ERROR,
                error_results(&refusal),
            ));
            return Ok(());
        }
    };
    let (cancel_tx, cancel_rx) = watch::channel(None);
    {
        let mut live = shared.lock_requests();
        if live.contains_key(&req.path) {
            return Err(Error::HandleInUse(req.path.to_string()));
        }
        live.insert(
            req.path.clone(),
            LiveRequest {
                sender: req.sender.clone(),
                cancel: cancel_tx.clone(),
            },
        );
    }
    let object = RequestObject {
        owner: req.sender.clone(),
        cancel: cancel_tx,
    };
    match server.at(req.path.clone(), object).await {
        Ok(true) => {}
        Ok(false) => {
            shared.lock_requests().remove(&req.path);
            return Err(Error::HandleInUse(req.path.to_string()));
        }
        Err(e) => {
            shared.lock_requests().remove(&req.path);
            return Err(e.into());
        }
    }
    tracing::debug!(request = %req.id, phase = "export", us = micros(t), "phase");
    tokio::spawn(run(shared, conn, req, ticket, cancel_rx));
    Ok(())
}

/// Sends `Response` on `path` to `sender` only.
async fn respond(
    conn: Connection,
    path: OwnedObjectPath,
    sender: OwnedUniqueName,
    code: u32,
    results: HashMap<&str, Value<'_>>,
) {
    let emitter = match SignalEmitter::new(&conn, path) {
        Ok(e) => e.set_destination(BusName::Unique(sender.into())),
        Err(e) => {
            tracing::warn!(error = %e, "cannot address the response");
            return;
        }
    };
    if let Err(e) = RequestObject::response(&emitter, code, results).await {
        tracing::debug!(error = %e, "sending the response failed");
    }
}

async fn run(
    shared: Arc<Shared>,
    conn: Connection,
    req: NewRequest,
    ticket: Ticket,
    mut cancel: watch::Receiver<Option<CancelReason>>,
) {
    let id = req.id;
    let chosen: Arc<Mutex<Progress>> = Arc::default();
    // The back-end's half of the cancellation: whatever ends the request early stops it.
    let stop = CancelToken::new();
    // The options are parsed here, once: for the timeout, then for the ceremony.
    let checked = options::check(req.kind, &req.options_json);
    let timeout = match &checked {
        Ok(o) => shared.settings.timeouts.clamp(o.timeout_ms()),
        Err(_) => shared.settings.timeouts.default,
    };
    let outcome = tokio::select! {
        biased;
        reason = cancel.wait_for(Option::is_some) => {
            let reason = reason.ok().and_then(|r| *r);
            tracing::info!(request = %id, ?reason, "request cancelled");
            None
        }
        () = tokio::time::sleep(timeout) => {
            Some(Outcome::Failed(WebAuthnError::not_allowed(format!("the request timed out after {} s", timeout.as_secs()))))
        }
        o = ceremony(&shared, &conn, &req, checked, &ticket, &chosen, &stop) => Some(o),
    };
    drop(ticket);
    // Whatever ended it, stop the authenticator and take the prompt down.
    let finished = matches!(outcome, Some(Outcome::Done(_)));
    let progress = std::mem::take(&mut *chosen.lock().unwrap_or_else(PoisonError::into_inner));
    if !finished {
        stop.cancel();
    }
    let t = Instant::now();
    let _ = conn
        .object_server()
        .remove::<RequestObject, _>(&req.path)
        .await;
    tracing::debug!(request = %id, phase = "unexport", us = micros(t), "phase");
    shared.lock_requests().remove(&req.path);
    // The prompt comes down after the caller has its answer: `Dismiss` is a round trip to
    // another process that the caller need not wait for.
    let dismiss = progress.prompt.map(|p| {
        let rid = id.to_string();
        async move {
            if let Err(e) = p.proxy.dismiss(&rid).await {
                tracing::debug!(error = %e, "dismissing the prompt failed");
            }
        }
    });
    let Some(outcome) = outcome else {
        if let Some(d) = dismiss {
            d.await;
        }
        return;
    };
    let (code, results) = match &outcome {
        Outcome::Done(json) => {
            let key = match req.kind {
                Kind::Create => "registration_response_json",
                Kind::Get => "authentication_response_json",
            };
            (
                RESPONSE_SUCCESS,
                HashMap::from([(key, Value::from(json.to_string()))]),
            )
        }
        Outcome::Refused(e) => (RESPONSE_CANCELLED, error_results(e)),
        Outcome::Failed(e) => (RESPONSE_ERROR, error_results(e)),
    };
    match &outcome {
        Outcome::Done(_) => {
            tracing::info!(request = %id, kind = req.kind.as_str(), caller = ?progress.caller, "request succeeded")
        }
        Outcome::Refused(e) | Outcome::Failed(e) => {
            tracing::info!(request = %id, kind = req.kind.as_str(), caller = ?progress.caller, error = e.name(), message = e.message(), "request failed")
        }
    }
    let t = Instant::now();
    respond(conn, req.path, req.sender, code, results).await;
    tracing::debug!(request = %id, phase = "response", us = micros(t), "phase");
    if let Some(d) = dismiss {
        d.await;
    }
}

/// How far a request got, for cleaning up after cancellation.
#[derive(Default)]
struct Progress {
    prompt: Option<ChosenPrompt>,
    /// How the caller is named (once policy classified it), for the log.
    caller: Option<String>,
}

fn error_results(e: &WebAuthnError) -> HashMap<&'static str, Value<'static>> {
    HashMap::from([
        ("error", Value::from(e.name())),
        ("message", Value::from(e.message().to_owned())),
    ])
}

async fn ceremony(
    shared: &Shared,
    conn: &Connection,
    req: &NewRequest,
    checked: Result<CheckedOptions, WebAuthnError>,
    ticket: &Ticket,
    chosen: &Mutex<Progress>,
    stop: &CancelToken,
) -> Outcome {
    match ceremony_inner(shared, conn, req, checked, ticket, chosen, stop).await {
        Ok(json) => Outcome::Done(json),
        Err((true, e)) => Outcome::Refused(e),
        Err((false, e)) => Outcome::Failed(e),
    }
}

/// Errors are `(refused_by_user, error)`.
async fn ceremony_inner(
    shared: &Shared,
    conn: &Connection,
    req: &NewRequest,
    checked: Result<CheckedOptions, WebAuthnError>,
    ticket: &Ticket,
    chosen: &Mutex<Progress>,
    stop: &CancelToken,
) -> Result<serde_json::Value, (bool, WebAuthnError)> {
    let fail = |e: WebAuthnError| (false, e);
    let phase = |name: &'static str, t: Instant| {
        tracing::debug!(request = %req.id, phase = name, us = micros(t), "phase");
    };
    let t = Instant::now();
    let checked = checked.map_err(fail)?;
    let class = shared.settings.policy.classify(&req.caller);
    let shown = shown_caller(&class, &req.caller);
    chosen.lock().unwrap_or_else(PoisonError::into_inner).caller = Some(shown.clone());
    let claims = OriginClaims {
        origin: req.origin.as_deref(),
        top_origin: req.top_origin.as_deref(),
        rp_id: checked.rp_id(),
    };
    let grant = authorize_claims(shared, &class, &req.caller, &claims)
        .await
        .map_err(fail)?;
    phase("authorize", t);
    let ceremony_type = match req.kind {
        Kind::Create => CeremonyType::Create,
        Kind::Get => CeremonyType::Get,
    };
    let authorized = grant.authorized().clone();

    tracing::info!(
        request = %req.id,
        kind = req.kind.as_str(),
        caller = %shown,
        rp_id = authorized.rp_id().as_str(),
        "request queued for the prompt"
    );
    let t = Instant::now();
    let _turn = ticket
        .turn()
        .await
        .ok_or_else(|| fail(WebAuthnError::unknown("the prompt queue is closed")))?;
    phase("queue", t);

    let t = Instant::now();
    let prompt = choose_prompt(shared, conn, &req.caller)
        .await
        .ok_or_else(|| {
            fail(WebAuthnError::not_allowed(
                "no prompt is available to ask the user",
            ))
        })?;
    phase("choose_prompt", t);
    chosen.lock().unwrap_or_else(PoisonError::into_inner).prompt = Some(prompt.clone());
    let needs_approval = matches!(grant, Grant::NeedsApproval(..));
    if needs_approval && prompt.trust != Trust::Trusted {
        return Err(fail(WebAuthnError::not_allowed(
            "an unverified caller can only be approved in the trusted prompt",
        )));
    }
    let eligible = remember::Eligible::check(remember::Facts {
        privileged_browser: match &class {
            CallerClass::Privileged { name, .. } => Some(name.as_str()),
            _ => None,
        },
        verified: !needs_approval,
        top_level: matches!(
            grant.ancestry(),
            latchkey_webauthn::clientdata::Ancestry::SameOrigin
        ),
        own_domain: authorized.via() == latchkey_webauthn::origin::Authorization::EffectiveDomain,
        trusted_prompt: prompt.trust == Trust::Trusted,
        rp_id: authorized.rp_id().as_str(),
    });
    let mut details: HashMap<&str, Value<'_>> = HashMap::new();
    details.insert("kind", Value::from(req.kind.as_str()));
    details.insert("rp_id", Value::from(authorized.rp_id().as_str().to_owned()));
    details.insert("origin", Value::from(authorized.origin().serialize()));
    details.insert("caller", Value::from(shown.clone()));
    if let CallerClass::Privileged {
        via_native_host: Some(host),
        ..
    } = &class
    {
        details.insert("native_host", Value::from(host.display().to_string()));
    }
    details.insert("app_id", Value::from(req.caller.app_id()));
    details.insert("caller_verified", Value::from(!needs_approval));
    details.insert("caller_class", Value::from(class_name(&class)));
    if let Some(user) = checked.user_name() {
        details.insert("user_name", Value::from(user.to_owned()));
    }
    if let latchkey_webauthn::clientdata::Ancestry::CrossOrigin {
        top_origin: Some(top),
    } = grant.ancestry()
    {
        details.insert("top_origin", Value::from(top.clone()));
    }
    let t = Instant::now();
    let remembered = eligible
        .as_ref()
        .and_then(|key| consent::remembered(req.id, key, &shared.remembered));
    if remembered.is_some() {
        tracing::info!(request = %req.id, caller = %shown, rp_id = authorized.rp_id().as_str(), "consent remembered; user verification required");
    }
    details.insert("remember_offer", Value::from(eligible.is_some()));
    let consent = match remembered {
        Some(c) => c,
        None => match consent::ask(&prompt, req.id, details).await {
            Ok(c) => c,
            Err(NoConsent::Refused) => {
                return Err((
                    true,
                    WebAuthnError::not_allowed("the user refused the request"),
                ))
            }
            Err(NoConsent::Failed(e)) => return Err(fail(e)),
        },
    };
    if let (true, Some(key)) = (consent.remember(), &eligible) {
        remember(shared, key);
    }
    phase("consent", t);
    let ceremony = Ceremony::new(
        req.id,
        ceremony_type,
        checked,
        grant.into_gate(),
        consent,
        shown,
    )
    .map_err(|e| fail(WebAuthnError::not_allowed(e.to_string())))?;
    let rid = req.id.to_string();
    let session: Arc<dyn PromptSession> = Arc::new(DbusPromptSession::new(prompt, rid));
    let backend = &shared.settings.backends.ceremonies;
    let t = Instant::now();
    let result = match req.kind {
        Kind::Create => backend.create(&ceremony, session, stop).await,
        Kind::Get => backend.get(&ceremony, session, stop).await,
    };
    phase("ceremony", t);
    result.map_err(fail)
}

/// Stores the user's "Always allow" for `key` (a failure to save is logged: the ceremony the
/// user approved goes on).
fn remember(shared: &Shared, key: &remember::Eligible) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match shared.remembered.remember(key, now) {
        Ok(()) => {
            tracing::info!(
                browser = key.browser(),
                rp_id = key.rp_id(),
                "site decision remembered"
            )
        }
        Err(e) => tracing::warn!(error = %e, "the site decision could not be saved"),
    }
}

/// Checks `claims` for `caller` of `class` (policy × origin, then Related Origin Requests, L3
/// §5.11, where policy allows it). For ceremonies only: signals (§5.1.10) check the RP ID against
/// the caller's own origin and never consult related origins (see `service`).
pub(crate) async fn authorize_claims(
    shared: &Shared,
    class: &CallerClass,
    caller: &CallerIdentity,
    claims: &OriginClaims<'_>,
) -> Result<Grant, WebAuthnError> {
    match authorize::authorize(class, caller, claims) {
        Ok(g) => Ok(g),
        Err(AuthorizeError::WebAuthn(e)) => Err(e),
        Err(AuthorizeError::TryRelatedOrigins { origin, error }) => {
            match &shared.settings.related_origins {
                Some(related) => {
                    authorize::with_related_origins(related, &origin, claims, error).await
                }
                None => Err(error),
            }
        }
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

/// The prompt for a request from `caller`: the trusted graphical prompt if it runs (or can be
/// activated), else a caller-controlled prompt registered by the caller or its child.
async fn choose_prompt(
    shared: &Shared,
    conn: &Connection,
    caller: &CallerIdentity,
) -> Option<ChosenPrompt> {
    // The trusted prompt found last time, while it still owns the name (the watcher forgets it
    // when the name changes owner) and its identity still checks out against the kernel.
    let cached = shared.lock_trusted_prompt().clone();
    if let Some((owner, prompt)) = cached {
        match shared.identities.get(owner.as_str()) {
            Some(id) if shared.settings.policy.is_trusted_prompt(&id) => return Some(prompt),
            _ => *shared.lock_trusted_prompt() = None,
        }
    }
    let dbus = zbus::fdo::DBusProxy::new(conn).await.ok()?;
    let name = zbus::names::BusName::try_from(prompt::PROMPT_BUS_NAME).ok()?;
    let mut owner = dbus.get_name_owner(name.clone()).await.ok();
    if owner.is_none() {
        let activatable = dbus.list_activatable_names().await.unwrap_or_default();
        if activatable
            .iter()
            .any(|n| n.as_str() == prompt::PROMPT_BUS_NAME)
        {
            if let Ok(wk) = zbus::names::WellKnownName::try_from(prompt::PROMPT_BUS_NAME) {
                let _ = dbus.start_service_by_name(wk, 0).await;
            }
            owner = dbus.get_name_owner(name).await.ok();
        }
    }
    if let Some(owner) = owner {
        match shared.identify(conn, &owner).await {
            Ok(id)
                if shared.settings.policy.is_trusted_prompt(&id)
                    && (!shared.settings.policy.trusted_prompt_needs_bus_start(&id)
                        || started_by_the_bus(&dbus, &id).await) =>
            {
                let prompt = proxy(conn, owner.clone(), Trust::Trusted, None).await?;
                *shared.lock_trusted_prompt() = Some((owner, prompt.clone()));
                return Some(prompt);
            }
            Ok(id) => {
                tracing::warn!(owner = %owner, exe = ?id.executable, "ignoring an untrusted owner of dev.latchkey.Prompt")
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot identify the owner of dev.latchkey.Prompt")
            }
        }
    }
    let agent = shared
        .lock_agents()
        .iter()
        .rev()
        .find(|agent| agent.serves(caller))
        .map(|agent| agent.name.clone());
    match agent {
        Some(a) => {
            let limit = shared.caller_prompt_answer();
            proxy(conn, a, Trust::CallerControlled, Some(limit)).await
        }
        None => None,
    }
}

/// Whether the session bus or the user's `systemd --user` started `id` (its parent process, read
/// while pinned and checked to still be its parent): what `bus_started = true` asks of a trusted
/// prompt, so that a process that merely runs the prompt's executable (and could be driven, or
/// have exec'd it after connecting) is not taken for the one the bus activated.
async fn started_by_the_bus(dbus: &zbus::fdo::DBusProxy<'_>, id: &CallerIdentity) -> bool {
    let Ok(parent) = crate::identity::identify_parent(id) else {
        return false;
    };
    let bus_pid = match zbus::names::BusName::try_from("org.freedesktop.DBus") {
        Ok(name) => dbus
            .get_connection_credentials(name)
            .await
            .ok()
            .and_then(|c| c.process_id()),
        Err(_) => None,
    };
    if let Some(bus_pid) = bus_pid {
        if parent.pid == bus_pid {
            return true;
        }
        // dbus-daemon runs an activated service under a babysitter, a fork of itself: the
        // parent's parent is the bus, and the parent runs the bus's executable.
        let bus_exe = std::fs::metadata(format!("/proc/{bus_pid}/exe"))
            .ok()
            .map(|m| {
                (
                    std::os::unix::fs::MetadataExt::dev(&m),
                    std::os::unix::fs::MetadataExt::ino(&m),
                )
            });
        if parent.ppid == bus_pid && bus_exe.is_some() && parent.executable_file == bus_exe {
            return true;
        }
    }
    // systemd --user runs in its unit's init.scope and starts a D-Bus service in a unit of its
    // own; a process orphaned to it (systemd --user is a subreaper) stays in its old scope.
    let systemd = ["/usr/lib/systemd/systemd", "/lib/systemd/systemd"]
        .iter()
        .any(|p| parent.executable_is(std::path::Path::new(p)));
    systemd
        && parent.systemd_unit.as_deref() == Some("init.scope")
        && id
            .systemd_unit
            .as_deref()
            .is_some_and(|u| u.ends_with(".service"))
}

async fn proxy(
    conn: &Connection,
    dest: OwnedUniqueName,
    trust: Trust,
    answer_within: Option<std::time::Duration>,
) -> Option<ChosenPrompt> {
    let proxy = prompt::Prompt1Proxy::builder(conn)
        .destination(dest)
        .ok()?
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .ok()?;
    Some(ChosenPrompt {
        proxy,
        trust,
        answer_within,
    })
}
