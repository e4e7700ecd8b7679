//! COSE_Key (RFC 9052 §7, RFC 9053 §7) for the keys CTAP uses.
//!
//! - EC2 P-256 with alg -7 (ES256) and OKP Ed25519 with alg -8 (EdDSA): credential public keys
//!   (WebAuthn L3 §6.5.1.1);
//! - EC2 P-256 with alg -25 (ECDH-ES+HKDF-256): the ClientPIN key-agreement key (CTAP 2.1 §6.5.6).
//!
//! Encoding is canonical; decoding requires `kty`, `alg`, `crv` and the coordinates with exact
//! lengths, and ignores other labels. Keys of other types decode to [`CoseKey::Other`] so
//! authenticator data from authenticators using, say, RS256 still parses.

use crate::cbor::{self, FromValue, IntMap, MapBuilder, ToValue, Value};
use crate::entity::CoseAlgorithm;
use crate::error::Error;

/// COSE key common parameter `kty` (RFC 9052 §7.1).
pub const LABEL_KTY: i64 = 1;
/// COSE key common parameter `alg`.
pub const LABEL_ALG: i64 = 3;
/// EC2/OKP parameter `crv` (RFC 9053 §7.1).
pub const LABEL_CRV: i64 = -1;
/// EC2/OKP parameter `x`.
pub const LABEL_X: i64 = -2;
/// EC2 parameter `y`.
pub const LABEL_Y: i64 = -3;

/// Key type OKP (RFC 9053 §7.2).
pub const KTY_OKP: i64 = 1;
/// Key type EC2 (RFC 9053 §7.1).
pub const KTY_EC2: i64 = 2;
/// Curve P-256.
pub const CRV_P256: i64 = 1;
/// Curve Ed25519.
pub const CRV_ED25519: i64 = 6;

/// An uncompressed P-256 point as its two 32-byte coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct P256Point {
    /// The x coordinate, big-endian.
    pub x: [u8; 32],
    /// The y coordinate, big-endian.
    pub y: [u8; 32],
}

impl P256Point {
    /// SEC1 uncompressed form: `04 ‖ x ‖ y`.
    pub fn to_sec1(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[0] = 0x04;
        out[1..33].copy_from_slice(&self.x);
        out[33..].copy_from_slice(&self.y);
        out
    }

    /// Parses SEC1 uncompressed form (65 bytes starting 0x04). Whether the point is on the
    /// curve is checked where it is used.
    pub fn from_sec1(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 65 || bytes[0] != 0x04 {
            return None;
        }
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        x.copy_from_slice(&bytes[1..33]);
        y.copy_from_slice(&bytes[33..]);
        Some(Self { x, y })
    }
}

/// A COSE_Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoseKey {
    /// EC2, crv P-256, alg -7 (ES256).
    Es256(P256Point),
    /// OKP, crv Ed25519, alg -8 (EdDSA); the 32-byte public key.
    Ed25519([u8; 32]),
    /// EC2, crv P-256, alg -25 (ECDH-ES+HKDF-256): the ClientPIN key-agreement key.
    EcdhEsHkdf256(P256Point),
    /// Any other key, kept as decoded (a map with integer `kty` and `alg`).
    Other {
        /// The `alg` label's value.
        alg: CoseAlgorithm,
        /// The whole key map.
        key: Value,
    },
}

impl CoseKey {
    /// The key's algorithm.
    pub fn alg(&self) -> CoseAlgorithm {
        match self {
            Self::Es256(_) => CoseAlgorithm::ES256,
            Self::Ed25519(_) => CoseAlgorithm::EDDSA,
            Self::EcdhEsHkdf256(_) => CoseAlgorithm::ECDH_ES_HKDF_256,
            Self::Other { alg, .. } => *alg,
        }
    }

    /// The canonical CBOR encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        cbor::encode(&self.to_value())
    }

    /// Decodes a complete COSE_Key encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::from_value(cbor::decode(bytes)?, "COSE_Key")
    }

    /// Decodes a ClientPIN key-agreement key (`keyAgreement`, CTAP 2.1 §6.5.6): EC2 P-256 with
    /// alg -25; another key type is `CTAP1_ERR_INVALID_PARAMETER`.
    pub fn key_agreement(value: Value, field: &'static str) -> Result<P256Point, Error> {
        match Self::from_value(value, field)? {
            Self::EcdhEsHkdf256(point) => Ok(point),
            _ => Err(Error::invalid(
                field,
                "not an EC2 P-256 ECDH-ES+HKDF-256 key",
            )),
        }
    }
}

fn p256_point(map: &mut IntMap, field: &'static str) -> Result<P256Point, Error> {
    let crv: i64 = map.required(LABEL_CRV, field)?;
    if crv != CRV_P256 {
        return Err(Error::UnsupportedAlgorithm { field });
    }
    Ok(P256Point {
        x: map.required(LABEL_X, field)?,
        y: map.required(LABEL_Y, field)?,
    })
}

impl FromValue for CoseKey {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut map = IntMap::parse(value.clone(), field)?;
        let kty: i64 = map.required(LABEL_KTY, field)?;
        let alg = CoseAlgorithm(map.required(LABEL_ALG, field)?);
        match (kty, alg) {
            (KTY_EC2, CoseAlgorithm::ES256) => Ok(Self::Es256(p256_point(&mut map, field)?)),
            (KTY_EC2, CoseAlgorithm::ECDH_ES_HKDF_256) => {
                Ok(Self::EcdhEsHkdf256(p256_point(&mut map, field)?))
            }
            (KTY_OKP, CoseAlgorithm::EDDSA) => {
                let crv: i64 = map.required(LABEL_CRV, field)?;
                if crv != CRV_ED25519 {
                    return Err(Error::UnsupportedAlgorithm { field });
                }
                Ok(Self::Ed25519(map.required(LABEL_X, field)?))
            }
            (KTY_EC2 | KTY_OKP, CoseAlgorithm::ES256 | CoseAlgorithm::EDDSA) => {
                Err(Error::UnsupportedAlgorithm { field })
            }
            _ => Ok(Self::Other { alg, key: value }),
        }
    }
}

impl ToValue for CoseKey {
    fn to_value(&self) -> Value {
        let ec2 = |alg: CoseAlgorithm, p: &P256Point| {
            MapBuilder::new()
                .insert(LABEL_KTY, KTY_EC2)
                .insert(LABEL_ALG, alg.0)
                .insert(LABEL_CRV, CRV_P256)
                .insert(LABEL_X, p.x.as_slice())
                .insert(LABEL_Y, p.y.as_slice())
                .build()
        };
        match self {
            Self::Es256(p) => ec2(CoseAlgorithm::ES256, p),
            Self::EcdhEsHkdf256(p) => ec2(CoseAlgorithm::ECDH_ES_HKDF_256, p),
            Self::Ed25519(x) => MapBuilder::new()
                .insert(LABEL_KTY, KTY_OKP)
                .insert(LABEL_ALG, CoseAlgorithm::EDDSA.0)
                .insert(LABEL_CRV, CRV_ED25519)
                .insert(LABEL_X, x.as_slice())
                .build(),
            Self::Other { key, .. } => key.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
