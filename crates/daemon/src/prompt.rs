//! The UI broker: latchkeyd never draws a prompt itself. It calls the prompt a request was given
//! (the protocol is `latchkey_prompt`, `dev.latchkey.Prompt1`) and hands the authenticator side a
//! [`DbusPromptSession`] that forwards PIN requests, account choices, where-to-go choices and
//! status lines to it.
//!
//! Versions: the prompt's `Version` property is read once per chosen prompt (at the first
//! question asked of it; the trusted prompt is kept while it owns the name). A
//! version 2 prompt gets `Choose`, `ShowStatus`, the version 2 dictionary keys, and may cancel
//! with its `Cancelled` signal (heard from that prompt's unique name only, for this request ID
//! only, through one subscription kept with the chosen prompt: `cancels`); a version 1 prompt
//! gets only version 1 calls: statuses as `Notice` lines, and no `Choose` (latchkeyd's routing
//! decision stands).
//!
//! Who may answer what is in PROMPT-TRUST.md; [`Trust`] carries the answer.

use std::collections::HashMap;

use async_trait::async_trait;
use latchkey_prompt::{
    pin, response, Account, ChoiceOffer, ParentWindow, Pin, PinRequest, Prompt1Proxy, Status,
};
use latchkey_webauthn::WebAuthnError;
use tokio::sync::OnceCell;
use zbus::zvariant::Value;

use crate::session::{PromptSession, UserCancel};

mod cancels;

/// How far a prompt is trusted (PROMPT-TRUST.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// The graphical prompt named by policy `[[trusted_prompt]]`, owning `dev.latchkey.Prompt`:
    /// may approve anything, including unverified callers.
    Trusted,
    /// A prompt the caller itself could control (a terminal prompt it started): may relay PINs,
    /// account choices and consent for requests policy already allows, nothing more.
    CallerControlled,
}

/// A prompt chosen for one request.
#[derive(Clone)]
pub struct ChosenPrompt {
    /// The proxy to it.
    pub proxy: Prompt1Proxy<'static>,
    /// How far it is trusted.
    pub trust: Trust,
    /// How long it may take to answer one question (caller-controlled prompts: whoever started
    /// one decides whether it answers, and it holds the one prompt slot meanwhile).
    pub answer_within: Option<std::time::Duration>,
    /// Its `Version`, read at the first question of the first session on it and kept with it:
    /// the trusted prompt is kept while its unique name (one process) owns the prompt's name, so
    /// a request costs no round trip for it.
    pub(crate) version: std::sync::Arc<OnceCell<u32>>,
    /// Its `Cancelled` signals, subscribed to at the first ceremony that listens and kept with
    /// it like [`Self::version`] ([`cancels`]).
    pub(crate) cancels: std::sync::Arc<OnceCell<cancels::Cancels>>,
}

impl ChosenPrompt {
    /// Waits for the prompt's answer to one question, within [`Self::answer_within`].
    pub async fn answer<T>(
        &self,
        question: impl std::future::Future<Output = zbus::Result<T>>,
    ) -> Result<T, WebAuthnError> {
        match self.answer_within {
            None => question.await.map_err(prompt_failed),
            Some(limit) => match tokio::time::timeout(limit, question).await {
                Ok(answer) => answer.map_err(prompt_failed),
                Err(_) => Err(WebAuthnError::not_allowed(format!(
                    "the prompt did not answer within {limit:?}"
                ))),
            },
        }
    }
}

/// The [`PromptSession`] the authenticator side gets: forwards to the chosen prompt.
pub struct DbusPromptSession {
    prompt: ChosenPrompt,
    request_id: String,
    parent_window: Option<ParentWindow>,
    rp_id: Option<String>,
}

impl DbusPromptSession {
    /// A session for `request_id` on `prompt`.
    pub fn new(prompt: ChosenPrompt, request_id: String) -> Self {
        Self {
            prompt,
            request_id,
            parent_window: None,
            rp_id: None,
        }
    }

    /// The RP ID the ceremony was authorized for, sent to version 2 prompts with each PIN
    /// question: when a remembered decision stood for consent, the PIN dialog is the only one the
    /// user sees, and it must say which site it unlocks for.
    pub fn with_rp_id(mut self, rp_id: String) -> Self {
        self.rp_id = Some(rp_id);
        self
    }

    /// The caller's window the prompt's dialogs are to be transient for (sent to version 2
    /// prompts with each question).
    pub fn with_parent_window(mut self, parent: Option<ParentWindow>) -> Self {
        self.parent_window = parent;
        self
    }

    /// Adds `parent_window` to a version 2 question's `details`.
    fn with_parent(
        &self,
        version: u32,
        mut details: HashMap<&'static str, Value<'static>>,
    ) -> HashMap<&'static str, Value<'static>> {
        if let (2.., Some(p)) = (version, &self.parent_window) {
            details.insert("parent_window", Value::from(p.as_str().to_owned()));
        }
        details
    }

    /// The prompt's interface version, read once per chosen prompt; a prompt that does not say
    /// is version 1 (asked again next time: only an answer is kept).
    pub async fn version(&self) -> u32 {
        let read = self
            .prompt
            .version
            .get_or_try_init(|| async {
                let read = self.prompt.answer(self.prompt.proxy.version()).await;
                read.map(|v| v.max(1))
            })
            .await;
        read.map_or(1, |v| *v)
    }
}

/// Microseconds since `t`, for the per-phase `debug` timings.
pub(crate) fn micros(t: std::time::Instant) -> u64 {
    u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn prompt_failed(e: zbus::Error) -> WebAuthnError {
    WebAuthnError::not_allowed(format!("the prompt failed: {e}"))
}

#[async_trait]
impl PromptSession for DbusPromptSession {
    async fn pin(&self, request: PinRequest) -> Result<Pin, WebAuthnError> {
        let (reader, writer) =
            pin::pipe().map_err(|e| WebAuthnError::unknown(format!("pipe: {e}")))?;
        let version = self.version().await;
        let mut details = self.with_parent(version, request.details(version));
        if let (2.., Some(rp_id)) = (version, &self.rp_id) {
            details.insert("rp_id", Value::from(rp_id.clone()));
        }
        let started = std::time::Instant::now();
        let code = {
            use std::os::fd::AsFd as _;
            let sink = zbus::zvariant::Fd::from(writer.as_fd());
            self.prompt
                .answer(
                    self.prompt
                        .proxy
                        .request_pin(&self.request_id, details, sink),
                )
                .await?
        };
        drop(writer);
        if code != response::APPROVED {
            return Err(WebAuthnError::not_allowed("the user did not enter a PIN"));
        }
        let pin = pin::read_pin(reader)
            .map_err(|e| WebAuthnError::not_allowed(format!("reading the PIN failed: {e}")));
        tracing::debug!(request = %self.request_id, phase = "pin", us = micros(started), "phase");
        pin
    }

    async fn choose_account(&self, accounts: &[Account]) -> Result<usize, WebAuthnError> {
        let version = self.version().await;
        let list: Vec<HashMap<&str, Value<'_>>> =
            accounts.iter().map(|a| a.entry(version)).collect();
        let (code, index) = self
            .prompt
            .answer(self.prompt.proxy.choose_account(&self.request_id, list))
            .await?;
        let index = usize::try_from(index).unwrap_or(usize::MAX);
        if code != response::APPROVED {
            return Err(WebAuthnError::not_allowed("the user chose no account"));
        }
        if index >= accounts.len() {
            return Err(WebAuthnError::not_allowed(
                "the prompt chose an account that does not exist",
            ));
        }
        Ok(index)
    }

    async fn notice(&self, text: &str) {
        if self.version().await >= 2 {
            return self.status(Status::info(text)).await;
        }
        if let Err(e) = self.prompt.proxy.notice(&self.request_id, text).await {
            tracing::debug!(error = %e, "prompt notice failed");
        }
    }

    async fn status(&self, status: Status) {
        let sent = if self.version().await >= 2 {
            self.prompt
                .proxy
                .show_status(&self.request_id, status.dict())
                .await
        } else {
            self.prompt
                .proxy
                .notice(&self.request_id, &status.v1_text())
                .await
        };
        if let Err(e) = sent {
            tracing::debug!(error = %e, "prompt status failed");
        }
    }

    async fn choose(&self, offer: &ChoiceOffer) -> Result<usize, WebAuthnError> {
        if self.version().await < 2 || offer.choices.len() < 2 {
            return Ok(0);
        }
        let (code, id) = self
            .prompt
            .answer(self.prompt.proxy.choose(
                &self.request_id,
                self.with_parent(2, offer.details()),
                offer.entries(),
            ))
            .await?;
        if code != response::APPROVED {
            return Err(WebAuthnError::not_allowed(
                "the user chose no authenticator",
            ));
        }
        offer.position(&id).ok_or_else(|| {
            WebAuthnError::not_allowed("the prompt chose an authenticator that was not offered")
        })
    }

    async fn user_cancel(&self) -> UserCancel {
        if self.version().await < 2 {
            return Box::pin(std::future::pending());
        }
        let listening = self
            .prompt
            .cancels
            .get_or_try_init(|| cancels::Cancels::listen(&self.prompt.proxy))
            .await;
        match listening {
            Ok(cancels) => Box::pin(cancels.waiter(&self.request_id)),
            Err(e) => {
                tracing::debug!(error = %e, "cannot listen for the prompt's Cancelled");
                Box::pin(std::future::pending())
            }
        }
    }

    fn caller_controlled(&self) -> bool {
        self.prompt.trust == Trust::CallerControlled
    }
}
