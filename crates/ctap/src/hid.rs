//! CTAPHID framing and channel state machine (CTAP 2.1 §11.2).
//!
//! Sans-I/O: reports go in as byte slices, time goes in as milliseconds, and what to send or do
//! comes out as values. The device side is [`Device`]; the host side is [`InitHandshake`] and
//! [`Transaction`]; both share the framing in [`packet`].
//!
//! Spec: CTAP 2.1 §11.2 "USB Human Interface Device (USB HID)"
//! (<https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html#usb>)
//! and FIDO U2F HID Protocol v1.2, which it extends.

mod device;
mod host;
pub mod packet;

pub use device::{
    Device, DeviceConfig, Event, Request, KEEPALIVE_INTERVAL_MS, MAX_ADOPTED, MESSAGE_TIMEOUT_MS,
};
pub use host::{HostError, InitHandshake, Step, Transaction};
pub use packet::{
    fragment, ChannelId, Fragments, FrameError, InitResponse, Message, Packet, Progress,
    Reassembler, Report, CONT_DATA, INIT_DATA, MAX_MESSAGE, REPORT_SIZE,
};

use std::fmt;

/// A CTAPHID command code, without the 0x80 "initialization packet" bit (§11.2.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Command(pub u8);

impl Command {
    /// Echo the payload back (§11.2.9.1.3).
    pub const PING: Self = Self(0x01);
    /// A U2F/CTAP1 APDU (§11.2.9.1.1).
    pub const MSG: Self = Self(0x03);
    /// Lock the device to one channel for up to 10 s (§11.2.9.2.2).
    pub const LOCK: Self = Self(0x04);
    /// Allocate or resynchronise a channel (§11.2.9.1.3).
    pub const INIT: Self = Self(0x06);
    /// Show the user which device this is (§11.2.9.2.1).
    pub const WINK: Self = Self(0x08);
    /// A CTAP2 command byte ‖ CBOR (§11.2.9.1.2).
    pub const CBOR: Self = Self(0x10);
    /// Cancel the outstanding request on this channel (§11.2.9.1.5).
    pub const CANCEL: Self = Self(0x11);
    /// The device is still working; one status byte (§11.2.9.1.6).
    pub const KEEPALIVE: Self = Self(0x3B);
    /// A CTAPHID error; one [`ErrorCode`] byte (§11.2.9.1.4).
    pub const ERROR: Self = Self(0x3F);
}

/// CTAPHID_ERROR codes (§11.2.9.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u8);

impl ErrorCode {
    /// The command is not known.
    pub const INVALID_CMD: Self = Self(0x01);
    /// A parameter in the request is invalid.
    pub const INVALID_PAR: Self = Self(0x02);
    /// The length field (BCNT) is invalid for the request.
    pub const INVALID_LEN: Self = Self(0x03);
    /// A continuation packet arrived out of sequence.
    pub const INVALID_SEQ: Self = Self(0x04);
    /// The message was not completed in time.
    pub const MSG_TIMEOUT: Self = Self(0x05);
    /// Another channel has a transaction in progress.
    pub const CHANNEL_BUSY: Self = Self(0x06);
    /// The command needs a channel lock.
    pub const LOCK_REQUIRED: Self = Self(0x0A);
    /// The CID is not allocated (or is reserved).
    pub const INVALID_CHANNEL: Self = Self(0x0B);
    /// Unspecified error.
    pub const OTHER: Self = Self(0x7F);
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            Self::INVALID_CMD => "ERR_INVALID_CMD",
            Self::INVALID_PAR => "ERR_INVALID_PAR",
            Self::INVALID_LEN => "ERR_INVALID_LEN",
            Self::INVALID_SEQ => "ERR_INVALID_SEQ",
            Self::MSG_TIMEOUT => "ERR_MSG_TIMEOUT",
            Self::CHANNEL_BUSY => "ERR_CHANNEL_BUSY",
            Self::LOCK_REQUIRED => "ERR_LOCK_REQUIRED",
            Self::INVALID_CHANNEL => "ERR_INVALID_CHANNEL",
            Self::OTHER => "ERR_OTHER",
            _ => return write!(f, "CTAPHID error {:#04x}", self.0),
        };
        f.write_str(name)
    }
}

/// The status byte of CTAPHID_KEEPALIVE (§11.2.9.1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeepaliveStatus {
    /// 1: the authenticator is still processing.
    Processing,
    /// 2: the authenticator is waiting for user presence.
    UpNeeded,
}

impl KeepaliveStatus {
    /// The status byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::Processing => 1,
            Self::UpNeeded => 2,
        }
    }

    /// Parses the status byte; unknown values are reported as `None`.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Processing),
            2 => Some(Self::UpNeeded),
            _ => None,
        }
    }
}

/// Capability flags in the CTAPHID_INIT response (§11.2.9.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capabilities(pub u8);

impl Capabilities {
    /// CAPABILITY_WINK: the device implements CTAPHID_WINK.
    pub const WINK: u8 = 0x01;
    /// CAPABILITY_CBOR: the device implements CTAPHID_CBOR.
    pub const CBOR: u8 = 0x04;
    /// CAPABILITY_NMSG: the device does NOT implement CTAPHID_MSG.
    pub const NMSG: u8 = 0x08;

    /// Whether every bit of `flag` is set.
    pub fn has(self, flag: u8) -> bool {
        self.0 & flag == flag
    }
}

/// Device version numbers reported by CTAPHID_INIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DeviceVersion {
    /// Major device version.
    pub major: u8,
    /// Minor device version.
    pub minor: u8,
    /// Build device version.
    pub build: u8,
}

/// CTAPHID protocol version this implementation speaks.
pub const PROTOCOL_VERSION: u8 = 2;

/// The CTAP2_ERR_KEEPALIVE_CANCEL status an app answers a cancelled CBOR request with.
pub const CTAP2_ERR_KEEPALIVE_CANCEL: u8 = 0x2D;

#[cfg(test)]
mod tests;
