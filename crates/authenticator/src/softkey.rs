//! Software keys: generation from the injected RNG and signing, with aws-lc-rs.
//!
//! Stores that keep keys in software (the in-memory store, the encrypted file store) share this
//! encoding of a [`KeyBlob`]: the private scalar or seed followed by the public key.
//!
//! | alg       | blob                                              |
//! |-----------|---------------------------------------------------|
//! | ES256     | 32-byte big-endian scalar ‖ 65-byte SEC1 point     |
//! | ES384     | 48-byte big-endian scalar ‖ 97-byte SEC1 point     |
//! | EdDSA     | 32-byte seed ‖ 32-byte public key                 |
//! | ML-DSA-44 | 32-byte seed ξ ‖ 1312-byte public key (FIPS 204)  |
//! | ML-DSA-65 | 32-byte seed ξ ‖ 1952-byte public key (FIPS 204)  |
//!
//! What the P-256 steps cost, in base-point multiplications (the expensive part; aws-lc-rs's safe
//! API runs a pairwise consistency test, one multiplication, on every private key it accepts):
//!
//! - [`generate`] with the operating system's generator ([`Rng::is_system`], what every shipped
//!   authenticator uses): 1, aws-lc's own key generation; the scalar is then read out of it.
//! - [`generate`] with an injected generator (tests, for reproducible keys) / [`from_secret`]: 2,
//!   the public key `d·G` and the consistency test. Nothing in the safe API derives the public
//!   key of a given scalar with fewer. The loaded key comes out too ([`generate_loaded`]), so a
//!   store can sign with it at once without loading it again.
//! - [`SigningKey::load`]: 1, the consistency test. The stored public key is handed to aws-lc
//!   with the scalar (as an RFC 5915 `ECPrivateKey` inside PKCS#8), so it is checked against the
//!   scalar instead of being computed and then checked, which would cost 2.
//! - [`SigningKey::sign`]: what ECDSA costs (one multiplication and an inversion).
//!
//! ES384 costs the same steps on P-384. An ML-DSA key is loaded by expanding its seed (the whole
//! of FIPS 204 key generation, the public key included, which is then compared with the stored
//! one), so a loaded ML-DSA key saves more than an ECDSA one.
//!
//! A store that signs often with the same key should keep the [`SigningKey`] while it may use
//! the key (see `MemoryStore` and the keystore crate's file store).

use std::collections::{HashMap, VecDeque};

use aws_lc_rs::signature::KeyPair as _;
use aws_lc_rs::{rand::SystemRandom, signature};
use zeroize::Zeroizing;

use crate::env::Rng;
use crate::store::{Algorithm, CryptoOperation, Damage, KeyBlob, PublicKey, StoreError};

mod mldsa;
mod p256;
mod p384;

#[cfg(test)]
mod tests;

/// An ECDSA key made by aws-lc: its scalar, its public key (SEC1), and the loaded pair.
type GeneratedEcdsa = (Zeroizing<Vec<u8>>, Vec<u8>, signature::EcdsaKeyPair);

/// Generates a key pair from `rng` (so tests that inject an RNG get reproducible keys).
pub fn generate(alg: Algorithm, rng: &mut dyn Rng) -> Result<(PublicKey, KeyBlob), StoreError> {
    generate_loaded(alg, rng).map(|(public, blob, _)| (public, blob))
}

/// Draws a scalar in [1, `order` - 1] by rejection sampling; for P-256 and P-384 a retry is
/// needed with probability below 2^-32.
fn scalar_below(order: &[u8], rng: &mut dyn Rng) -> Zeroizing<Vec<u8>> {
    let mut secret = Zeroizing::new(vec![0u8; order.len()]);
    loop {
        rng.fill(secret.as_mut());
        if secret.iter().any(|&b| b != 0) && secret.as_slice() < order {
            return secret;
        }
    }
}

/// [`generate`], and the key loaded for signing (what [`SigningKey::load`] of the blob gives).
pub fn generate_loaded(
    alg: Algorithm,
    rng: &mut dyn Rng,
) -> Result<(PublicKey, KeyBlob, SigningKey), StoreError> {
    // The operating system's generator: aws-lc's own key generation, which costs one
    // multiplication fewer than a drawn scalar (`Rng::is_system`).
    if rng.is_system() {
        let made = match alg {
            Algorithm::Es256 => Some(p256::generate()?),
            Algorithm::Es384 => Some(p384::generate()?),
            _ => None,
        };
        if let Some((secret, public, pair)) = made {
            let loaded = match alg {
                Algorithm::Es384 => SigningKey::Es384(pair),
                _ => SigningKey::Es256(pair),
            };
            let mut blob = Vec::with_capacity(secret.len() + public.len());
            blob.extend_from_slice(&secret);
            blob.extend_from_slice(&public);
            return Ok((PublicKey { alg, bytes: public }, KeyBlob::new(blob), loaded));
        }
    }
    let secret = match alg {
        Algorithm::Es256 => scalar_below(&p256::ORDER, rng),
        Algorithm::Es384 => scalar_below(&p384::ORDER, rng),
        Algorithm::EdDsa | Algorithm::MlDsa44 | Algorithm::MlDsa65 => {
            let mut seed = Zeroizing::new(vec![0u8; 32]);
            rng.fill(seed.as_mut());
            seed
        }
    };
    from_secret_loaded(alg, secret.as_ref())
}

/// Builds the key pair for a known private scalar (ES256, ES384) or seed (EdDSA, ML-DSA), e.g.
/// from a test vector.
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
            let (public, pair) = p256::from_scalar(secret)?;
            (public, SigningKey::Es256(pair))
        }
        Algorithm::Es384 => {
            let (public, pair) = p384::from_scalar(secret)?;
            (public, SigningKey::Es384(pair))
        }
        Algorithm::EdDsa => {
            let pair = signature::Ed25519KeyPair::from_seed_unchecked(secret)
                .map_err(|e| StoreError::crypto_because(CryptoOperation::KeyLoading, e))?;
            (pair.public_key().as_ref().to_vec(), SigningKey::EdDsa(pair))
        }
        Algorithm::MlDsa44 | Algorithm::MlDsa65 => {
            let (public, pair) = mldsa::from_seed(alg, secret)?;
            (public, SigningKey::MlDsa(pair))
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
    /// ES384.
    Es384(signature::EcdsaKeyPair),
    /// EdDSA.
    EdDsa(signature::Ed25519KeyPair),
    /// ML-DSA-44 or ML-DSA-65.
    MlDsa(signature::PqdsaKeyPair),
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SigningKey::Es256(_) => "SigningKey::Es256(<redacted>)",
            SigningKey::Es384(_) => "SigningKey::Es384(<redacted>)",
            SigningKey::EdDsa(_) => "SigningKey::EdDsa(<redacted>)",
            SigningKey::MlDsa(_) => "SigningKey::MlDsa(<redacted>)",
        })
    }
}

impl SigningKey {
    /// Loads a blob made by [`generate`] or [`from_secret`], checking that its public key is the
    /// private key's (a blob whose halves do not match is [`StoreError::Corrupt`]).
    pub fn load(alg: Algorithm, blob: &KeyBlob) -> Result<Self, StoreError> {
        let bytes = blob.as_bytes();
        let loaded = match alg {
            Algorithm::Es256 => p256::load(bytes).map(SigningKey::Es256),
            Algorithm::Es384 => p384::load(bytes).map(SigningKey::Es384),
            Algorithm::EdDsa => {
                if bytes.len() == 64 {
                    let (seed, public) = bytes.split_at(32);
                    signature::Ed25519KeyPair::from_seed_and_public_key(seed, public)
                        .ok()
                        .map(SigningKey::EdDsa)
                } else {
                    None
                }
            }
            Algorithm::MlDsa44 | Algorithm::MlDsa65 => {
                mldsa::load(alg, bytes).map(SigningKey::MlDsa)
            }
        };
        loaded.ok_or_else(|| {
            StoreError::corrupt(
                "software key blob",
                Damage::Inconsistent("its public key is not its private key's"),
            )
        })
    }

    /// Signs `message`: ES256 and ES384 as ASN.1 DER over SHA-256 / SHA-384 of the message,
    /// EdDSA as the raw 64 bytes, ML-DSA as the raw FIPS 204 signature.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, StoreError> {
        match self {
            SigningKey::Es256(pair) | SigningKey::Es384(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|e| StoreError::crypto_because(CryptoOperation::Signing, e)),
            SigningKey::EdDsa(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            SigningKey::MlDsa(pair) => mldsa::sign(pair, message),
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
///
/// A key just generated ([`LoadedKeys::put_new`]) waits in a slot of its own until it signs:
/// only then does it join the others (and may push the oldest out). A run of registrations
/// therefore never evicts the keys in use (each new key takes the previous one's slot), while the
/// newest key still signs its self attestation or its first assertion without a load.
pub struct LoadedKeys {
    keys: HashMap<BlobId, SigningKey>,
    /// The keys of `keys`, oldest first.
    order: VecDeque<BlobId>,
    /// The newest generated key, until it signs or the next one is generated.
    fresh: Option<(BlobId, SigningKey)>,
    capacity: usize,
}

/// What [`LoadedKeys`] files a key under: the SHA-256 of its blob, not the blob. A blob of the
/// in-memory store holds the private key in the clear, and map keys are copied, moved on rehash
/// and dropped without being cleansed; a digest says nothing about the key it names.
type BlobId = [u8; 32];

fn blob_id(blob: &[u8]) -> BlobId {
    let mut id = [0; 32];
    id.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, blob).as_ref());
    id
}

impl LoadedKeys {
    /// An empty set that keeps at most `capacity` keys, besides the newest generated one.
    pub fn new(capacity: usize) -> Self {
        Self {
            keys: HashMap::new(),
            order: VecDeque::new(),
            fresh: None,
            capacity,
        }
    }

    /// The key loaded from `blob`, if kept. The newest generated key joins the others here, as
    /// it is about to sign.
    pub fn get(&mut self, blob: &[u8]) -> Option<&SigningKey> {
        let id = blob_id(blob);
        if let Some((id, key)) = self.fresh.take_if(|(fresh, _)| *fresh == id) {
            self.keep(id, key);
        }
        self.keys.get(&id)
    }

    /// Keeps `key`, loaded from `blob` to sign (a blob kept already keeps its key).
    pub fn put(&mut self, blob: &[u8], key: SigningKey) {
        let id = blob_id(blob);
        if self.fresh.as_ref().is_some_and(|(fresh, _)| *fresh == id) {
            self.fresh = None;
        }
        self.keep(id, key);
    }

    /// Keeps `key`, just generated with `blob`, in place of the previous generated key that has
    /// not signed since: the loaded keys stay as they are.
    pub fn put_new(&mut self, blob: &[u8], key: SigningKey) {
        if self.capacity > 0 {
            self.fresh = Some((blob_id(blob), key));
        }
    }

    fn keep(&mut self, id: BlobId, key: SigningKey) {
        if self.capacity == 0 || self.keys.contains_key(&id) {
            return;
        }
        while self.keys.len() >= self.capacity {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.keys.remove(&old);
        }
        self.order.push_back(id);
        self.keys.insert(id, key);
    }

    /// Drops the key loaded from `blob`, if kept.
    pub fn remove(&mut self, blob: &[u8]) {
        let id = blob_id(blob);
        if self.fresh.as_ref().is_some_and(|(fresh, _)| *fresh == id) {
            self.fresh = None;
        }
        if self.keys.remove(&id).is_some() {
            self.order.retain(|k| *k != id);
        }
    }

    /// Drops every key.
    pub fn clear(&mut self) {
        self.keys.clear();
        self.order.clear();
        self.fresh = None;
    }

    /// How many keys are kept, the newest generated one included.
    pub fn len(&self) -> usize {
        self.keys.len() + usize::from(self.fresh.is_some())
    }

    /// Whether no key is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
