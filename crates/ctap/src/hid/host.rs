//! The host side of CTAPHID: the INIT handshake and one request/response transaction.
//!
//! Sans-I/O like the device side: these types say which reports to write and interpret the
//! reports read; the caller owns the connection, the clock and the nonce's randomness.
//! §11.2.9.1 (<https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html#usb-commands>).

use std::fmt;

use super::packet::{fragment, ChannelId, FrameError, InitResponse, Packet, Progress, Reassembler};
use super::{Command, ErrorCode, KeepaliveStatus, Report};

/// What went wrong on the host side of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostError {
    /// The device answered CTAPHID_ERROR with this code.
    Device(ErrorCode),
    /// The device answered with a command other than the request's.
    UnexpectedCommand(Command),
    /// The device's response is badly framed.
    Frame(FrameError),
    /// The CTAPHID_INIT response is shorter than 17 bytes.
    BadInitResponse,
    /// The CTAPHID_INIT response allocates a channel no host may use: 0 (reserved) or the
    /// broadcast channel (CTAP 2.1 §11.2.3).
    BadChannel(ChannelId),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Device(code) => write!(f, "device answered {code}"),
            Self::UnexpectedCommand(c) => write!(f, "device answered with command {:#04x}", c.0),
            Self::Frame(e) => write!(f, "bad response framing: {e}"),
            Self::BadInitResponse => f.write_str("CTAPHID_INIT response too short"),
            Self::BadChannel(cid) => write!(
                f,
                "CTAPHID_INIT allocated channel {:#010x}, which no host may use",
                cid.0
            ),
        }
    }
}

impl std::error::Error for HostError {}

/// CTAPHID_INIT from the host: allocates a channel (on the broadcast CID) or resynchronises
/// one the host holds.
#[derive(Debug, Clone, Copy)]
pub struct InitHandshake {
    cid: ChannelId,
    nonce: [u8; 8],
}

impl InitHandshake {
    /// Asks for a new channel; `nonce` must be fresh random bytes.
    pub fn new(nonce: [u8; 8]) -> Self {
        Self::resync(ChannelId::BROADCAST, nonce)
    }

    /// Resynchronises `cid`, abandoning whatever transaction it had.
    pub fn resync(cid: ChannelId, nonce: [u8; 8]) -> Self {
        Self { cid, nonce }
    }

    /// The report to write.
    pub fn report(&self) -> Report {
        let mut report = [0u8; super::REPORT_SIZE];
        report[..4].copy_from_slice(&self.cid.to_bytes());
        report[4] = Command::INIT.0 | 0x80;
        report[6] = 8;
        report[7..15].copy_from_slice(&self.nonce);
        report
    }

    /// Looks at a report read from the device: `None` if it is not the answer to this
    /// handshake (another channel, another host's nonce), otherwise the result.
    pub fn on_report(&self, report: &Report) -> Option<Result<InitResponse, HostError>> {
        let Packet::Init {
            cid,
            cmd,
            bcnt,
            data,
        } = Packet::parse(report)
        else {
            return None;
        };
        if cid != self.cid {
            return None;
        }
        match cmd {
            Command::INIT => {
                let payload = data.get(..usize::from(bcnt).min(data.len()))?;
                match InitResponse::parse(payload) {
                    Some(r)
                        if r.nonce == self.nonce
                            && r.cid.0 != 0
                            && r.cid != ChannelId::BROADCAST =>
                    {
                        Some(Ok(r))
                    }
                    Some(r) if r.nonce == self.nonce => Some(Err(HostError::BadChannel(r.cid))),
                    Some(_) => None,
                    None => Some(Err(HostError::BadInitResponse)),
                }
            }
            Command::ERROR => Some(Err(HostError::Device(ErrorCode(
                data.first().copied().unwrap_or(0),
            )))),
            _ => None,
        }
    }
}

/// One request on an allocated channel, waiting for its response.
#[derive(Debug, Clone)]
pub struct Transaction {
    cid: ChannelId,
    cmd: Command,
    rx: Option<Reassembler>,
}

/// What a report read from the device did to a [`Transaction`].
#[derive(Debug, Clone)]
pub enum Step {
    /// Not finished (the report was for another channel, or part of the response).
    Pending(Transaction),
    /// The device sent KEEPALIVE with this status; still waiting.
    Keepalive(Transaction, KeepaliveStatus),
    /// The response payload.
    Done(Vec<u8>),
    /// The transaction failed.
    Failed(HostError),
}

impl Transaction {
    /// Starts a request: the reports to write, and the transaction to feed the replies to.
    pub fn start(
        cid: ChannelId,
        cmd: Command,
        payload: &[u8],
    ) -> Result<(Self, Vec<Report>), FrameError> {
        let reports = fragment(cid, cmd, payload)?.collect();
        Ok((Self { cid, cmd, rx: None }, reports))
    }

    /// The channel.
    pub fn cid(&self) -> ChannelId {
        self.cid
    }

    /// The CTAPHID_CANCEL report for this channel (§11.2.9.1.5); the device then ends the
    /// request early, typically with CTAP2_ERR_KEEPALIVE_CANCEL.
    pub fn cancel_report(&self) -> Report {
        let mut report = [0u8; super::REPORT_SIZE];
        report[..4].copy_from_slice(&self.cid.to_bytes());
        report[4] = Command::CANCEL.0 | 0x80;
        report
    }

    /// Feeds one report read from the device.
    pub fn on_report(self, report: &Report) -> Step {
        let packet = Packet::parse(report);
        if packet.cid() != self.cid {
            return Step::Pending(self);
        }
        match packet {
            Packet::Init { cmd, data, .. } if cmd == Command::KEEPALIVE => {
                match data.first().copied().and_then(KeepaliveStatus::from_byte) {
                    Some(status) => Step::Keepalive(self, status),
                    None => Step::Pending(self),
                }
            }
            Packet::Init { cmd, data, .. } if cmd == Command::ERROR => Step::Failed(
                HostError::Device(ErrorCode(data.first().copied().unwrap_or(0))),
            ),
            Packet::Init {
                cmd, bcnt, data, ..
            } if cmd == self.cmd => {
                let start = Reassembler::start(self.cid, cmd, bcnt, data);
                self.settle(start)
            }
            Packet::Init { cmd, .. } => Step::Failed(HostError::UnexpectedCommand(cmd)),
            Packet::Cont { seq, data, .. } => {
                let Self { cid, cmd, rx } = self;
                match rx {
                    Some(rx) => Self { cid, cmd, rx: None }.settle(rx.push(seq, data)),
                    None => Step::Pending(Self { cid, cmd, rx: None }),
                }
            }
        }
    }

    fn settle(self, progress: Result<Progress, FrameError>) -> Step {
        match progress {
            Ok(Progress::Complete(msg)) => Step::Done(msg.payload),
            Ok(Progress::Incomplete(rx)) => Step::Pending(Self {
                rx: Some(rx),
                ..self
            }),
            Err(e) => Step::Failed(HostError::Frame(e)),
        }
    }
}
