//! P-256 (ES256) software keys: the private scalar as aws-lc loads it.

use aws_lc_rs::signature::{self, KeyPair as _};
use zeroize::Zeroizing;

use crate::store::{CryptoOperation, StoreError};

/// The order of the P-256 group (SEC 2 §2.4.2): scalars are in [1, n-1].
pub(super) const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Length of an uncompressed SEC1 P-256 point (0x04 ‖ x ‖ y).
pub(super) const POINT_LEN: usize = 65;

/// PKCS#8 v1 `PrivateKeyInfo` (RFC 5208 §5) of a P-256 key up to its `ECPrivateKey` (RFC 5915
/// §3): the header when the public key is included, and when it is left out.
mod der {
    /// `SEQUENCE { INTEGER 0, AlgorithmIdentifier { id-ecPublicKey, prime256v1 }, OCTET STRING {`
    /// `SEQUENCE { INTEGER 1, OCTET STRING (32) {` — the scalar follows, then [`PUBLIC_TAG`] and
    /// the point.
    pub(super) const WITH_PUBLIC: [u8; 35] = [
        0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
        0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30,
        0x6b, 0x02, 0x01, 0x01, 0x04,
    ];
    /// `[1] { BIT STRING (0 unused bits) {` — the 65-byte point follows.
    pub(super) const PUBLIC_TAG: [u8; 5] = [0xa1, 0x44, 0x03, 0x42, 0x00];
    /// As [`WITH_PUBLIC`] for a document that ends after the scalar.
    pub(super) const SCALAR_ONLY: [u8; 34] = [
        0x30, 0x41, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
        0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x27, 0x30, 0x25,
        0x02, 0x01, 0x01, 0x04,
    ];
    /// Length byte of the 32-byte scalar's OCTET STRING.
    pub(super) const SCALAR_LEN: u8 = 0x20;
    /// Whole document with the public key.
    pub(super) const WITH_PUBLIC_LEN: usize = WITH_PUBLIC.len() + 1 + 32 + PUBLIC_TAG.len() + 65;
}

/// The PKCS#8 document of a P-256 scalar and, if given, its public point; zeroised on drop.
pub(super) fn pkcs8(secret: &[u8], public: Option<&[u8]>) -> Zeroizing<Vec<u8>> {
    let mut doc = Zeroizing::new(Vec::with_capacity(der::WITH_PUBLIC_LEN));
    match public {
        Some(point) => {
            doc.extend_from_slice(&der::WITH_PUBLIC);
            doc.push(der::SCALAR_LEN);
            doc.extend_from_slice(secret);
            doc.extend_from_slice(&der::PUBLIC_TAG);
            doc.extend_from_slice(point);
        }
        None => {
            doc.extend_from_slice(&der::SCALAR_ONLY);
            doc.push(der::SCALAR_LEN);
            doc.extend_from_slice(secret);
        }
    }
    doc
}

/// The key pair of a scalar: aws-lc computes the public key (one multiplication) and tests it
/// (another); it refuses 0 and scalars not below the group order.
pub(super) fn from_scalar(secret: &[u8]) -> Result<(Vec<u8>, signature::EcdsaKeyPair), StoreError> {
    let invalid = || StoreError::crypto(CryptoOperation::KeyLoading);
    if secret.len() != 32 {
        return Err(invalid());
    }
    let pair = signature::EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &pkcs8(secret, None),
    )
    .map_err(|_| invalid())?;
    let public = pair.public_key().as_ref().to_vec();
    if public.len() != POINT_LEN {
        return Err(StoreError::crypto(CryptoOperation::KeyLoading));
    }
    Ok((public, pair))
}

/// Loads `scalar ‖ point`, checking that the point is the scalar's (one multiplication).
pub(super) fn load(bytes: &[u8]) -> Option<signature::EcdsaKeyPair> {
    if bytes.len() != 32 + POINT_LEN {
        return None;
    }
    let (secret, public) = bytes.split_at(32);
    signature::EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &pkcs8(secret, Some(public)),
    )
    .ok()
}

/// A fresh key pair from aws-lc's own generator (the operating system's randomness, one
/// multiplication, no consistency test to pay): the scalar, the public key and the loaded pair.
pub(super) fn generate() -> Result<super::GeneratedEcdsa, StoreError> {
    use aws_lc_rs::encoding::AsBigEndian as _;
    let failed = || StoreError::crypto(CryptoOperation::KeyGeneration);
    let pair = signature::EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING)
        .map_err(|_| failed())?;
    let scalar = pair.private_key().as_be_bytes().map_err(|_| failed())?;
    let secret = Zeroizing::new(scalar.as_ref().to_vec());
    drop(scalar);
    let public = pair.public_key().as_ref().to_vec();
    if public.len() != POINT_LEN {
        return Err(failed());
    }
    Ok((secret, public, pair))
}
