//! CTAP over NFC (CTAP 2.1 §11.3), sans-I/O: ISO 7816-4 APDUs in and out, time as an argument.
//!
//! The client selects the FIDO applet (AID `A0000006472F0001`), then sends CTAP2 requests in
//! `NFCCTAP_MSG` APDUs (CLA 80, INS 10) and U2F requests as the plain U2F APDUs. A message that
//! does not fit one short APDU travels either in one extended-length APDU or in a command chain
//! (CLA bit 0x10, ISO 7816-4 §5.4.1); a response that does not fit comes back in pieces, each
//! ending `61XX` until `GET RESPONSE` has fetched the last. A client that sets P1 bit 0x80 in
//! `NFCCTAP_MSG` lets the card answer "still working" (status word 9100 with one status byte:
//! processing, or waiting for the user) and polls it with `NFCCTAP_GETRESPONSE` (INS 11), whose
//! P1 = 11 asks the card to cancel.
//!
//! - [`host`]: the client's side of one exchange, [`Exchange`] and [`Polling`].
//! - [`card`]: the card's side, [`Applet`]: selection, chains, pending responses, status
//!   updates around an application that runs elsewhere.
//!
//! Spec: CTAP 2.1 §11.3 "ISO7816, ISO14443 and Near Field Communication (NFC)"
//! (<https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html#nfc>)
//! and FIDO U2F NFC Protocol v1.2
//! (<https://fidoalliance.org/specs/fido-u2f-v1.2-ps-20170411/fido-u2f-nfc-protocol-v1.2-ps-20170411.html>).

pub mod card;
pub mod host;

pub use card::{Action, Applet, AppletConfig, Job};
pub use host::{Encoding, Exchange, Limits, Next, Polling, POLL_INTERVAL_MS};

use std::fmt;

use crate::iso7816::{ApduError, CommandApdu, StatusWord, INS_SELECT};

/// The FIDO applet's AID (CTAP 2.1 §11.3.3).
pub const FIDO_AID: [u8; 8] = [0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01];
/// CLA of the CTAP-specific commands (§11.3.5).
pub const CLA_CTAP: u8 = 0x80;
/// INS of NFCCTAP_MSG: a CTAP2 request (command byte ‖ CBOR) (§11.3.5).
pub const INS_NFCCTAP_MSG: u8 = 0x10;
/// INS of NFCCTAP_GETRESPONSE: poll a request that answered with a status update (§11.3.7).
pub const INS_NFCCTAP_GETRESPONSE: u8 = 0x11;
/// P1 bit of NFCCTAP_MSG: the client understands status updates and NFCCTAP_GETRESPONSE.
pub const P1_GETRESPONSE_SUPPORTED: u8 = 0x80;
/// P1 of NFCCTAP_GETRESPONSE asking the card to cancel the request.
pub const P1_CANCEL: u8 = 0x11;
/// What an authenticator that speaks U2F (and maybe CTAP2) answers SELECT with.
pub const VERSION_U2F: &[u8] = b"U2F_V2";
/// What a CTAP2-only authenticator answers SELECT with.
pub const VERSION_FIDO2: &[u8] = b"FIDO_2_0";
/// The ATR a contactless card presents through a PC/SC reader with no historical bytes
/// (PC/SC Part 3 §3.1.3.2.3: `3B 8n 80 01`, the historical bytes, and TCK).
pub const CONTACTLESS_ATR: [u8; 5] = [0x3B, 0x80, 0x80, 0x01, 0x01];

/// A status update's byte (§11.3.7): how the card is getting on with a request.
pub use crate::hid::KeepaliveStatus as UpdateStatus;

/// The SELECT command for the FIDO applet (ISO 7816-4 §11.1.1, CTAP 2.1 §11.3.3).
pub fn select_command() -> CommandApdu {
    CommandApdu {
        cla: 0x00,
        ins: INS_SELECT,
        p1: 0x04,
        p2: 0x00,
        data: FIDO_AID.to_vec(),
        ne: Some(256),
    }
}

/// What the applet says it speaks, from its SELECT answer (CTAP 2.1 §11.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppletVersion {
    /// `U2F_V2`: U2F, and maybe CTAP2 as well (ask with authenticatorGetInfo).
    U2f,
    /// `FIDO_2_0`: CTAP2 only.
    Fido2,
}

impl AppletVersion {
    /// Reads the body of a successful SELECT answer.
    pub fn parse(body: &[u8]) -> Result<Self, NfcError> {
        match body {
            VERSION_U2F => Ok(Self::U2f),
            VERSION_FIDO2 => Ok(Self::Fido2),
            _ => Err(NfcError::UnknownVersion { len: body.len() }),
        }
    }
}

/// Why an exchange with a card failed. Every variant but [`NfcError::RequestTooLong`] and
/// [`NfcError::BadCommand`] (the client's own request) is the card's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NfcError {
    /// A response APDU shorter than its two status bytes.
    Truncated {
        /// Bytes received.
        len: usize,
    },
    /// The card answered a CTAP request with a status word other than 9000, 61XX or 9100:
    /// it refused or does not know the command.
    Status(StatusWord),
    /// The response grew over [`Limits::max_response`] bytes.
    ResponseTooLong {
        /// The limit it passed.
        limit: usize,
    },
    /// The card kept answering `61XX` past [`Limits::max_rounds`] GET RESPONSE rounds.
    EndlessChain {
        /// Rounds made.
        rounds: usize,
    },
    /// A status update (9100) whose data is not one known status byte, or that ended a
    /// `GET RESPONSE` chain.
    BadStatusUpdate,
    /// The card answered a request with status updates for longer than
    /// [`Limits::max_status_wait_ms`].
    StatusUpdatesTooLong {
        /// Milliseconds since the first status update.
        waited_ms: u64,
    },
    /// The card kept answering status updates after being asked to cancel.
    CancelIgnored,
    /// SELECT succeeded but named no FIDO version this client knows.
    UnknownVersion {
        /// Length of the answer's body.
        len: usize,
    },
    /// The request is longer than any APDU encoding can carry.
    RequestTooLong {
        /// Its length.
        len: usize,
    },
    /// The command APDU to forward (a U2F request) is malformed.
    BadCommand(ApduError),
}

impl fmt::Display for NfcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { len } => {
                write!(
                    f,
                    "the card sent a {len}-byte answer, shorter than a status word"
                )
            }
            Self::Status(sw) => write!(f, "the card answered status word {sw}"),
            Self::ResponseTooLong { limit } => {
                write!(f, "the card's answer is longer than {limit} bytes")
            }
            Self::EndlessChain { rounds } => {
                write!(
                    f,
                    "the card announced more data after {rounds} GET RESPONSE rounds"
                )
            }
            Self::BadStatusUpdate => f.write_str("the card sent a malformed status update"),
            Self::StatusUpdatesTooLong { waited_ms } => write!(
                f,
                "the card kept saying it is busy for {} s",
                waited_ms / 1000
            ),
            Self::CancelIgnored => f.write_str("the card kept working after being cancelled"),
            Self::UnknownVersion { len } => {
                write!(
                    f,
                    "the FIDO applet answered SELECT with an unknown {len}-byte version"
                )
            }
            Self::RequestTooLong { len } => {
                write!(f, "a {len}-byte request is too long for an APDU")
            }
            Self::BadCommand(e) => write!(f, "malformed command APDU: {e}"),
        }
    }
}

impl std::error::Error for NfcError {}

#[cfg(test)]
mod tests;
