//! The security keys present, managed from the Passkeys window: `ListSecurityKeys`,
//! `ListSecurityKeyCredentials`, `DeleteSecurityKeyCredential`, `ChangeSecurityKeyPin` and
//! `ResetSecurityKey` (data/dev.latchkey.Credentials1.xml). Keys are opened where ceremonies open
//! them ([`crate::keys::KeyAccess`]: the sandboxed device worker, in latchkeyd) and driven by
//! `latchkey_client::manage` on a blocking thread, within the call limits ([`crate::limits`]).
//!
//! - Each key gets a handle (`key1`, `key2`, …) by where it is plugged in (its hidraw path,
//!   socket or reader) for as long as latchkeyd runs: the same key in the same place keeps it.
//! - Whatever needs the user — the key's PIN for credential management (CTAP 2.1 §6.8), the
//!   current and the new PIN (§6.5.5.5–6), a touch for a reset (§6.6) — is asked of the *trusted*
//!   prompt (`RequestPin`, `ChangePin`, `ShowStatus`; PINs through file descriptors), never of a
//!   prompt the caller controls and never as a D-Bus string. The prompt's `Cancelled` while the
//!   key waits for a touch sends the key CTAPHID_CANCEL. As in a ceremony, the prompt is asked
//!   on the call's own task, never from the key's blocking thread: a PIN question ends the run,
//!   is asked, and the operation runs again on the same open key with the answer
//!   ([`crate::answers`]); statuses go to the prompt as they come ([`crate::shown`]).
//! - One key operation runs at a time, and none while a ceremony uses keys: such a call fails at
//!   once with `Busy`. A ceremony may wait minutes for a touch; a management call queued behind it
//!   would leave the window waiting with no word why, while `Busy` lets it say so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use latchkey_api::Error;
use latchkey_client::manage::{self, ResetError};
use latchkey_client::{CancelHandle, CeremonyUi, Device};
use latchkey_prompt::ChoiceKind;
use latchkey_webauthn::WebAuthnError;
use zbus::zvariant::{OwnedValue, Value};
use zbus::Connection;
use zeroize::Zeroizing;

use crate::answers::{ask_pin, AnsweredUi, Answers, Question, MAX_ANSWERS};
use crate::identity::CallerIdentity;
use crate::keys::{Held, KeyBackend};
use crate::pin_change::{ask_pins, dismiss, trusted_prompt};
use crate::prompt::{ChosenPrompt, DbusPromptSession};
use crate::queue::caller_key;
use crate::session::PromptSession;
use crate::shown::{self, showing, StatusLine};
use crate::state::Shared;

mod entries;

use entries::key_entry;
pub use entries::{aaguid_text, credential_entry};

/// The key handles handed out, and the one key operation at a time (module doc).
#[derive(Default)]
pub struct KeyManageState {
    /// Where each key was seen; handle `keyN` is entry N − 1.
    places: Mutex<Vec<String>>,
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl KeyManageState {
    fn handle(&self, place: &str) -> String {
        let mut places = self.places.lock().unwrap_or_else(PoisonError::into_inner);
        let index = match places.iter().position(|p| p == place) {
            Some(i) => i,
            None => {
                places.push(place.to_owned());
                places.len() - 1
            }
        };
        format!("key{}", index + 1)
    }

    fn place(&self, handle: &str) -> Option<String> {
        let n: usize = handle.strip_prefix("key")?.parse().ok()?;
        let places = self.places.lock().unwrap_or_else(PoisonError::into_inner);
        places.get(n.checked_sub(1)?).cloned()
    }
}

/// The key a handle names, and where.
struct Target {
    keys: Arc<KeyBackend>,
    place: String,
    handle: String,
}

fn busy_ceremony() -> Error {
    Error::Busy(
        "a security key is in use by a sign-in or a registration; try again when it is done".into(),
    )
}

fn keys_of(shared: &Shared) -> Option<Arc<KeyBackend>> {
    shared
        .settings
        .backends
        .keys
        .clone()
        .filter(|k| k.sources().enabled())
}

fn target(shared: &Shared, handle: &str) -> Result<Target, Error> {
    let keys =
        keys_of(shared).ok_or_else(|| Error::NotFound("latchkeyd uses no security keys".into()))?;
    let place = shared.key_manage.place(handle).ok_or_else(|| {
        Error::NotFound(format!(
            "no security key has the handle {handle:?}; list the keys again"
        ))
    })?;
    if keys.in_ceremony() {
        return Err(busy_ceremony());
    }
    Ok(Target {
        keys,
        place,
        handle: handle.to_owned(),
    })
}

fn one_at_a_time(shared: &Shared) -> Result<tokio::sync::MutexGuard<'_, ()>, Error> {
    shared
        .key_manage
        .one_at_a_time
        .try_lock()
        .map_err(|_| Error::Busy("another security key operation is running".into()))
}

/// Opens every key present (blocking), tied to `cancel`.
fn open_present(
    keys: &KeyBackend,
    cancel: &CancelHandle,
) -> Result<Vec<Box<dyn Device>>, WebAuthnError> {
    let found = keys.access().find(keys.sources(), cancel)?;
    Ok(found.present)
}

/// Opens the key plugged in at `place` (blocking), tied to `cancel`.
fn open_at(
    keys: &KeyBackend,
    place: &str,
    cancel: &CancelHandle,
) -> Result<Box<dyn Device>, Error> {
    open_present(keys, cancel)
        .map_err(|e| Error::from_webauthn(&e))?
        .into_iter()
        .find(|d| d.info().path == place)
        .ok_or_else(|| Error::NotFound("that security key is no longer plugged in".into()))
}

/// What one run on the key gives back besides the key (which comes back in its `Held`, kept open
/// for the next run): the answers, the result, and the question the run stopped at.
type Run<T> = (Answers, Result<T, Error>, Option<Question>);

/// Runs `work` on the target key on a blocking thread, within the call limits, the user side
/// through `prompt` for the prompt request `id` (dismissed afterwards): a PIN question ends a
/// run, is asked on this task, and `work` runs again on the same key with the answer. The
/// user's cancel in the prompt while the key waits for a touch (`Cancelled`) sends the key
/// CTAPHID_CANCEL.
async fn on_key<T: Send + 'static>(
    shared: &Shared,
    caller: &CallerIdentity,
    target: Target,
    prompt: &ChosenPrompt,
    id: &str,
    work: impl Fn(&mut dyn Device, &mut dyn CeremonyUi) -> Result<T, Error> + Send + Sync + 'static,
) -> Result<T, Error> {
    let session = DbusPromptSession::new(prompt.clone(), id.to_owned());
    let Target { keys, place, .. } = target;
    let cancel = CancelHandle::new();
    let user_cancel = session.user_cancel().await;
    let watch = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            user_cancel.await;
            cancel.cancel();
        })
    };
    let work = Arc::new(work);
    let mut line = StatusLine::default();
    // Held while the prompt is asked and let go off this runtime thread (`crate::keys::Held`).
    let mut held: Held<Box<dyn Device>> = Held::default();
    let mut answers = Answers::default();
    let result = loop {
        let (show, rx) = shown::channel();
        let (keys, place, handle, work) =
            (keys.clone(), place.clone(), cancel.clone(), work.clone());
        let limited = caller_key(caller, shared.settings.uid);
        // The key goes to the run's thread and back inside a `Held` (`Held::run_on`): a run the
        // limiter refuses lets go of it off this thread too.
        let run = held.run_on(
            |job| shared.calls.call(limited, "security key", job),
            move |key| -> Run<T> {
                let key = match key.get_or_try_insert(|| open_at(&keys, &place, &handle)) {
                    Ok(key) => key,
                    Err(e) => return (answers, Err(e), None),
                };
                let mut answered = AnsweredUi::live(&mut answers, show);
                let result = work(&mut **key, &mut answered);
                let question = answered.question.take();
                (answers, result, question)
            },
        );
        let (kept_answers, result, question) = match showing(&session, &mut line, rx, run).await {
            Ok(run) => run,
            Err(e) => break Err(e),
        };
        answers = kept_answers;
        let Some(Question::Pin(question)) = question else {
            break result;
        };
        if answers.count() >= MAX_ANSWERS || cancel.is_cancelled() {
            break result;
        }
        ask_pin(&session, question, ChoiceKind::SecurityKey, &mut answers).await;
        line.reset();
    };
    watch.abort();
    // Closed before the call answers, so that the next may open the key.
    held.let_go().await;
    dismiss(prompt, id).await;
    result
}

/// A key's answer as the method error; `CTAP2_ERR_NO_CREDENTIALS` (the client crate's
/// `NotAllowedError` "holds no credential") is `NotFound`.
fn webauthn(e: &WebAuthnError) -> Error {
    if e.message().contains("CTAP2_ERR_NO_CREDENTIALS")
        || e.message().contains("holds no credential")
    {
        return Error::NotFound("the key holds no such passkey".into());
    }
    Error::from_webauthn(e)
}

fn logged<T>(
    what: &str,
    target: &str,
    by: &CallerIdentity,
    r: Result<T, Error>,
) -> Result<T, Error> {
    match &r {
        Ok(_) => tracing::info!(key = target, by = %by.display_name(), "{what}: done"),
        Err(e) => tracing::info!(key = target, error = ?e, "{what}: failed"),
    }
    r
}

/// `ListSecurityKeys`: every key present, described (getInfo, PIN retries); no user needed.
pub(crate) async fn list_keys(
    shared: &Shared,
    caller: &CallerIdentity,
) -> Result<Vec<HashMap<String, OwnedValue>>, Error> {
    let Some(keys) = keys_of(shared) else {
        return Ok(Vec::new());
    };
    if keys.in_ceremony() {
        return Err(busy_ceremony());
    }
    let _one = one_at_a_time(shared)?;
    let reports = shared
        .calls
        .call(caller_key(caller, shared.settings.uid), "security key", move || {
            let described = open_present(&keys, &CancelHandle::new())?.into_iter().filter_map(|mut d| {
                manage::describe(&mut *d)
                    .map_err(|e| {
                        tracing::warn!(key = %d.info().path, error = e.message(), "a security key did not describe itself");
                    })
                    .ok()
            });
            Ok::<_, WebAuthnError>(described.collect::<Vec<_>>())
        })
        .await?
        .map_err(|e| Error::from_webauthn(&e))?;
    Ok(reports
        .iter()
        .map(|r| key_entry(shared.key_manage.handle(&r.description.path), r))
        .collect())
}

/// `ListSecurityKeyCredentials`: the key's discoverable credentials, after its PIN.
pub(crate) async fn list_credentials(
    shared: &Shared,
    conn: &Connection,
    caller: &CallerIdentity,
    handle: &str,
) -> Result<Vec<HashMap<String, OwnedValue>>, Error> {
    let target = target(shared, handle)?;
    let _one = one_at_a_time(shared)?;
    let prompt = trusted_prompt(shared, conn, caller).await?;
    let id = shared.next_request_id().to_string();
    let listed = on_key(shared, caller, target, &prompt, &id, |d, ui| {
        manage::list_device(d, ui).map_err(|e| webauthn(&e))
    })
    .await;
    let listed = logged("security key passkeys listed", handle, caller, listed)?;
    Ok(listed.into_iter().map(credential_entry).collect())
}

/// `DeleteSecurityKeyCredential`: deletes one of the key's credentials, after its PIN.
pub(crate) async fn delete_credential(
    shared: &Shared,
    conn: &Connection,
    caller: &CallerIdentity,
    handle: &str,
    credential_id: &str,
) -> Result<(), Error> {
    let id_bytes = latchkey_webauthn::b64::decode("credential_id", credential_id)
        .map_err(|e| Error::InvalidArgument(e.message().to_owned()))?;
    let target = target(shared, handle)?;
    let _one = one_at_a_time(shared)?;
    let prompt = trusted_prompt(shared, conn, caller).await?;
    let id = shared.next_request_id().to_string();
    let deleted = on_key(shared, caller, target, &prompt, &id, move |d, ui| {
        manage::delete_on_device(d, ui, &id_bytes).map_err(|e| webauthn(&e))
    })
    .await;
    logged("security key passkey deleted", handle, caller, deleted)
}

/// `ChangeSecurityKeyPin`: the trusted prompt's `ChangePin` for a key with a PIN (current and
/// new PIN), its `RequestPin` for a new PIN on a key without one.
pub(crate) async fn change_pin(
    shared: &Shared,
    conn: &Connection,
    caller: &CallerIdentity,
    handle: &str,
) -> Result<(), Error> {
    let target = target(shared, handle)?;
    let _one = one_at_a_time(shared)?;
    let prompt = trusted_prompt(shared, conn, caller).await?;
    let id = shared.next_request_id().to_string();
    // What the key says first: whether it has a PIN, its retries and its minimum length.
    let (keys, place) = (target.keys.clone(), target.place.clone());
    let report = shared
        .calls
        .call(
            caller_key(caller, shared.settings.uid),
            "security key",
            move || {
                let mut device = open_at(&keys, &place, &CancelHandle::new())?;
                manage::describe(&mut *device).map_err(|e| Error::from_webauthn(&e))
            },
        )
        .await??;
    if report.info.option("clientPin") != Some(true) {
        let set = on_key(shared, caller, target, &prompt, &id, |d, ui| {
            manage::set_pin(d, ui).map_err(|e| Error::from_webauthn(&e))
        })
        .await;
        return logged("security key PIN set", handle, caller, set);
    }
    let min_length = u32::try_from(report.info.min_pin_length.unwrap_or(4)).unwrap_or(u32::MAX);
    let mut details: HashMap<&str, Value<'_>> = HashMap::from([
        (
            "authenticator",
            Value::from(report.description.name.clone()),
        ),
        ("authenticator_kind", Value::from("security-key")),
        ("min_length", Value::from(min_length)),
    ]);
    if let Some(r) = report.pin_retries.and_then(|r| u32::try_from(r).ok()) {
        details.insert("retries", Value::from(r));
    }
    let (current, new) = ask_pins(&prompt, &id, details).await?;
    let changed = on_key(shared, caller, target, &prompt, &id, move |d, _| {
        let info = latchkey_client::ctap2::get_info(d)
            .map_err(|e| Error::Failed(format!("the key did not answer getInfo: {e}")))?;
        // Copied into zeroised buffers: this work may run again after a question it never asks.
        let pin = |p: &Zeroizing<String>| latchkey_client::Pin::new(p.clone());
        latchkey_client::pinuv::change_pin(d, &info, &pin(&current), &pin(&new))
            .map_err(|e| Error::from_webauthn(&e))
    })
    .await;
    logged("security key PIN changed", handle, caller, changed)
}

/// `ResetSecurityKey`: authenticatorReset (CTAP 2.1 §6.6), the touch asked for in the prompt;
/// `TooLate` when the key was plugged in more than 10 seconds ago.
pub(crate) async fn reset(
    shared: &Shared,
    conn: &Connection,
    caller: &CallerIdentity,
    handle: &str,
) -> Result<(), Error> {
    let target = target(shared, handle)?;
    let _one = one_at_a_time(shared)?;
    let prompt = trusted_prompt(shared, conn, caller).await?;
    let id = shared.next_request_id().to_string();
    let name = target.handle.clone();
    let reset = on_key(shared, caller, target, &prompt, &id, |d, ui| {
        manage::reset_key(d, ui).map_err(|e| match e {
            ResetError::TooLate => Error::TooLate(e.to_string()),
            ResetError::NotTouched | ResetError::Refused => Error::CallerRefused(e.to_string()),
            ResetError::Other(e) if e.name() == "AbortError" => Error::CallerRefused(
                "the user did not touch the key: the reset was cancelled; nothing was erased"
                    .into(),
            ),
            ResetError::Other(e) => Error::from_webauthn(&e),
        })
    })
    .await;
    logged("security key reset", &name, caller, reset)
}

#[cfg(test)]
mod tests;
