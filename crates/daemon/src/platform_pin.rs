//! The platform PIN and prompts a caller controls (PROMPT-TRUST.md, "The platform PIN").
//!
//! A caller-controlled prompt (a terminal prompt a client registered) answers for whoever started
//! it. For a security key that is harmless: the key counts wrong PINs itself and a touch is
//! physical. The platform authenticator's PIN is different: it unwraps the store, its retries once
//! spent are recovered only by a reset (which deletes every passkey), and its first PIN is chosen
//! on first use. So, through such a prompt, [`PlatformPinGuard`]:
//!
//! - never asks for a *new* platform PIN (the user sets it in the trusted prompt or with
//!   `latchkey pin set`);
//! - asks for the PIN only while no wrong PIN is pending (the authenticator reports all its
//!   retries left) and no such prompt has given a wrong one since latchkeyd last saw the PIN
//!   entered in the trusted prompt: one wrong answer ends its part, in this request and the next.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use latchkey_authenticator::retries::MAX_PIN_RETRIES;
use latchkey_prompt::{Account, ChoiceOffer, Pin, PinRequest, Status};
use latchkey_webauthn::WebAuthnError;

use crate::ceremony::PromptSession;
use crate::session::UserCancel;

/// What the user is told when a caller-controlled prompt may not enter the platform PIN.
const ENTER_ELSEWHERE: &str = "enter the platform authenticator's PIN in the trusted prompt, or \
                               check it with `latchkey pin change`";

/// A [`PromptSession`] for the platform authenticator that holds a caller-controlled prompt to
/// the rules above; `strike` is shared by every ceremony of one latchkeyd.
pub struct PlatformPinGuard {
    inner: Arc<dyn PromptSession>,
    strike: Arc<AtomicBool>,
}

impl PlatformPinGuard {
    /// `ui` as the platform authenticator's prompt: guarded if the caller controls it.
    pub fn wrap(ui: Arc<dyn PromptSession>, strike: &Arc<AtomicBool>) -> Arc<dyn PromptSession> {
        if ui.caller_controlled() {
            Arc::new(Self {
                inner: ui,
                strike: Arc::clone(strike),
            })
        } else {
            ui
        }
    }
}

#[async_trait]
impl PromptSession for PlatformPinGuard {
    async fn pin(&self, request: PinRequest) -> Result<Pin, WebAuthnError> {
        let refusal = if request.new_pin {
            Some(
                "the platform authenticator has no PIN yet: set it with `latchkey pin set` or in \
                 the trusted prompt, not in a prompt the caller controls"
                    .to_owned(),
            )
        } else if request.wrong_pin {
            // The answer this prompt just gave was wrong: no second try, here or later.
            self.strike.store(true, Ordering::SeqCst);
            Some(format!("wrong PIN; {ENTER_ELSEWHERE}"))
        } else if request
            .retries
            .is_some_and(|r| r < u32::from(MAX_PIN_RETRIES))
            || self.strike.load(Ordering::SeqCst)
        {
            Some(format!("a wrong PIN was entered before; {ENTER_ELSEWHERE}"))
        } else {
            None
        };
        match refusal {
            // The ceremony reports only that no PIN came; the prompt's user learns why.
            Some(why) => {
                self.inner.notice(&why).await;
                Err(WebAuthnError::not_allowed(why))
            }
            None => self.inner.pin(request).await,
        }
    }

    async fn choose_account(&self, accounts: &[Account]) -> Result<usize, WebAuthnError> {
        self.inner.choose_account(accounts).await
    }

    async fn notice(&self, text: &str) {
        self.inner.notice(text).await;
    }

    async fn status(&self, status: Status) {
        self.inner.status(status).await;
    }

    async fn choose(&self, offer: &ChoiceOffer) -> Result<usize, WebAuthnError> {
        self.inner.choose(offer).await
    }

    async fn user_cancel(&self) -> UserCancel {
        self.inner.user_cancel().await
    }

    fn caller_controlled(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests;
