//! PINs and the messages pinUvAuthParam covers (CTAP 2.1 §6.5.5, §6.8, §6.10, §6.11).
//!
//! For makeCredential and getAssertion the message is the clientDataHash itself; setPIN
//! covers `newPinEnc`; the rest are built here.

use super::PinError;
use aws_lc_rs::digest;
use zeroize::Zeroizing;

/// The padded PIN length: `newPinEnc` encrypts the PIN zero-padded to 64 bytes.
pub const PADDED_PIN_LEN: usize = 64;
/// The longest PIN in bytes (CTAP 2.1 §6.5.5.5: at most 63 bytes).
pub const MAX_PIN_LEN: usize = 63;

/// `LEFT(SHA-256(pin), 16)`, which `pinHashEnc` encrypts.
pub fn pin_hash(pin: &[u8]) -> [u8; 16] {
    let d = digest::digest(&digest::SHA256, pin);
    let mut out = [0u8; 16];
    out.copy_from_slice(&d.as_ref()[..16]);
    out
}

/// Pads a PIN of 1..=63 bytes with zeros to [`PADDED_PIN_LEN`] bytes.
pub fn pad_pin(pin: &[u8]) -> Result<Zeroizing<[u8; PADDED_PIN_LEN]>, PinError> {
    if pin.is_empty() || pin.len() > MAX_PIN_LEN || pin.contains(&0) {
        return Err(PinError::InvalidPin);
    }
    let mut out = Zeroizing::new([0u8; PADDED_PIN_LEN]);
    out[..pin.len()].copy_from_slice(pin);
    Ok(out)
}

/// Recovers the PIN from a decrypted `newPinEnc`: exactly 64 bytes, the PIN up to the first
/// zero byte, at most 63 bytes (CTAP 2.1 §6.5.5.5 step 6).
pub fn unpad_pin(padded: &[u8]) -> Result<Zeroizing<Vec<u8>>, PinError> {
    if padded.len() != PADDED_PIN_LEN {
        return Err(PinError::InvalidPin);
    }
    let len = padded
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(PADDED_PIN_LEN);
    if len == 0 || len > MAX_PIN_LEN || padded[len..].iter().any(|b| *b != 0) {
        return Err(PinError::InvalidPin);
    }
    Ok(Zeroizing::new(padded[..len].to_vec()))
}

/// changePIN's message: `newPinEnc ‖ pinHashEnc`.
pub fn change_pin_message(new_pin_enc: &[u8], pin_hash_enc: &[u8]) -> Vec<u8> {
    [new_pin_enc, pin_hash_enc].concat()
}

/// credentialManagement's message: `subCommand ‖ subCommandParams` (canonical CBOR bytes,
/// empty when there are none).
pub fn cred_mgmt_message(subcommand: u8, params: &[u8]) -> Vec<u8> {
    let mut out = vec![subcommand];
    out.extend_from_slice(params);
    out
}

/// largeBlobs set's message: `32×0xff ‖ h'0c00' ‖ uint32LE(offset) ‖ SHA-256(fragment)`.
pub fn large_blobs_message(offset: u32, fragment: &[u8]) -> Vec<u8> {
    let mut out = vec![0xff; 32];
    out.extend_from_slice(&[0x0c, 0x00]);
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(digest::digest(&digest::SHA256, fragment).as_ref());
    out
}

/// authenticatorConfig's message: `32×0xff ‖ 0x0d ‖ subCommand ‖ subCommandParams`.
pub fn config_message(subcommand: u8, params: &[u8]) -> Vec<u8> {
    let mut out = vec![0xff; 32];
    out.push(0x0d);
    out.push(subcommand);
    out.extend_from_slice(params);
    out
}
