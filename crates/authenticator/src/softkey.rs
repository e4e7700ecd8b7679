//! Software keys: generation from the injected RNG and signing, with aws-lc-rs.
//!
//! Stores that keep keys in software (the in-memory store, the encrypted file store) share this
//! encoding of a [`KeyBlob`]: the private scalar or seed followed by the public key.
//!
//! | alg   | blob                                              |
//! |-------|---------------------------------------------------|
//! | ES256 | 32-byte big-endian scalar ‖ 65-byte SEC1 point     |
//! | EdDSA | 32-byte seed ‖ 32-byte public key                 |
//!
//! What the P-256 steps cost, in base-point multiplications (the expensive part; aws-lc-rs's safe
//! API runs a pairwise consistency test, one multiplication, on every private key it accepts):
//!
//! - [`generate`] / [`from_secret`]: 2, the public key `d·G` and the consistency test. Nothing in
//!   the safe API derives the public key of a given scalar with fewer. The loaded key comes out
//!   too ([`generate_loaded`]), so a store can sign with it at once without loading it again.
//! - [`SigningKey::load`]: 1, the consistency test. The stored public key is handed to aws-lc
//!   with the scalar (as an RFC 5915 `ECPrivateKey` inside PKCS#8), so it is checked against the
//!   scalar instead of being computed and then checked, which would cost 2.
//! - [`SigningKey::sign`]: what ECDSA costs (one multiplication and an inversion).
//!
//! A store that signs often with the same key should keep the [`SigningKey`] while it may use
//! the key (see `MemoryStore` and the keystore crate's file store).

use std::collections::{HashMap, VecDeque};

use aws_lc_rs::signature::KeyPair as _;
use aws_lc_rs::{rand::SystemRandom, signature};
use zeroize::Zeroizing;

use crate::env::Rng;
use crate::store::{Algorithm, KeyBlob, PublicKey, StoreError};

const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Length of an uncompressed SEC1 P-256 point (0x04 ‖ x ‖ y).
const P256_POINT_LEN: usize = 65;

/// PKCS#8 v1 `PrivateKeyInfo` (RFC 5208 §5) of a P-256 key up to its `ECPrivateKey` (RFC 5915
/// §3): the header when the public key is included, and when it is left out.
mod der {
    /// `SEQUENCE { INTEGER 0, AlgorithmIdentifier { id-ecPublicKey, prime256v1 }, OCTET STRING {`
    /// `SEQUENCE { INTEGER 1, OCTET STRING (32) {` — the scalar follows, then [`PUBLIC_TAG`] and
    /// the point.
    pub(super) const WITH_PUBLIC: [u8; 35] = [
        0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
        0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30,
        0x6b, 0x02, 0x01, 0x01, 0x04,
    ];
    /// `[1] { BIT STRING (0 unused bits) {` — the 65-byte point follows.
    pub(super) const PUBLIC_TAG: [u8; 5] = [0xa1, 0x44, 0x03, 0x42, 0x00];
    /// As [`WITH_PUBLIC`] for a document that ends after the scalar.
    pub(super) const SCALAR_ONLY: [u8; 34] = [
        0x30, 0x41, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
        0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x27, 0x30, 0x25,
        0x02, 0x01, 0x01, 0x04,
    ];
    /// Length byte of the 32-byte scalar's OCTET STRING.
    pub(super) const SCALAR_LEN: u8 = 0x20;
    /// Whole document with the public key.
    pub(super) const WITH_PUBLIC_LEN: usize = WITH_PUBLIC.len() + 1 + 32 + PUBLIC_TAG.len() + 65;
}

/// The PKCS#8 document of a P-256 scalar and, if given, its public point; zeroised on drop.
fn p256_pkcs8(secret: &[u8], public: Option<&[u8]>) -> Zeroizing<Vec<u8>> {
    let mut doc = Zeroizing::new(Vec::with_capacity(der::WITH_PUBLIC_LEN));
    match public {
        Some(point) => {
            doc.extend_from_slice(&der::WITH_PUBLIC);
            doc.push(der::SCALAR_LEN);
            doc.extend_from_slice(secret);
            doc.extend_from_slice(&der::PUBLIC_TAG);
            doc.extend_from_slice(point);
        }
        None => {
            doc.extend_from_slice(&der::SCALAR_ONLY);
            doc.push(der::SCALAR_LEN);
            doc.extend_from_slice(secret);
        }
    }
    doc
}

/// Generates a key pair from `rng` (so tests that inject an RNG get reproducible keys).
pub fn generate(alg: Algorithm, rng: &mut dyn Rng) -> Result<(PublicKey, KeyBlob), StoreError> {
    generate_loaded(alg, rng).map(|(public, blob, _)| (public, blob))
}

/// [`generate`], and the key loaded for signing (what [`SigningKey::load`] of the blob gives).
pub fn generate_loaded(
    alg: Algorithm,
    rng: &mut dyn Rng,
) -> Result<(PublicKey, KeyBlob, SigningKey), StoreError> {
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
        }
        Algorithm::EdDsa => rng.fill(secret.as_mut()),
    }
    from_secret_loaded(alg, secret.as_ref())
}

/// Builds the key pair for a known private scalar (ES256) or seed (EdDSA), e.g. from a test vector.
pub fn from_secret(alg: Algorithm, secret: &[u8]) -> Result<(PublicKey, KeyBlob), StoreError> {
    from_secret_loaded(alg, secret).map(|(public, blob, _)| (public, blob))
}

/// [`from_secret`], and the key loaded for signing.
pub fn from_secret_loaded(
    alg: Algorithm,
    secret: &[u8],
) -> Result<(PublicKey, KeyBlob, SigningKey), StoreError> {
    let (public, loaded) = match alg {
        Algorithm::Es256 => {
            let invalid = || StoreError::Crypto("invalid P-256 private key".into());
            if secret.len() != 32 {
                return Err(invalid());
            }
            // aws-lc computes the public key (one multiplication) and tests it (another); it
            // refuses 0 and scalars not below the group order.
            let pair = signature::EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                &p256_pkcs8(secret, None),
            )
            .map_err(|_| invalid())?;
            let public = pair.public_key().as_ref().to_vec();
            if public.len() != P256_POINT_LEN {
                return Err(StoreError::Crypto(
                    "P-256 public key has an unexpected encoding".into(),
                ));
            }
            (public, SigningKey::Es256(pair))
        }
        Algorithm::EdDsa => {
            let pair = signature::Ed25519KeyPair::from_seed_unchecked(secret)
                .map_err(|_| StoreError::Crypto("invalid Ed25519 seed".into()))?;
            (pair.public_key().as_ref().to_vec(), SigningKey::EdDsa(pair))
        }
    };
    let mut blob = Vec::with_capacity(secret.len() + public.len());
    blob.extend_from_slice(secret);
    blob.extend_from_slice(&public);
    Ok((PublicKey { alg, bytes: public }, KeyBlob::new(blob), loaded))
}

/// A loaded software key, ready to sign many times. aws-lc cleanses the key's memory when it is
/// dropped.
pub enum SigningKey {
    /// ES256.
    Es256(signature::EcdsaKeyPair),
    /// EdDSA.
    EdDsa(signature::Ed25519KeyPair),
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SigningKey::Es256(_) => "SigningKey::Es256(<redacted>)",
            SigningKey::EdDsa(_) => "SigningKey::EdDsa(<redacted>)",
        })
    }
}

impl SigningKey {
    /// Loads a blob made by [`generate`] or [`from_secret`], checking that its public key is the
    /// scalar's (a blob whose halves do not match is [`StoreError::Corrupt`]).
    pub fn load(alg: Algorithm, blob: &KeyBlob) -> Result<Self, StoreError> {
        let bytes = blob.as_bytes();
        let corrupt = || StoreError::Corrupt("software key blob is malformed".into());
        match alg {
            Algorithm::Es256 => {
                if bytes.len() != 32 + P256_POINT_LEN {
                    return Err(corrupt());
                }
                let (secret, public) = bytes.split_at(32);
                signature::EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    &p256_pkcs8(secret, Some(public)),
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

/// Loaded keys kept by the blob they were loaded from, at most `capacity`, the oldest loaded
/// dropped first: what a store keeps so the next signature with a key needs no load. aws-lc
/// cleanses a key's memory when it is dropped here.
pub struct LoadedKeys {
    keys: HashMap<Vec<u8>, SigningKey>,
    /// The keys of `keys`, oldest first.
    order: VecDeque<Vec<u8>>,
    capacity: usize,
}

impl LoadedKeys {
    /// An empty set that keeps at most `capacity` keys.
    pub fn new(capacity: usize) -> Self {
        Self {
            keys: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// The key loaded from `blob`, if kept.
    pub fn get(&self, blob: &[u8]) -> Option<&SigningKey> {
        self.keys.get(blob)
    }

    /// Keeps `key`, loaded from `blob` (a blob kept already keeps its key).
    pub fn put(&mut self, blob: &[u8], key: SigningKey) {
        if self.capacity == 0 || self.keys.contains_key(blob) {
            return;
        }
        while self.keys.len() >= self.capacity {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.keys.remove(&old);
        }
        self.order.push_back(blob.to_vec());
        self.keys.insert(blob.to_vec(), key);
    }

    /// Drops the key loaded from `blob`, if kept.
    pub fn remove(&mut self, blob: &[u8]) {
        if self.keys.remove(blob).is_some() {
            self.order.retain(|k| k.as_slice() != blob);
        }
    }

    /// Drops every key.
    pub fn clear(&mut self) {
        self.keys.clear();
        self.order.clear();
    }

    /// How many keys are kept.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is kept.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
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
        assert!(from_secret(Algorithm::Es256, &[0xff; 32]).is_err());
        assert!(from_secret(Algorithm::Es256, &one[1..]).is_err());
    }

    /// The PKCS#8 document a key is loaded from is byte for byte what aws-lc itself writes for
    /// that key, and the loaded key is the generated one.
    #[test]
    fn es256_pkcs8_matches_aws_lc_and_loads_the_same_key() {
        let (pk, blob, generated) = generate_loaded(Algorithm::Es256, &mut Counter(3)).unwrap();
        let (secret, public) = blob.as_bytes().split_at(32);
        assert_eq!(public, pk.bytes.as_slice());
        let doc = p256_pkcs8(secret, Some(public));
        assert_eq!(doc.len(), 138);
        let SigningKey::Es256(pair) = SigningKey::load(Algorithm::Es256, &blob).unwrap() else {
            panic!("an ES256 blob loads as ES256");
        };
        assert_eq!(pair.to_pkcs8v1().unwrap().as_ref(), doc.as_slice());
        assert_eq!(pair.public_key().as_ref(), pk.bytes.as_slice());
        assert_eq!(p256_pkcs8(secret, None).len(), 67);
        // The key that came out of generation signs for the same public key.
        let sig = generated.sign(b"m").unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &pk.bytes)
            .verify(b"m", &sig)
            .unwrap();
        assert_eq!(format!("{generated:?}"), "SigningKey::Es256(<redacted>)");
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
