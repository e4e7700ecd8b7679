//! ISO 7816-4 command and response APDUs, short and extended length encodings (ISO/IEC 7816-4
//! §5.1), the status words FIDO uses, and the class byte's command-chaining bit (§5.4.1).
//!
//! U2F over HID uses the extended encoding (raw message formats §3.1,
//! <https://fidoalliance.org/specs/fido-u2f-v1.2-ps-20170411/fido-u2f-raw-message-formats-v1.2-ps-20170411.html#u2f-message-framing>);
//! the short encoding is accepted too because some clients send it. NFC uses both, with command
//! chaining and `GET RESPONSE` for messages a short APDU cannot carry ([`crate::nfc`]).

use std::fmt;

/// Largest `Nc` (command data length) an extended APDU can carry.
pub const MAX_EXTENDED_DATA: usize = 65_535;
/// Largest `Nc` a short APDU can carry.
pub const MAX_SHORT_DATA: usize = 255;
/// The class byte's command-chaining bit (ISO 7816-4 §5.4.1): "more commands of this chain
/// follow".
pub const CLA_CHAINING: u8 = 0x10;
/// INS of SELECT (ISO 7816-4 §11.1.1).
pub const INS_SELECT: u8 = 0xA4;
/// INS of GET RESPONSE (ISO 7816-4 §11.7.1).
pub const INS_GET_RESPONSE: u8 = 0xC0;

/// A two-byte ISO 7816-4 status word (SW1 ‖ SW2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u16);

impl StatusWord {
    /// 9000: the command completed.
    pub const NO_ERROR: Self = Self(0x9000);
    /// 6985: the request needs user presence (U2F "test of user presence required").
    pub const CONDITIONS_NOT_SATISFIED: Self = Self(0x6985);
    /// 6A80: the request was rejected because of an invalid key handle or bad data.
    pub const WRONG_DATA: Self = Self(0x6A80);
    /// 6700: the request length is wrong.
    pub const WRONG_LENGTH: Self = Self(0x6700);
    /// 6D00: the instruction is not supported.
    pub const INS_NOT_SUPPORTED: Self = Self(0x6D00);
    /// 6E00: the class byte is not supported.
    pub const CLA_NOT_SUPPORTED: Self = Self(0x6E00);
    /// 6A82: SELECT named an application the card does not have.
    pub const FILE_NOT_FOUND: Self = Self(0x6A82);
    /// 6A86: P1 or P2 is wrong.
    pub const WRONG_P1_P2: Self = Self(0x6A86);
    /// 6883: a command chain ended with a command that does not continue it.
    pub const LAST_COMMAND_EXPECTED: Self = Self(0x6883);
    /// 6986: the command is not allowed now (nothing to fetch, a request still running).
    pub const COMMAND_NOT_ALLOWED: Self = Self(0x6986);
    /// 6F00: no precise diagnosis (the card failed internally).
    pub const NO_PRECISE_DIAGNOSIS: Self = Self(0x6F00);
    /// 9100: CTAP over NFC's status update: the request is still being processed, the one data
    /// byte says how (CTAP 2.1 §11.3.7).
    pub const CTAP_STATUS_UPDATE: Self = Self(0x9100);

    /// The two bytes as they travel at the end of a response APDU.
    pub fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }

    /// `61XX` (ISO 7816-4 §5.1.3): this many more response bytes wait for GET RESPONSE, where
    /// `XX` = 00 means 256 or more. `None` for any other status word.
    pub fn more_data(self) -> Option<usize> {
        let [sw1, sw2] = self.to_bytes();
        (sw1 == 0x61).then(|| if sw2 == 0 { 256 } else { usize::from(sw2) })
    }

    /// `61XX` announcing `remaining` more bytes (`XX` = 00 for 256 or more).
    pub fn more_data_of(remaining: usize) -> Self {
        Self(0x6100 | u16::try_from(remaining).map_or(0, |n| if n > 255 { 0 } else { n }))
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

/// Why bytes are not a well-formed command APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApduError {
    /// Fewer than the four header bytes (CLA INS P1 P2).
    TooShort,
    /// The Lc/Le fields do not add up to the number of bytes received.
    LengthMismatch,
    /// The data does not fit the requested encoding (over 255 bytes for a short APDU,
    /// over 65535 for an extended one, or an Ne over the encoding's maximum).
    TooLong,
}

impl fmt::Display for ApduError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort => f.write_str("APDU shorter than its 4-byte header"),
            Self::LengthMismatch => f.write_str("APDU length fields disagree with its size"),
            Self::TooLong => f.write_str("APDU data too long for its encoding"),
        }
    }
}

impl std::error::Error for ApduError {}

/// A command APDU (ISO 7816-4 §5.1): header, command data and the expected response length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandApdu {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// First parameter.
    pub p1: u8,
    /// Second parameter.
    pub p2: u8,
    /// Command data (`Nc` bytes).
    pub data: Vec<u8>,
    /// `Ne`, the maximum response length expected, if the Le field is present
    /// (1..=256 short, 1..=65536 extended; an all-zero Le field means the maximum).
    pub ne: Option<u32>,
}

impl CommandApdu {
    /// Whether the class byte says more commands of this chain follow (ISO 7816-4 §5.4.1).
    pub fn is_chained(&self) -> bool {
        self.cla & CLA_CHAINING != 0
    }

    /// Parses a short or extended command APDU.
    ///
    /// Lenient in one documented way: an extended APDU with Lc = 0000 followed by a two-byte Le
    /// (what python-fido2 sends for U2F_VERSION) is accepted as "no data, Le present".
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        let [cla, ins, p1, p2, body @ ..] = bytes else {
            return Err(ApduError::TooShort);
        };
        let mut apdu = Self {
            cla: *cla,
            ins: *ins,
            p1: *p1,
            p2: *p2,
            data: Vec::new(),
            ne: None,
        };
        match body {
            [] => {}
            // Case 2S: Le only.
            [le] => apdu.ne = Some(short_ne(*le)),
            // Extended: a zero byte, then Lc or Le in two bytes.
            [0, hi, lo, rest @ ..] => {
                let n = usize::from(u16::from_be_bytes([*hi, *lo]));
                if rest.is_empty() {
                    apdu.ne = Some(extended_ne(*hi, *lo));
                } else if rest.len() == n {
                    apdu.data = rest.to_vec();
                } else if rest.len() == n + 2 {
                    let (data, le) = rest.split_at(n);
                    apdu.data = data.to_vec();
                    if let [h, l] = le {
                        apdu.ne = Some(extended_ne(*h, *l));
                    }
                } else {
                    return Err(ApduError::LengthMismatch);
                }
            }
            [0, ..] => return Err(ApduError::LengthMismatch),
            // Short: Lc (1..=255), data, optional Le.
            [lc, rest @ ..] => {
                let n = usize::from(*lc);
                if rest.len() == n {
                    apdu.data = rest.to_vec();
                } else if rest.len() == n + 1 {
                    let (data, le) = rest.split_at(n);
                    apdu.data = data.to_vec();
                    apdu.ne = le.first().map(|le| short_ne(*le));
                } else {
                    return Err(ApduError::LengthMismatch);
                }
            }
        }
        Ok(apdu)
    }

    /// Encodes with extended lengths (what U2F devices expect).
    pub fn to_extended_bytes(&self) -> Result<Vec<u8>, ApduError> {
        if self.data.len() > MAX_EXTENDED_DATA || self.ne.is_some_and(|ne| ne == 0 || ne > 65_536) {
            return Err(ApduError::TooLong);
        }
        let mut out = Vec::with_capacity(9 + self.data.len());
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        // Extended Lc and Le fields fit in two bytes (checked above); 65536 encodes as 0000.
        let two = |n: usize| [(n >> 8) as u8, n as u8];
        if !self.data.is_empty() {
            out.push(0);
            out.extend_from_slice(&two(self.data.len()));
            out.extend_from_slice(&self.data);
            if let Some(ne) = self.ne {
                out.extend_from_slice(&two(ne as usize & 0xffff));
            }
        } else if let Some(ne) = self.ne {
            out.push(0);
            out.extend_from_slice(&two(ne as usize & 0xffff));
        }
        Ok(out)
    }

    /// Encodes with short lengths; fails if the data is over 255 bytes or `ne` over 256.
    pub fn to_short_bytes(&self) -> Result<Vec<u8>, ApduError> {
        if self.data.len() > MAX_SHORT_DATA || self.ne.is_some_and(|ne| ne == 0 || ne > 256) {
            return Err(ApduError::TooLong);
        }
        let mut out = Vec::with_capacity(6 + self.data.len());
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !self.data.is_empty() {
            out.push(self.data.len() as u8);
            out.extend_from_slice(&self.data);
        }
        if let Some(ne) = self.ne {
            // 256 encodes as 00 (checked above that ne <= 256).
            out.push((ne & 0xff) as u8);
        }
        Ok(out)
    }
}

fn short_ne(le: u8) -> u32 {
    if le == 0 {
        256
    } else {
        u32::from(le)
    }
}

fn extended_ne(hi: u8, lo: u8) -> u32 {
    match u16::from_be_bytes([hi, lo]) {
        0 => 65_536,
        n => u32::from(n),
    }
}

/// A response APDU: body ‖ SW1 ‖ SW2 (ISO 7816-4 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseApdu {
    /// The response body (empty on errors).
    pub data: Vec<u8>,
    /// The trailing status word.
    pub status: StatusWord,
}

impl ResponseApdu {
    /// A successful response carrying `data`.
    pub fn ok(data: Vec<u8>) -> Self {
        Self {
            data,
            status: StatusWord::NO_ERROR,
        }
    }

    /// An error response: just the status word.
    pub fn status(status: StatusWord) -> Self {
        Self {
            data: Vec::new(),
            status,
        }
    }

    /// Splits the status word off the end; `None` if there are fewer than two bytes.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let split = bytes.len().checked_sub(2)?;
        let (data, sw) = bytes.split_at(split);
        let [sw1, sw2] = sw else { return None };
        Some(Self {
            data: data.to_vec(),
            status: StatusWord(u16::from_be_bytes([*sw1, *sw2])),
        })
    }

    /// body ‖ SW1 ‖ SW2.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.status.to_bytes());
        out
    }
}
