//! The shared secret and the encrypt/decrypt/authenticate/verify operations of protocols 1
//! and 2 (CTAP 2.1 §6.5.6, §6.5.7).

use super::{PinError, PinUvAuthProtocol, Rng};
use aws_lc_rs::cipher::{
    DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey, AES_256,
};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::{constant_time, digest, hkdf, hmac};
use core::fmt;
use zeroize::{Zeroize, Zeroizing};

const BLOCK: usize = 16;

/// The secret both sides derive from ECDH (the protocol's `kdf(Z)`): 32 bytes for protocol 1
/// (SHA-256(Z)), 64 bytes for protocol 2 (HMAC key ‖ AES key). Zeroised on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedSecret {
    protocol: PinUvAuthProtocol,
    bytes: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedSecret")
            .field("protocol", &self.protocol)
            .field("bytes", &"<redacted>")
            .finish()
    }
}

impl SharedSecret {
    /// `kdf(Z)` for `protocol`, from the ECDH x-coordinate `z`.
    pub(crate) fn derive(protocol: PinUvAuthProtocol, z: &[u8]) -> Result<Self, PinError> {
        let bytes = match protocol {
            PinUvAuthProtocol::One => digest::digest(&digest::SHA256, z).as_ref().to_vec(),
            PinUvAuthProtocol::Two => {
                let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[0u8; 32]).extract(z);
                let mut out = vec![0u8; 64];
                for (info, chunk) in [b"CTAP2 HMAC key".as_slice(), b"CTAP2 AES key"]
                    .iter()
                    .zip(out.chunks_mut(32))
                {
                    prk.expand(&[info], hkdf::HKDF_SHA256)
                        .and_then(|okm| okm.fill(chunk))
                        .map_err(|_| PinError::Crypto)?;
                }
                out
            }
        };
        Ok(Self {
            protocol,
            bytes: Zeroizing::new(bytes),
        })
    }

    /// Builds a shared secret from raw bytes (32 for protocol 1, 64 for protocol 2), for
    /// known-answer tests and persisted state.
    pub fn from_bytes(protocol: PinUvAuthProtocol, bytes: &[u8]) -> Option<Self> {
        let want = match protocol {
            PinUvAuthProtocol::One => 32,
            PinUvAuthProtocol::Two => 64,
        };
        (bytes.len() == want).then(|| Self {
            protocol,
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// The protocol this secret belongs to.
    pub fn protocol(&self) -> PinUvAuthProtocol {
        self.protocol
    }

    /// The raw secret (for the hmac-secret extension and tests). Handle with care.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    fn aes_key(&self) -> &[u8] {
        match self.protocol {
            PinUvAuthProtocol::One => &self.bytes,
            PinUvAuthProtocol::Two => &self.bytes[32..],
        }
    }

    /// `encrypt(key, demPlaintext)`: protocol 1 is AES-256-CBC with a zero IV; protocol 2
    /// prepends a random IV drawn from `rng`. The plaintext must be whole AES blocks.
    pub fn encrypt(&self, rng: &mut dyn Rng, plaintext: &[u8]) -> Result<Vec<u8>, PinError> {
        if plaintext.len() % BLOCK != 0 {
            return Err(PinError::InvalidPlaintextLength);
        }
        let mut iv = [0u8; BLOCK];
        if self.protocol == PinUvAuthProtocol::Two {
            rng.fill(&mut iv);
        }
        let mut data = plaintext.to_vec();
        cbc_encrypt(self.aes_key(), iv, &mut data)?;
        Ok(match self.protocol {
            PinUvAuthProtocol::One => data,
            PinUvAuthProtocol::Two => {
                let mut out = iv.to_vec();
                out.extend_from_slice(&data);
                out
            }
        })
    }

    /// `decrypt(key, ciphertext)`; the result is zeroised on drop.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, PinError> {
        let (iv, body) = match self.protocol {
            PinUvAuthProtocol::One => ([0u8; BLOCK], ciphertext),
            PinUvAuthProtocol::Two => {
                if ciphertext.len() < BLOCK {
                    return Err(PinError::InvalidCiphertextLength);
                }
                let (iv, body) = ciphertext.split_at(BLOCK);
                let mut a = [0u8; BLOCK];
                a.copy_from_slice(iv);
                (a, body)
            }
        };
        if body.is_empty() || body.len() % BLOCK != 0 {
            return Err(PinError::InvalidCiphertextLength);
        }
        let mut data = Zeroizing::new(body.to_vec());
        cbc_decrypt(self.aes_key(), iv, &mut data)?;
        Ok(data)
    }

    /// `authenticate(sharedSecret, message)` (the HMAC key half for protocol 2).
    pub fn authenticate(&self, message: &[u8]) -> Vec<u8> {
        authenticate(self.protocol, &self.bytes, message)
    }

    /// `verify(sharedSecret, message, signature)`, in constant time.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), PinError> {
        verify(self.protocol, &self.bytes, message, signature)
    }
}

/// `authenticate(key, message)` with a shared secret or a pinUvAuthToken as `key`:
/// protocol 1 gives the first 16 bytes of HMAC-SHA-256(key, message); protocol 2 uses the
/// first 32 bytes of `key` and gives all 32 bytes.
pub fn authenticate(protocol: PinUvAuthProtocol, key: &[u8], message: &[u8]) -> Vec<u8> {
    let key = match protocol {
        PinUvAuthProtocol::One => key,
        PinUvAuthProtocol::Two => &key[..key.len().min(32)],
    };
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), message);
    let tag = tag.as_ref();
    match protocol {
        PinUvAuthProtocol::One => tag[..16].to_vec(),
        PinUvAuthProtocol::Two => tag.to_vec(),
    }
}

/// `verify(key, message, signature)`: the signature must have the protocol's exact length
/// (16 or 32 bytes) and match in constant time.
pub fn verify(
    protocol: PinUvAuthProtocol,
    key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), PinError> {
    let mut expected = authenticate(protocol, key, message);
    let ok = constant_time::verify_slices_are_equal(&expected, signature).is_ok();
    expected.zeroize();
    if ok {
        Ok(())
    } else {
        Err(PinError::BadAuthentication)
    }
}

fn cipher_key(key: &[u8]) -> Result<UnboundCipherKey, PinError> {
    UnboundCipherKey::new(&AES_256, key).map_err(|_| PinError::Crypto)
}

fn cbc_encrypt(key: &[u8], iv: [u8; BLOCK], data: &mut [u8]) -> Result<(), PinError> {
    let key = EncryptingKey::cbc(cipher_key(key)?).map_err(|_| PinError::Crypto)?;
    key.less_safe_encrypt(data, EncryptionContext::Iv128(FixedLength::from(iv)))
        .map(|_| ())
        .map_err(|_| PinError::Crypto)
}

fn cbc_decrypt(key: &[u8], iv: [u8; BLOCK], data: &mut [u8]) -> Result<(), PinError> {
    let key = DecryptingKey::cbc(cipher_key(key)?).map_err(|_| PinError::Crypto)?;
    key.decrypt(data, DecryptionContext::Iv128(FixedLength::from(iv)))
        .map(|_| ())
        .map_err(|_| PinError::Crypto)
}
