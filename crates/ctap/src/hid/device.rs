//! The device side of CTAPHID: channel allocation, reassembly, busy handling, keepalives.
//!
//! [`Device`] is a sans-I/O state machine: the driver feeds it reports ([`Device::on_report`]),
//! the passage of time ([`Device::on_tick`]) and the application's answers
//! ([`Device::on_app_response`]), and carries out the [`Event`]s it returns. It never reads a
//! clock: [`Device::next_deadline`] says when it next has something to do on its own (a message
//! timeout, a keepalive, a lock expiry), and the driver wakes it then with `on_tick`.
//!
//! One transaction at a time is in progress across all channels, as §11.2.9 requires; its state
//! is one of three types (idle, receiving, processing) and each transition consumes the previous
//! state. What the device answers while a transaction is in progress (§11.2.9.1, as shipped keys
//! and the conformance suites show it):
//!
//! - CTAPHID_INIT on any channel is answered at once; on the transaction's own channel it
//!   abandons the transaction first (a resync).
//! - Any other initialization packet on another channel gets ERR_CHANNEL_BUSY, whether that
//!   channel's message is still arriving or already being processed, and whether or not the
//!   channel is allocated; its continuation packets are ignored, and the transaction in progress
//!   goes on undisturbed.
//! - An initialization packet on the channel whose continuation packets are due, or a
//!   continuation packet out of sequence, gets ERR_INVALID_SEQ and drops the message.
//! - A message whose next packet does not come within [`MESSAGE_TIMEOUT_MS`] gets
//!   ERR_MSG_TIMEOUT on its channel.
//!
//! Accepted report framing: exactly 64 bytes, or 65 bytes whose first byte is a zero report ID
//! (what `hidraw`-style writers prepend). Any other size that still carries a CID (≥ 4 bytes)
//! is answered with ERR_INVALID_LEN on that CID, so a UDP or socket peer that frames wrongly
//! learns why; shorter ones are dropped.

mod channels;
mod message;

pub use channels::MAX_ADOPTED;

use channels::Channels;
use message::{error, send};

use super::packet::{ChannelId, InitResponse, Packet, Progress, Reassembler};
use super::{
    Capabilities, Command, DeviceVersion, ErrorCode, KeepaliveStatus, Report, PROTOCOL_VERSION,
    REPORT_SIZE,
};

/// How long the device waits for the next continuation packet of a message.
///
/// Hosts write the packets of one message back to back, microseconds apart. Shipped keys time a
/// stalled message out after half a second to a second, and conformance suites check for that
/// window; 750 ms sits in its middle, so neither the host's scheduling before its clock starts
/// nor the driver's waking late pushes the error out of it, and a host that died in the middle
/// of a message keeps every other channel out (ERR_CHANNEL_BUSY) for under a second.
pub const MESSAGE_TIMEOUT_MS: u64 = 750;

/// KEEPALIVE period while a request is processed (§11.2.9.1.6: at least every 100 ms).
pub const KEEPALIVE_INTERVAL_MS: u64 = 100;

/// Longest CTAPHID_LOCK in seconds (§11.2.9.2.2).
const MAX_LOCK_SECONDS: u8 = 10;

/// What the device reports about itself in CTAPHID_INIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Device version numbers.
    pub version: DeviceVersion,
    /// Capability flags; [`Capabilities::NMSG`] disables CTAPHID_MSG, a missing
    /// [`Capabilities::WINK`] disables CTAPHID_WINK, a missing [`Capabilities::CBOR`] disables
    /// CTAPHID_CBOR.
    pub capabilities: Capabilities,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            version: DeviceVersion {
                major: 0,
                minor: 1,
                build: 0,
            },
            capabilities: Capabilities(Capabilities::WINK | Capabilities::CBOR),
        }
    }
}

/// A complete CTAPHID_CBOR or CTAPHID_MSG request for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The channel to answer on.
    pub cid: ChannelId,
    /// [`Command::CBOR`] or [`Command::MSG`].
    pub cmd: Command,
    /// The request payload (command byte ‖ CBOR, or an APDU).
    pub payload: Vec<u8>,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Send this report to the host(s).
    Send(Report),
    /// Hand this request to the application; answer with [`Device::on_app_response`].
    Dispatch(Request),
    /// Ask the application to cancel the running request on this channel. For a CANCEL the
    /// application still answers (CTAP2_ERR_KEEPALIVE_CANCEL); for an INIT resync its answer
    /// is discarded.
    Cancel(ChannelId),
    /// Show the user which device this is.
    Wink(ChannelId),
}

/// A message arriving in several packets.
#[derive(Debug)]
struct Receiving {
    rx: Reassembler,
    last_packet_ms: u64,
}

/// A request the application is working on.
#[derive(Debug)]
struct Processing {
    cid: ChannelId,
    cmd: Command,
    last_keepalive_ms: u64,
    status: KeepaliveStatus,
    status_changed: bool,
    /// Set by an INIT resync: the application's answer will be dropped.
    aborted: bool,
}

/// The one transaction the device can have in progress.
#[derive(Debug)]
enum Transaction {
    Idle,
    Receiving(Receiving),
    Processing(Processing),
}

#[derive(Debug, Clone, Copy)]
struct Lock {
    cid: ChannelId,
    until_ms: u64,
}

/// The CTAPHID device state machine. See the module docs.
#[derive(Debug)]
pub struct Device {
    config: DeviceConfig,
    transaction: Transaction,
    lock: Option<Lock>,
    channels: Channels,
}

impl Device {
    /// A powered-up device with no channels allocated.
    pub fn new(config: DeviceConfig) -> Self {
        Self {
            config,
            transaction: Transaction::Idle,
            lock: None,
            channels: Channels::new(),
        }
    }

    /// Forgets every channel, lock and transaction, as unplugging the device would. A running
    /// application request's answer will be ignored.
    pub fn power_cycle(&mut self) {
        *self = Self::new(self.config);
    }

    /// The firmware restarts while the host keeps the device open (the firmware simulators'
    /// "reboot" report): the transaction in progress and any lock are dropped, but the channels
    /// stay allocated, since they belong to the host's open handle rather than to the
    /// authenticator's volatile state. A running application request's answer will be ignored,
    /// so the driver must not deliver an answer to a request started before the restart.
    pub fn restart(&mut self) {
        self.transaction = Transaction::Idle;
        self.lock = None;
    }

    /// When the device next has something to do without any input: a message times out, a
    /// keepalive is due (or a status change waits to be announced), or a lock expires. The
    /// driver calls [`Device::on_tick`] at that time or soon after; `None`: nothing is pending.
    pub fn next_deadline(&self) -> Option<u64> {
        let transaction = match &self.transaction {
            Transaction::Idle => None,
            Transaction::Receiving(r) => Some(r.last_packet_ms.saturating_add(MESSAGE_TIMEOUT_MS)),
            Transaction::Processing(p) if p.aborted => None,
            Transaction::Processing(p) if p.status_changed => Some(p.last_keepalive_ms),
            Transaction::Processing(p) => {
                Some(p.last_keepalive_ms.saturating_add(KEEPALIVE_INTERVAL_MS))
            }
        };
        let lock = self.lock.map(|l| l.until_ms);
        [transaction, lock].into_iter().flatten().min()
    }

    /// The channel whose request the application is processing, if any.
    pub fn processing(&self) -> Option<ChannelId> {
        match &self.transaction {
            Transaction::Processing(p) => Some(p.cid),
            _ => None,
        }
    }

    /// Whether a transaction (receiving or processing) is in progress.
    pub fn is_busy(&self) -> bool {
        !matches!(self.transaction, Transaction::Idle)
    }

    /// One report from the host (see the module docs for the sizes accepted).
    pub fn on_report(&mut self, now_ms: u64, raw: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        self.expire(now_ms, &mut out);
        let mut report = [0u8; REPORT_SIZE];
        match raw {
            r if r.len() == REPORT_SIZE => report.copy_from_slice(r),
            [0, r @ ..] if r.len() == REPORT_SIZE => report.copy_from_slice(r),
            [a, b, c, d, ..] => {
                let cid = ChannelId(u32::from_be_bytes([*a, *b, *c, *d]));
                error(cid, ErrorCode::INVALID_LEN, &mut out);
                return out;
            }
            _ => return out,
        }
        match Packet::parse(&report) {
            Packet::Init {
                cid,
                cmd,
                bcnt,
                data,
            } => self.on_init_packet(now_ms, cid, cmd, bcnt, data, &mut out),
            Packet::Cont { cid, seq, data } => {
                self.on_cont_packet(now_ms, cid, seq, data, &mut out)
            }
        }
        out
    }

    /// Time passes: message timeouts, lock expiry and keepalives.
    pub fn on_tick(&mut self, now_ms: u64) -> Vec<Event> {
        let mut out = Vec::new();
        self.expire(now_ms, &mut out);
        if let Transaction::Processing(p) = &mut self.transaction {
            let due = now_ms.saturating_sub(p.last_keepalive_ms) >= KEEPALIVE_INTERVAL_MS;
            if !p.aborted && (due || p.status_changed) {
                p.last_keepalive_ms = now_ms;
                p.status_changed = false;
                send(p.cid, Command::KEEPALIVE, &[p.status.to_byte()], &mut out);
            }
        }
        out
    }

    /// The application's status for the running request; a change is announced at the next
    /// [`Device::on_tick`] without waiting for the keepalive period.
    pub fn set_keepalive_status(&mut self, status: KeepaliveStatus) {
        if let Transaction::Processing(p) = &mut self.transaction {
            if p.status != status {
                p.status = status;
                p.status_changed = true;
            }
        }
    }

    /// The application answered the request on `cid`. Answers for a channel that has no
    /// request running (after a power cycle, say) are ignored.
    pub fn on_app_response(&mut self, cid: ChannelId, payload: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        match std::mem::replace(&mut self.transaction, Transaction::Idle) {
            Transaction::Processing(p) if p.cid == cid => {
                if !p.aborted {
                    send(cid, p.cmd, payload, &mut out);
                }
            }
            other => self.transaction = other,
        }
        out
    }

    fn expire(&mut self, now_ms: u64, out: &mut Vec<Event>) {
        if self.lock.is_some_and(|l| now_ms >= l.until_ms) {
            self.lock = None;
        }
        if let Transaction::Receiving(r) = &self.transaction {
            if now_ms.saturating_sub(r.last_packet_ms) >= MESSAGE_TIMEOUT_MS {
                error(r.rx.cid(), ErrorCode::MSG_TIMEOUT, out);
                self.transaction = Transaction::Idle;
            }
        }
    }

    fn on_init_packet(
        &mut self,
        now_ms: u64,
        cid: ChannelId,
        cmd: Command,
        bcnt: u16,
        data: &[u8],
        out: &mut Vec<Event>,
    ) {
        if cid == ChannelId::RESERVED {
            return error(cid, ErrorCode::INVALID_CHANNEL, out);
        }
        if cmd == Command::INIT {
            return self.on_init(cid, bcnt, data, out);
        }
        if cid == ChannelId::BROADCAST {
            return error(cid, ErrorCode::INVALID_CHANNEL, out);
        }
        if self.lock.is_some_and(|l| l.cid != cid) {
            return error(cid, ErrorCode::CHANNEL_BUSY, out);
        }
        if cmd == Command::CANCEL {
            return self.on_cancel(cid, out);
        }
        match std::mem::replace(&mut self.transaction, Transaction::Idle) {
            Transaction::Idle if !self.channels.is_allocated(cid) => {
                error(cid, ErrorCode::INVALID_CHANNEL, out);
            }
            Transaction::Idle => match Reassembler::start(cid, cmd, bcnt, data) {
                Err(_) => error(cid, ErrorCode::INVALID_LEN, out),
                Ok(Progress::Incomplete(rx)) => {
                    self.transaction = Transaction::Receiving(Receiving {
                        rx,
                        last_packet_ms: now_ms,
                    });
                }
                Ok(Progress::Complete(msg)) => self.on_message(now_ms, msg, out),
            },
            // A new message where a continuation was due: the old one is lost.
            Transaction::Receiving(r) if r.rx.cid() == cid => {
                error(cid, ErrorCode::INVALID_SEQ, out);
            }
            // Busy is answered before the channel is looked up: one transaction at a time.
            busy => {
                self.transaction = busy;
                error(cid, ErrorCode::CHANNEL_BUSY, out);
            }
        }
    }

    /// CTAPHID_INIT (§11.2.9.1.3): on the broadcast CID allocates a channel; on any other
    /// (non-reserved) CID resynchronises it, abandoning its transaction, and adopts it if it was
    /// not allocated (see [`channels`]). Answered even while another channel is busy: it
    /// is a single packet and touches no other channel's transaction.
    fn on_init(&mut self, cid: ChannelId, bcnt: u16, data: &[u8], out: &mut Vec<Event>) {
        let Some(nonce) = data.get(..8).filter(|_| bcnt == 8) else {
            return error(cid, ErrorCode::INVALID_LEN, out);
        };
        let new_cid = if cid == ChannelId::BROADCAST {
            self.channels.allocate()
        } else {
            self.abort(cid, out);
            self.channels.adopt(cid);
            cid
        };
        let mut n = [0u8; 8];
        n.copy_from_slice(nonce);
        let response = InitResponse {
            nonce: n,
            cid: new_cid,
            protocol_version: PROTOCOL_VERSION,
            version: self.config.version,
            capabilities: self.config.capabilities,
        };
        send(cid, Command::INIT, &response.to_bytes(), out);
    }

    fn abort(&mut self, cid: ChannelId, out: &mut Vec<Event>) {
        match &mut self.transaction {
            Transaction::Receiving(r) if r.rx.cid() == cid => self.transaction = Transaction::Idle,
            Transaction::Processing(p) if p.cid == cid && !p.aborted => {
                p.aborted = true;
                out.push(Event::Cancel(cid));
            }
            _ => {}
        }
    }

    /// CTAPHID_CANCEL (§11.2.9.1.5): no response of its own; the running request ends early.
    fn on_cancel(&mut self, cid: ChannelId, out: &mut Vec<Event>) {
        if !self.channels.is_allocated(cid) {
            return error(cid, ErrorCode::INVALID_CHANNEL, out);
        }
        match &self.transaction {
            Transaction::Receiving(r) if r.rx.cid() == cid => self.transaction = Transaction::Idle,
            Transaction::Processing(p) if p.cid == cid && !p.aborted => {
                out.push(Event::Cancel(cid));
            }
            _ => {}
        }
    }

    fn on_cont_packet(
        &mut self,
        now_ms: u64,
        cid: ChannelId,
        seq: u8,
        data: &[u8],
        out: &mut Vec<Event>,
    ) {
        match std::mem::replace(&mut self.transaction, Transaction::Idle) {
            Transaction::Receiving(r) if r.rx.cid() == cid => match r.rx.push(seq, data) {
                Err(_) => error(cid, ErrorCode::INVALID_SEQ, out),
                Ok(Progress::Incomplete(rx)) => {
                    self.transaction = Transaction::Receiving(Receiving {
                        rx,
                        last_packet_ms: now_ms,
                    });
                }
                Ok(Progress::Complete(msg)) => self.on_message(now_ms, msg, out),
            },
            // A continuation with no message in progress on its channel is ignored.
            other => self.transaction = other,
        }
    }
}

#[cfg(test)]
mod tests;
