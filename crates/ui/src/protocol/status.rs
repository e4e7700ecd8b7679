//! Version 2's `Choose` (where to create or find the passkey) and `ShowStatus` (what a security
//! key wants now), and the mapping of version 1's `Notice` lines onto the same states.

use super::{opt_str, opt_u64, req_str, Dict, ProtocolError, MAX_ENTRIES};

/// What kind of authenticator a choice is; the prompt picks its icon and words by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChoiceKind {
    /// The platform authenticator: this device.
    Platform,
    /// A USB or NFC security key.
    SecurityKey,
    /// A phone or tablet (hybrid).
    Hybrid,
    /// A password manager (a provider).
    Provider,
}

/// One option of `Choose`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// What the prompt answers if the user picks it (latchkeyd's own token).
    pub id: String,
    /// Its kind.
    pub kind: ChoiceKind,
    /// latchkeyd's label for a provider ("KeePassXC"); for other kinds the prompt's own words.
    pub label: String,
    /// A second line (how many passkeys it holds for the site, a key's name).
    pub detail: String,
}

impl Choice {
    /// Parses `Choose`'s list of choices.
    pub fn parse_list(list: &[Dict]) -> Result<Vec<Self>, ProtocolError> {
        if list.len() > MAX_ENTRIES {
            return Err(ProtocolError::TooLong("choices"));
        }
        if list.is_empty() {
            return Err(ProtocolError::Missing("choices"));
        }
        list.iter()
            .map(|d| {
                let kind = match req_str(d, "kind")?.as_str() {
                    "platform" => ChoiceKind::Platform,
                    "security-key" => ChoiceKind::SecurityKey,
                    "hybrid" => ChoiceKind::Hybrid,
                    "provider" => ChoiceKind::Provider,
                    _ => return Err(ProtocolError::Unknown("kind")),
                };
                Ok(Self {
                    id: req_str(d, "id")?,
                    kind,
                    label: opt_str(d, "label")?.unwrap_or_default(),
                    detail: opt_str(d, "detail")?.unwrap_or_default(),
                })
            })
            .collect()
    }
}

/// What a security key (or the ceremony) is waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusKind {
    /// No key is present: insert one.
    InsertKey,
    /// A key waits for a touch (keepalive UPNEEDED).
    TouchKey,
    /// Several keys: touch the one to use.
    SelectKey,
    /// A key's fingerprint reader waits; `retries` left after a miss.
    Fingerprint {
        /// The previous try did not match.
        retry: bool,
    },
    /// The authenticator is working.
    Working,
    /// A new PIN was set.
    PinSet,
    /// Something failed; the message says what, in latchkeyd's words.
    Error,
    /// Any other line latchkeyd wants shown.
    Info,
}

/// `ShowStatus` (or a version 1 `Notice`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The state.
    pub kind: StatusKind,
    /// The authenticator's name, if any.
    pub authenticator: String,
    /// Tries left (fingerprint).
    pub retries: Option<u32>,
    /// latchkeyd's own text (errors, info, and every version 1 notice).
    pub message: String,
}

impl Status {
    /// Parses `ShowStatus`'s dictionary.
    pub fn parse(d: &Dict) -> Result<Self, ProtocolError> {
        let retries = opt_u64(d, "retries")?.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        let kind = match req_str(d, "kind")?.as_str() {
            "insert-key" => StatusKind::InsertKey,
            "touch-key" => StatusKind::TouchKey,
            "select-key" => StatusKind::SelectKey,
            "fingerprint" => StatusKind::Fingerprint { retry: false },
            "fingerprint-retry" => StatusKind::Fingerprint { retry: true },
            "working" => StatusKind::Working,
            "pin-set" => StatusKind::PinSet,
            "error" => StatusKind::Error,
            "info" => StatusKind::Info,
            _ => return Err(ProtocolError::Unknown("kind")),
        };
        Ok(Self {
            kind,
            authenticator: opt_str(d, "authenticator")?.unwrap_or_default(),
            retries,
            message: opt_str(d, "message")?.unwrap_or_default(),
        })
    }

    /// A version 1 `Notice` line: latchkeyd's known sentences become states (so they are shown
    /// translated, with their picture); anything else is shown as it came.
    pub fn from_notice(text: &str) -> Self {
        let kind = match text {
            "Insert your security key" => StatusKind::InsertKey,
            "Touch your security key" => StatusKind::TouchKey,
            "Working…" => StatusKind::Working,
            "Your new PIN is set" => StatusKind::PinSet,
            t if t.starts_with("Verify yourself on ") => StatusKind::Fingerprint { retry: false },
            t if t.starts_with("Not recognised") => StatusKind::Fingerprint { retry: true },
            _ => StatusKind::Info,
        };
        Self {
            kind,
            authenticator: String::new(),
            retries: None,
            message: text.to_owned(),
        }
    }
}
