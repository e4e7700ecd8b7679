//! `dev.latchkey.Prompt1` (the contract is the committed [`INTERFACE_XML`],
//! `data/dev.latchkey.Prompt1.xml`): how latchkeyd asks a person. latchkeyd never draws a prompt
//! itself. A separate process owns the bus name [`PROMPT_BUS_NAME`] (the graphical prompt) or
//! registers itself with latchkeyd's `RegisterPrompt` (a terminal prompt a client started for its
//! own requests), and serves the interface at [`PROMPT_PATH`]. PINs come back through a pipe
//! latchkeyd creates and passes as a file descriptor (`h`), never as a D-Bus string; latchkeyd
//! reads it once and zeroises it ([`pin`]).
//!
//! Here: the names, the response codes, the proxy latchkeyd calls ([`Prompt1Proxy`]), what a PIN
//! request and an account choice carry ([`PinRequest`], [`Account`], [`Pin`]), what version 2
//! adds ([`v2`]: `Choose`, `ShowStatus`, `ChangePin`, the `Cancelled` signal), the terminal
//! prompt ([`tty`], binary `latchkey-tty-prompt`) and the scripted prompt for tests and
//! benchmarks ([`scripted`], binary `latchkey-test-prompt`). Who may answer what is latchkeyd's
//! decision (crates/daemon/PROMPT-TRUST.md).
//!
//! Versions: a prompt says which it serves in its `Version` property. Version 2 keeps every
//! member of version 1 ([`INTERFACE_XML_V1`]) with the same arguments and only adds; latchkeyd
//! reads the property once per request and makes only version 1 calls (and sends only version 1
//! dictionary keys) to a version 1 prompt.
#![forbid(unsafe_code)]

pub mod pin;
pub mod scripted;
pub mod tty;
pub mod v2;

use std::collections::HashMap;
use std::fmt;

use zbus::zvariant::{OwnedValue, Value};
use zeroize::Zeroizing;

pub use v2::{
    BadParentWindow, Choice, ChoiceKind, ChoiceOffer, ConsentResults, ParentWindow, Status,
    StatusKind,
};

/// Well-known bus name of the graphical prompt.
pub const PROMPT_BUS_NAME: &str = "dev.latchkey.Prompt";
/// Object path every prompt serves `dev.latchkey.Prompt1` at.
pub const PROMPT_PATH: &str = "/dev/latchkey/Prompt";
/// The prompt's interface.
pub const PROMPT_INTERFACE: &str = "dev.latchkey.Prompt1";
/// The interface description, the contract every prompt is checked against.
pub const INTERFACE_XML: &str = include_str!("../../../data/dev.latchkey.Prompt1.xml");
/// Version 1 of the interface as it was committed, what a version 1 prompt serves.
pub const INTERFACE_XML_V1: &str = include_str!("../dbus/dev.latchkey.Prompt1.v1.xml");
/// The interface version [`INTERFACE_XML`] describes.
pub const VERSION: u32 = 2;

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
    /// Version 2: asks for a PIN change; the current PIN into `current_sink`, the new one into
    /// `new_sink`.
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
    /// Version 2: asks where the passkey is created or found; returns the response and the
    /// chosen option's `id`.
    fn choose(
        &self,
        request_id: &str,
        details: HashMap<&str, Value<'_>>,
        choices: Vec<HashMap<&str, Value<'_>>>,
    ) -> zbus::Result<(u32, String)>;
    /// Version 2: shows what the authenticator waits for.
    fn show_status(&self, request_id: &str, status: HashMap<&str, Value<'_>>) -> zbus::Result<()>;
    /// Takes down any prompt for `request_id` (cancelled, timed out or finished).
    fn dismiss(&self, request_id: &str) -> zbus::Result<()>;
    /// `Dismiss`, sent flagged `NO_REPLY_EXPECTED`: the prompt sends nothing back and the caller
    /// waits for nothing (latchkeyd after a request ended; the same member and arguments).
    #[zbus(name = "Dismiss", no_reply)]
    fn dismiss_without_reply(&self, request_id: &str) -> zbus::Result<()>;
    /// Shows a status line for `request_id`.
    fn notice(&self, request_id: &str, text: &str) -> zbus::Result<()>;
    /// Version 2: the user cancelled `request_id` while no call waited for an answer.
    #[zbus(signal)]
    fn cancelled(&self, request_id: String) -> zbus::Result<()>;
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
    /// Which kind of authenticator asks (version 2: `authenticator_kind`), when latchkeyd knows.
    pub kind: Option<ChoiceKind>,
}

impl PinRequest {
    /// `RequestPin`'s `details` dictionary for a prompt of interface `version` (version 2 keys
    /// only for version 2 prompts).
    pub fn details(&self, version: u32) -> HashMap<&'static str, Value<'static>> {
        let mut details = HashMap::new();
        details.insert("authenticator", Value::from(self.authenticator.clone()));
        details.insert("wrong_pin", Value::from(self.wrong_pin));
        details.insert("new_pin", Value::from(self.new_pin));
        details.insert("min_length", Value::from(self.min_length));
        if let Some(r) = self.retries {
            details.insert("retries", Value::from(r));
        }
        if version >= 2 {
            if let Some(k) = self.kind {
                details.insert("authenticator_kind", Value::from(k.as_str()));
            }
            details.insert("blocked", Value::from(self.retries == Some(0)));
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
    /// When the passkey was created, seconds since 1970, if the authenticator keeps it.
    pub created: Option<u64>,
}

impl Account {
    /// One entry of `ChooseAccount`'s `accounts` for a prompt of interface `version` (version 2
    /// adds `created`, by which the prompt lists the newest first).
    pub fn entry(&self, version: u32) -> HashMap<&'static str, Value<'static>> {
        let mut e = HashMap::from([
            ("name", Value::from(self.name.clone())),
            ("display_name", Value::from(self.display_name.clone())),
        ]);
        if let (true, Some(t)) = (version >= 2, self.created) {
            e.insert("created", Value::from(t));
        }
        e
    }
}
