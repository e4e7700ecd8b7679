//! The authenticator side of key agreement (CTAP 2.1 §6.5.6 `initialize`/`regenerate`,
//! `decapsulate`).

use super::platform::{agree, generate_private_key, public_point};
use super::{PinError, PinUvAuthProtocol, Rng, SharedSecret};
use crate::cose::P256Point;
use aws_lc_rs::agreement::PrivateKey;
use core::fmt;

/// The authenticator's key-agreement key pair, regenerated at power-up and after use as the
/// protocol requires. The private key lives inside aws-lc, which clears it on drop.
pub struct KeyAgreementKey {
    private: PrivateKey,
    public: P256Point,
}

impl fmt::Debug for KeyAgreementKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyAgreementKey")
            .field("public", &self.public)
            .field("private", &"<redacted>")
            .finish()
    }
}

impl KeyAgreementKey {
    /// `regenerate()`: a fresh key pair from the injected randomness.
    pub fn generate(rng: &mut dyn Rng) -> Result<Self, PinError> {
        let private = generate_private_key(rng)?;
        let public = public_point(&private)?;
        Ok(Self { private, public })
    }

    /// The public key, sent in getKeyAgreement as an alg -25 COSE key.
    pub fn public_key(&self) -> P256Point {
        self.public
    }

    /// `decapsulate(peerCoseKey)`: agrees with the platform's key and derives the shared
    /// secret. An invalid point is [`PinError::InvalidPeerKey`].
    pub fn decapsulate(
        &self,
        protocol: PinUvAuthProtocol,
        peer: &P256Point,
    ) -> Result<SharedSecret, PinError> {
        agree(protocol, &self.private, peer)
    }
}
