//! Software keys sealed under the master key: every key of the file store, and the keys of the
//! TPM store whose algorithm its TPM cannot hold (ML-DSA).
//!
//! ```text
//! blob = 0x01 ‖ alg ‖ AES-256-GCM(master key, softkey blob, AAD = "latchkey-keystore/key/v1" ‖ |COSE alg|)
//! ```
//!
//! `alg` is the record's algorithm tag (`record::alg_byte`); the softkey blob is
//! `latchkey_authenticator::softkey`'s scalar or seed followed by the public key. A loaded key is
//! kept in the [`KeyCache`] while the store is unlocked.

use latchkey_authenticator::env::Rng;
use latchkey_authenticator::softkey::{self, SigningKey};
use latchkey_authenticator::store::Damage;
use latchkey_authenticator::store::{Algorithm, KeyBlob, PublicKey, StoreError};

use crate::crypto::MasterKey;
use crate::keycache::KeyCache;
use crate::record::{alg_byte, alg_from_byte};

const KEY_AAD: &[u8] = b"latchkey-keystore/key/v1";
pub(crate) const KEY_BLOB_VERSION: u8 = 1;

fn key_aad(alg: Algorithm) -> Vec<u8> {
    let mut v = KEY_AAD.to_vec();
    v.push(u8::try_from(alg.cose().unsigned_abs()).unwrap_or(0));
    v
}

/// Whether `blob` is a sealed software key (as opposed to, say, a TPM key blob).
#[cfg(feature = "tpm")]
pub(crate) fn is_sealed(blob: &KeyBlob) -> bool {
    blob.as_bytes().first() == Some(&KEY_BLOB_VERSION)
}

/// Makes a key pair from `rng` and seals its private half under `mk`; the loaded key goes into
/// `keys`, so the first signature needs no load.
pub(crate) fn generate(
    keys: &mut KeyCache,
    alg: Algorithm,
    rng: &mut dyn Rng,
    mk: &MasterKey,
) -> Result<(PublicKey, KeyBlob), StoreError> {
    let (public, plain, loaded) = softkey::generate_loaded(alg, rng)?;
    let mut blob = vec![KEY_BLOB_VERSION, alg_byte(alg)];
    blob.extend_from_slice(&mk.seal(&key_aad(alg), plain.as_bytes())?);
    keys.put_new(mk, &blob, loaded);
    Ok((public, KeyBlob::new(blob)))
}

/// Signs `message` with a key from [`generate`], opened under `mk` (or found in `keys`).
pub(crate) fn sign(
    keys: &mut KeyCache,
    key: &KeyBlob,
    alg: Algorithm,
    message: &[u8],
    mk: &MasterKey,
) -> Result<Vec<u8>, StoreError> {
    let [version, tag, sealed @ ..] = key.as_bytes() else {
        return Err(StoreError::corrupt("key blob", Damage::Truncated));
    };
    if *version != KEY_BLOB_VERSION || alg_from_byte(*tag)? != alg {
        return Err(StoreError::corrupt(
            "key blob",
            Damage::Foreign("not a key of this store"),
        ));
    }
    if let Some(loaded) = keys.get(mk, key.as_bytes()) {
        return loaded.sign(message);
    }
    let plain = KeyBlob::new(mk.open(&key_aad(alg), sealed)?.to_vec());
    let loaded = SigningKey::load(alg, &plain)?;
    let signature = loaded.sign(message)?;
    keys.put(mk, key.as_bytes(), loaded);
    Ok(signature)
}
