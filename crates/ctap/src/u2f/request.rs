//! U2F requests: REGISTER, AUTHENTICATE and VERSION, parsed from and encoded into APDUs.
//!
//! Raw message formats §4.1, §5.1 and §6
//! (<https://fidoalliance.org/specs/fido-u2f-v1.2-ps-20170411/fido-u2f-raw-message-formats-v1.2-ps-20170411.html#registration-request-message---u2f_register>).

use std::fmt;

use super::apdu::{ApduError, CommandApdu, ResponseApdu, StatusWord};
use super::{CLA, INS_AUTHENTICATE, INS_REGISTER, INS_VERSION};

/// A U2F key handle: 1 to 255 opaque bytes chosen by the authenticator.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyHandle(Vec<u8>);

/// Why bytes cannot be a key handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHandleError {
    /// A key handle is at least one byte long.
    Empty,
    /// Its length must fit the one-byte length field (at most 255).
    TooLong(usize),
}

impl fmt::Display for KeyHandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty U2F key handle"),
            Self::TooLong(n) => write!(f, "U2F key handle of {n} bytes (max 255)"),
        }
    }
}

impl std::error::Error for KeyHandleError {}

impl KeyHandle {
    /// Checks the length (1..=255).
    pub fn new(bytes: Vec<u8>) -> Result<Self, KeyHandleError> {
        match bytes.len() {
            0 => Err(KeyHandleError::Empty),
            1..=255 => Ok(Self(bytes)),
            n => Err(KeyHandleError::TooLong(n)),
        }
    }

    /// The handle's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The one-byte length prefix it travels with.
    pub fn len_byte(&self) -> u8 {
        // Length is 1..=255 by construction.
        self.0.len() as u8
    }

    /// Gives back the bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for KeyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHandle({} bytes)", self.0.len())
    }
}

impl AsRef<[u8]> for KeyHandle {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// U2F_REGISTER request body: challenge parameter ‖ application parameter (§4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRequest {
    /// SHA-256 of the client data.
    pub challenge: [u8; 32],
    /// SHA-256 of the application identity (the appId or RP ID).
    pub application: [u8; 32],
}

/// The control byte (P1) of U2F_AUTHENTICATE (§5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthenticateControl {
    /// 0x07: only check whether the key handle belongs to this application; never signs.
    /// A valid handle answers 6985, an invalid one 6A80.
    CheckOnly,
    /// 0x03: require user presence, then sign.
    EnforceUserPresenceAndSign,
    /// 0x08: sign without requiring user presence (CTAP 2.1 §11.2.9.1.1 "dont-enforce").
    DontEnforceUserPresenceAndSign,
}

impl AuthenticateControl {
    /// The P1 byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::CheckOnly => 0x07,
            Self::EnforceUserPresenceAndSign => 0x03,
            Self::DontEnforceUserPresenceAndSign => 0x08,
        }
    }

    /// Parses a P1 byte.
    pub fn from_byte(p1: u8) -> Option<Self> {
        match p1 {
            0x07 => Some(Self::CheckOnly),
            0x03 => Some(Self::EnforceUserPresenceAndSign),
            0x08 => Some(Self::DontEnforceUserPresenceAndSign),
            _ => None,
        }
    }
}

/// U2F_AUTHENTICATE request (§5.1): control ‖ challenge ‖ application ‖ L ‖ key handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticateRequest {
    /// What to do (P1).
    pub control: AuthenticateControl,
    /// SHA-256 of the client data.
    pub challenge: [u8; 32],
    /// SHA-256 of the application identity.
    pub application: [u8; 32],
    /// The key handle from registration.
    pub key_handle: KeyHandle,
}

/// A parsed U2F request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// U2F_REGISTER (INS 0x01).
    Register(RegisterRequest),
    /// U2F_AUTHENTICATE (INS 0x02).
    Authenticate(AuthenticateRequest),
    /// U2F_VERSION (INS 0x03).
    Version,
}

/// Why an APDU is not a U2F request; each maps to the status word the device answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The bytes are not a well-formed APDU (answered 6700).
    Apdu(ApduError),
    /// CLA is not 0x00 (answered 6E00).
    ClaNotSupported(u8),
    /// Unknown instruction (answered 6D00).
    InsNotSupported(u8),
    /// The command data has the wrong size for the instruction (answered 6700).
    WrongLength {
        /// The instruction.
        ins: u8,
        /// How many data bytes arrived.
        len: usize,
    },
    /// An unknown AUTHENTICATE control byte (answered 6A80).
    InvalidControl(u8),
    /// A zero-length key handle (answered 6A80).
    EmptyKeyHandle,
}

impl RequestError {
    /// The status word a U2F device answers this error with.
    pub fn status_word(&self) -> StatusWord {
        match self {
            Self::Apdu(_) | Self::WrongLength { .. } => StatusWord::WRONG_LENGTH,
            Self::ClaNotSupported(_) => StatusWord::CLA_NOT_SUPPORTED,
            Self::InsNotSupported(_) => StatusWord::INS_NOT_SUPPORTED,
            Self::InvalidControl(_) | Self::EmptyKeyHandle => StatusWord::WRONG_DATA,
        }
    }

    /// The complete error response (just the status word).
    pub fn to_response(&self) -> ResponseApdu {
        ResponseApdu::status(self.status_word())
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Apdu(e) => write!(f, "malformed APDU: {e}"),
            Self::ClaNotSupported(c) => write!(f, "CLA {c:#04x} not supported"),
            Self::InsNotSupported(i) => write!(f, "INS {i:#04x} not supported"),
            Self::WrongLength { ins, len } => {
                write!(f, "{len} data bytes is the wrong length for INS {ins:#04x}")
            }
            Self::InvalidControl(p1) => {
                write!(f, "unknown U2F_AUTHENTICATE control byte {p1:#04x}")
            }
            Self::EmptyKeyHandle => f.write_str("empty key handle"),
        }
    }
}

impl std::error::Error for RequestError {}

impl From<ApduError> for RequestError {
    fn from(e: ApduError) -> Self {
        Self::Apdu(e)
    }
}

fn array32(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(&bytes[..32]);
    out
}

impl Request {
    /// Parses the raw APDU bytes carried in a CTAPHID_MSG.
    pub fn parse(apdu: &[u8]) -> Result<Self, RequestError> {
        Self::from_apdu(&CommandApdu::parse(apdu)?)
    }

    /// Interprets a parsed APDU as a U2F request.
    pub fn from_apdu(apdu: &CommandApdu) -> Result<Self, RequestError> {
        if apdu.cla != CLA {
            return Err(RequestError::ClaNotSupported(apdu.cla));
        }
        let data = apdu.data.as_slice();
        let wrong_length = || RequestError::WrongLength {
            ins: apdu.ins,
            len: data.len(),
        };
        match apdu.ins {
            INS_REGISTER => {
                if data.len() != 64 {
                    return Err(wrong_length());
                }
                Ok(Self::Register(RegisterRequest {
                    challenge: array32(&data[..32]),
                    application: array32(&data[32..]),
                }))
            }
            INS_AUTHENTICATE => {
                let control = AuthenticateControl::from_byte(apdu.p1)
                    .ok_or(RequestError::InvalidControl(apdu.p1))?;
                if data.len() < 65 {
                    return Err(wrong_length());
                }
                let kh_len = usize::from(data[64]);
                let key_handle = &data[65..];
                if key_handle.len() != kh_len {
                    return Err(wrong_length());
                }
                let key_handle = KeyHandle::new(key_handle.to_vec())
                    .map_err(|_| RequestError::EmptyKeyHandle)?;
                Ok(Self::Authenticate(AuthenticateRequest {
                    control,
                    challenge: array32(&data[..32]),
                    application: array32(&data[32..64]),
                    key_handle,
                }))
            }
            INS_VERSION => {
                if !data.is_empty() {
                    return Err(wrong_length());
                }
                Ok(Self::Version)
            }
            ins => Err(RequestError::InsNotSupported(ins)),
        }
    }

    /// The APDU a client sends, with Le = 65536 (extended, as U2F devices expect).
    pub fn to_apdu(&self) -> CommandApdu {
        let (ins, p1, data) = match self {
            Self::Register(r) => {
                let mut data = Vec::with_capacity(64);
                data.extend_from_slice(&r.challenge);
                data.extend_from_slice(&r.application);
                (INS_REGISTER, 0, data)
            }
            Self::Authenticate(a) => {
                let mut data = Vec::with_capacity(65 + a.key_handle.as_bytes().len());
                data.extend_from_slice(&a.challenge);
                data.extend_from_slice(&a.application);
                data.push(a.key_handle.len_byte());
                data.extend_from_slice(a.key_handle.as_bytes());
                (INS_AUTHENTICATE, a.control.to_byte(), data)
            }
            Self::Version => (INS_VERSION, 0, Vec::new()),
        };
        CommandApdu {
            cla: CLA,
            ins,
            p1,
            p2: 0,
            data,
            ne: Some(65_536),
        }
    }

    /// The extended-length APDU bytes a client puts in a CTAPHID_MSG.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Data is at most 65 + 255 bytes and ne is 65536, both within the extended encoding.
        self.to_apdu().to_extended_bytes().unwrap_or_default()
    }
}
