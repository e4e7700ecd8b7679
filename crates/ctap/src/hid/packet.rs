//! CTAPHID packets and messages: 64-byte reports, fragmentation and reassembly (§11.2.4).
//!
//! <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html#usb-message-and-packet-structure>
//!
//! An initialization packet is CID (4) ‖ CMD|0x80 ‖ BCNTH ‖ BCNTL ‖ 57 data bytes; a continuation
//! packet is CID (4) ‖ SEQ (0..=0x7f) ‖ 59 data bytes. One message is thus at most
//! 57 + 128 × 59 = 7609 bytes.

use std::fmt;

use super::{Capabilities, Command, DeviceVersion};

/// Size of a CTAPHID report on full-speed USB (§11.2.4).
pub const REPORT_SIZE: usize = 64;
/// Payload bytes in an initialization packet.
pub const INIT_DATA: usize = REPORT_SIZE - 7;
/// Payload bytes in a continuation packet.
pub const CONT_DATA: usize = REPORT_SIZE - 5;
/// Largest message payload: one initialization and 128 continuation packets.
pub const MAX_MESSAGE: usize = INIT_DATA + 128 * CONT_DATA;

/// One HID report as it travels on the wire (without a report-ID prefix).
pub type Report = [u8; REPORT_SIZE];

/// A CTAPHID channel identifier (§11.2.3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u32);

impl ChannelId {
    /// The broadcast channel, used only to allocate channels with CTAPHID_INIT.
    pub const BROADCAST: Self = Self(0xffff_ffff);
    /// Reserved; never a valid channel.
    pub const RESERVED: Self = Self(0);

    /// The four bytes as they travel (big-endian).
    pub fn to_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }
}

impl fmt::Debug for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelId({:08x})", self.0)
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// A report seen as a CTAPHID packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// First packet of a message (bit 7 of byte 4 set).
    Init {
        /// The channel.
        cid: ChannelId,
        /// The command, without the 0x80 bit.
        cmd: Command,
        /// Total payload length announced (BCNT).
        bcnt: u16,
        /// The 57 data bytes (only the first `bcnt` of them count).
        data: &'a [u8],
    },
    /// A continuation packet.
    Cont {
        /// The channel.
        cid: ChannelId,
        /// Sequence number, 0..=0x7f.
        seq: u8,
        /// The 59 data bytes.
        data: &'a [u8],
    },
}

impl<'a> Packet<'a> {
    /// Reads a 64-byte report. Every report is one of the two kinds, so this cannot fail.
    pub fn parse(report: &'a Report) -> Self {
        let cid = ChannelId(u32::from_be_bytes([
            report[0], report[1], report[2], report[3],
        ]));
        if report[4] & 0x80 != 0 {
            Self::Init {
                cid,
                cmd: Command(report[4] & 0x7f),
                bcnt: u16::from_be_bytes([report[5], report[6]]),
                data: &report[7..],
            }
        } else {
            Self::Cont {
                cid,
                seq: report[4],
                data: &report[5..],
            }
        }
    }

    /// The channel the packet is on.
    pub fn cid(&self) -> ChannelId {
        match self {
            Self::Init { cid, .. } | Self::Cont { cid, .. } => *cid,
        }
    }
}

/// Why a message cannot be framed or reassembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The payload is longer than [`MAX_MESSAGE`].
    TooLong(usize),
    /// A continuation packet carried the wrong sequence number.
    BadSequence {
        /// The number that was due.
        expected: u8,
        /// The number that arrived.
        got: u8,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong(n) => write!(f, "CTAPHID message of {n} bytes (max {MAX_MESSAGE})"),
            Self::BadSequence { expected, got } => {
                write!(f, "continuation packet {got} where {expected} was due")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// Splits a message into reports: one initialization packet, then continuation packets
/// numbered from 0. Unused bytes are zero.
pub fn fragment(cid: ChannelId, cmd: Command, payload: &[u8]) -> Result<Fragments<'_>, FrameError> {
    if payload.len() > MAX_MESSAGE {
        return Err(FrameError::TooLong(payload.len()));
    }
    Ok(Fragments {
        cid,
        cmd,
        payload,
        offset: 0,
        seq: None,
    })
}

/// The reports of one message, from [`fragment`].
#[derive(Debug, Clone)]
pub struct Fragments<'a> {
    cid: ChannelId,
    cmd: Command,
    payload: &'a [u8],
    offset: usize,
    /// `None` before the initialization packet, then the next continuation sequence number.
    seq: Option<u8>,
}

impl Iterator for Fragments<'_> {
    type Item = Report;

    fn next(&mut self) -> Option<Report> {
        let mut report = [0u8; REPORT_SIZE];
        report[..4].copy_from_slice(&self.cid.to_bytes());
        match self.seq {
            None => {
                report[4] = self.cmd.0 | 0x80;
                // Length checked against MAX_MESSAGE (< 65536) in `fragment`.
                report[5..7].copy_from_slice(&(self.payload.len() as u16).to_be_bytes());
                let n = self.payload.len().min(INIT_DATA);
                report[7..7 + n].copy_from_slice(&self.payload[..n]);
                self.offset = n;
                self.seq = Some(0);
            }
            Some(seq) => {
                let rest = self.payload.get(self.offset..).unwrap_or_default();
                if rest.is_empty() {
                    return None;
                }
                report[4] = seq;
                let n = rest.len().min(CONT_DATA);
                report[5..5 + n].copy_from_slice(&rest[..n]);
                self.offset += n;
                self.seq = Some(seq.wrapping_add(1));
            }
        }
        Some(report)
    }
}

/// A complete CTAPHID message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The channel it came on.
    pub cid: ChannelId,
    /// Its command.
    pub cmd: Command,
    /// Its payload, exactly BCNT bytes.
    pub payload: Vec<u8>,
}

/// A message being reassembled from its continuation packets.
#[derive(Debug, Clone)]
pub struct Reassembler {
    cid: ChannelId,
    cmd: Command,
    expected: usize,
    buf: Vec<u8>,
    next_seq: u8,
}

/// What one packet did to a message being reassembled.
#[derive(Debug, Clone)]
pub enum Progress {
    /// More continuation packets are due.
    Incomplete(Reassembler),
    /// The message is whole.
    Complete(Message),
}

impl Reassembler {
    /// Starts a message from its initialization packet's fields.
    pub fn start(
        cid: ChannelId,
        cmd: Command,
        bcnt: u16,
        data: &[u8],
    ) -> Result<Progress, FrameError> {
        let expected = usize::from(bcnt);
        if expected > MAX_MESSAGE {
            return Err(FrameError::TooLong(expected));
        }
        let n = expected.min(INIT_DATA).min(data.len());
        let mut buf = Vec::with_capacity(expected);
        buf.extend_from_slice(&data[..n]);
        Ok(Self {
            cid,
            cmd,
            expected,
            buf,
            next_seq: 0,
        }
        .settle())
    }

    /// Adds a continuation packet (the caller has matched its CID).
    pub fn push(mut self, seq: u8, data: &[u8]) -> Result<Progress, FrameError> {
        if seq != self.next_seq {
            return Err(FrameError::BadSequence {
                expected: self.next_seq,
                got: seq,
            });
        }
        self.next_seq = self.next_seq.wrapping_add(1);
        let n = (self.expected - self.buf.len())
            .min(CONT_DATA)
            .min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(self.settle())
    }

    /// The channel being received on.
    pub fn cid(&self) -> ChannelId {
        self.cid
    }

    /// The command being received.
    pub fn cmd(&self) -> Command {
        self.cmd
    }

    fn settle(self) -> Progress {
        if self.buf.len() >= self.expected {
            Progress::Complete(Message {
                cid: self.cid,
                cmd: self.cmd,
                payload: self.buf,
            })
        } else {
            Progress::Incomplete(self)
        }
    }
}

/// The CTAPHID_INIT response payload (§11.2.9.1.3): nonce ‖ CID ‖ protocol version ‖ major ‖
/// minor ‖ build ‖ capabilities (17 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitResponse {
    /// The nonce the host sent.
    pub nonce: [u8; 8],
    /// The channel the host is to use.
    pub cid: ChannelId,
    /// CTAPHID protocol version (2).
    pub protocol_version: u8,
    /// Device version numbers.
    pub version: DeviceVersion,
    /// Capability flags.
    pub capabilities: Capabilities,
}

impl InitResponse {
    /// Payload length.
    pub const LEN: usize = 17;

    /// The 17 payload bytes.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0; Self::LEN];
        out[..8].copy_from_slice(&self.nonce);
        out[8..12].copy_from_slice(&self.cid.to_bytes());
        out[12] = self.protocol_version;
        out[13] = self.version.major;
        out[14] = self.version.minor;
        out[15] = self.version.build;
        out[16] = self.capabilities.0;
        out
    }

    /// Parses a payload; devices may append bytes, which are ignored. `None` if shorter than 17.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let b = payload.get(..Self::LEN)?;
        let mut nonce = [0; 8];
        nonce.copy_from_slice(&b[..8]);
        Some(Self {
            nonce,
            cid: ChannelId(u32::from_be_bytes([b[8], b[9], b[10], b[11]])),
            protocol_version: b[12],
            version: DeviceVersion {
                major: b[13],
                minor: b[14],
                build: b[15],
            },
            capabilities: Capabilities(b[16]),
        })
    }
}
