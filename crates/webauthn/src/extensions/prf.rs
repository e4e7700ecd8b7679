//! PRF values and the salt derivation of L3 §10.1.4:
//! `salt = SHA-256(UTF8Encode("WebAuthn PRF") || 0x00 || input)`.

use super::json::PrfValuesJSON;
use crate::b64;
use crate::error::WebAuthnError;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The most bytes accepted for one PRF input.
pub const MAX_PRF_INPUT: usize = 4096;

/// One or two PRF inputs (`AuthenticationExtensionsPRFValues`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrfValues {
    /// `first`.
    pub first: Vec<u8>,
    /// `second`.
    pub second: Option<Vec<u8>>,
}

impl PrfValues {
    pub(crate) fn parse(what: &str, v: &PrfValuesJSON) -> Result<Self, WebAuthnError> {
        let first = bounded(&format!("{what}.first"), &v.first)?;
        let second = match &v.second {
            Some(s) => Some(bounded(&format!("{what}.second"), s)?),
            None => None,
        };
        Ok(Self { first, second })
    }

    /// The hmac-secret salts for these inputs.
    pub fn salts(&self) -> PrfSalts {
        PrfSalts {
            salt1: prf_salt(&self.first),
            salt2: self.second.as_deref().map(prf_salt),
        }
    }
}

fn bounded(what: &str, s: &str) -> Result<Vec<u8>, WebAuthnError> {
    let v = b64::decode(what, s)?;
    if v.len() > MAX_PRF_INPUT {
        return Err(WebAuthnError::not_supported(format!(
            "{what} is {} bytes; at most {MAX_PRF_INPUT} are accepted",
            v.len()
        )));
    }
    Ok(v)
}

/// `SHA-256("WebAuthn PRF" || 0x00 || input)`.
pub fn prf_salt(input: &[u8]) -> [u8; 32] {
    crate::ids::sha256(&[b"WebAuthn PRF", &[0u8], input])
}

/// The salts handed to CTAP `hmac-secret` (`salt1`, optional `salt2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrfSalts {
    /// `salt1`.
    pub salt1: [u8; 32],
    /// `salt2`.
    pub salt2: Option<[u8; 32]>,
}

/// Decrypted PRF outputs (`output1`, optional `output2`): secret, zeroised on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct PrfOutputs {
    /// PRF(salt1).
    pub first: [u8; 32],
    /// PRF(salt2).
    pub second: Option<[u8; 32]>,
}

impl fmt::Debug for PrfOutputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrfOutputs(<redacted>)")
    }
}

impl PrfOutputs {
    /// The JSON `results` member.
    pub fn to_json(&self) -> PrfValuesJSON {
        PrfValuesJSON {
            first: b64::encode(&self.first),
            second: self.second.map(|s| b64::encode(&s)),
        }
    }
}
