//! The thin driver of one request's ceremony: it does the I/O each step of
//! [`super::steps`] needs — the Related Origin Requests fetch, the wait for the prompt queue, the
//! prompt's `Consent`, the back-end's ceremony — and nothing else decides anything.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use latchkey_webauthn::WebAuthnError;
use zbus::Connection;

use super::prompt_choice::choose_prompt;
use super::steps::{Admitted, Asked, Authorizing, Decision, Stop};
use super::{NewRequest, Progress};
use crate::authorize::{self, OriginClaims};
use crate::ceremony::{CancelToken, PromptSession};
use crate::consent;
use crate::fault::{Blame, Fault, FaultKind};
use crate::options::{CheckedOptions, Kind};
use crate::policy::CallerClass;
use crate::prompt::{micros, DbusPromptSession};
use crate::queue::Ticket;
use crate::remember;
use crate::state::Shared;

/// Runs `req` from its parsed options (and what policy said of its caller when it was queued)
/// to the back-end's response JSON.
pub(super) async fn ceremony(
    shared: &Shared,
    conn: &Connection,
    req: &NewRequest,
    (class, checked): (CallerClass, Result<CheckedOptions, WebAuthnError>),
    ticket: &Ticket,
    progress: &Mutex<Progress>,
    stop: &CancelToken,
) -> Decision<serde_json::Value> {
    let phase = |name: &'static str, t: Instant| {
        tracing::debug!(request = %req.id, phase = name, us = micros(t), "phase");
    };
    let asked = Asked {
        id: req.id,
        kind: req.kind,
        caller: &req.caller,
        origin: req.origin.as_deref(),
        top_origin: req.top_origin.as_deref(),
        parent_window: req.parent_window.as_ref(),
    };
    let t = Instant::now();
    let admitted = Admitted::new(class, &asked, checked)?;
    lock(progress).caller = Some(admitted.shown().to_owned());
    let related = shared.settings.related_origins.as_ref();
    let granted = match admitted.authorize(&asked, related.is_some())? {
        Authorizing::Granted(g) => g,
        Authorizing::Related {
            admitted,
            origin,
            fallback,
        } => {
            let claims = OriginClaims {
                origin: asked.origin,
                top_origin: asked.top_origin,
                rp_id: admitted.claimed_rp_id(),
            };
            let answer = match related {
                Some(related) => {
                    authorize::with_related_origins(related, &origin, &claims, fallback).await
                }
                None => Err(fallback),
            };
            admitted.related(answer)?
        }
    };
    phase("authorize", t);

    tracing::info!(
        request = %req.id,
        kind = req.kind.as_str(),
        caller = %granted.shown(),
        rp_id = granted.rp_id(),
        "request queued for the prompt"
    );
    let t = Instant::now();
    let _turn = ticket.turn().await.ok_or_else(|| {
        Stop::Failed(Fault::new(
            Blame::System,
            FaultKind::Failed,
            "the prompt queue is closed",
        ))
    })?;
    phase("queue", t);

    let t = Instant::now();
    let prompt = choose_prompt(shared, conn, &req.caller).await;
    phase("choose_prompt", t);
    if let Some(p) = &prompt {
        lock(progress).prompt = Some(p.clone());
    }
    let (asking, prompt) = granted.prompt(prompt, |p| p.trust)?;

    let t = Instant::now();
    let answer = match asking.remembered(&asked, &shared.remembered) {
        Some(c) => {
            tracing::info!(request = %req.id, caller = %asked_caller(progress), "consent remembered; user verification required");
            Ok(c)
        }
        None => consent::ask(&prompt, req.id, asking.details(&asked)).await,
    };
    if let Some(key) = asking.to_remember(&answer) {
        remember(shared, key);
    }
    let ceremony = asking.consented(&asked, answer)?;
    phase("consent", t);

    let session: Arc<dyn PromptSession> = Arc::new(
        DbusPromptSession::new(prompt, req.id.to_string())
            .with_parent_window(req.parent_window.clone())
            .with_rp_id(ceremony.authorized().rp_id().as_str().to_owned()),
    );
    let backend = &shared.settings.backends.ceremonies;
    let t = Instant::now();
    let result = match req.kind {
        Kind::Create => backend.create(&ceremony, session, stop).await,
        Kind::Get => backend.get(&ceremony, session, stop).await,
    };
    phase("ceremony", t);
    result.map_err(Stop::Failed)
}

fn asked_caller(progress: &Mutex<Progress>) -> String {
    lock(progress).caller.clone().unwrap_or_default()
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

fn lock(progress: &Mutex<Progress>) -> std::sync::MutexGuard<'_, Progress> {
    progress.lock().unwrap_or_else(PoisonError::into_inner)
}
