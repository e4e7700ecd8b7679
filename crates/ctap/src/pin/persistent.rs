//! The getInfo members sealed under the persistent pinUvAuthToken (CTAP 2.2 §6.4: `encIdentifier`
//! 0x19 and `encCredStoreState` 0x1E).
//!
//! <https://fidoalliance.org/specs/fido-v2.2-ps-20250714/fido-client-to-authenticator-protocol-v2.2-ps-20250714.html#authenticatorGetInfo>
//!
//! Each is `IV ‖ AES-128-CBC(key, IV, value)` over a 16-byte value, with
//! `key = HKDF-SHA-256(salt = 32 zero bytes, IKM = persistentPinUvAuthToken, info = member name,
//! L = 16)`. A fresh IV every time makes the encrypted value change at every getInfo, so only a
//! platform holding the persistent token can tell two answers (or two authenticators) apart.

use aws_lc_rs::cipher::{
    DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128,
};
use aws_lc_rs::hkdf;
use aws_lc_rs::iv::FixedLength;
use zeroize::Zeroizing;

use super::{PinError, Rng};

/// Length of the value, of the IV and of the derived key.
const BLOCK: usize = 16;

/// The HKDF output length: one AES-128 key.
struct KeyLen;

impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        BLOCK
    }
}

/// Which getInfo member a value is (its name is the HKDF `info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoMember {
    /// 0x19 `encIdentifier`: a stable identifier of the authenticator.
    Identifier,
    /// 0x1E `encCredStoreState`: changes whenever the discoverable credentials change.
    CredStoreState,
}

impl InfoMember {
    fn info(self) -> &'static [u8] {
        match self {
            Self::Identifier => b"encIdentifier",
            Self::CredStoreState => b"encCredStoreState",
        }
    }

    fn key(self, token: &[u8]) -> Result<Zeroizing<[u8; BLOCK]>, PinError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[0u8; 32]).extract(token);
        let mut key = Zeroizing::new([0u8; BLOCK]);
        prk.expand(&[self.info()], KeyLen)
            .and_then(|okm| okm.fill(key.as_mut()))
            .map_err(|_| PinError::Crypto)?;
        Ok(key)
    }
}

/// The authenticator's side: `IV ‖ AES-128-CBC(key(token, member), IV, value)`, the IV from `rng`.
pub fn encrypt_info_member(
    token: &[u8],
    member: InfoMember,
    value: &[u8; BLOCK],
    rng: &mut dyn Rng,
) -> Result<Vec<u8>, PinError> {
    let mut iv = [0u8; BLOCK];
    rng.fill(&mut iv);
    let key = member.key(token)?;
    let key = UnboundCipherKey::new(&AES_128, key.as_ref()).map_err(|_| PinError::Crypto)?;
    let key = EncryptingKey::cbc(key).map_err(|_| PinError::Crypto)?;
    let mut data = value.to_vec();
    key.less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| PinError::Crypto)?;
    let mut out = iv.to_vec();
    out.extend_from_slice(&data);
    Ok(out)
}

/// The platform's side: the 16-byte value of an encrypted member, with the persistent token.
/// Anything but `IV ‖ one block` is [`PinError::InvalidCiphertextLength`]; a wrong token gives
/// a wrong value, not an error (CBC has no integrity).
pub fn decrypt_info_member(
    token: &[u8],
    member: InfoMember,
    encrypted: &[u8],
) -> Result<[u8; BLOCK], PinError> {
    if encrypted.len() != 2 * BLOCK {
        return Err(PinError::InvalidCiphertextLength);
    }
    let (iv, body) = encrypted.split_at(BLOCK);
    let mut iv_block = [0u8; BLOCK];
    iv_block.copy_from_slice(iv);
    let key = member.key(token)?;
    let key = UnboundCipherKey::new(&AES_128, key.as_ref()).map_err(|_| PinError::Crypto)?;
    let key = DecryptingKey::cbc(key).map_err(|_| PinError::Crypto)?;
    let mut data = [0u8; BLOCK];
    data.copy_from_slice(body);
    key.decrypt(
        &mut data,
        DecryptionContext::Iv128(FixedLength::from(iv_block)),
    )
    .map_err(|_| PinError::Crypto)?;
    Ok(data)
}
