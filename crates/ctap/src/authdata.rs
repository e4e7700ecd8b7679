//! Authenticator data (W3C WebAuthn L3 §6.1) and attestation objects (§6.5).
//!
//! <https://www.w3.org/TR/webauthn-3/#sctn-authenticator-data>
//!
//! Parsing is bounded by the input and rejects trailing bytes; the embedded COSE key and
//! extension map are read with the strict CBOR reader.

mod attestation;

#[cfg(test)]
mod tests;

pub use attestation::{AttestationObject, AttestationStatement};

use crate::cbor::{self, FromValue, ToValue};
use crate::command::Aaguid;
use crate::cose::CoseKey;
use crate::error::{CborError, Error};
use crate::extensions::ExtensionOutputs;

/// Authenticator data flags (WebAuthn L3 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// UP: user present.
    pub const UP: u8 = 0x01;
    /// UV: user verified.
    pub const UV: u8 = 0x04;
    /// BE: backup eligible.
    pub const BE: u8 = 0x08;
    /// BS: backed up.
    pub const BS: u8 = 0x10;
    /// AT: attested credential data included.
    pub const AT: u8 = 0x40;
    /// ED: extension data included.
    pub const ED: u8 = 0x80;

    /// Whether all bits of `mask` are set.
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// Attested credential data (WebAuthn L3 §6.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedCredentialData {
    /// The authenticator model.
    pub aaguid: Aaguid,
    /// The credential ID (at most 1023 bytes, WebAuthn L3 §6.5.1 `credentialIdLength`).
    pub credential_id: Vec<u8>,
    /// The credential public key.
    pub public_key: CoseKey,
}

/// The longest credential ID WebAuthn allows (L3 §6.5.1: `credentialIdLength` ≤ 1023).
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;

/// Authenticator data. `flags` carries only UP/UV/BE/BS (and other unassigned bits); AT and ED
/// are derived from `attested_credential_data` and `extensions` when encoding, and checked
/// against them when parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorData {
    /// SHA-256 of the RP ID.
    pub rp_id_hash: [u8; 32],
    /// The flags byte, as received.
    pub flags: Flags,
    /// The signature counter.
    pub sign_count: u32,
    /// Present iff the AT flag is set.
    pub attested_credential_data: Option<AttestedCredentialData>,
    /// Present iff the ED flag is set.
    pub extensions: Option<ExtensionOutputs>,
}

impl AuthenticatorData {
    /// Serialises: `rpIdHash ‖ flags ‖ signCount(BE) ‖ [attestedCredentialData] ‖ [extensions]`,
    /// with AT and ED set from the optional parts.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut flags = self.flags.0 & !(Flags::AT | Flags::ED);
        if self.attested_credential_data.is_some() {
            flags |= Flags::AT;
        }
        if self.extensions.is_some() {
            flags |= Flags::ED;
        }
        // The fixed 37 bytes, then AAGUID, length and credential ID, and the key: one allocation.
        let attested = self.attested_credential_data.as_ref().map_or(0, |acd| {
            16 + 2 + acd.credential_id.len() + acd.public_key.size_hint()
        });
        let mut out = Vec::with_capacity(37 + attested);
        out.extend_from_slice(&self.rp_id_hash);
        out.push(flags);
        out.extend_from_slice(&self.sign_count.to_be_bytes());
        if let Some(acd) = &self.attested_credential_data {
            out.extend_from_slice(&acd.aaguid.0);
            // A credential ID longer than 65535 bytes cannot be represented; callers build
            // IDs of at most MAX_CREDENTIAL_ID_LEN, so truncate the length field rather
            // than panic.
            let len = u16::try_from(acd.credential_id.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&acd.credential_id[..usize::from(len)]);
            acd.public_key.write_into(&mut out);
        }
        if let Some(ext) = &self.extensions {
            cbor::encode_into(&ext.to_value(), &mut out);
        }
        out
    }

    /// Parses authenticator data, rejecting truncation, trailing bytes, and AT/ED flags that
    /// disagree with the content.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        const FIELD: &str = "authData";
        let truncated = || Error::InvalidLength {
            field: FIELD,
            len: bytes.len(),
            allowed: "at least the declared parts",
        };
        if bytes.len() < 37 {
            return Err(truncated());
        }
        let mut rp_id_hash = [0u8; 32];
        rp_id_hash.copy_from_slice(&bytes[..32]);
        let flags = Flags(bytes[32]);
        let sign_count = u32::from_be_bytes([bytes[33], bytes[34], bytes[35], bytes[36]]);
        let mut rest = &bytes[37..];
        let attested_credential_data = if flags.has(Flags::AT) {
            if rest.len() < 18 {
                return Err(truncated());
            }
            let mut aaguid = [0u8; 16];
            aaguid.copy_from_slice(&rest[..16]);
            let id_len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
            rest = &rest[18..];
            if id_len > MAX_CREDENTIAL_ID_LEN {
                return Err(Error::InvalidLength {
                    field: "credentialIdLength",
                    len: id_len,
                    allowed: "at most 1023",
                });
            }
            if rest.len() < id_len {
                return Err(truncated());
            }
            let credential_id = rest[..id_len].to_vec();
            rest = &rest[id_len..];
            let (key, used) = cbor::decode_prefix(rest)?;
            rest = &rest[used..];
            Some(AttestedCredentialData {
                aaguid: Aaguid(aaguid),
                credential_id,
                public_key: CoseKey::from_value(key, "credentialPublicKey")?,
            })
        } else {
            None
        };
        let extensions = if flags.has(Flags::ED) {
            let (ext, used) = cbor::decode_prefix(rest)?;
            rest = &rest[used..];
            Some(ExtensionOutputs::from_value(ext, "extensions")?)
        } else {
            None
        };
        if !rest.is_empty() {
            return Err(CborError::TrailingBytes(rest.len()).into());
        }
        Ok(Self {
            rp_id_hash,
            flags,
            sign_count,
            attested_credential_data,
            extensions,
        })
    }
}
