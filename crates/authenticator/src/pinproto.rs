//! The seam between the authenticator and the PIN/UV auth protocols 1 and 2 (CTAP 2.1 §6.5.6,
//! §6.5.7): key agreement, the shared secret's encrypt / decrypt / verify, and token
//! verification.
//!
//! Every command reaches the protocols only through this module. It is written on aws-lc-rs
//! primitives (P-256 ECDH, HKDF-SHA-256, AES-256-CBC, HMAC-SHA-256) with the exact shapes of
//! §6.5.6/§6.5.7; the `ctap` crate's `pin` module, the workspace's reference implementation of
//! these protocols, replaces the bodies here once it is available.

use aws_lc_rs::cipher::{
    DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey, AES_256,
};
use aws_lc_rs::{agreement, constant_time, hkdf, hmac};
use zeroize::Zeroizing;

use crate::authenticator::sha256;
use crate::env::Rng;
use crate::request::PlatformKey;
use crate::status::Status;

/// A PIN/UV auth protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// pinUvAuthProtocol 1 (§6.5.6).
    One,
    /// pinUvAuthProtocol 2 (§6.5.7).
    Two,
}

impl Protocol {
    /// A protocol the request names: absent → MISSING_PARAMETER, unknown → INVALID_PARAMETER.
    pub fn parse(v: Option<u64>) -> Result<Self, Status> {
        match v {
            None => Err(Status::MissingParameter),
            Some(1) => Ok(Protocol::One),
            Some(2) => Ok(Protocol::Two),
            Some(_) => Err(Status::InvalidParameter),
        }
    }
}

const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// The authenticator's key agreement key (one for both protocols, regenerated on power-up and
/// after each PIN mismatch).
pub struct KeyAgreementKey {
    secret: Zeroizing<[u8; 32]>,
    public: PlatformKey,
}

impl core::fmt::Debug for KeyAgreementKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyAgreementKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl KeyAgreementKey {
    /// A new key from `rng` (rejection sampling into [1, n-1]).
    pub fn generate(rng: &mut dyn Rng) -> Self {
        loop {
            let mut secret = Zeroizing::new([0u8; 32]);
            rng.fill(secret.as_mut());
            if secret.iter().all(|&b| b == 0) || secret.as_slice() >= P256_ORDER.as_slice() {
                continue;
            }
            let Ok(private) =
                agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, secret.as_ref())
            else {
                continue;
            };
            let Ok(public) = private.compute_public_key() else {
                continue;
            };
            let bytes = public.as_ref();
            let (Some(x), Some(y)) = (bytes.get(1..33), bytes.get(33..65)) else {
                continue;
            };
            let mut px = [0u8; 32];
            let mut py = [0u8; 32];
            px.copy_from_slice(x);
            py.copy_from_slice(y);
            return KeyAgreementKey {
                secret,
                public: PlatformKey { x: px, y: py },
            };
        }
    }

    /// getPublicKey.
    pub fn public(&self) -> PlatformKey {
        self.public.clone()
    }

    /// decapsulate: ECDH with the platform's key, then the protocol's KDF. A point not on the
    /// curve is INVALID_PARAMETER.
    pub fn shared_secret(
        &self,
        protocol: Protocol,
        peer: &PlatformKey,
    ) -> Result<SharedSecret, Status> {
        let private =
            agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, self.secret.as_ref())
                .map_err(|_| Status::Other)?;
        let mut point = Vec::with_capacity(65);
        point.push(0x04);
        point.extend_from_slice(&peer.x);
        point.extend_from_slice(&peer.y);
        let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, point);
        let z = agreement::agree(&private, &peer, Status::InvalidParameter, |z| {
            let mut out = Zeroizing::new([0u8; 32]);
            if z.len() != 32 {
                return Err(Status::InvalidParameter);
            }
            out.copy_from_slice(z);
            Ok(out)
        })?;
        Ok(match protocol {
            Protocol::One => {
                let k = Zeroizing::new(sha256(z.as_ref()));
                SharedSecret {
                    protocol,
                    hmac_key: k.clone(),
                    aes_key: k,
                }
            }
            Protocol::Two => SharedSecret {
                protocol,
                hmac_key: hkdf32(z.as_ref(), b"CTAP2 HMAC key")?,
                aes_key: hkdf32(z.as_ref(), b"CTAP2 AES key")?,
            },
        })
    }
}

fn hkdf32(ikm: &[u8], info: &[u8]) -> Result<Zeroizing<[u8; 32]>, Status> {
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, &[0u8; 32]);
    let prk = salt.extract(ikm);
    let info = [info];
    let okm = prk
        .expand(&info, hkdf::HKDF_SHA256)
        .map_err(|_| Status::Other)?;
    let mut out = Zeroizing::new([0u8; 32]);
    okm.fill(out.as_mut()).map_err(|_| Status::Other)?;
    Ok(out)
}

/// A shared secret from [`KeyAgreementKey::shared_secret`].
#[derive(Clone)]
pub struct SharedSecret {
    protocol: Protocol,
    hmac_key: Zeroizing<[u8; 32]>,
    aes_key: Zeroizing<[u8; 32]>,
}

impl core::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SharedSecret({:?}, <redacted>)", self.protocol)
    }
}

impl SharedSecret {
    /// The protocol this secret belongs to.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// encrypt: protocol 1 AES-256-CBC with a zero IV; protocol 2 a random IV ‖ ciphertext.
    /// `plaintext` must be a multiple of 16 bytes.
    pub fn encrypt(&self, rng: &mut dyn Rng, plaintext: &[u8]) -> Result<Vec<u8>, Status> {
        if plaintext.len() % 16 != 0 {
            return Err(Status::Other);
        }
        let mut iv = [0u8; 16];
        if self.protocol == Protocol::Two {
            rng.fill(&mut iv);
        }
        let key =
            UnboundCipherKey::new(&AES_256, self.aes_key.as_ref()).map_err(|_| Status::Other)?;
        let key = EncryptingKey::cbc(key).map_err(|_| Status::Other)?;
        let mut data = plaintext.to_vec();
        key.less_safe_encrypt(&mut data, EncryptionContext::Iv128(iv.into()))
            .map_err(|_| Status::Other)?;
        Ok(match self.protocol {
            Protocol::One => data,
            Protocol::Two => {
                let mut out = iv.to_vec();
                out.extend_from_slice(&data);
                out
            }
        })
    }

    /// decrypt. A ciphertext of the wrong shape is INVALID_PARAMETER.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, Status> {
        let (iv, body) = match self.protocol {
            Protocol::One => ([0u8; 16], ciphertext),
            Protocol::Two => {
                if ciphertext.len() < 16 {
                    return Err(Status::InvalidParameter);
                }
                let (iv, body) = ciphertext.split_at(16);
                let mut fixed = [0u8; 16];
                fixed.copy_from_slice(iv);
                (fixed, body)
            }
        };
        if body.is_empty() || body.len() % 16 != 0 {
            return Err(Status::InvalidParameter);
        }
        let key =
            UnboundCipherKey::new(&AES_256, self.aes_key.as_ref()).map_err(|_| Status::Other)?;
        let key = DecryptingKey::cbc(key).map_err(|_| Status::Other)?;
        let mut data = Zeroizing::new(body.to_vec());
        key.decrypt(&mut data, DecryptionContext::Iv128(iv.into()))
            .map_err(|_| Status::InvalidParameter)?;
        Ok(data)
    }

    /// verify: `signature` is authenticate(key, message) (16 bytes for protocol 1, 32 for 2).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        verify_with_key(self.protocol, self.hmac_key.as_ref(), message, signature)
    }

    /// authenticate (for tests and for clients built on this crate).
    pub fn authenticate(&self, message: &[u8]) -> Vec<u8> {
        authenticate(self.protocol, self.hmac_key.as_ref(), message)
    }
}

/// authenticate(key, message): HMAC-SHA-256, truncated to 16 bytes for protocol 1.
pub fn authenticate(protocol: Protocol, key: &[u8], message: &[u8]) -> Vec<u8> {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), message);
    match protocol {
        Protocol::One => tag.as_ref().get(..16).unwrap_or_default().to_vec(),
        Protocol::Two => tag.as_ref().to_vec(),
    }
}

fn verify_with_key(protocol: Protocol, key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let expected = authenticate(protocol, key, message);
    expected.len() == signature.len()
        && constant_time::verify_slices_are_equal(&expected, signature).is_ok()
}

/// Verifies a pinUvAuthParam made with the pinUvAuthToken.
pub fn verify_token(
    protocol: Protocol,
    token: &[u8; 32],
    message: &[u8],
    signature: &[u8],
) -> bool {
    verify_with_key(protocol, token, message, signature)
}

/// HMAC-SHA-256 (hmac-secret's outputs).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), message);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

#[cfg(test)]
mod tests;
