//! What version 2 of `dev.latchkey.Prompt1` adds (data/dev.latchkey.Prompt1.xml): the `Choose`
//! step (where the passkey is created or found, a list of choices), `ShowStatus` (what an
//! authenticator waits for, with a kind), and the typed results of `Consent` (`remember`).
//! latchkeyd sends these only to a prompt whose `Version` is at least [`crate::VERSION`]; a
//! version 1 prompt gets the [`Status::v1_text`] line through `Notice` instead.

use std::collections::HashMap;

use zbus::zvariant::{OwnedValue, Value};

/// Which kind of authenticator a PIN or a choice is about (`authenticator_kind`, `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChoiceKind {
    /// The platform authenticator: this device.
    Platform,
    /// A USB or NFC security key.
    SecurityKey,
    /// A phone or tablet (caBLE/hybrid).
    Hybrid,
    /// A passkey provider (a password manager).
    Provider,
}

impl ChoiceKind {
    /// The interface's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::SecurityKey => "security-key",
            Self::Hybrid => "hybrid",
            Self::Provider => "provider",
        }
    }

    /// Parses the interface's word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "platform" => Self::Platform,
            "security-key" => Self::SecurityKey,
            "hybrid" => Self::Hybrid,
            "provider" => Self::Provider,
            _ => return None,
        })
    }
}

/// One option of `Choose`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// latchkeyd's token for it, returned as `choice`.
    pub id: String,
    /// What it is; the prompt words platform, security-key and hybrid choices itself.
    pub kind: ChoiceKind,
    /// A provider's name (empty for the other kinds).
    pub label: String,
    /// A second line ("1 passkey for example.com"), may be empty.
    pub detail: String,
}

impl Choice {
    /// One entry of `Choose`'s `choices`.
    pub fn entry(&self) -> HashMap<&'static str, Value<'static>> {
        let mut e = HashMap::from([
            ("id", Value::from(self.id.clone())),
            ("kind", Value::from(self.kind.as_str())),
        ]);
        if !self.label.is_empty() {
            e.insert("label", Value::from(self.label.clone()));
        }
        if !self.detail.is_empty() {
            e.insert("detail", Value::from(self.detail.clone()));
        }
        e
    }
}

/// A `Choose` question: the ceremony and the choices, in the order shown (latchkeyd's routing
/// decision first, so a prompt that preselects the first choice follows the routing rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceOffer {
    /// `create` or `get`.
    pub kind: &'static str,
    /// The RP ID.
    pub rp_id: String,
    /// The choices.
    pub choices: Vec<Choice>,
}

impl ChoiceOffer {
    /// `Choose`'s `details`.
    pub fn details(&self) -> HashMap<&'static str, Value<'static>> {
        HashMap::from([
            ("kind", Value::from(self.kind)),
            ("rp_id", Value::from(self.rp_id.clone())),
        ])
    }

    /// `Choose`'s `choices`.
    pub fn entries(&self) -> Vec<HashMap<&'static str, Value<'static>>> {
        self.choices.iter().map(Choice::entry).collect()
    }

    /// The index of the choice whose ID the prompt answered.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.choices.iter().position(|c| c.id == id)
    }
}

/// What an authenticator waits for (`ShowStatus`'s `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// No security key is present: insert one.
    InsertKey,
    /// A key waits for a touch (CTAPHID keepalive UPNEEDED, CTAP 2.1 §11.2.9.2.2).
    TouchKey,
    /// Several keys are present: touch the one to use.
    SelectKey,
    /// A key's fingerprint reader waits.
    Fingerprint,
    /// The fingerprint did not match; `retries` says how many tries are left.
    FingerprintRetry,
    /// The authenticator is working.
    Working,
    /// A new PIN was set.
    PinSet,
    /// Something failed: `message` says what, in latchkeyd's words.
    Error,
    /// Any other line of latchkeyd's (`message`).
    Info,
}

impl StatusKind {
    /// The interface's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InsertKey => "insert-key",
            Self::TouchKey => "touch-key",
            Self::SelectKey => "select-key",
            Self::Fingerprint => "fingerprint",
            Self::FingerprintRetry => "fingerprint-retry",
            Self::Working => "working",
            Self::PinSet => "pin-set",
            Self::Error => "error",
            Self::Info => "info",
        }
    }

    /// Parses the interface's word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "insert-key" => Self::InsertKey,
            "touch-key" => Self::TouchKey,
            "select-key" => Self::SelectKey,
            "fingerprint" => Self::Fingerprint,
            "fingerprint-retry" => Self::FingerprintRetry,
            "working" => Self::Working,
            "pin-set" => Self::PinSet,
            "error" => Self::Error,
            "info" => Self::Info,
            _ => return None,
        })
    }
}

/// What latchkeyd tells a version 1 prompt while a security key waits to be plugged in.
pub const INSERT_KEY: &str = "Insert your security key";
/// What latchkeyd tells a version 1 prompt while a key waits for a touch.
pub const TOUCH_KEY: &str = "Touch your security key";

/// A `ShowStatus` (version 2) or a `Notice` line (version 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The state.
    pub kind: StatusKind,
    /// The authenticator's name (may be empty).
    pub authenticator: String,
    /// Tries left (fingerprint).
    pub retries: Option<u32>,
    /// latchkeyd's own words, for [`StatusKind::Error`] and [`StatusKind::Info`].
    pub message: String,
}

impl Status {
    /// A state without a name, tries or message.
    pub fn new(kind: StatusKind) -> Self {
        Self {
            kind,
            authenticator: String::new(),
            retries: None,
            message: String::new(),
        }
    }

    /// A line of latchkeyd's own words.
    pub fn info(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..Self::new(StatusKind::Info)
        }
    }

    /// Parses `ShowStatus`'s `status` dictionary (a prompt's side); `None` without a known kind.
    pub fn from_dict(d: &HashMap<String, OwnedValue>) -> Option<Self> {
        let text = |key: &str| match d.get(key).map(|v| &**v) {
            Some(Value::Str(s)) => s.as_str().to_owned(),
            _ => String::new(),
        };
        let retries = match d.get("retries").map(|v| &**v) {
            Some(Value::U32(n)) => Some(*n),
            _ => None,
        };
        Some(Self {
            kind: StatusKind::parse(&text("kind"))?,
            authenticator: text("authenticator"),
            retries,
            message: text("message"),
        })
    }

    /// `ShowStatus`'s `status` dictionary.
    pub fn dict(&self) -> HashMap<&'static str, Value<'static>> {
        let mut d = HashMap::from([("kind", Value::from(self.kind.as_str()))]);
        if !self.authenticator.is_empty() {
            d.insert("authenticator", Value::from(self.authenticator.clone()));
        }
        if let Some(r) = self.retries {
            d.insert("retries", Value::from(r));
        }
        if !self.message.is_empty() {
            d.insert("message", Value::from(self.message.clone()));
        }
        d
    }

    /// The `Notice` line a version 1 prompt gets for this state (the sentences latchkeyd version 1
    /// sent, which version 2 prompts still recognise).
    pub fn v1_text(&self) -> String {
        let on = |what: &str| {
            if self.authenticator.is_empty() {
                format!("Verify yourself on {what}")
            } else {
                format!("Verify yourself on {} ({what})", self.authenticator)
            }
        };
        match self.kind {
            StatusKind::InsertKey => INSERT_KEY.to_owned(),
            StatusKind::TouchKey => TOUCH_KEY.to_owned(),
            StatusKind::SelectKey => "Touch the security key you want to use".to_owned(),
            StatusKind::Working => "Working…".to_owned(),
            StatusKind::PinSet => "Your new PIN is set".to_owned(),
            StatusKind::Fingerprint => on("fingerprint"),
            StatusKind::FingerprintRetry => match self.retries {
                Some(n) => format!("Not recognised ({n} tries left). {}", on("fingerprint")),
                None => format!("Not recognised. {}", on("fingerprint")),
            },
            StatusKind::Error | StatusKind::Info => self.message.clone(),
        }
    }
}

/// What `Consent` returned besides its code (version 2 results).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsentResults {
    /// The user ticked "always allow" (meaningful only when latchkeyd sent `remember_offer`).
    pub remember: bool,
}

impl ConsentResults {
    /// Reads `Consent`'s `results`; unknown keys and mistyped values are ignored (a mistyped
    /// `remember` reads as false: nothing is remembered by accident).
    pub fn parse(results: &HashMap<String, OwnedValue>) -> Self {
        let remember = matches!(
            results.get("remember").map(|v| &**v),
            Some(Value::Bool(true))
        );
        Self { remember }
    }
}

/// A caller's window the prompt's dialog is to be transient for (`parent_window` of
/// `CreateCredential`/`GetCredential`, passed on in `Consent`, `RequestPin` and `Choose`), as
/// xdg-desktop-portal spells one: `x11:XID` (the window ID in hex) or `wayland:HANDLE` (a handle
/// exported with xdg-foreign). Checked here, once, so the prompt is only ever handed one of these
/// two forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentWindow(String);

/// A `parent_window` that is neither empty nor one of the two forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parent_window must be empty, x11:XID (hexadecimal) or wayland:HANDLE")]
pub struct BadParentWindow;

/// The longest xdg-foreign handle taken (GTK's are about 40 characters).
const MAX_WAYLAND_HANDLE: usize = 256;

impl ParentWindow {
    /// Parses a caller's `parent_window`: empty is no parent window.
    pub fn parse(handle: &str) -> Result<Option<Self>, BadParentWindow> {
        if handle.is_empty() {
            return Ok(None);
        }
        let ok = if let Some(xid) = handle.strip_prefix("x11:") {
            let hex = xid.strip_prefix("0x").unwrap_or(xid);
            u32::from_str_radix(hex, 16).is_ok_and(|x| x != 0) && !hex.starts_with('+')
        } else if let Some(h) = handle.strip_prefix("wayland:") {
            !h.is_empty()
                && h.len() <= MAX_WAYLAND_HANDLE
                && h.bytes().all(|b| b.is_ascii_graphic())
        } else {
            false
        };
        if ok {
            Ok(Some(Self(handle.to_owned())))
        } else {
            Err(BadParentWindow)
        }
    }

    /// The handle as the interface carries it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests;
