//! U2F response bodies: registration (§4.3) and authentication (§5.4), built and parsed.
//!
//! <https://fidoalliance.org/specs/fido-u2f-v1.2-ps-20170411/fido-u2f-raw-message-formats-v1.2-ps-20170411.html#registration-response-message-success>

use std::fmt;

use super::request::KeyHandle;
use super::REGISTER_RESERVED;

/// Bit 0 of the authentication response's first byte: the user was present.
pub const USER_PRESENCE_FLAG: u8 = 0x01;

/// Why a U2F response body does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseError {
    /// The body ends before a fixed-size field.
    TooShort,
    /// The registration response does not start with the reserved byte 0x05.
    BadReservedByte(u8),
    /// The public key is not an uncompressed P-256 point (0x04 ‖ X ‖ Y).
    BadPublicKey,
    /// The key handle length byte is zero or runs past the end.
    BadKeyHandle,
    /// The attestation certificate is not a DER SEQUENCE that fits in the body.
    BadCertificate,
    /// Nothing follows where the signature should be.
    MissingSignature,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort => f.write_str("U2F response too short"),
            Self::BadReservedByte(b) => write!(f, "registration response starts with {b:#04x}"),
            Self::BadPublicKey => f.write_str("public key is not an uncompressed P-256 point"),
            Self::BadKeyHandle => f.write_str("bad key handle length"),
            Self::BadCertificate => f.write_str("attestation certificate is not a DER SEQUENCE"),
            Self::MissingSignature => f.write_str("signature missing"),
        }
    }
}

impl std::error::Error for ResponseError {}

/// The U2F_REGISTER success body: 0x05 ‖ public key (65) ‖ L ‖ key handle ‖ certificate ‖ signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterResponse {
    /// The new credential's public key, uncompressed P-256 (0x04 ‖ X ‖ Y).
    pub public_key: [u8; 65],
    /// The new key handle.
    pub key_handle: KeyHandle,
    /// The attestation certificate, X.509 DER.
    pub certificate: Vec<u8>,
    /// ECDSA (DER) over [`register_signed_data`] with the attestation key.
    pub signature: Vec<u8>,
}

impl RegisterResponse {
    /// The response body (append status word 9000 to send it).
    pub fn to_bytes(&self) -> Vec<u8> {
        let kh = self.key_handle.as_bytes();
        let mut out =
            Vec::with_capacity(67 + kh.len() + self.certificate.len() + self.signature.len());
        out.push(REGISTER_RESERVED);
        out.extend_from_slice(&self.public_key);
        out.push(self.key_handle.len_byte());
        out.extend_from_slice(kh);
        out.extend_from_slice(&self.certificate);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses the body (status word already removed). The certificate's end is found from its
    /// DER length; everything after it is the signature.
    pub fn parse(body: &[u8]) -> Result<Self, ResponseError> {
        let (&reserved, rest) = body.split_first().ok_or(ResponseError::TooShort)?;
        if reserved != REGISTER_RESERVED {
            return Err(ResponseError::BadReservedByte(reserved));
        }
        if rest.len() < 66 {
            return Err(ResponseError::TooShort);
        }
        let (pk, rest) = rest.split_at(65);
        if pk[0] != 0x04 {
            return Err(ResponseError::BadPublicKey);
        }
        let mut public_key = [0; 65];
        public_key.copy_from_slice(pk);
        let (&kh_len, rest) = rest.split_first().ok_or(ResponseError::TooShort)?;
        let kh_len = usize::from(kh_len);
        if kh_len == 0 || rest.len() < kh_len {
            return Err(ResponseError::BadKeyHandle);
        }
        let (kh, rest) = rest.split_at(kh_len);
        let key_handle = KeyHandle::new(kh.to_vec()).map_err(|_| ResponseError::BadKeyHandle)?;
        let cert_len = der_sequence_len(rest).ok_or(ResponseError::BadCertificate)?;
        let (certificate, signature) = rest.split_at(cert_len);
        if signature.is_empty() {
            return Err(ResponseError::MissingSignature);
        }
        Ok(Self {
            public_key,
            key_handle,
            certificate: certificate.to_vec(),
            signature: signature.to_vec(),
        })
    }
}

/// Total length (header and content) of the DER SEQUENCE at the start of `bytes`, if it fits.
fn der_sequence_len(bytes: &[u8]) -> Option<usize> {
    let [0x30, first, rest @ ..] = bytes else {
        return None;
    };
    let (header, content) = match *first {
        n @ 0..=0x7f => (2, usize::from(n)),
        0x81..=0x83 => {
            let n = usize::from(first & 0x7f);
            let len_bytes = rest.get(..n)?;
            let len = len_bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (2 + n, len)
        }
        _ => return None,
    };
    let total = header + content;
    (total <= bytes.len()).then_some(total)
}

/// The bytes the attestation key signs at registration (§4.3):
/// 0x00 ‖ application ‖ challenge ‖ key handle ‖ public key.
pub fn register_signed_data(
    application: &[u8; 32],
    challenge: &[u8; 32],
    key_handle: &KeyHandle,
    public_key: &[u8; 65],
) -> Vec<u8> {
    let kh = key_handle.as_bytes();
    let mut out = Vec::with_capacity(1 + 32 + 32 + kh.len() + 65);
    out.push(0x00);
    out.extend_from_slice(application);
    out.extend_from_slice(challenge);
    out.extend_from_slice(kh);
    out.extend_from_slice(public_key);
    out
}

/// The U2F_AUTHENTICATE success body: user presence ‖ counter (big-endian) ‖ signature (§5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticateResponse {
    /// The user-presence byte; bit 0 ([`USER_PRESENCE_FLAG`]) set when the user was present.
    pub user_presence: u8,
    /// The signature counter.
    pub counter: u32,
    /// ECDSA (DER) over [`authenticate_signed_data`] with the credential key.
    pub signature: Vec<u8>,
}

impl AuthenticateResponse {
    /// The response body (append status word 9000 to send it).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + self.signature.len());
        out.push(self.user_presence);
        out.extend_from_slice(&self.counter.to_be_bytes());
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses the body (status word already removed).
    pub fn parse(body: &[u8]) -> Result<Self, ResponseError> {
        let [user_presence, c0, c1, c2, c3, signature @ ..] = body else {
            return Err(ResponseError::TooShort);
        };
        if signature.is_empty() {
            return Err(ResponseError::MissingSignature);
        }
        Ok(Self {
            user_presence: *user_presence,
            counter: u32::from_be_bytes([*c0, *c1, *c2, *c3]),
            signature: signature.to_vec(),
        })
    }

    /// Whether the user-presence bit is set.
    pub fn user_present(&self) -> bool {
        self.user_presence & USER_PRESENCE_FLAG != 0
    }
}

/// The bytes the credential key signs at authentication (§5.4):
/// application ‖ user presence ‖ counter (big-endian) ‖ challenge.
pub fn authenticate_signed_data(
    application: &[u8; 32],
    user_presence: u8,
    counter: u32,
    challenge: &[u8; 32],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + 1 + 4 + 32);
    out.extend_from_slice(application);
    out.push(user_presence);
    out.extend_from_slice(&counter.to_be_bytes());
    out.extend_from_slice(challenge);
    out
}
