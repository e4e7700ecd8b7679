//! Software keys: generation from the injected RNG and signing, with aws-lc-rs.
//!
//! Stores that keep keys in software (the in-memory store, the encrypted file store) share this
//! encoding of a [`KeyBlob`]: the private scalar or seed followed by the public key, so loading a
//! key for signing needs no point multiplication.
//!
//! | alg   | blob                                              |
//! |-------|---------------------------------------------------|
//! | ES256 | 32-byte big-endian scalar ‖ 65-byte SEC1 point     |
//! | EdDSA | 32-byte seed ‖ 32-byte public key                 |

use aws_lc_rs::signature::KeyPair as _;
use aws_lc_rs::{agreement, rand::SystemRandom, signature};
use zeroize::Zeroizing;

use crate::env::Rng;
use crate::store::{Algorithm, KeyBlob, PublicKey, StoreError};

const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Generates a key pair from `rng` (so tests that inject an RNG get reproducible keys).
pub fn generate(alg: Algorithm, rng: &mut dyn Rng) -> Result<(PublicKey, KeyBlob), StoreError> {
    let mut secret = Zeroizing::new([0u8; 32]);
    match alg {
        Algorithm::Es256 => {
            // Rejection sampling: a scalar must be in [1, n-1]; the chance of a retry is ~2^-32.
            loop {
                rng.fill(secret.as_mut());
                if secret.iter().any(|&b| b != 0) && secret.as_slice() < P256_ORDER.as_slice() {
                    break;
                }
            }
            from_secret(alg, secret.as_ref())
        }
        Algorithm::EdDsa => {
            rng.fill(secret.as_mut());
            from_secret(alg, secret.as_ref())
        }
    }
}

/// Builds the key pair for a known private scalar (ES256) or seed (EdDSA), e.g. from a test vector.
pub fn from_secret(alg: Algorithm, secret: &[u8]) -> Result<(PublicKey, KeyBlob), StoreError> {
    let public = match alg {
        Algorithm::Es256 => {
            let private = agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, secret)
                .map_err(|_| StoreError::Crypto("invalid P-256 private key".into()))?;
            let public = private
                .compute_public_key()
                .map_err(|_| StoreError::Crypto("P-256 public key computation failed".into()))?;
            public.as_ref().to_vec()
        }
        Algorithm::EdDsa => {
            let pair = signature::Ed25519KeyPair::from_seed_unchecked(secret)
                .map_err(|_| StoreError::Crypto("invalid Ed25519 seed".into()))?;
            pair.public_key().as_ref().to_vec()
        }
    };
    let mut blob = Vec::with_capacity(secret.len() + public.len());
    blob.extend_from_slice(secret);
    blob.extend_from_slice(&public);
    Ok((PublicKey { alg, bytes: public }, KeyBlob::new(blob)))
}

/// A loaded software key, ready to sign many times.
pub enum SigningKey {
    /// ES256.
    Es256(signature::EcdsaKeyPair),
    /// EdDSA.
    EdDsa(signature::Ed25519KeyPair),
}

impl SigningKey {
    /// Loads a blob made by [`generate`] or [`from_secret`].
    pub fn load(alg: Algorithm, blob: &KeyBlob) -> Result<Self, StoreError> {
        let bytes = blob.as_bytes();
        let corrupt = || StoreError::Corrupt("software key blob is malformed".into());
        match alg {
            Algorithm::Es256 => {
                if bytes.len() != 32 + 65 {
                    return Err(corrupt());
                }
                let (secret, public) = bytes.split_at(32);
                signature::EcdsaKeyPair::from_private_key_and_public_key(
                    &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    secret,
                    public,
                )
                .map(SigningKey::Es256)
                .map_err(|_| corrupt())
            }
            Algorithm::EdDsa => {
                if bytes.len() != 64 {
                    return Err(corrupt());
                }
                let (seed, public) = bytes.split_at(32);
                signature::Ed25519KeyPair::from_seed_and_public_key(seed, public)
                    .map(SigningKey::EdDsa)
                    .map_err(|_| corrupt())
            }
        }
    }

    /// Signs `message`: ES256 as ASN.1 DER over SHA-256(message), EdDSA as the raw 64 bytes.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, StoreError> {
        match self {
            SigningKey::Es256(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| StoreError::Crypto("ECDSA signing failed".into())),
            SigningKey::EdDsa(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

/// Loads and signs in one step.
pub fn sign(alg: Algorithm, blob: &KeyBlob, message: &[u8]) -> Result<Vec<u8>, StoreError> {
    SigningKey::load(alg, blob)?.sign(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ED25519};

    struct Counter(u8);
    impl Rng for Counter {
        fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
    }

    #[test]
    fn es256_keys_are_reproducible_and_verify() {
        let (pk1, blob1) = generate(Algorithm::Es256, &mut Counter(0)).unwrap();
        let (pk2, _) = generate(Algorithm::Es256, &mut Counter(0)).unwrap();
        assert_eq!(pk1, pk2);
        assert_eq!(pk1.bytes.len(), 65);
        assert_eq!(pk1.bytes[0], 0x04);
        let sig = sign(Algorithm::Es256, &blob1, b"hello").unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &pk1.bytes)
            .verify(b"hello", &sig)
            .unwrap();
        assert!(UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &pk1.bytes)
            .verify(b"hellO", &sig)
            .is_err());
    }

    /// Known answers pin the scalar-to-point step: 1·G is the generator (SEC 2 §2.4.2), and the
    /// scalars outside [1, n-1] are refused.
    #[test]
    fn es256_from_secret_known_answers() {
        let mut one = [0u8; 32];
        one[31] = 1;
        let (pk, blob) = from_secret(Algorithm::Es256, &one).unwrap();
        let g = "04\
            6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296\
            4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
        let hex: String = pk.bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, g);
        assert_eq!(&blob.as_bytes()[..32], &one);
        assert_eq!(&blob.as_bytes()[32..], pk.bytes.as_slice());
        assert!(from_secret(Algorithm::Es256, &[0u8; 32]).is_err());
        assert!(from_secret(Algorithm::Es256, &P256_ORDER).is_err());
    }

    #[test]
    fn eddsa_keys_verify() {
        let (pk, blob) = generate(Algorithm::EdDsa, &mut Counter(7)).unwrap();
        assert_eq!(pk.bytes.len(), 32);
        let sig = sign(Algorithm::EdDsa, &blob, b"msg").unwrap();
        assert_eq!(sig.len(), 64);
        UnparsedPublicKey::new(&ED25519, &pk.bytes)
            .verify(b"msg", &sig)
            .unwrap();
    }

    #[test]
    fn malformed_blobs_are_corrupt_not_panics() {
        for len in [0usize, 31, 96, 98] {
            let blob = KeyBlob::new(vec![1; len]);
            assert!(matches!(
                sign(Algorithm::Es256, &blob, b"x"),
                Err(StoreError::Corrupt(_))
            ));
        }
        // Right length, but the public key does not match the scalar.
        let (_, blob) = generate(Algorithm::Es256, &mut Counter(0)).unwrap();
        let (pk_other, _) = generate(Algorithm::Es256, &mut Counter(50)).unwrap();
        let mut bytes = blob.as_bytes()[..32].to_vec();
        bytes.extend_from_slice(&pk_other.bytes);
        assert!(sign(Algorithm::Es256, &KeyBlob::new(bytes), b"x").is_err());
    }
}
