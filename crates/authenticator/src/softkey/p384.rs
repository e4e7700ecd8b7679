//! P-384 (ES384) software keys.
//!
//! A new key's public point is computed by aws-lc from an RFC 5915 `ECPrivateKey` that carries
//! only the scalar and the curve; a stored key (`scalar ‖ point`) is loaded with both, and aws-lc
//! checks that they belong together. ES384 is rarer than ES256, so it gets the safe API's
//! general entry points rather than ES256's hand-tuned PKCS#8 path.

use aws_lc_rs::signature::{self, KeyPair as _};
use zeroize::Zeroizing;

use crate::store::{CryptoOperation, StoreError};

/// The order of the P-384 group (SEC 2 §2.5.1): scalars are in [1, n-1].
pub(super) const ORDER: [u8; 48] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
];

/// Length of a scalar.
pub(super) const SCALAR_LEN: usize = 48;

/// Length of an uncompressed SEC1 P-384 point (0x04 ‖ x ‖ y).
pub(super) const POINT_LEN: usize = 97;

/// `ECPrivateKey ::= SEQUENCE { INTEGER 1, OCTET STRING (48) {` — the scalar follows, then
/// [`CURVE`] (RFC 5915 §3).
const HEAD: [u8; 7] = [0x30, 0x3e, 0x02, 0x01, 0x01, 0x04, 0x30];
/// `[0] { OBJECT IDENTIFIER secp384r1 (1.3.132.0.34) } }`.
const CURVE: [u8; 9] = [0xa0, 0x07, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/// The key pair of a scalar; scalars outside [1, n-1] are refused.
pub(super) fn from_scalar(secret: &[u8]) -> Result<(Vec<u8>, signature::EcdsaKeyPair), StoreError> {
    let invalid = || StoreError::crypto(CryptoOperation::KeyLoading);
    if secret.len() != SCALAR_LEN || secret.iter().all(|&b| b == 0) || secret >= ORDER.as_slice() {
        return Err(invalid());
    }
    let mut der = Zeroizing::new(Vec::with_capacity(HEAD.len() + SCALAR_LEN + CURVE.len()));
    der.extend_from_slice(&HEAD);
    der.extend_from_slice(secret);
    der.extend_from_slice(&CURVE);
    let pair = signature::EcdsaKeyPair::from_private_key_der(
        &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        &der,
    )
    .map_err(|_| invalid())?;
    let public = pair.public_key().as_ref().to_vec();
    if public.len() != POINT_LEN {
        return Err(StoreError::crypto(CryptoOperation::KeyLoading));
    }
    Ok((public, pair))
}

/// Loads `scalar ‖ point`, checking that the point is the scalar's.
pub(super) fn load(bytes: &[u8]) -> Option<signature::EcdsaKeyPair> {
    if bytes.len() != SCALAR_LEN + POINT_LEN {
        return None;
    }
    let (secret, public) = bytes.split_at(SCALAR_LEN);
    signature::EcdsaKeyPair::from_private_key_and_public_key(
        &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        secret,
        public,
    )
    .ok()
}

/// A fresh key pair from aws-lc's own generator (the operating system's randomness, one
/// multiplication, no consistency test to pay): the scalar, the public key and the loaded pair.
pub(super) fn generate() -> Result<super::GeneratedEcdsa, StoreError> {
    use aws_lc_rs::encoding::AsBigEndian as _;
    let failed = || StoreError::crypto(CryptoOperation::KeyGeneration);
    let pair = signature::EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_ASN1_SIGNING)
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
