//! [`PromptSession`]: the user side of a ceremony as a back-end sees it (PIN, account choice,
//! where to go, status lines, the user's cancel), implemented by the D-Bus prompt
//! ([`crate::prompt::DbusPromptSession`]). The version 2 steps have defaults that a version 1
//! prompt (or a test double) gets: a status becomes its `Notice` line, `Choose` takes the first
//! choice (latchkeyd's routing decision), and the user never cancels between calls.

use std::future::Future;
use std::pin::Pin as Boxed;

use async_trait::async_trait;
use latchkey_prompt::{Account, ChoiceOffer, Pin, PinRequest, Status};
use latchkey_webauthn::WebAuthnError;

/// Resolves when the user cancelled the request in the prompt (never, for most prompts).
pub type UserCancel = Boxed<Box<dyn Future<Output = ()> + Send>>;

/// The user side of a ceremony, as a back-end sees it: the prompt latchkeyd chose for the request.
#[async_trait]
pub trait PromptSession: Send + Sync {
    /// Asks for a PIN (delivered over a file descriptor, zeroised after use).
    async fn pin(&self, request: PinRequest) -> Result<Pin, WebAuthnError>;
    /// Asks the user to pick one of `accounts`; returns its index.
    async fn choose_account(&self, accounts: &[Account]) -> Result<usize, WebAuthnError>;
    /// Shows a status line of latchkeyd's own words.
    async fn notice(&self, text: &str);
    /// Shows what the authenticator waits for (`ShowStatus`; a `Notice` line for version 1).
    async fn status(&self, status: Status) {
        self.notice(&status.v1_text()).await;
    }
    /// Asks where the passkey is created or found; returns the index of the choice in `offer`.
    async fn choose(&self, offer: &ChoiceOffer) -> Result<usize, WebAuthnError> {
        let _ = offer;
        Ok(0)
    }
    /// Starts listening for the user's cancel (`Cancelled`); the future resolves when it comes.
    async fn user_cancel(&self) -> UserCancel {
        Box::pin(std::future::pending())
    }
    /// Whether the caller controls this prompt (a terminal prompt it registered), so that its
    /// answers stand for the caller, not the user (PROMPT-TRUST.md).
    fn caller_controlled(&self) -> bool {
        false
    }
}
