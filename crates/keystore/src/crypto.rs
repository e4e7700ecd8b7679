//! The store's symmetric cryptography: AES-256-GCM sealing, the master key, Argon2id.
//!
//! A sealed value is `nonce (12) ‖ ciphertext ‖ tag (16)` under a random nonce from the system
//! RNG. Every seal carries a domain-separating AAD (see the callers), so a value sealed for one
//! purpose or one record does not open as another.

use core::fmt;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use latchkey_authenticator::store::{CryptoOperation, Damage};
use latchkey_authenticator::store::{PinHash, StoreError};
use zeroize::Zeroizing;

/// Bytes a seal adds to its plaintext.
pub(crate) const SEAL_OVERHEAD: usize = NONCE_LEN + 16;

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn random(buf: &mut [u8]) -> Result<(), StoreError> {
    aws_lc_rs::rand::fill(buf).map_err(|e| StoreError::crypto_because(CryptoOperation::Random, e))
}

/// The 256-bit key that seals private keys and per-credential secrets; what a user verification
/// unlocks. Zeroised on drop.
#[derive(Clone)]
pub(crate) struct MasterKey(Zeroizing<[u8; 32]>);

impl MasterKey {
    pub(crate) fn generate() -> Result<Self, StoreError> {
        let mut k = Zeroizing::new([0u8; 32]);
        random(k.as_mut())?;
        Ok(MasterKey(k))
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| {
            StoreError::corrupt(
                "master key",
                Damage::WrongLength {
                    field: "the key",
                    expected: 32,
                    got: bytes.len(),
                },
            )
        })?;
        Ok(MasterKey(Zeroizing::new(arr)))
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether `other` is the same key, in time independent of where they differ.
    pub(crate) fn ct_eq(&self, other: &MasterKey) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        seal(self.as_bytes(), aad, plaintext)
    }

    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        open(self.as_bytes(), aad, sealed)
            .ok_or_else(|| StoreError::corrupt("sealed data", Damage::Unauthentic))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

fn aead_key(key: &[u8; 32]) -> Result<LessSafeKey, StoreError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|e| StoreError::crypto_because(CryptoOperation::KeySetup, e))
}

/// AES-256-GCM with a fresh random nonce.
pub(crate) fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut nonce = [0u8; NONCE_LEN];
    random(&mut nonce)?;
    // Encrypted in place in a buffer that already has room for the tag, so no copy of the
    // plaintext is left behind in a reallocated-away buffer.
    let mut body = Vec::with_capacity(plaintext.len() + 16);
    body.extend_from_slice(plaintext);
    aead_key(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut body,
        )
        .map_err(|e| StoreError::crypto_because(CryptoOperation::Sealing, e))?;
    let mut out = Vec::with_capacity(NONCE_LEN + body.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens a value from [`seal`]; `None` if the key, the AAD or the bytes are wrong.
pub(crate) fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < SEAL_OVERHEAD {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = Zeroizing::new(body.to_vec());
    let len = aead_key(key)
        .ok()?
        .open_in_place(nonce, Aad::from(aad), buf.as_mut_slice())
        .ok()?
        .len();
    buf.truncate(len);
    Some(buf)
}

/// SHA-256 of the concatenation of `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Argon2id cost parameters for deriving the key-encryption key from a PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// Largest memory accepted from a file (1 GiB), so a tampered file cannot exhaust memory.
    pub const MAX_MEMORY_KIB: u32 = 1 << 20;
    /// Largest pass count accepted from a file.
    pub const MAX_ITERATIONS: u32 = 64;
    /// Largest lane count accepted from a file.
    pub const MAX_PARALLELISM: u32 = 16;

    /// Deliberately cheap parameters for test stores (`Protection::None`) and unit tests. Never
    /// use them to protect real keys.
    pub const INSECURE_TEST: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    pub(crate) fn check(self) -> Result<Self, StoreError> {
        if self.memory_kib > Self::MAX_MEMORY_KIB
            || self.iterations > Self::MAX_ITERATIONS
            || self.parallelism > Self::MAX_PARALLELISM
            || self.iterations == 0
            || self.parallelism == 0
            || self.memory_kib < 8 * self.parallelism
        {
            return Err(StoreError::corrupt(
                "keystore file",
                Damage::OutOfRange("the Argon2id parameters"),
            ));
        }
        Ok(self)
    }
}

impl Default for KdfParams {
    /// 128 MiB, 4 passes, 1 lane: about 0.3 s per verification on a 2020s desktop core (see
    /// SECURITY.md for the measurement and what it means for offline guessing).
    fn default() -> Self {
        KdfParams {
            memory_kib: 128 * 1024,
            iterations: 4,
            parallelism: 1,
        }
    }
}

/// KEK = Argon2id(PinHash, salt) under `params`.
pub(crate) fn derive_kek(
    pin: &PinHash,
    salt: &[u8; 16],
    params: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let params = params.check()?;
    let p = argon2::Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(32),
    )
    .map_err(|e| StoreError::crypto_because(CryptoOperation::KeyDerivation, Argon2Failure(e)))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(&pin.0, salt, out.as_mut())
        .map_err(|e| {
            StoreError::crypto_because(CryptoOperation::KeyDerivation, Argon2Failure(e))
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_binds_key_and_aad() {
        let k = MasterKey::generate().unwrap();
        let other = MasterKey::generate().unwrap();
        let s = k.seal(b"aad", b"secret").unwrap();
        assert_eq!(s.len(), 6 + SEAL_OVERHEAD);
        assert_eq!(k.open(b"aad", &s).unwrap().as_slice(), b"secret");
        assert!(k.open(b"aaD", &s).is_err());
        assert!(other.open(b"aad", &s).is_err());
        let mut flipped = s.clone();
        flipped[20] ^= 1;
        assert!(k.open(b"aad", &flipped).is_err());
        assert!(k.open(b"aad", &s[..10]).is_err());
        // Fresh nonces: the same plaintext seals differently.
        assert_ne!(s, k.seal(b"aad", b"secret").unwrap());
        assert_eq!(format!("{k:?}"), "MasterKey(<redacted>)");
    }

    #[test]
    fn kek_depends_on_pin_salt_and_params() {
        let pin = PinHash([1; 16]);
        let a = derive_kek(&pin, &[0; 16], KdfParams::INSECURE_TEST).unwrap();
        assert_eq!(
            a,
            derive_kek(&pin, &[0; 16], KdfParams::INSECURE_TEST).unwrap()
        );
        assert_ne!(
            a,
            derive_kek(&PinHash([2; 16]), &[0; 16], KdfParams::INSECURE_TEST).unwrap()
        );
        assert_ne!(
            a,
            derive_kek(&pin, &[1; 16], KdfParams::INSECURE_TEST).unwrap()
        );
        let p2 = KdfParams {
            iterations: 2,
            ..KdfParams::INSECURE_TEST
        };
        assert_ne!(a, derive_kek(&pin, &[0; 16], p2).unwrap());
    }

    #[test]
    fn absurd_params_are_refused() {
        let pin = PinHash([1; 16]);
        for p in [
            KdfParams {
                memory_kib: u32::MAX,
                ..KdfParams::default()
            },
            KdfParams {
                iterations: 0,
                ..KdfParams::default()
            },
            KdfParams {
                parallelism: 0,
                ..KdfParams::default()
            },
        ] {
            assert!(matches!(
                derive_kek(&pin, &[0; 16], p),
                Err(StoreError::Corrupt(_))
            ));
        }
    }
}

/// The argon2 crate's error as a `source()` (without its `std` feature it implements `Display`
/// only).
#[derive(Debug)]
struct Argon2Failure(argon2::Error);

impl fmt::Display for Argon2Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Argon2Failure {}
