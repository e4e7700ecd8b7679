//! `CollectedClientData` and its byte-exact JSON-compatible serialization (L3 §5.8.1,
//! §5.8.1.1 "Serialization", §5.8.1.2 "Limited Verification Algorithm").
//!
//! The platform builds `clientDataJSON` itself: exactly `type`, `challenge`, `origin`,
//! `crossOrigin` and, for cross-origin callers, `topOrigin`, in that order, each string
//! escaped with CCDToString. Nothing else is ever appended.

use crate::error::WebAuthnError;
use crate::ids::{Challenge, ClientDataHash};
use crate::origin::{AuthorizedRpId, WebOrigin};
use serde::Deserialize;

/// `CollectedClientData.type` (L3 §5.8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyType {
    /// `"webauthn.create"`.
    Create,
    /// `"webauthn.get"`.
    Get,
}

impl CeremonyType {
    /// The wire string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Create => "webauthn.create",
            Self::Get => "webauthn.get",
        }
    }
}

/// Whether the caller is same-origin with its ancestors (the inverse of `crossOrigin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ancestry {
    /// `sameOriginWithAncestors` is true: `"crossOrigin":false`, no `topOrigin`.
    SameOrigin,
    /// A cross-origin frame: `"crossOrigin":true`, then `"topOrigin"` when known (L3 clients
    /// always know it; `None` reproduces Level 2 serializations).
    CrossOrigin {
        /// The ASCII serialization of the top-level origin.
        top_origin: Option<String>,
    },
}

impl Ancestry {
    /// A cross-origin caller framed by `top` (L3 clients always send `topOrigin`).
    pub fn framed_by(top: &WebOrigin) -> Self {
        Self::CrossOrigin {
            top_origin: Some(top.as_str().to_owned()),
        }
    }
}

/// The client data the platform signs over (L3 §5.8.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectedClientData {
    /// `type`.
    pub ceremony: CeremonyType,
    /// The base64url encoding of the RP's challenge.
    pub challenge: String,
    /// The ASCII serialization of the caller's origin (or `app:<id>`).
    pub origin: String,
    /// `crossOrigin` / `topOrigin`.
    pub ancestry: Ancestry,
}

impl CollectedClientData {
    /// Client data for a ceremony.
    pub fn new(
        ceremony: CeremonyType,
        challenge: &Challenge,
        origin: &str,
        ancestry: Ancestry,
    ) -> Self {
        Self {
            ceremony,
            challenge: challenge.to_base64url(),
            origin: origin.to_owned(),
            ancestry,
        }
    }

    /// Client data for an origin whose RP ID was authorised: the only way the platform itself
    /// should build it (§5.1.3 step 13, §5.1.4.1 step 11).
    pub fn for_authorized(
        ceremony: CeremonyType,
        challenge: &Challenge,
        authorized: &AuthorizedRpId,
        ancestry: Ancestry,
    ) -> Self {
        Self::new(
            ceremony,
            challenge,
            &authorized.origin().serialize(),
            ancestry,
        )
    }

    /// The JSON-compatible serialization (§5.8.1.1), byte for byte.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.challenge.len() + self.origin.len());
        out.extend_from_slice(b"{\"type\":");
        ccd_to_string(&mut out, self.ceremony.as_str());
        out.extend_from_slice(b",\"challenge\":");
        ccd_to_string(&mut out, &self.challenge);
        out.extend_from_slice(b",\"origin\":");
        ccd_to_string(&mut out, &self.origin);
        out.extend_from_slice(b",\"crossOrigin\":");
        match &self.ancestry {
            Ancestry::SameOrigin => out.extend_from_slice(b"false"),
            Ancestry::CrossOrigin { top_origin } => {
                out.extend_from_slice(b"true");
                if let Some(top) = top_origin {
                    out.extend_from_slice(b",\"topOrigin\":");
                    ccd_to_string(&mut out, top);
                }
            }
        }
        out.push(b'}');
        out
    }

    /// Serialize and hash in one step: what goes to the authenticator and what to the RP.
    pub fn serialize(&self) -> (Vec<u8>, ClientDataHash) {
        let json = self.to_json_bytes();
        let hash = ClientDataHash::of(&json);
        (json, hash)
    }
}

/// CCDToString (§5.8.1.1): quote, escape `"` and `\`, `\u00xx` for other code points below
/// U+0020, UTF-8 for everything else.
pub fn ccd_to_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// The limited verification algorithm (§5.8.1.2): checks `clientDataJSON` against expected
/// values with byte comparisons only. Returns whether verification succeeded.
pub fn limited_verify(
    client_data_json: &[u8],
    ceremony: CeremonyType,
    challenge: &[u8],
    origin: &str,
    top_origin: Option<&str>,
    require_top_origin: bool,
) -> bool {
    let mut expected = Vec::new();
    expected.extend_from_slice(b"{\"type\":");
    ccd_to_string(&mut expected, ceremony.as_str());
    expected.extend_from_slice(b",\"challenge\":");
    ccd_to_string(&mut expected, &crate::b64::encode(challenge));
    expected.extend_from_slice(b",\"origin\":");
    ccd_to_string(&mut expected, origin);
    expected.extend_from_slice(b",\"crossOrigin\":");
    match top_origin {
        Some(top) => {
            expected.extend_from_slice(b"true");
            const TOP: &[u8] = b",\"topOrigin\":";
            let rest = client_data_json.get(expected.len()..).unwrap_or(&[]);
            if require_top_origin || rest.starts_with(TOP) {
                expected.extend_from_slice(TOP);
                ccd_to_string(&mut expected, top);
            }
        }
        None => expected.extend_from_slice(b"false"),
    }
    if !client_data_json.starts_with(&expected) {
        return false;
    }
    matches!(
        client_data_json.get(expected.len()),
        Some(b'}') | Some(b',')
    )
}

/// `clientDataJSON` as an RP parses it with a full JSON parser (§7.1 step 6, §7.2 step 10).
/// Unknown members are ignored; the four known ones are typed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParsedClientData {
    /// `type`.
    #[serde(rename = "type")]
    pub ty: String,
    /// `challenge`, base64url.
    pub challenge: String,
    /// `origin`.
    pub origin: String,
    /// `crossOrigin`, absent in some Level 1 clients.
    #[serde(default)]
    pub cross_origin: Option<bool>,
    /// `topOrigin`.
    #[serde(default)]
    pub top_origin: Option<String>,
}

impl ParsedClientData {
    /// Parse UTF-8 JSON (a leading byte order mark is dropped, as UTF-8 decode does);
    /// failures are `EncodingError`.
    pub fn parse(client_data_json: &[u8]) -> Result<Self, WebAuthnError> {
        let json = client_data_json
            .strip_prefix(b"\xef\xbb\xbf")
            .unwrap_or(client_data_json);
        serde_json::from_slice(json)
            .map_err(|e| WebAuthnError::encoding(format!("clientDataJSON: {e}")))
    }
}

#[cfg(test)]
mod tests;
