//! The seam between the authenticator and the PIN/UV auth protocols 1 and 2 (CTAP 2.1 §6.5.6,
//! §6.5.7), which the `ctap` crate implements ([`latchkey_ctap::pin`]): key agreement, the shared
//! secret's encrypt / decrypt / verify, and token verification, with this crate's status codes.

use latchkey_ctap::cose::P256Point;
use latchkey_ctap::pin::{self, PinUvAuthProtocol};
use zeroize::Zeroizing;

use crate::env::Rng;
use crate::request::PlatformKey;
use crate::status::Status;

/// A PIN/UV auth protocol version.
pub type Protocol = PinUvAuthProtocol;

/// The protocol a request names: absent → MISSING_PARAMETER, unknown → INVALID_PARAMETER.
pub fn parse_protocol(v: Option<u64>) -> Result<Protocol, Status> {
    match v {
        None => Err(Status::MissingParameter),
        Some(1) => Ok(PinUvAuthProtocol::One),
        Some(2) => Ok(PinUvAuthProtocol::Two),
        Some(_) => Err(Status::InvalidParameter),
    }
}

/// Adapts our RNG to the `ctap` crate's.
struct RngAdapter<'a>(&'a mut dyn Rng);

impl pin::Rng for RngAdapter<'_> {
    fn fill(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }
}

/// The authenticator's key agreement key (one for both protocols, regenerated on power-up and
/// after each PIN mismatch), with the last secret it agreed.
///
/// A platform that keeps its own key for the lifetime of ours (latchkeyd does with its platform
/// authenticator, ARCHITECTURE.md "PIN/UV key agreement kept") sends the same `keyAgreement`
/// every time: the secret agreed with it is kept, so its later tokens cost no ECDH here. The
/// kept secret is the one ECDH would derive again from the same two keys, so nothing a peer sees
/// changes; it dies with this key, which every regeneration replaces (a new `KeyAgreementKey`
/// starts empty).
#[derive(Debug)]
pub struct KeyAgreementKey {
    key: Option<pin::KeyAgreementKey>,
    last: std::sync::Mutex<Option<(Protocol, PlatformKey, SharedSecret)>>,
}

impl KeyAgreementKey {
    /// A new key from `rng`. An RNG that yields no valid scalar leaves no key: key agreement
    /// then fails with CTAP1_ERR_OTHER instead of panicking.
    pub fn generate(rng: &mut dyn Rng) -> Self {
        KeyAgreementKey {
            key: pin::KeyAgreementKey::generate(&mut RngAdapter(rng)).ok(),
            last: std::sync::Mutex::new(None),
        }
    }

    /// getPublicKey.
    pub fn public(&self) -> Result<PlatformKey, Status> {
        let p = self.key.as_ref().ok_or(Status::Other)?.public_key();
        Ok(PlatformKey { x: p.x, y: p.y })
    }

    /// decapsulate; a point not on the curve is INVALID_PARAMETER. The same platform key and
    /// protocol as last time give the secret agreed then.
    pub fn shared_secret(
        &self,
        protocol: Protocol,
        peer: &PlatformKey,
    ) -> Result<SharedSecret, Status> {
        let key = self.key.as_ref().ok_or(Status::Other)?;
        // A poisoned lock only loses the kept secret: agree again.
        let mut last = self.last.lock().ok();
        if let Some(Some((p, k, secret))) = last.as_deref() {
            if *p == protocol && k == peer {
                return Ok(secret.clone());
            }
        }
        let secret = key
            .decapsulate(
                protocol,
                &P256Point {
                    x: peer.x,
                    y: peer.y,
                },
            )
            .map(SharedSecret)
            .map_err(|e| e.status())?;
        if let Some(slot) = last.as_deref_mut() {
            *slot = Some((protocol, peer.clone(), secret.clone()));
        }
        Ok(secret)
    }

    /// Whether a secret is kept (for tests).
    #[cfg(test)]
    pub(crate) fn keeps_a_secret(&self) -> bool {
        matches!(self.last.lock().as_deref(), Ok(Some(_)))
    }
}

/// A shared secret from [`KeyAgreementKey::shared_secret`].
#[derive(Debug, Clone)]
pub struct SharedSecret(pin::SharedSecret);

impl SharedSecret {
    /// The protocol this secret belongs to.
    pub fn protocol(&self) -> Protocol {
        self.0.protocol()
    }

    /// encrypt (protocol 2 draws its IV from `rng`).
    pub fn encrypt(&self, rng: &mut dyn Rng, plaintext: &[u8]) -> Result<Vec<u8>, Status> {
        self.0
            .encrypt(&mut RngAdapter(rng), plaintext)
            .map_err(|e| e.status())
    }

    /// decrypt; a ciphertext of the wrong shape is INVALID_PARAMETER.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, Status> {
        self.0.decrypt(ciphertext).map_err(|e| e.status())
    }

    /// verify.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify(message, signature).is_ok()
    }

    /// authenticate.
    pub fn authenticate(&self, message: &[u8]) -> Vec<u8> {
        self.0.authenticate(message)
    }
}

/// A pinUvAuthToken's HMAC-SHA-256 key (CTAP 2.1 §6.5.6 and §6.5.7 `verify`: both protocols
/// use the whole 32-byte token as the key), prepared once when the token is made: HMAC's inner
/// and outer padded-key states are hashed then, so each command's pinUvAuthParam check hashes
/// only its message, two SHA-256 compressions fewer than [`verify_token`]. aws-lc cleanses the
/// prepared states when this is dropped.
pub struct TokenMac(aws_lc_rs::hmac::Key);

impl core::fmt::Debug for TokenMac {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TokenMac(<redacted>)")
    }
}

impl TokenMac {
    /// The key of `token`.
    pub fn new(token: &[u8; 32]) -> Self {
        TokenMac(aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            token,
        ))
    }

    /// Whether `signature` is `authenticate(token, message)` for `protocol`: the first 16 bytes
    /// of the HMAC for protocol 1, all 32 for protocol 2, of exactly that length, compared in
    /// constant time.
    pub fn verify(&self, protocol: Protocol, message: &[u8], signature: &[u8]) -> bool {
        let tag = aws_lc_rs::hmac::sign(&self.0, message);
        let tag = tag.as_ref();
        let expected = match protocol {
            PinUvAuthProtocol::One => &tag[..tag.len().min(16)],
            PinUvAuthProtocol::Two => tag,
        };
        aws_lc_rs::constant_time::verify_slices_are_equal(expected, signature).is_ok()
    }
}

/// Verifies a pinUvAuthParam made with the pinUvAuthToken.
pub fn verify_token(
    protocol: Protocol,
    token: &[u8; 32],
    message: &[u8],
    signature: &[u8],
) -> bool {
    pin::verify(protocol, token, message, signature).is_ok()
}

/// A getInfo member sealed under the persistent pinUvAuthToken (CTAP 2.2 §6.4), its IV from
/// `rng`.
pub fn seal_info_member(
    token: &[u8; 32],
    member: pin::InfoMember,
    value: &[u8; 16],
    rng: &mut dyn Rng,
) -> Result<Vec<u8>, Status> {
    pin::encrypt_info_member(token, member, value, &mut RngAdapter(rng)).map_err(|_| Status::Other)
}

/// HMAC-SHA-256 (hmac-secret's outputs).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key),
        message,
    );
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

#[cfg(test)]
mod tests;
