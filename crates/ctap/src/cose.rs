//! COSE_Key (RFC 9052 §7, RFC 9053 §7) for the keys CTAP uses.
//!
//! - EC2 P-256 with alg -7 (ES256), EC2 P-384 with alg -35 (ES384) and OKP Ed25519 with alg -8
//!   (EdDSA): credential public keys (WebAuthn L3 §6.5.1.1);
//! - AKP with alg -48, -49 or -50 (ML-DSA-44, -65, -87, FIPS 204): post-quantum credential
//!   public keys, as the IETF COSE draft "ML-DSA for JOSE and COSE"
//!   (draft-ietf-cose-dilithium) encodes them: `{1: 7, 3: alg, -1: pub}`, where `pub` is the
//!   raw FIPS 204 public key;
//! - EC2 P-256 with alg -25 (ECDH-ES+HKDF-256): the ClientPIN key-agreement key (CTAP 2.1 §6.5.6).
//!
//! <https://datatracker.ietf.org/doc/draft-ietf-cose-dilithium/>
//!
//! Encoding is canonical; decoding requires `kty`, `alg`, `crv` and the coordinates (or `pub`)
//! with exact lengths, and ignores other labels. Keys of other types decode to
//! [`CoseKey::Other`] so authenticator data from authenticators using, say, RS256 still parses.

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
/// AKP parameter `pub`: the public key (draft-ietf-cose-dilithium).
pub const LABEL_AKP_PUB: i64 = -1;

/// Key type OKP (RFC 9053 §7.2).
pub const KTY_OKP: i64 = 1;
/// Key type EC2 (RFC 9053 §7.1).
pub const KTY_EC2: i64 = 2;
/// Key type AKP, "Algorithm Key Pair" (draft-ietf-cose-dilithium; IANA COSE Key Types 7).
pub const KTY_AKP: i64 = 7;
/// Curve P-256.
pub const CRV_P256: i64 = 1;
/// Curve P-384.
pub const CRV_P384: i64 = 2;
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

/// An uncompressed P-384 point as its two 48-byte coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct P384Point {
    /// The x coordinate, big-endian.
    pub x: [u8; 48],
    /// The y coordinate, big-endian.
    pub y: [u8; 48],
}

impl P384Point {
    /// SEC1 uncompressed form: `04 ‖ x ‖ y` (97 bytes).
    pub fn to_sec1(&self) -> [u8; 97] {
        let mut out = [0u8; 97];
        out[0] = 0x04;
        out[1..49].copy_from_slice(&self.x);
        out[49..].copy_from_slice(&self.y);
        out
    }

    /// Parses SEC1 uncompressed form (97 bytes starting 0x04). Whether the point is on the
    /// curve is checked where it is used.
    pub fn from_sec1(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 97 || bytes[0] != 0x04 {
            return None;
        }
        let mut x = [0u8; 48];
        let mut y = [0u8; 48];
        x.copy_from_slice(&bytes[1..49]);
        y.copy_from_slice(&bytes[49..]);
        Some(Self { x, y })
    }
}

/// An ML-DSA parameter set (FIPS 204 §4), with the COSE algorithm naming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MlDsa {
    /// ML-DSA-44, COSE -48.
    Ml44,
    /// ML-DSA-65, COSE -49.
    Ml65,
    /// ML-DSA-87, COSE -50.
    Ml87,
}

impl MlDsa {
    /// The COSE algorithm.
    pub fn alg(self) -> CoseAlgorithm {
        match self {
            Self::Ml44 => CoseAlgorithm::ML_DSA_44,
            Self::Ml65 => CoseAlgorithm::ML_DSA_65,
            Self::Ml87 => CoseAlgorithm::ML_DSA_87,
        }
    }

    /// The parameter set a COSE algorithm names, if it names one.
    pub fn from_alg(alg: CoseAlgorithm) -> Option<Self> {
        match alg {
            CoseAlgorithm::ML_DSA_44 => Some(Self::Ml44),
            CoseAlgorithm::ML_DSA_65 => Some(Self::Ml65),
            CoseAlgorithm::ML_DSA_87 => Some(Self::Ml87),
            _ => None,
        }
    }

    /// Length of a public key (FIPS 204 Table 2).
    pub fn public_key_len(self) -> usize {
        match self {
            Self::Ml44 => 1312,
            Self::Ml65 => 1952,
            Self::Ml87 => 2592,
        }
    }

    /// Length of a signature (FIPS 204 Table 2).
    pub fn signature_len(self) -> usize {
        match self {
            Self::Ml44 => 2420,
            Self::Ml65 => 3309,
            Self::Ml87 => 4627,
        }
    }
}

/// A COSE_Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoseKey {
    /// EC2, crv P-256, alg -7 (ES256).
    Es256(P256Point),
    /// EC2, crv P-384, alg -35 (ES384).
    Es384(P384Point),
    /// AKP with an ML-DSA algorithm: the raw public key, of [`MlDsa::public_key_len`] bytes.
    MlDsa {
        /// The parameter set (and so the algorithm).
        set: MlDsa,
        /// `pub` (-1): the FIPS 204 public key encoding.
        public: Vec<u8>,
    },
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
            Self::Es384(_) => CoseAlgorithm::ES384,
            Self::MlDsa { set, .. } => set.alg(),
            Self::Ed25519(_) => CoseAlgorithm::EDDSA,
            Self::EcdhEsHkdf256(_) => CoseAlgorithm::ECDH_ES_HKDF_256,
            Self::Other { alg, .. } => *alg,
        }
    }

    /// The canonical CBOR encoding. An EC2 key (every credential key of ES256 and ES384, and
    /// the PIN protocol's key agreement) is written straight out, its labels in canonical order;
    /// the same bytes as encoding [`ToValue::to_value`], without building the value first.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size_hint());
        self.write_into(&mut out);
        out
    }

    /// Appends the encoding [`CoseKey::to_bytes`] gives to `out` (authenticatorData writes the
    /// key in place this way, without a buffer of its own).
    pub fn write_into(&self, out: &mut Vec<u8>) {
        match self {
            Self::Es256(p) => ec2_into(CoseAlgorithm::ES256, CRV_P256, &p.x, &p.y, out),
            Self::EcdhEsHkdf256(p) => {
                ec2_into(CoseAlgorithm::ECDH_ES_HKDF_256, CRV_P256, &p.x, &p.y, out)
            }
            Self::Es384(p) => ec2_into(CoseAlgorithm::ES384, CRV_P384, &p.x, &p.y, out),
            _ => cbor::encode_into(&self.to_value(), out),
        }
    }

    /// At least the length of an EC2 key's encoding (the map head and labels take at most 16
    /// bytes besides the coordinates), for a buffer's capacity; 0, no guess, for the other key
    /// types.
    pub fn size_hint(&self) -> usize {
        match self {
            Self::Es256(p) | Self::EcdhEsHkdf256(p) => 16 + p.x.len() + p.y.len(),
            Self::Es384(p) => 16 + p.x.len() + p.y.len(),
            _ => 0,
        }
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

/// An EC2 COSE_Key `{1: 2, 3: alg, -1: crv, -2: x, -3: y}`: the labels 1, 3, -1, -2, -3 are in
/// CTAP2 canonical order (unsigned before negative, then by encoding).
fn ec2_into(alg: CoseAlgorithm, crv: i64, x: &[u8], y: &[u8], out: &mut Vec<u8>) {
    cbor::write::map_head_into(5, out);
    for (label, value) in [(LABEL_KTY, KTY_EC2), (LABEL_ALG, alg.0), (LABEL_CRV, crv)] {
        cbor::write::int_into(label, out);
        cbor::write::int_into(value, out);
    }
    cbor::write::int_into(LABEL_X, out);
    cbor::write::bytes_into(x, out);
    cbor::write::int_into(LABEL_Y, out);
    cbor::write::bytes_into(y, out);
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

fn p384_point(map: &mut IntMap, field: &'static str) -> Result<P384Point, Error> {
    let crv: i64 = map.required(LABEL_CRV, field)?;
    if crv != CRV_P384 {
        return Err(Error::UnsupportedAlgorithm { field });
    }
    Ok(P384Point {
        x: map.required(LABEL_X, field)?,
        y: map.required(LABEL_Y, field)?,
    })
}

fn ml_dsa_public(map: &mut IntMap, set: MlDsa, field: &'static str) -> Result<Vec<u8>, Error> {
    let public: Vec<u8> = map.required(LABEL_AKP_PUB, field)?;
    if public.len() != set.public_key_len() {
        return Err(Error::InvalidLength {
            field,
            len: public.len(),
            allowed: "the parameter set's public key length (FIPS 204 Table 2)",
        });
    }
    Ok(public)
}

impl FromValue for CoseKey {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut map = IntMap::parse(value.clone(), field)?;
        let kty: i64 = map.required(LABEL_KTY, field)?;
        let alg = CoseAlgorithm(map.required(LABEL_ALG, field)?);
        if let Some(set) = MlDsa::from_alg(alg) {
            if kty != KTY_AKP {
                return Err(Error::UnsupportedAlgorithm { field });
            }
            let public = ml_dsa_public(&mut map, set, field)?;
            return Ok(Self::MlDsa { set, public });
        }
        match (kty, alg) {
            (KTY_EC2, CoseAlgorithm::ES256) => Ok(Self::Es256(p256_point(&mut map, field)?)),
            (KTY_EC2, CoseAlgorithm::ES384) => Ok(Self::Es384(p384_point(&mut map, field)?)),
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
            // A credential algorithm this module knows, under another key type.
            (_, CoseAlgorithm::ES256 | CoseAlgorithm::ES384 | CoseAlgorithm::EDDSA) => {
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
            Self::Es384(p) => MapBuilder::new()
                .insert(LABEL_KTY, KTY_EC2)
                .insert(LABEL_ALG, CoseAlgorithm::ES384.0)
                .insert(LABEL_CRV, CRV_P384)
                .insert(LABEL_X, p.x.as_slice())
                .insert(LABEL_Y, p.y.as_slice())
                .build(),
            Self::MlDsa { set, public } => MapBuilder::new()
                .insert(LABEL_KTY, KTY_AKP)
                .insert(LABEL_ALG, set.alg().0)
                .insert(LABEL_AKP_PUB, public.as_slice())
                .build(),
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
