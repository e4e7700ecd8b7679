//! [`PlatformBackend`]: the platform authenticator — in production the sandboxed worker
//! (`latchkey_worker::WorkerDevice`), in tests the authenticator core in process — behind both
//! back-end traits: its ceremonies ([`Ceremonies`], `latchkey_client::register` /
//! `authenticate` run in place on the runtime's thread, `crate::ceremony::in_place`, never
//! waiting on the prompt: the prompt is asked on the runtime and its answers handed to the next
//! run, [`crate::answers`]) and its credentials ([`PlatformStore`]: list, delete, signals). One device,
//! kept open; one ceremony at a time (the prompt queue already serialises requests), and
//! management waits for the device while a ceremony holds it.
//!
//! User presence for the platform authenticator is the consent latchkeyd already obtained from the
//! prompt before it calls [`Ceremonies::create`]/[`Ceremonies::get`]; user verification is the PIN
//! the authenticator itself checks.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use latchkey_client::manage::CredentialInfo;
use latchkey_webauthn::WebAuthnError;
use latchkey_worker::{ManageError, ManagedDevice, WorkerError};

use latchkey_client::{PinReason, PinRequest};

use crate::answers::{
    ask_pin, choose_signed_account, shown_accounts, AnsweredUi, Answers, Question, MAX_ANSWERS,
};
use crate::ceremony::{
    in_place, Blame, CancelToken, Ceremonies, Ceremony, CeremonyResult, Fault, FaultKind,
    Performed, PromptSession,
};
use crate::platform_pin::PlatformPinGuard;
use crate::shown::status_kind;
use crate::signal::{self, Signal, SignalError, SignalReport, SignalSupport};
use crate::store::{PlatformStore, StoreError};

/// The platform authenticator (module doc).
pub struct PlatformBackend {
    device: Arc<Mutex<Box<dyn ManagedDevice>>>,
    /// A caller-controlled prompt gave a wrong PIN since the trusted prompt last completed a
    /// ceremony ([`PlatformPinGuard`]).
    pin_strike: Arc<AtomicBool>,
    /// The first PIN question of the last ceremony, when it was the only one and the ceremony
    /// succeeded: the next one will ask the same, so the prompt is asked before it runs.
    expected_pin: Mutex<Option<PinRequest>>,
}

impl PlatformBackend {
    /// Serves ceremonies and management on `device`.
    pub fn new(device: Box<dyn ManagedDevice>) -> Self {
        Self {
            device: Arc::new(Mutex::new(device)),
            pin_strike: Arc::default(),
            expected_pin: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Box<dyn ManagedDevice>> {
        self.device.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The PIN question the next ceremony will ask first, if the last one showed it.
    fn expected(&self) -> std::sync::MutexGuard<'_, Option<PinRequest>> {
        self.expected_pin
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs the ceremony `c`: the prompt is asked on this task, the ceremony runs on a blocking
    /// thread answered from what the prompt said ([`crate::answers`]), again after each new question.
    /// A worker that stops during the ceremony — while a run waits on it, or between runs while
    /// the prompt asks — fails it as the system's fault (`UnknownError`), and the next request
    /// starts a new worker; one that stopped before the ceremony is replaced without a word.
    async fn run(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> CeremonyResult {
        // A worker that stopped while idle is reaped now, so that only a stop during this
        // ceremony fails it (a device busy with management is looked at by the first run).
        if let Ok(mut device) = self.device.try_lock() {
            if device.take_exit().is_some() {
                tracing::info!(request = %c.id(), "the platform authenticator worker had stopped while idle");
            }
        }
        let trusted = !ui.caller_controlled();
        let ui = PlatformPinGuard::wrap(ui, &self.pin_strike);
        let mut answers = Answers::default();
        // The steady state: the PIN is the ceremony's first question, the same as last time
        // (its retries reset by the last success), so it is asked before the first run.
        let expected = self.expected().take();
        if let Some(question) = expected {
            ask_pin(ui.as_ref(), question, PLATFORM, &mut answers).await;
        }
        let mut asked_pins = 0;
        loop {
            let device = self.device.clone();
            let token = cancel.clone();
            let ceremony = c.clone();
            let (result, run) = in_place(move || {
                let mut device = device.lock().unwrap_or_else(PoisonError::into_inner);
                let handle = device.cancel_handle();
                // Cleared only once the device is ours: a ceremony still running holds the
                // lock, and its cancel must not be undone by the request queued behind it.
                handle.reset();
                let link = token.link(&handle);
                let mut run = RunOutcome::default();
                let mut answered = AnsweredUi::new(&mut answers);
                // The worker this ceremony began on stopped while the prompt was asked.
                let exit = device.take_exit();
                let result = match exit {
                    Some(_) => Err(WebAuthnError::unknown("the platform authenticator stopped")),
                    None => ceremony.perform(&mut **device, &mut answered),
                };
                // A store failure behind the authenticator's CTAP status, or a worker that
                // stopped: its cause and blame.
                if result.is_err() {
                    run.failure = exit.or_else(|| device.take_failure());
                }
                drop(link);
                // Cleared again before the lock goes, so that listing, deleting and signals
                // (which take the same device) do not see this ceremony's cancel.
                handle.reset();
                run.question = answered.question;
                run.statuses = answered.statuses;
                run.pin_questions = answered.pin_questions;
                (result, (run, answers))
            })
            .await
            .map_err(|e| Fault::new(Blame::System, FaultKind::Failed, e.message()))?;
            let (mut run, kept) = run;
            answers = kept;
            if let Some(failure) = run.failure.take() {
                if matches!(failure, ManageError::Worker(WorkerError::Stopped)) {
                    tracing::warn!(request = %c.id(), "the platform authenticator worker stopped during the ceremony, which fails; the next request starts a new worker");
                }
                // The store's fault or the system's, not the user's (WebAuthn L3 §6.3.2 step
                // 14: an error storing the credential is "UnknownError"); the request's log
                // line keeps the whole chain.
                return Err(crate::fault::manage_fault(failure));
            }
            for status in &run.statuses {
                ui.status(latchkey_prompt::Status::new(status_kind(status)))
                    .await;
            }
            let Some(question) = run.question else {
                let first = run.pin_questions.first();
                if result.is_ok() && asked_pins <= 1 && run.pin_questions.len() == 1 {
                    *self.expected() = first.filter(|q| q.reason == PinReason::Verify).cloned();
                }
                if trusted && result.is_ok() {
                    // The user went through the trusted prompt (with the right PIN, where one
                    // was asked): a terminal prompt may try again.
                    self.pin_strike.store(false, Ordering::SeqCst);
                }
                return self.finish(ui.as_ref(), result).await;
            };
            if answers.count() >= MAX_ANSWERS || cancel.is_cancelled() {
                return self.finish(ui.as_ref(), result).await;
            }
            match question {
                Question::Pin(q) => {
                    asked_pins += 1;
                    ask_pin(ui.as_ref(), q, PLATFORM, &mut answers).await;
                }
                Question::Account(offered) => {
                    let chosen = ui
                        .choose_account(&shown_accounts(&offered))
                        .await
                        .ok()
                        .and_then(|i| offered.get(i))
                        .map(|a| a.credential_id.clone());
                    answers.account(&offered, chosen);
                }
            }
        }
    }

    /// Ends a ceremony that ran to its end. When several platform passkeys answered the one
    /// getAssertion, each signed once (CTAP 2.1 §6.2.2), the user picks one on this task, and the ceremony ends with it without signing
    /// again (each counter moves by one).
    async fn finish(
        &self,
        ui: &dyn PromptSession,
        performed: Result<Performed, WebAuthnError>,
    ) -> CeremonyResult {
        let choice = match performed.map_err(|e| Fault::from_ceremony(&e))? {
            Performed::Response(json) => return Ok(json),
            Performed::Choose(choice) => choice,
        };
        let index = choose_signed_account(ui, choice.accounts())
            .await
            .map_err(|e| Fault::from_ceremony(&e))?;
        let device = self.device.clone();
        in_place(move || {
            let mut device = device.lock().unwrap_or_else(PoisonError::into_inner);
            choice.finish(&mut **device, index)?.to_json()
        })
        .await
        .and_then(|json| json)
        .map_err(|e| Fault::from_ceremony(&e))
    }
}

/// The platform authenticator, as the prompt names its kind.
const PLATFORM: latchkey_prompt::ChoiceKind = latchkey_prompt::ChoiceKind::Platform;

/// What one run of the ceremony asked and showed.
#[derive(Default)]
struct RunOutcome {
    question: Option<Question>,
    statuses: Vec<latchkey_client::Status>,
    pin_questions: Vec<PinRequest>,
    /// Why the run failed, when its store failed under the authenticator.
    failure: Option<latchkey_worker::ManageError>,
}

#[async_trait]
impl Ceremonies for PlatformBackend {
    async fn create(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> CeremonyResult {
        self.run(c, ui, cancel).await
    }

    async fn get(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> CeremonyResult {
        self.run(c, ui, cancel).await
    }

    fn capabilities(&self) -> BTreeMap<String, bool> {
        BTreeMap::from([
            ("passkeyPlatformAuthenticator".to_owned(), true),
            ("userVerifyingPlatformAuthenticator".to_owned(), true),
            ("extension:credProps".to_owned(), true),
        ])
    }
}

impl PlatformStore for PlatformBackend {
    fn list(&self, rp_id: Option<&str>) -> Result<Vec<CredentialInfo>, StoreError> {
        self.lock()
            .list(rp_id)
            .ok_or(StoreError::Unsupported)?
            .map_err(StoreError::Manage)
    }

    fn delete(&self, credential_id: &[u8]) -> Result<bool, StoreError> {
        self.lock()
            .delete(credential_id)
            .ok_or(StoreError::Unsupported)?
            .map_err(StoreError::Manage)
    }

    fn signal_support(&self) -> SignalSupport {
        // Signals act on platform credentials, through list, delete and update-user.
        SignalSupport::ALL
    }

    fn apply_signal(&self, s: &Signal) -> Result<SignalReport, SignalError> {
        // Under one lock: no ceremony changes the RP's credentials between the listing and the
        // changes it plans.
        signal::apply(&mut **self.lock(), s)
    }

    fn change_pin(&self, current: &str, new: &str) -> Result<(), WebAuthnError> {
        // The client asks its UI for the current PIN, then the new one: answered from what the
        // trusted prompt gave (copied into zeroised buffers).
        // The PIN changes: the next ceremony asks its PIN question afresh.
        *self.expected() = None;
        let mut ui = latchkey_client::ScriptedUi::with_pins([current, new]);
        let mut device = self.lock();
        let device: &mut dyn latchkey_client::Device = &mut **device;
        latchkey_client::manage::change_pin(device, &mut ui)
    }

    fn end_session(&self) -> Result<bool, StoreError> {
        self.lock().end_session().map_err(StoreError::Manage)
    }
}
