//! The platform side of key agreement (CTAP 2.1 §6.5.6 `encapsulate`).

use super::{PinError, PinUvAuthProtocol, Rng, SharedSecret};
use crate::cose::P256Point;
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, ECDH_P256};
use zeroize::Zeroizing;

/// `encapsulate(peerCoseKey)`: generates an ephemeral P-256 key from `rng`, agrees with the
/// authenticator's key-agreement key `peer`, and returns the platform public key to send as
/// `keyAgreement` with the derived shared secret.
pub fn encapsulate(
    protocol: PinUvAuthProtocol,
    peer: &P256Point,
    rng: &mut dyn Rng,
) -> Result<(P256Point, SharedSecret), PinError> {
    let private = generate_private_key(rng)?;
    let public = public_point(&private)?;
    let secret = agree(protocol, &private, peer)?;
    Ok((public, secret))
}

/// Draws P-256 scalars from `rng` until one is valid (in `1..n`); gives up after 16 tries,
/// which a working RNG fails with probability below 2^-500.
pub(crate) fn generate_private_key(rng: &mut dyn Rng) -> Result<PrivateKey, PinError> {
    for _ in 0..16 {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill(seed.as_mut_slice());
        if let Ok(key) = PrivateKey::from_private_key(&ECDH_P256, seed.as_slice()) {
            return Ok(key);
        }
    }
    Err(PinError::BadRandomness)
}

pub(crate) fn public_point(private: &PrivateKey) -> Result<P256Point, PinError> {
    let public = private.compute_public_key().map_err(|_| PinError::Crypto)?;
    P256Point::from_sec1(public.as_ref()).ok_or(PinError::Crypto)
}

/// ECDH with `peer`, then the protocol's kdf.
pub(crate) fn agree(
    protocol: PinUvAuthProtocol,
    private: &PrivateKey,
    peer: &P256Point,
) -> Result<SharedSecret, PinError> {
    let peer = UnparsedPublicKey::new(&ECDH_P256, peer.to_sec1());
    agreement::agree(private, peer, PinError::InvalidPeerKey, |z| {
        SharedSecret::derive(protocol, z)
    })
}
