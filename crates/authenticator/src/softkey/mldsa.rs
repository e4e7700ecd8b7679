//! ML-DSA (FIPS 204) software keys: a key is its 32-byte seed ξ, expanded by aws-lc's
//! `PqdsaKeyPair::from_seed` (FIPS 204 Algorithm 6, ML-DSA.KeyGen_internal). Signing is the
//! "pure" mode with an empty context string, what the COSE ML-DSA draft and WebAuthn use, with
//! aws-lc's hedged (randomised) signing.

use aws_lc_rs::signature::{self, KeyPair as _, PqdsaKeyPair, PqdsaSigningAlgorithm};

use crate::store::{Algorithm, CryptoOperation, StoreError};

/// Length of the seed ξ (FIPS 204 §5.1).
pub(super) const SEED_LEN: usize = 32;

/// The aws-lc signing algorithm of an ML-DSA [`Algorithm`].
pub(super) fn signing(alg: Algorithm) -> Option<&'static PqdsaSigningAlgorithm> {
    match alg {
        Algorithm::MlDsa44 => Some(&signature::ML_DSA_44_SIGNING),
        Algorithm::MlDsa65 => Some(&signature::ML_DSA_65_SIGNING),
        _ => None,
    }
}

/// The key pair of a seed.
pub(super) fn from_seed(
    alg: Algorithm,
    seed: &[u8],
) -> Result<(Vec<u8>, PqdsaKeyPair), StoreError> {
    let signing = signing(alg).ok_or(StoreError::UnsupportedAlgorithm(alg))?;
    let pair = PqdsaKeyPair::from_seed(signing, seed)
        .map_err(|e| StoreError::crypto_because(CryptoOperation::KeyLoading, e))?;
    let public = pair.public_key().as_ref().to_vec();
    if public.len() != signing.public_key_len() {
        return Err(StoreError::crypto(CryptoOperation::KeyGeneration));
    }
    Ok((public, pair))
}

/// Loads `seed ‖ public key`, checking that the public key is the seed's.
pub(super) fn load(alg: Algorithm, bytes: &[u8]) -> Option<PqdsaKeyPair> {
    let signing = signing(alg)?;
    if bytes.len() != SEED_LEN + signing.public_key_len() {
        return None;
    }
    let (seed, public) = bytes.split_at(SEED_LEN);
    let (derived, pair) = from_seed(alg, seed).ok()?;
    (derived == public).then_some(pair)
}

/// Signs `message`: the raw FIPS 204 signature.
pub(super) fn sign(pair: &PqdsaKeyPair, message: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![0u8; pair.algorithm().signature_len()];
    let len = pair
        .sign(message, &mut out)
        .map_err(|e| StoreError::crypto_because(CryptoOperation::Signing, e))?;
    out.truncate(len);
    Ok(out)
}
