//! PIN/UV auth protocols 1 and 2 (CTAP 2.1 §6.5.6, §6.5.7), sans-I/O, and the getInfo members
//! sealed under the persistent pinUvAuthToken (CTAP 2.2 §6.4, [`encrypt_info_member`]).
//!
//! <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-errata-20220621.html#pinProto1>
//!
//! Both sides of the protocol live here: the platform (`platform`) encapsulates against the
//! authenticator's key-agreement key; the authenticator (`authenticator`) regenerates that
//! key from injected randomness and decapsulates. Randomness is always an argument
//! ([`Rng`]); nothing here reads a clock or an OS RNG.

mod authenticator;
mod messages;
mod persistent;
mod platform;
mod protocol;

#[cfg(test)]
mod tests;

pub use authenticator::KeyAgreementKey;
pub use messages::{
    change_pin_message, config_message, cred_mgmt_message, large_blobs_message, pad_pin, pin_hash,
    unpad_pin, MAX_PIN_LEN, PADDED_PIN_LEN,
};
pub use persistent::{decrypt_info_member, encrypt_info_member, InfoMember};
pub use platform::encapsulate;
pub use protocol::{authenticate, verify, SharedSecret};

use crate::cbor::{FromValue, Value};
use crate::error::Error;
use crate::status::StatusCode;

/// Why a PIN/UV auth protocol operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// The peer's public key is not a valid P-256 point (`CTAP1_ERR_INVALID_PARAMETER`).
    #[error("peer key-agreement key is not a valid P-256 point")]
    InvalidPeerKey,
    /// A ciphertext is empty or not a whole number of AES blocks (or lacks the protocol 2
    /// IV) (`CTAP1_ERR_INVALID_PARAMETER`).
    #[error("ciphertext length is not valid for this protocol")]
    InvalidCiphertextLength,
    /// A plaintext to encrypt is not a whole number of AES blocks (a caller bug).
    #[error("plaintext length is not a multiple of 16")]
    InvalidPlaintextLength,
    /// A pinUvAuthParam or saltAuth does not verify (`CTAP2_ERR_PIN_AUTH_INVALID`).
    #[error("authentication tag does not verify")]
    BadAuthentication,
    /// A PIN is longer than 63 bytes or a padded PIN is malformed
    /// (`CTAP2_ERR_PIN_POLICY_VIOLATION`).
    #[error("PIN is empty, too long or badly padded")]
    InvalidPin,
    /// The injected randomness never produced a valid private key.
    #[error("randomness did not yield a valid P-256 private key")]
    BadRandomness,
    /// The cryptographic library failed unexpectedly.
    #[error("cryptographic library failure")]
    Crypto,
}

impl PinError {
    /// The status code an authenticator answers with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidPeerKey | Self::InvalidCiphertextLength => StatusCode::InvalidParameter,
            Self::BadAuthentication => StatusCode::PinAuthInvalid,
            Self::InvalidPin => StatusCode::PinPolicyViolation,
            Self::InvalidPlaintextLength | Self::BadRandomness | Self::Crypto => StatusCode::Other,
        }
    }
}

/// A PIN/UV auth protocol version (CTAP 2.1 §6.5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PinUvAuthProtocol {
    /// Protocol 1 (CTAP 2.1 §6.5.6).
    One = 1,
    /// Protocol 2 (CTAP 2.1 §6.5.7).
    Two = 2,
}

impl PinUvAuthProtocol {
    /// The protocol's number on the wire.
    pub fn id(self) -> u8 {
        self as u8
    }
}

impl From<PinUvAuthProtocol> for Value {
    fn from(p: PinUvAuthProtocol) -> Self {
        Value::from(p.id())
    }
}

impl FromValue for PinUvAuthProtocol {
    /// 1 or 2; another number is `CTAP1_ERR_INVALID_PARAMETER` (unsupported protocol).
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        match u64::from_value(value, field)? {
            1 => Ok(Self::One),
            2 => Ok(Self::Two),
            _ => Err(Error::invalid(field, "unsupported PIN/UV auth protocol")),
        }
    }
}

/// pinUvAuthToken permissions (CTAP 2.1 §6.5.5.7), a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions(pub u64);

impl Permissions {
    /// `mc` 0x01: makeCredential.
    pub const MAKE_CREDENTIAL: Self = Self(0x01);
    /// `ga` 0x02: getAssertion.
    pub const GET_ASSERTION: Self = Self(0x02);
    /// `cm` 0x04: credentialManagement.
    pub const CREDENTIAL_MANAGEMENT: Self = Self(0x04);
    /// `be` 0x08: bioEnrollment.
    pub const BIO_ENROLLMENT: Self = Self(0x08);
    /// `lbw` 0x10: largeBlobWrite.
    pub const LARGE_BLOB_WRITE: Self = Self(0x10);
    /// `acfg` 0x20: authenticatorConfig.
    pub const AUTHENTICATOR_CONFIG: Self = Self(0x20);
    /// `pcmr` 0x40: persistentCredentialManagementReadOnly (CTAP 2.2).
    pub const PERSISTENT_CREDENTIAL_MANAGEMENT_READ_ONLY: Self = Self(0x40);

    /// Whether every bit of `other` is set here.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no bit is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for Permissions {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl FromValue for Permissions {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        Ok(Self(u64::from_value(value, field)?))
    }
}

impl From<Permissions> for Value {
    fn from(p: Permissions) -> Self {
        Value::from(p.0)
    }
}

/// A source of randomness, injected by the caller.
pub trait Rng {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> Rng for F {
    fn fill(&mut self, dest: &mut [u8]) {
        self(dest)
    }
}
