//! A batch attestation key and certificate for the authenticator under test.
//!
//! U2F has no self attestation: `fido-authenticator` refuses U2F_REGISTER unless its Trussed
//! store holds a P-256 attestation key and an X.509 certificate under the special IDs 0 (FIDO U2F
//! Raw Message Formats §4.3). A fresh key and a self-signed certificate are made here, with the
//! same DER encoder the Latchkey authenticator uses for its own U2F certificate
//! ([`latchkey_authenticator::u2f_cert`], RFC 5280 §4.1), and handed to the store as files.

use std::fmt;

use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use zeroize::Zeroizing;

/// Why no attestation could be made.
#[derive(Debug, thiserror::Error)]
pub enum AttestationError {
    /// The crypto library failed to make or use the key.
    #[error("the attestation key could not be {0}")]
    Crypto(&'static str),
    /// The certificate encoder refused the public key.
    #[error("the attestation certificate could not be encoded")]
    Certificate,
}

/// Trussed's serialized key header: flags (big-endian u16) then kind (big-endian u16), then the
/// key material (trussed 0.2 `key::Key::serialize`).
const FLAGS_SENSITIVE: u16 = 1 << 1;
/// `key::Kind::P256`'s code.
const KIND_P256: u16 = 5;

/// An attestation key (as Trussed stores it) and its certificate (DER).
pub struct Attestation {
    /// `flags ‖ kind ‖ private scalar`, the content of `<client>/sec/00`.
    key_file: Zeroizing<Vec<u8>>,
    /// The certificate, the content of `<client>/x5c/00`.
    pub certificate: Vec<u8>,
    /// The attestation public key, an uncompressed SEC1 point.
    pub public_key: Vec<u8>,
}

impl fmt::Debug for Attestation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attestation")
            .field("certificate_len", &self.certificate.len())
            .finish_non_exhaustive()
    }
}

impl Attestation {
    /// A fresh P-256 key and a self-signed certificate for it.
    pub fn generate() -> Result<Self, AttestationError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
            .map_err(|_| AttestationError::Crypto("generated"))?;
        let scalar = pair
            .private_key()
            .as_be_bytes()
            .map_err(|_| AttestationError::Crypto("exported"))?;
        let public_key = pair.public_key().as_ref().to_vec();

        let mut serial = [0u8; 16];
        aws_lc_rs::rand::fill(&mut serial).map_err(|_| AttestationError::Crypto("numbered"))?;
        let tbs = latchkey_authenticator::u2f_cert::tbs_certificate(&public_key, &serial)
            .map_err(|_| AttestationError::Certificate)?;
        let signature = pair
            .sign(&SystemRandom::new(), &tbs)
            .map_err(|_| AttestationError::Crypto("used to sign"))?;
        let certificate = latchkey_authenticator::u2f_cert::certificate(&tbs, signature.as_ref());

        let mut key_file = Zeroizing::new(Vec::with_capacity(4 + 32));
        key_file.extend_from_slice(&FLAGS_SENSITIVE.to_be_bytes());
        key_file.extend_from_slice(&KIND_P256.to_be_bytes());
        key_file.extend_from_slice(scalar.as_ref());
        Ok(Self {
            key_file,
            certificate,
            public_key,
        })
    }

    /// The key as Trussed stores it.
    pub fn key_file(&self) -> &[u8] {
        &self.key_file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_a_sensitive_p256_key_and_the_certificate_holds_its_public_key() {
        let a = Attestation::generate().unwrap();
        assert_eq!(&a.key_file()[..4], &[0x00, 0x02, 0x00, 0x05]);
        assert_eq!(a.key_file().len(), 36);
        assert_eq!(a.public_key.len(), 65);
        assert_eq!(a.public_key[0], 0x04);
        assert_eq!(a.certificate[0], 0x30, "a DER SEQUENCE");
        let at = a
            .certificate
            .windows(65)
            .position(|w| w == a.public_key.as_slice());
        assert!(at.is_some(), "the certificate carries the public key");
        let b = Attestation::generate().unwrap();
        assert_ne!(a.key_file(), b.key_file());
    }
}
