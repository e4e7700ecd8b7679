//! The hmac-secret extension (CTAP 2.1 §12.5) and hmac-secret-mc (CTAP 2.2 §12.6).
//!
//! The platform sends salts encrypted under a PIN/UV protocol shared secret; the authenticator
//! answers HMAC-SHA-256(CredRandom, salt) for one or two salts, encrypted the same way.
//! CredRandomWithUV is used when the user was verified, CredRandomWithoutUV otherwise, so the
//! outputs differ with and without UV.

use zeroize::Zeroizing;

use crate::env::Rng;
use crate::pinproto::{hmac_sha256, KeyAgreementKey, SharedSecret};
use crate::request::HmacSecretInput;
use crate::status::Status;

/// Derives the shared secret, authenticates saltEnc with saltAuth and decrypts the salts
/// (32 or 64 bytes).
pub(crate) fn open_salts(
    key_agreement: &KeyAgreementKey,
    input: &HmacSecretInput,
) -> Result<(SharedSecret, Zeroizing<Vec<u8>>), Status> {
    let protocol = crate::pinproto::parse_protocol(Some(input.protocol.unwrap_or(1)))?;
    let shared = key_agreement.shared_secret(protocol, &input.key_agreement)?;
    if !shared.verify(&input.salt_enc, &input.salt_auth) {
        return Err(Status::PinAuthInvalid);
    }
    let salts = shared.decrypt(&input.salt_enc)?;
    if salts.len() != 32 && salts.len() != 64 {
        return Err(Status::InvalidLength);
    }
    Ok((shared, salts))
}

/// encrypt(shared, HMAC(secret, salt1) ‖ [HMAC(secret, salt2)]).
pub(crate) fn outputs(
    shared: &SharedSecret,
    secret: &[u8; 32],
    salts: &[u8],
    rng: &mut dyn Rng,
) -> Result<Vec<u8>, Status> {
    let mut plain = Zeroizing::new(Vec::with_capacity(64));
    for salt in salts.chunks(32) {
        plain.extend_from_slice(&hmac_sha256(secret, salt));
    }
    shared.encrypt(rng, &plain)
}
