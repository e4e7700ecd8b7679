//! `dev.latchkey.Prompt1` (the contract is the committed [`INTERFACE_XML`],
//! `data/dev.latchkey.Prompt1.xml`): how latchkeyd asks a person. latchkeyd never draws a prompt
//! itself. A separate process owns the bus name [`PROMPT_BUS_NAME`] (the graphical prompt) or
//! registers itself with latchkeyd's `RegisterPrompt` (a terminal prompt a client started for its
//! own requests), and serves the interface at [`PROMPT_PATH`]. PINs come back through a pipe
//! latchkeyd creates and passes as a file descriptor (`h`), never as a D-Bus string; latchkeyd
//! reads it once and zeroises it ([`pin`]).
//!
//! Here: the names, the response codes, the proxy latchkeyd calls ([`Prompt1Proxy`]), what a PIN
//! request and an account choice carry ([`PinRequest`], [`Account`], [`Pin`]), the terminal
//! prompt ([`tty`], binary `latchkey-tty-prompt`) and the scripted prompt for tests and
//! benchmarks ([`scripted`], binary `latchkey-test-prompt`). Who may answer what is latchkeyd's
//! decision (crates/daemon/PROMPT-TRUST.md).
#![forbid(unsafe_code)]

pub mod pin;
pub mod scripted;
pub mod tty;

use std::collections::HashMap;
use std::fmt;

use zbus::zvariant::{OwnedValue, Value};
use zeroize::Zeroizing;

/// Well-known bus name of the graphical prompt.
pub const PROMPT_BUS_NAME: &str = "dev.latchkey.Prompt";
/// Object path every prompt serves `dev.latchkey.Prompt1` at.
pub const PROMPT_PATH: &str = "/dev/latchkey/Prompt";
/// The prompt's interface.
pub const PROMPT_INTERFACE: &str = "dev.latchkey.Prompt1";
/// The interface description, the contract every prompt is checked against.
pub const INTERFACE_XML: &str = include_str!("../../../data/dev.latchkey.Prompt1.xml");

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
    /// Version 2: asks for a PIN change; writes the current PIN into `current_sink` and the new
    /// one into `new_sink`, then closes both.
    fn change_pin(
        &self,
        request_id: &str,
        details: HashMap<&str, Value<'_>>,
        current_sink: zbus::zvariant::Fd<'_>,
        new_sink: zbus::zvariant::Fd<'_>,
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

/// A PIN read from the prompt's file descriptor; zeroised on drop, never printed.
pub struct Pin(Zeroizing<Vec<u8>>);

impl Pin {
    /// Wraps PIN bytes (UTF-8, as CTAP 2.1 §6.5.1 expects).
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }
    /// The PIN bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

/// Why the authenticator side wants a PIN (`RequestPin`'s details).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinRequest {
    /// Which authenticator (shown to the user).
    pub authenticator: String,
    /// Retries left, if known.
    pub retries: Option<u32>,
    /// The previous PIN was wrong.
    pub wrong_pin: bool,
    /// No PIN is set: the user chooses one (at least `min_length` code points).
    pub new_pin: bool,
    /// The shortest PIN accepted, for a new PIN.
    pub min_length: u32,
}

impl PinRequest {
    /// `RequestPin`'s `details` dictionary.
    pub fn details(&self) -> HashMap<&'static str, Value<'static>> {
        let mut details = HashMap::new();
        details.insert("authenticator", Value::from(self.authenticator.clone()));
        details.insert("wrong_pin", Value::from(self.wrong_pin));
        details.insert("new_pin", Value::from(self.new_pin));
        details.insert("min_length", Value::from(self.min_length));
        if let Some(r) = self.retries {
            details.insert("retries", Value::from(r));
        }
        details
    }
}

/// An account to choose from (a discoverable credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `user.name`.
    pub name: String,
    /// `user.displayName`.
    pub display_name: String,
}

impl Account {
    /// One entry of `ChooseAccount`'s `accounts`.
    pub fn entry(&self) -> HashMap<&'static str, Value<'static>> {
        HashMap::from([
            ("name", Value::from(self.name.clone())),
            ("display_name", Value::from(self.display_name.clone())),
        ])
    }
}
