//! Ceremony options as relying parties send them: the JSON types of L3 §5.1.8
//! (`PublicKeyCredentialCreationOptionsJSON`) and §5.1.9 (`PublicKeyCredentialRequestOptionsJSON`),
//! and the checked forms a client acts on.
//!
//! Parsing follows WebIDL dictionary conversion: unknown members are ignored, unknown enum
//! strings are ignored where the spec says `DOMString` (§2.1.1), a missing required member or a
//! wrong JSON type is a `TypeError`, and bad base64url is an `EncodingError` (§5.1.8). Input is
//! bounded: [`MAX_OPTIONS_JSON_BYTES`] for the whole document and per-list caps below.

pub mod create;
pub mod get;
mod json;

pub use create::CreationOptions;
pub use get::RequestOptions;
pub use json::*;

use crate::b64;
use crate::error::WebAuthnError;
use crate::ids::CredentialId;

/// The largest options JSON accepted, in bytes.
pub const MAX_OPTIONS_JSON_BYTES: usize = 64 * 1024;
/// The most `pubKeyCredParams` entries accepted.
pub const MAX_PUB_KEY_CRED_PARAMS: usize = 64;
/// The most `excludeCredentials` / `allowCredentials` entries accepted.
pub const MAX_CREDENTIAL_DESCRIPTORS: usize = 256;
/// The most `hints` or `attestationFormats` entries accepted.
pub const MAX_STRING_LIST: usize = 32;

/// The recommended range for ceremony timeouts, in milliseconds (L3 §15.1).
pub const TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u32> = 300_000..=600_000;
/// The recommended default timeout, in milliseconds (L3 §15.1).
pub const DEFAULT_TIMEOUT_MS: u32 = 300_000;

/// The timeout the client runs with (§5.1.3 step 4, §5.1.4.1 step 3): the requested value
/// moved into [`TIMEOUT_RANGE_MS`], or [`DEFAULT_TIMEOUT_MS`] when none was given.
pub fn effective_timeout_ms(requested: Option<u32>) -> u32 {
    requested.map_or(DEFAULT_TIMEOUT_MS, |t| {
        t.clamp(*TIMEOUT_RANGE_MS.start(), *TIMEOUT_RANGE_MS.end())
    })
}

/// Truncate `s` to at most `max_bytes` of UTF-8 on a code point boundary (L3 §6.4.1.1), e.g.
/// `user.name` to 64 bytes before it goes to a CTAP authenticator.
pub fn truncate_utf8(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `AuthenticatorTransport` (L3 §5.8.4). Unknown strings are dropped when parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthenticatorTransport {
    /// `"ble"`.
    Ble,
    /// `"hybrid"`.
    Hybrid,
    /// `"internal"`.
    Internal,
    /// `"nfc"`.
    Nfc,
    /// `"smart-card"`.
    SmartCard,
    /// `"usb"`.
    Usb,
}

impl AuthenticatorTransport {
    /// The wire string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ble => "ble",
            Self::Hybrid => "hybrid",
            Self::Internal => "internal",
            Self::Nfc => "nfc",
            Self::SmartCard => "smart-card",
            Self::Usb => "usb",
        }
    }
    /// Parse a known value.
    pub fn from_wire(s: &str) -> Option<Self> {
        [
            Self::Ble,
            Self::Hybrid,
            Self::Internal,
            Self::Nfc,
            Self::SmartCard,
            Self::Usb,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// `UserVerificationRequirement` (L3 §5.8.6); unknown values mean the default, `preferred`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserVerificationRequirement {
    /// `"required"`.
    Required,
    /// `"preferred"` (the default).
    #[default]
    Preferred,
    /// `"discouraged"`.
    Discouraged,
}

impl UserVerificationRequirement {
    fn from_wire(s: Option<&str>) -> Self {
        match s {
            Some("required") => Self::Required,
            Some("discouraged") => Self::Discouraged,
            _ => Self::Preferred,
        }
    }
    /// The wire string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Preferred => "preferred",
            Self::Discouraged => "discouraged",
        }
    }
}

/// `PublicKeyCredentialHint` (L3 §5.8.8); unknown hints and repeats are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// `"security-key"`.
    SecurityKey,
    /// `"client-device"`.
    ClientDevice,
    /// `"hybrid"`.
    Hybrid,
}

fn parse_hints(hints: &[String]) -> Result<Vec<Hint>, WebAuthnError> {
    check_len("hints", hints.len(), MAX_STRING_LIST)?;
    let mut out = Vec::new();
    for h in hints {
        let hint = match h.as_str() {
            "security-key" => Hint::SecurityKey,
            "client-device" => Hint::ClientDevice,
            "hybrid" => Hint::Hybrid,
            _ => continue,
        };
        if !out.contains(&hint) {
            out.push(hint);
        }
    }
    Ok(out)
}

/// A checked `PublicKeyCredentialDescriptor` of type `public-key` (L3 §5.8.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialDescriptor {
    /// The credential ID.
    pub id: CredentialId,
    /// Known transports, sorted, without duplicates; empty when absent.
    pub transports: Vec<AuthenticatorTransport>,
}

/// Convert descriptors: entries whose `type` is not `public-key` are skipped (§5.8.3).
fn parse_descriptors(
    what: &str,
    list: &[PublicKeyCredentialDescriptorJSON],
) -> Result<Vec<CredentialDescriptor>, WebAuthnError> {
    check_len(what, list.len(), MAX_CREDENTIAL_DESCRIPTORS)?;
    let mut out = Vec::with_capacity(list.len());
    for (i, d) in list.iter().enumerate() {
        if d.ty != "public-key" {
            continue;
        }
        let name = format!("{what}[{i}].id");
        let id = CredentialId::new(&name, b64::decode(&name, &d.id)?)?;
        let mut transports: Vec<_> = d
            .transports
            .iter()
            .flatten()
            .filter_map(|t| AuthenticatorTransport::from_wire(t))
            .collect();
        transports.sort();
        transports.dedup();
        out.push(CredentialDescriptor { id, transports });
    }
    Ok(out)
}

fn check_len(what: &str, len: usize, max: usize) -> Result<(), WebAuthnError> {
    if len > max {
        return Err(WebAuthnError::type_error(format!(
            "{what} has {len} entries; at most {max} are accepted"
        )));
    }
    Ok(())
}

/// Parse JSON text into a serde type with the errors WebIDL conversion would raise.
fn from_json<T: serde::de::DeserializeOwned>(what: &str, json: &[u8]) -> Result<T, WebAuthnError> {
    if json.len() > MAX_OPTIONS_JSON_BYTES {
        return Err(WebAuthnError::type_error(format!(
            "{what} is {} bytes; the limit is {MAX_OPTIONS_JSON_BYTES}",
            json.len()
        )));
    }
    serde_json::from_slice(json).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => WebAuthnError::type_error(format!("{what}: {e}")),
        _ => WebAuthnError::type_error(format!("{what} is not a JSON object: {e}")),
    })
}

#[cfg(test)]
mod tests;
