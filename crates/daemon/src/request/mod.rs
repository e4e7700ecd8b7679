//! One request's life: its exported object (`dev.latchkey.Request1`: `Close()`, `Response`), the
//! task that checks, queues, prompts and runs the ceremony, and the `Response` at the end.
//!
//! The ceremony is a pipeline of steps that decide without I/O (`steps`: options, policy and
//! origin, the prompt's trust, consent, the gates of a [`crate::ceremony::Ceremony`]) and a thin
//! driver that does the I/O between them (`driver`: related origins, the queue, the prompt, the
//! back-end); `prompt_choice` finds the prompt. This module runs the driver against the timeout
//! and cancellation and sends the `Response`.
//!
//! `Response` codes (xdg-desktop-portal convention): 0 success, 1 the user refused or dismissed,
//! 2 any other error. After `Close()` or the caller leaving the bus no `Response` is sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use latchkey_webauthn::WebAuthnError;
use tokio::sync::watch;
use zbus::message::Header;
use zbus::names::{BusName, OwnedUniqueName};
use zbus::object_server::{ObjectServer, SignalEmitter};
use zbus::zvariant::{OwnedObjectPath, Value};
use zbus::Connection;

use crate::ceremony::{CancelToken, RequestId};
use crate::fault::{Blame, Fault, FaultKind};
use crate::identity::CallerIdentity;
use crate::options::{self, Kind};
use crate::policy::CallerClass;
use crate::prompt::{micros, ChosenPrompt};
use crate::queue::{self, Ticket};
use crate::state::{CancelReason, LiveRequest, Shared};
use latchkey_api::Error;

mod driver;
mod prompt_choice;
pub(crate) mod steps;
#[cfg(test)]
mod tests;

pub(crate) use prompt_choice::choose_prompt;
pub(crate) use steps::shown_caller;
use steps::Stop;

pub use latchkey_api::{RESPONSE_CANCELLED, RESPONSE_ERROR, RESPONSE_SUCCESS};

/// The object at a request handle.
pub struct RequestObject {
    owner: OwnedUniqueName,
    cancel: watch::Sender<Option<CancelReason>>,
    /// The back-end's half ([`LiveRequest::stop`]).
    stop: CancelToken,
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
        self.stop.cancel();
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
    /// The caller's window the prompt is to be transient for.
    pub(crate) parent_window: Option<latchkey_prompt::ParentWindow>,
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
            let refusal = Fault::new(Blame::System, FaultKind::Busy, e.to_string()).webauthn();
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
    // The back-end's half of the cancellation: whatever ends the request early stops it.
    let stop = CancelToken::new();
    {
        let mut live = shared.lock_requests();
        if live.contains_key(&req.path) {
            return Err(Error::HandleInUse(req.path.to_string()));
        }
        let departed = shared
            .departed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(req.sender.as_str());
        if departed {
            // The caller left while its request was being started: nobody to ask for, nobody
            // to answer.
            tracing::info!(request = %req.id, "the caller left the bus before its request started; it is dropped");
            return Ok(());
        }
        live.insert(
            req.path.clone(),
            LiveRequest {
                sender: req.sender.clone(),
                cancel: cancel_tx.clone(),
                stop: stop.clone(),
            },
        );
    }
    let object = RequestObject {
        owner: req.sender.clone(),
        cancel: cancel_tx,
        stop: stop.clone(),
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
    // Classified once: the request's steps go on with what policy said here.
    tokio::spawn(run(shared, conn, req, class, ticket, cancel_rx, stop));
    // The request's task goes first, up to its first wait (on the prompt, the related-origins
    // fetch, the queue): tokio runs a task this one spawned when this one yields, and the method
    // reply is built and sent only after this returns. Sent while the prompt is asked, the reply
    // leaves the caller's path; in that order the get through latchkeyd measured about 10% faster
    // (ARCHITECTURE.md, "What sits on the caller's path"). A caller may see `Response` before
    // the reply: callers register the handle they predicted before calling (the portal
    // convention, `latchkey_api::client`), as the reply could already lose that race to another
    // worker thread.
    tokio::task::yield_now().await;
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
    class: CallerClass,
    ticket: Ticket,
    mut cancel: watch::Receiver<Option<CancelReason>>,
    stop: CancelToken,
) {
    let id = req.id;
    let chosen: Arc<Mutex<Progress>> = Arc::default();
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
            Some(Err(Stop::Failed(Fault::new(Blame::User, FaultKind::TimedOut, format!("the request timed out after {}", seconds_or_ms(timeout))))))
        }
        o = driver::ceremony(&shared, &conn, &req, (class, checked), &ticket, &chosen, &stop) => Some(o),
    };
    drop(ticket);
    // Whatever ended it, stop the authenticator and take the prompt down.
    let finished = matches!(outcome, Some(Ok(_)));
    let progress = std::mem::take(&mut *chosen.lock().unwrap_or_else(PoisonError::into_inner));
    if !finished {
        stop.cancel();
    }
    shared.lock_requests().remove(&req.path);
    // The object comes down before the caller has its answer: a caller may reuse its handle
    // token as soon as the Response arrives, and must not find the old object still there
    // (`HandleInUse`).
    unexport(&conn, &req.path, id).await;
    // The prompt comes down after the caller has its answer: `Dismiss` goes to another process
    // that the caller need not wait for, and latchkeyd does not wait for a reply either (the
    // prompt sends none): a finished request leaves one message behind it on the bus, not two.
    let dismiss = progress.prompt.map(|p| {
        let rid = id.to_string();
        async move {
            if let Err(e) = p.proxy.dismiss_without_reply(&rid).await {
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
        Ok(json) => {
            let key = match req.kind {
                Kind::Create => "registration_response_json",
                Kind::Get => "authentication_response_json",
            };
            (
                RESPONSE_SUCCESS,
                HashMap::from([(key, Value::from(json.to_string()))]),
            )
        }
        Err(Stop::Refused(f)) => (RESPONSE_CANCELLED, error_results(&f.webauthn())),
        Err(Stop::Failed(f)) => (RESPONSE_ERROR, error_results(&f.webauthn())),
    };
    let t = Instant::now();
    respond(conn, req.path, req.sender, code, results).await;
    tracing::debug!(request = %id, phase = "response", us = micros(t), "phase");
    // Logged once the caller has its answer: formatting the line and writing it to the journal
    // is not the caller's wait.
    match &outcome {
        Ok(_) => {
            tracing::info!(request = %id, kind = req.kind.as_str(), caller = ?progress.caller, "request succeeded")
        }
        // The one log line of a failed request: its blame, the name it maps to, and the whole
        // source chain (the caller got the top message only).
        Err(stop) => {
            let fault = stop.fault();
            tracing::info!(request = %id, kind = req.kind.as_str(), caller = ?progress.caller, error = stop.error().name(), blame = fault.blame().as_str(), fault = ?fault.kind(), message = %fault.chain(), "request failed")
        }
    }
    if let Some(d) = dismiss {
        d.await;
    }
}

/// Takes the request object at `path` off the bus.
async fn unexport(conn: &Connection, path: &OwnedObjectPath, id: RequestId) {
    let t = Instant::now();
    let _ = conn.object_server().remove::<RequestObject, _>(path).await;
    tracing::debug!(request = %id, phase = "unexport", us = micros(t), "phase");
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

/// `d` as a person reads it in an error message: whole seconds as "5 s", anything else (the
/// short timeouts tests and impatient callers ask for) as "300 ms", never "0 s".
fn seconds_or_ms(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}
