//! The UI broker: latchkeyd never draws a prompt itself. A separate process owns the bus name
//! `dev.latchkey.Prompt` (the graphical prompt) or registers itself with `RegisterPrompt` (a
//! terminal prompt a client started for its own requests), and serves `dev.latchkey.Prompt1`
//! (data/dev.latchkey.Prompt1.xml). PINs come back through a pipe latchkeyd creates and passes as
//! a file descriptor (`h`), never as a D-Bus string; latchkeyd reads it once and zeroises it.
//!
//! Who may answer what is in PROMPT-TRUST.md; [`Trust`] carries the answer.

pub mod pin;
pub mod scripted;
pub mod tty;

use std::collections::HashMap;

use async_trait::async_trait;
use latchkey_webauthn::WebAuthnError;
use zbus::zvariant::{OwnedValue, Value};

use crate::authenticators::{Account, Pin, PinRequest, PromptSession};

/// Well-known bus name of the graphical prompt.
pub const PROMPT_BUS_NAME: &str = "dev.latchkey.Prompt";
/// Object path every prompt serves `dev.latchkey.Prompt1` at.
pub const PROMPT_PATH: &str = "/dev/latchkey/Prompt";

/// `Consent`/`RequestPin`/`ChooseAccount` response codes.
pub mod response {
    /// The user approved / answered.
    pub const APPROVED: u32 = 0;
    /// The user refused or dismissed the prompt.
    pub const DENIED: u32 = 1;
    /// The prompt failed.
    pub const FAILED: u32 = 2;
}

/// The client side of `dev.latchkey.Prompt1`, as latchkeyd calls it.
#[zbus::proxy(
    interface = "dev.latchkey.Prompt1",
    default_path = "/dev/latchkey/Prompt",
    gen_blocking = false
)]
pub trait Prompt1 {
    /// Asks the user to approve a ceremony; `details` says who asks for what.
    fn consent(
        &self,
        request_id: &str,
        details: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<(u32, HashMap<String, OwnedValue>)>;
    /// Asks for a PIN and writes it (UTF-8, no newline) into `pin_sink`, then closes it.
    fn request_pin(
        &self,
        request_id: &str,
        details: HashMap<&str, Value<'_>>,
        pin_sink: zbus::zvariant::Fd<'_>,
    ) -> zbus::Result<u32>;
    /// Asks the user to choose one account; returns the response and the index.
    fn choose_account(
        &self,
        request_id: &str,
        accounts: Vec<HashMap<&str, Value<'_>>>,
    ) -> zbus::Result<(u32, u32)>;
    /// Takes down any prompt for `request_id` (cancelled, timed out or finished).
    fn dismiss(&self, request_id: &str) -> zbus::Result<()>;
    /// Shows a status line for `request_id`.
    fn notice(&self, request_id: &str, text: &str) -> zbus::Result<()>;
    /// Interface version.
    #[zbus(property)]
    fn version(&self) -> zbus::Result<u32>;
}

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
}

/// The [`PromptSession`] the authenticator side gets: forwards to the chosen prompt.
pub struct DbusPromptSession {
    prompt: ChosenPrompt,
    request_id: String,
}

impl DbusPromptSession {
    /// A session for `request_id` on `prompt`.
    pub fn new(prompt: ChosenPrompt, request_id: String) -> Self {
        Self { prompt, request_id }
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
        let mut details: HashMap<&str, Value<'_>> = HashMap::new();
        details.insert("authenticator", Value::from(request.authenticator.clone()));
        details.insert("wrong_pin", Value::from(request.wrong_pin));
        details.insert("new_pin", Value::from(request.new_pin));
        details.insert("min_length", Value::from(request.min_length));
        if let Some(r) = request.retries {
            details.insert("retries", Value::from(r));
        }
        let started = std::time::Instant::now();
        let code = {
            use std::os::fd::AsFd as _;
            let sink = zbus::zvariant::Fd::from(writer.as_fd());
            self.prompt
                .proxy
                .request_pin(&self.request_id, details, sink)
                .await
                .map_err(prompt_failed)?
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
        let list = accounts
            .iter()
            .map(|a| {
                HashMap::from([
                    ("name", Value::from(a.name.clone())),
                    ("display_name", Value::from(a.display_name.clone())),
                ])
            })
            .collect();
        let (code, index) = self
            .prompt
            .proxy
            .choose_account(&self.request_id, list)
            .await
            .map_err(prompt_failed)?;
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
        if let Err(e) = self.prompt.proxy.notice(&self.request_id, text).await {
            tracing::debug!(error = %e, "prompt notice failed");
        }
    }
}
