//! prf ↔ hmac-secret (WebAuthn L3 §10.1.4, CTAP 2.1 §12.5): the salts, already hashed by the
//! webauthn crate, are encrypted and authenticated under a clientPIN shared secret; the outputs
//! come back encrypted under the same secret.

use latchkey_ctap::extensions::HmacSecretInput;
use latchkey_webauthn::extensions::{PrfOutputs, PrfSalts};
use latchkey_webauthn::WebAuthnError;

use crate::pinuv::Session;

/// The `hmac-secret` (or `hmac-secret-mc`) input for `salts` under `session`.
pub fn input(session: &Session, salts: &PrfSalts) -> Result<HmacSecretInput, WebAuthnError> {
    let mut salt = zeroize::Zeroizing::new(salts.salt1.to_vec());
    if let Some(s2) = &salts.salt2 {
        salt.extend_from_slice(s2);
    }
    let salt_enc = session.encrypt(&salt)?;
    let salt_auth = session.authenticate(&salt_enc);
    Ok(HmacSecretInput {
        key_agreement: session.platform_key,
        salt_enc,
        salt_auth,
        pin_uv_auth_protocol: Some(session.protocol),
    })
}

/// Decrypts the `hmac-secret` output into PRF results; `two` says whether two salts were sent.
pub fn output(session: &Session, encrypted: &[u8], two: bool) -> Result<PrfOutputs, WebAuthnError> {
    let plain = session.decrypt(encrypted)?;
    let want = if two { 64 } else { 32 };
    if plain.len() != want {
        return Err(WebAuthnError::not_allowed(format!(
            "the authenticator's hmac-secret output is {} bytes; {want} were expected",
            plain.len()
        )));
    }
    let mut first = [0u8; 32];
    first.copy_from_slice(plain.get(..32).unwrap_or(&[0u8; 32]));
    let second = if two {
        let mut s = [0u8; 32];
        s.copy_from_slice(plain.get(32..64).unwrap_or(&[0u8; 32]));
        Some(s)
    } else {
        None
    };
    Ok(PrfOutputs { first, second })
}
