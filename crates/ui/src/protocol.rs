//! The `dev.latchkey.Prompt1` requests as typed values, parsed once from latchkeyd's `a{sv}`
//! dictionaries (data/dev.latchkey.Prompt1.xml; version 2 adds `Choose`, `ShowStatus` and
//! `ChangePin`). Missing required fields are an error; unknown keys are ignored, so a newer
//! latchkeyd can add keys. Every string is bounded here ([`MAX_STRING`] bytes) and made safe to
//! show later ([`crate::text`]).

use std::collections::HashMap;

use zbus::zvariant::{OwnedValue, Value};

pub mod status;

pub use status::{Choice, ChoiceKind, Status, StatusKind};

/// Response codes of `Consent`, `RequestPin`, `ChooseAccount`, `Choose` and `ChangePin`.
pub mod response {
    /// The user approved / answered.
    pub const APPROVED: u32 = 0;
    /// The user refused or dismissed the prompt.
    pub const DENIED: u32 = 1;
    /// The prompt failed (a malformed request).
    pub const FAILED: u32 = 2;
}

/// The interface version this prompt serves.
pub const VERSION: u32 = 2;
/// Longest string accepted in a request (bytes); longer ones make the request malformed.
pub const MAX_STRING: usize = 4096;
/// Most accounts or choices in one request.
pub const MAX_ENTRIES: usize = 256;

/// A request latchkeyd sent that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// A required key is missing or has the wrong type.
    #[error("missing or mistyped field {0:?}")]
    Missing(&'static str),
    /// A value is not one of those the interface defines.
    #[error("field {0:?} has an unknown value")]
    Unknown(&'static str),
    /// A string or list is over its bound.
    #[error("field {0:?} is too long")]
    TooLong(&'static str),
}

/// The `a{sv}` dictionaries of the interface.
pub type Dict = HashMap<String, OwnedValue>;

fn value<'a>(d: &'a Dict, key: &str) -> Option<&'a Value<'static>> {
    let v: &Value<'static> = d.get(key)?;
    match v {
        Value::Value(inner) => Some(inner),
        other => Some(other),
    }
}

/// An optional string field, bounded.
pub fn opt_str(d: &Dict, key: &'static str) -> Result<Option<String>, ProtocolError> {
    match value(d, key) {
        None => Ok(None),
        Some(Value::Str(s)) if s.len() > MAX_STRING => Err(ProtocolError::TooLong(key)),
        Some(Value::Str(s)) => Ok(Some(s.as_str().to_owned())),
        Some(_) => Err(ProtocolError::Missing(key)),
    }
}

/// A required string field, bounded.
pub fn req_str(d: &Dict, key: &'static str) -> Result<String, ProtocolError> {
    opt_str(d, key)?.ok_or(ProtocolError::Missing(key))
}

/// An optional boolean field.
pub fn opt_bool(d: &Dict, key: &'static str) -> Result<Option<bool>, ProtocolError> {
    match value(d, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ProtocolError::Missing(key)),
    }
}

/// An optional unsigned field (`u` or `t`; a `t` over `u32::MAX` saturates for counts).
pub fn opt_u64(d: &Dict, key: &'static str) -> Result<Option<u64>, ProtocolError> {
    match value(d, key) {
        None => Ok(None),
        Some(Value::U32(n)) => Ok(Some(u64::from(*n))),
        Some(Value::U64(n)) => Ok(Some(*n)),
        Some(_) => Err(ProtocolError::Missing(key)),
    }
}

fn opt_u32(d: &Dict, key: &'static str) -> Result<Option<u32>, ProtocolError> {
    Ok(opt_u64(d, key)?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
}

/// What the ceremony does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `navigator.credentials.create`: a new passkey.
    Create,
    /// `navigator.credentials.get`: sign in.
    Get,
}

/// How latchkeyd's policy classed the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerClass {
    /// A browser policy trusts to name web origins.
    Privileged,
    /// An app bound to its RP IDs by policy.
    Bound,
    /// A caller policy does not name.
    Unknown,
}

/// A window of the caller's to be transient for (`parent_window`, as xdg-desktop-portal spells
/// it: `x11:XID` in hex, `wayland:HANDLE` from xdg-foreign).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParentWindow {
    /// An X11 window ID.
    X11(u32),
    /// An exported xdg-foreign handle.
    Wayland(String),
}

impl ParentWindow {
    /// Parses a portal-style handle; an empty or unknown one is `None` (the dialog is centred).
    pub fn parse(handle: &str) -> Option<Self> {
        if let Some(xid) = handle.strip_prefix("x11:") {
            let xid = xid.trim_start_matches("0x");
            return u32::from_str_radix(xid, 16)
                .ok()
                .filter(|x| *x != 0)
                .map(Self::X11);
        }
        let h = handle.strip_prefix("wayland:")?;
        let ok = !h.is_empty() && h.len() <= 256 && h.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self::Wayland(h.to_owned()))
    }
}

/// `Consent`: who asks for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// Create or get.
    pub kind: Kind,
    /// The RP ID latchkeyd authorized (a domain).
    pub rp_id: String,
    /// The origin the request is for.
    pub origin: String,
    /// The top-level origin, for a cross-origin (embedded) request.
    pub top_origin: Option<String>,
    /// The caller as latchkeyd names it (from policy or the kernel), without the native-host
    /// suffix latchkeyd version 1 appends.
    pub caller: String,
    /// The caller's app ID (Flatpak ID, `snap.NAME`, or its executable's name).
    pub app_id: String,
    /// The native messaging host, when a browser asks through one.
    pub native_host: Option<String>,
    /// False when latchkeyd could not verify the caller: shown as a warning.
    pub caller_verified: bool,
    /// How policy classed the caller.
    pub caller_class: CallerClass,
    /// The account name, for a create.
    pub user_name: Option<String>,
    /// The caller's window, if it named one.
    pub parent_window: Option<ParentWindow>,
    /// latchkeyd offers to remember an approval for this caller and RP ID (version 2).
    pub remember_offer: bool,
}

/// What latchkeyd version 1 appends to a browser's name when it asks through a native host.
const VIA_HOST_SUFFIX: &str = " (via native messaging host)";

impl Consent {
    /// Parses `Consent`'s `details`.
    pub fn parse(d: &Dict) -> Result<Self, ProtocolError> {
        let kind = match req_str(d, "kind")?.as_str() {
            "create" => Kind::Create,
            "get" => Kind::Get,
            _ => return Err(ProtocolError::Unknown("kind")),
        };
        let caller_class = match opt_str(d, "caller_class")?.as_deref() {
            Some("privileged") => CallerClass::Privileged,
            Some("bound") => CallerClass::Bound,
            // Anything else, or nothing, is shown as the least trusted class.
            _ => CallerClass::Unknown,
        };
        let native_host = opt_str(d, "native_host")?;
        let mut caller = opt_str(d, "caller")?.unwrap_or_default();
        if native_host.is_some() {
            if let Some(name) = caller.strip_suffix(VIA_HOST_SUFFIX) {
                caller = name.to_owned();
            }
        }
        Ok(Self {
            kind,
            rp_id: req_str(d, "rp_id")?,
            origin: req_str(d, "origin")?,
            top_origin: opt_str(d, "top_origin")?.filter(|s| !s.is_empty()),
            caller,
            app_id: opt_str(d, "app_id")?.unwrap_or_default(),
            native_host,
            // A missing flag is read as "not verified": the warning errs on the safe side.
            caller_verified: opt_bool(d, "caller_verified")?.unwrap_or(false),
            caller_class,
            user_name: opt_str(d, "user_name")?.filter(|s| !s.is_empty()),
            parent_window: opt_str(d, "parent_window")?
                .as_deref()
                .and_then(ParentWindow::parse),
            remember_offer: opt_bool(d, "remember_offer")?.unwrap_or(false),
        })
    }
}

/// `RequestPin`: which PIN, and why again.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PinRequest {
    /// The authenticator's name ("This device", a security key's product name).
    pub authenticator: String,
    /// True for the platform authenticator (this device), false for a security key.
    pub platform: bool,
    /// Tries left, when the authenticator says.
    pub retries: Option<u32>,
    /// The PIN entered before was wrong.
    pub wrong_pin: bool,
    /// No PIN is set yet: the user creates one (asked twice, sent once).
    pub new_pin: bool,
    /// The shortest PIN accepted, in characters.
    pub min_length: u32,
    /// The PIN is blocked: nothing can be entered (version 2; also `retries` = 0).
    pub blocked: bool,
    /// The caller's window, if it named one (version 2).
    pub parent_window: Option<ParentWindow>,
    /// The site the PIN is asked for (version 2): the one dialog the user sees when a
    /// remembered decision stood for consent.
    pub rp_id: Option<String>,
}

/// The name latchkeyd version 1 gives its platform authenticator in `RequestPin`.
pub const PLATFORM_NAME_V1: &str = "Latchkey platform authenticator";

/// CTAP 2.1 §6.5.1: a PIN has at least 4 code points.
pub const DEFAULT_MIN_PIN: u32 = 4;

impl PinRequest {
    /// Parses `RequestPin`'s (or `ChangePin`'s) `details`.
    pub fn parse(d: &Dict) -> Result<Self, ProtocolError> {
        let retries = opt_u32(d, "retries")?;
        let authenticator = opt_str(d, "authenticator")?.unwrap_or_default();
        let platform = match opt_str(d, "authenticator_kind")?.as_deref() {
            Some("platform") => true,
            Some("security-key") => false,
            Some(_) => return Err(ProtocolError::Unknown("authenticator_kind")),
            // Version 1 does not say; its platform authenticator has this name.
            None => authenticator == PLATFORM_NAME_V1,
        };
        Ok(Self {
            authenticator,
            platform,
            retries,
            wrong_pin: opt_bool(d, "wrong_pin")?.unwrap_or(false),
            new_pin: opt_bool(d, "new_pin")?.unwrap_or(false),
            min_length: opt_u32(d, "min_length")?
                .filter(|n| *n > 0)
                .unwrap_or(DEFAULT_MIN_PIN)
                .min(63),
            blocked: opt_bool(d, "blocked")?.unwrap_or(false) || retries == Some(0),
            parent_window: opt_str(d, "parent_window")?
                .as_deref()
                .and_then(ParentWindow::parse),
            rp_id: opt_str(d, "rp_id")?.filter(|r| !r.is_empty()),
        })
    }
}

/// One entry of `ChooseAccount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `user.name`.
    pub name: String,
    /// `user.displayName`.
    pub display_name: String,
    /// When it was created, seconds since 1970 (version 2; newest are listed first).
    pub created: Option<u64>,
}

impl Account {
    /// Parses `ChooseAccount`'s list; order is latchkeyd's (indexes refer to it).
    pub fn parse_list(list: &[Dict]) -> Result<Vec<Self>, ProtocolError> {
        if list.len() > MAX_ENTRIES {
            return Err(ProtocolError::TooLong("accounts"));
        }
        list.iter()
            .map(|d| {
                Ok(Self {
                    name: opt_str(d, "name")?.unwrap_or_default(),
                    display_name: opt_str(d, "display_name")?.unwrap_or_default(),
                    created: opt_u64(d, "created")?.filter(|t| *t > 0),
                })
            })
            .collect()
    }
}

/// Indexes of `accounts` in the order shown: newest first, then latchkeyd's order.
pub fn display_order(accounts: &[Account]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..accounts.len()).collect();
    order.sort_by(|a, b| {
        let ta = accounts[*a].created.unwrap_or(0);
        let tb = accounts[*b].created.unwrap_or(0);
        tb.cmp(&ta).then(a.cmp(b))
    });
    order
}

#[cfg(test)]
mod tests;
