//! Credential public keys: COSE_Key (L3 §6.5.1.1, decoded by `latchkey_ctap::cose`) to
//! SubjectPublicKeyInfo DER for `getPublicKey()` (§5.2.1.1) and signature verification with
//! aws-lc-rs. Supported: ES256 (P-256), EdDSA (Ed25519) and RS256, the three §5.2.1.1 requires;
//! ES384 (P-384); and ML-DSA-44/65/87 (FIPS 204, COSE kty AKP per draft-ietf-cose-dilithium,
//! SPKI per RFC 9881), verified in the pure mode with an empty context, as COSE specifies.

use crate::ids::CoseAlgorithm;
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use latchkey_ctap::cbor::Value;
use latchkey_ctap::cose::{CoseKey, MlDsa};

/// A credential public key of a supported algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialPublicKey {
    /// ES256: SEC1 uncompressed point `04 ‖ x ‖ y`.
    Es256([u8; 65]),
    /// ES384: SEC1 uncompressed point `04 ‖ x ‖ y` on P-384.
    Es384([u8; 97]),
    /// ML-DSA: the raw FIPS 204 public key of the parameter set.
    MlDsa {
        /// ML-DSA-44, -65 or -87.
        set: MlDsa,
        /// The public key, [`MlDsa::public_key_len`] bytes.
        public: Vec<u8>,
    },
    /// EdDSA over Ed25519: the 32-byte key.
    Ed25519([u8; 32]),
    /// RS256: modulus and public exponent, big-endian without leading zeros.
    Rs256 {
        /// `n`.
        n: Vec<u8>,
        /// `e`.
        e: Vec<u8>,
    },
}

/// Why a COSE key is not usable here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// An algorithm or key type this crate does not handle.
    #[error("unsupported credential public key algorithm {0}")]
    Unsupported(i64),
    /// An RSA key missing `n`/`e` or with an empty one.
    #[error("malformed RSA COSE key")]
    MalformedRsa,
}

impl CredentialPublicKey {
    /// From a decoded COSE_Key.
    pub fn from_cose(key: &CoseKey) -> Result<Self, KeyError> {
        match key {
            CoseKey::Es256(p) => Ok(Self::Es256(p.to_sec1())),
            CoseKey::Es384(p) => Ok(Self::Es384(p.to_sec1())),
            CoseKey::MlDsa { set, public } => Ok(Self::MlDsa {
                set: *set,
                public: public.clone(),
            }),
            CoseKey::Ed25519(k) => Ok(Self::Ed25519(*k)),
            CoseKey::Other { alg, key } if alg.0 == -257 => {
                let get = |label: i64| {
                    key.get(&Value::from(label))
                        .and_then(Value::as_bytes)
                        .map(|b| strip_zeros(b).to_vec())
                        .filter(|b| !b.is_empty())
                };
                match (get(-1), get(-2)) {
                    (Some(n), Some(e)) => Ok(Self::Rs256 { n, e }),
                    _ => Err(KeyError::MalformedRsa),
                }
            }
            other => Err(KeyError::Unsupported(other.alg().0)),
        }
    }

    /// The COSE algorithm.
    pub fn alg(&self) -> CoseAlgorithm {
        match self {
            Self::Es256(_) => CoseAlgorithm::ES256,
            Self::Es384(_) => CoseAlgorithm::ES384,
            Self::MlDsa { set, .. } => match set {
                MlDsa::Ml44 => CoseAlgorithm::ML_DSA_44,
                MlDsa::Ml65 => CoseAlgorithm::ML_DSA_65,
                MlDsa::Ml87 => CoseAlgorithm::ML_DSA_87,
            },
            Self::Ed25519(_) => CoseAlgorithm::EDDSA,
            Self::Rs256 { .. } => CoseAlgorithm::RS256,
        }
    }

    /// SubjectPublicKeyInfo, DER (RFC 5280 §4.1; RFC 5480, RFC 8410, RFC 3279, RFC 9881).
    pub fn to_spki(&self) -> Vec<u8> {
        match self {
            Self::Es256(point) => {
                // AlgorithmIdentifier { id-ecPublicKey, prime256v1 }.
                const ALG: &[u8] = &[
                    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
                    0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
                ];
                spki(ALG, point)
            }
            Self::Es384(point) => {
                // AlgorithmIdentifier { id-ecPublicKey, secp384r1 } (RFC 5480 §2.1.1.1).
                const ALG: &[u8] = &[
                    0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05,
                    0x2b, 0x81, 0x04, 0x00, 0x22,
                ];
                spki(ALG, point)
            }
            Self::MlDsa { set, public } => {
                // AlgorithmIdentifier { id-ml-dsa-44/65/87 } without parameters (RFC 9881 §2):
                // 2.16.840.1.101.3.4.3.17, .18, .19.
                let last = match set {
                    MlDsa::Ml44 => 0x11,
                    MlDsa::Ml65 => 0x12,
                    MlDsa::Ml87 => 0x13,
                };
                let alg = [
                    0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, last,
                ];
                spki(&alg, public)
            }
            Self::Ed25519(k) => {
                const ALG: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];
                spki(ALG, k)
            }
            Self::Rs256 { n, e } => {
                // AlgorithmIdentifier { rsaEncryption, NULL }.
                const ALG: &[u8] = &[
                    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
                    0x05, 0x00,
                ];
                let mut ints = der_uint(n);
                ints.extend(der_uint(e));
                spki(ALG, &der(0x30, &ints))
            }
        }
    }

    /// Verify `sig` over `msg` (ECDSA signatures are ASN.1 DER, L3 §6.5.5; ML-DSA signatures
    /// the raw FIPS 204 encoding).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Es256(point) => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, point)
                .verify(msg, sig)
                .is_ok(),
            Self::Es384(point) => UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_ASN1, point)
                .verify(msg, sig)
                .is_ok(),
            Self::MlDsa { set, public } => {
                let alg = match set {
                    MlDsa::Ml44 => &signature::ML_DSA_44,
                    MlDsa::Ml65 => &signature::ML_DSA_65,
                    MlDsa::Ml87 => &signature::ML_DSA_87,
                };
                sig.len() == set.signature_len()
                    && UnparsedPublicKey::new(alg, public).verify(msg, sig).is_ok()
            }
            Self::Ed25519(k) => UnparsedPublicKey::new(&signature::ED25519, k)
                .verify(msg, sig)
                .is_ok(),
            Self::Rs256 { n, e } => signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
                .is_ok(),
        }
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[first..]
}

fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

fn der_uint(v: &[u8]) -> Vec<u8> {
    let v = strip_zeros(v);
    let mut content = Vec::with_capacity(v.len() + 1);
    if v.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(v);
    der(0x02, &content)
}

fn spki(alg: &[u8], key: &[u8]) -> Vec<u8> {
    let mut bits = vec![0u8];
    bits.extend_from_slice(key);
    let mut body = alg.to_vec();
    body.extend(der(0x03, &bits));
    der(0x30, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn es256_spki_layout() {
        let mut p = [0x11u8; 65];
        p[0] = 4;
        let s = CredentialPublicKey::Es256(p).to_spki();
        assert_eq!(s.len(), 91);
        assert_eq!(&s[..4], &[0x30, 0x59, 0x30, 0x13]);
        assert_eq!(&s[23..27], &[0x03, 0x42, 0x00, 0x04]);
    }

    #[test]
    fn ed25519_spki_layout() {
        let s = CredentialPublicKey::Ed25519([7; 32]).to_spki();
        assert_eq!(hex::encode(&s[..12]), "302a300506032b6570032100");
        assert_eq!(s.len(), 44);
    }

    #[test]
    fn rsa_spki_parses_back_with_aws_lc() {
        let n = {
            let mut n = vec![0xc5u8; 256];
            n[255] = 0x01;
            n
        };
        let k = CredentialPublicKey::Rs256 {
            n,
            e: vec![1, 0, 1],
        };
        let s = k.to_spki();
        // 2048-bit modulus with high bit set: INTEGER gets a leading zero (257 bytes).
        assert_eq!(&s[..4], &[0x30, 0x82, 0x01, 0x22]);
        assert!(s.windows(4).any(|w| w == [0x02, 0x82, 0x01, 0x01]));
        assert!(s.ends_with(&[0x02, 0x03, 0x01, 0x00, 0x01]));
    }

    /// ES384 and ML-DSA SPKIs are byte for byte what aws-lc itself writes for those keys (a
    /// second encoder), and the keys verify what aws-lc signs.
    #[test]
    fn es384_and_ml_dsa_spki_match_aws_lc_and_verify() {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, PqdsaKeyPair};

        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_ASN1_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_ASN1_SIGNING, pkcs8.as_ref())
                .unwrap();
        let point: [u8; 97] = pair.public_key().as_ref().try_into().unwrap();
        let key = CredentialPublicKey::Es384(point);
        assert_eq!(key.to_spki(), pair.public_key().as_der().unwrap().as_ref());
        assert_eq!(key.to_spki().len(), 120);
        let sig = pair.sign(&rng, b"signed data").unwrap();
        assert!(key.verify(b"signed data", sig.as_ref()));
        assert!(!key.verify(b"signed datA", sig.as_ref()));
        assert_eq!(key.alg(), CoseAlgorithm::ES384);

        for (set, signing, alg) in [
            (MlDsa::Ml44, &signature::ML_DSA_44_SIGNING, -48),
            (MlDsa::Ml65, &signature::ML_DSA_65_SIGNING, -49),
            (MlDsa::Ml87, &signature::ML_DSA_87_SIGNING, -50),
        ] {
            let pair = PqdsaKeyPair::generate(signing).unwrap();
            let key = CredentialPublicKey::MlDsa {
                set,
                public: pair.public_key().as_ref().to_vec(),
            };
            assert_eq!(key.to_spki(), pair.public_key().as_der().unwrap().as_ref());
            assert_eq!(key.alg(), CoseAlgorithm(alg));
            let mut sig = vec![0; signing.signature_len()];
            pair.sign(b"authData", &mut sig).unwrap();
            assert!(key.verify(b"authData", &sig));
            assert!(!key.verify(b"authDatA", &sig));
            assert!(!key.verify(b"authData", &sig[..sig.len() - 1]));
            // From its COSE form.
            let cose = CoseKey::MlDsa {
                set,
                public: pair.public_key().as_ref().to_vec(),
            };
            assert_eq!(CredentialPublicKey::from_cose(&cose).unwrap(), key);
        }
    }

    #[test]
    fn der_lengths() {
        let mut v = Vec::new();
        der_len(0x7f, &mut v);
        der_len(0x80, &mut v);
        der_len(0x1234, &mut v);
        assert_eq!(v, [0x7f, 0x81, 0x80, 0x82, 0x12, 0x34]);
    }
}
