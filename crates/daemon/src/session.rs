//! [`PromptSession`]: the user side of a ceremony as a back-end sees it (PIN, account choice,
//! status lines), implemented by the D-Bus prompt ([`crate::prompt::DbusPromptSession`]).

use async_trait::async_trait;
use latchkey_prompt::{Account, Pin, PinRequest};
use latchkey_webauthn::WebAuthnError;

/// The user side of a ceremony, as a back-end sees it: the prompt latchkeyd chose for the request.
#[async_trait]
pub trait PromptSession: Send + Sync {
    /// Asks for a PIN (delivered over a file descriptor, zeroised after use).
    async fn pin(&self, request: PinRequest) -> Result<Pin, WebAuthnError>;
    /// Asks the user to pick one of `accounts`; returns its index.
    async fn choose_account(&self, accounts: &[Account]) -> Result<usize, WebAuthnError>;
    /// Shows a status line ("Touch your security key").
    async fn notice(&self, text: &str);
    /// Whether the caller controls this prompt (a terminal prompt it registered), so that its
    /// answers stand for the caller, not the user (PROMPT-TRUST.md).
    fn caller_controlled(&self) -> bool {
        false
    }
}
