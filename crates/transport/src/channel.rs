//! A blocking CTAPHID channel over any [`HidConnection`]: the driver loop around the sans-I/O
//! [`InitHandshake`] and [`Transaction`] of `latchkey_ctap::hid`.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use latchkey_ctap::hid::{
    ChannelId, Command, FrameError, HostError, InitHandshake, InitResponse, KeepaliveStatus, Step,
    Transaction,
};

use crate::connection::HidConnection;

/// How long to wait for any report from the device before giving up (keepalives restart it).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// How often the cancel flag is looked at while waiting.
const POLL: Duration = Duration::from_millis(20);

/// Why a CTAPHID exchange failed.
#[derive(Debug)]
pub enum ChannelError {
    /// Reading or writing the connection failed.
    Io(io::Error),
    /// The device sent nothing for the whole timeout.
    Timeout,
    /// The device answered with a CTAPHID error or a malformed response.
    Protocol(HostError),
    /// The request is longer than a CTAPHID message can be.
    Frame(FrameError),
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "CTAPHID I/O: {e}"),
            Self::Timeout => f.write_str("CTAPHID device did not answer in time"),
            Self::Protocol(e) => write!(f, "CTAPHID: {e}"),
            Self::Frame(e) => write!(f, "CTAPHID request: {e}"),
        }
    }
}

impl std::error::Error for ChannelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::Frame(e) => Some(e),
            Self::Timeout => None,
        }
    }
}

impl From<io::Error> for ChannelError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// The longest a transaction goes on while the device keeps sending keepalives without an
/// answer: two minutes, as for a card's status updates over NFC
/// (`latchkey_ctap::nfc::host::Limits`). A key waiting for a touch gives up well before (its own
/// user action timeout), so only a broken or hostile key meets it.
pub const MAX_TRANSACTION: Duration = Duration::from_secs(120);

/// How long the device has to answer once CTAPHID_CANCEL was sent (a key answers at once,
/// `CTAP2_ERR_KEEPALIVE_CANCEL`), however many keepalives it sends meanwhile.
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// Per-transaction options: keepalive callback, cancel flag, idle timeout and the bounds on a
/// device that keeps talking without answering.
pub struct TransactOptions<'a> {
    /// Called with the status of every KEEPALIVE the device sends.
    pub on_keepalive: Option<&'a mut dyn FnMut(KeepaliveStatus)>,
    /// When this becomes true, CTAPHID_CANCEL is sent (once) and the device's answer awaited.
    pub cancel: Option<&'a AtomicBool>,
    /// Longest silence from the device before [`ChannelError::Timeout`].
    pub timeout: Duration,
    /// Longest the whole transaction may take ([`MAX_TRANSACTION`]).
    pub max_time: Duration,
    /// Longest wait for the answer after CANCEL ([`CANCEL_GRACE`]).
    pub cancel_grace: Duration,
}

impl Default for TransactOptions<'_> {
    fn default() -> Self {
        Self {
            on_keepalive: None,
            cancel: None,
            timeout: DEFAULT_TIMEOUT,
            max_time: MAX_TRANSACTION,
            cancel_grace: CANCEL_GRACE,
        }
    }
}

impl fmt::Debug for TransactOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransactOptions")
            .field("on_keepalive", &self.on_keepalive.is_some())
            .field("cancel", &self.cancel)
            .field("timeout", &self.timeout)
            .field("max_time", &self.max_time)
            .field("cancel_grace", &self.cancel_grace)
            .finish()
    }
}

/// A CTAPHID channel allocated on a device.
#[derive(Debug)]
pub struct CtapHidChannel<C> {
    conn: C,
    info: InitResponse,
}

/// Eight bytes that differ between calls: the INIT nonce only has to tell this host's
/// answer from another's, so a randomly keyed hash of the time is enough.
fn nonce() -> [u8; 8] {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish().to_be_bytes()
}

impl<C: HidConnection> CtapHidChannel<C> {
    /// Allocates a channel with CTAPHID_INIT on the broadcast CID.
    pub fn open(conn: C) -> Result<Self, ChannelError> {
        Self::open_with_timeout(conn, DEFAULT_TIMEOUT)
    }

    /// [`CtapHidChannel::open`] with a chosen timeout for the INIT answer.
    pub fn open_with_timeout(mut conn: C, timeout: Duration) -> Result<Self, ChannelError> {
        let info = handshake(&mut conn, InitHandshake::new(nonce()), timeout)?;
        Ok(Self { conn, info })
    }

    /// Resynchronises the channel (CTAPHID_INIT on its own CID), abandoning any transaction.
    pub fn resync(&mut self) -> Result<(), ChannelError> {
        let hs = InitHandshake::resync(self.info.cid, nonce());
        self.info = handshake(&mut self.conn, hs, DEFAULT_TIMEOUT)?;
        Ok(())
    }

    /// The device's CTAPHID_INIT answer (CID, versions, capabilities).
    pub fn info(&self) -> &InitResponse {
        &self.info
    }

    /// The allocated channel.
    pub fn cid(&self) -> ChannelId {
        self.info.cid
    }

    /// The connection, for raw access.
    pub fn connection(&mut self) -> &mut C {
        &mut self.conn
    }

    /// Gives the connection back.
    pub fn into_inner(self) -> C {
        self.conn
    }

    /// CTAPHID_CBOR: command byte ‖ CBOR in, status ‖ CBOR out.
    pub fn cbor(
        &mut self,
        request: &[u8],
        options: TransactOptions<'_>,
    ) -> Result<Vec<u8>, ChannelError> {
        self.transact(Command::CBOR, request, options)
    }

    /// CTAPHID_MSG: a U2F APDU in, response APDU out.
    pub fn msg(
        &mut self,
        apdu: &[u8],
        options: TransactOptions<'_>,
    ) -> Result<Vec<u8>, ChannelError> {
        self.transact(Command::MSG, apdu, options)
    }

    /// CTAPHID_PING: the device echoes `data`.
    pub fn ping(&mut self, data: &[u8]) -> Result<Vec<u8>, ChannelError> {
        self.transact(Command::PING, data, TransactOptions::default())
    }

    /// CTAPHID_WINK.
    pub fn wink(&mut self) -> Result<(), ChannelError> {
        self.transact(Command::WINK, &[], TransactOptions::default())
            .map(drop)
    }

    /// Sends any request and waits for its answer, reporting keepalives and sending CANCEL
    /// when the cancel flag rises. A device that stays silent for `timeout`, talks without
    /// answering for `max_time`, or has not answered `cancel_grace` after the CANCEL gives
    /// [`ChannelError::Timeout`].
    pub fn transact(
        &mut self,
        cmd: Command,
        payload: &[u8],
        mut options: TransactOptions<'_>,
    ) -> Result<Vec<u8>, ChannelError> {
        let (mut tx, reports) =
            Transaction::start(self.info.cid, cmd, payload).map_err(ChannelError::Frame)?;
        for r in &reports {
            self.conn.send_report(r)?;
        }
        let started = Instant::now();
        let mut cancel_sent: Option<Instant> = None;
        let mut last_heard = started;
        loop {
            if cancel_sent.is_none() && options.cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
                self.conn.send_report(&tx.cancel_report())?;
                cancel_sent = Some(Instant::now());
            }
            if started.elapsed() >= options.max_time
                || cancel_sent.is_some_and(|at| at.elapsed() >= options.cancel_grace)
            {
                return Err(ChannelError::Timeout);
            }
            let Some(report) = self.conn.recv_report(POLL)? else {
                if last_heard.elapsed() >= options.timeout {
                    return Err(ChannelError::Timeout);
                }
                continue;
            };
            tx = match tx.on_report(&report) {
                Step::Pending(tx) => {
                    if tx_cid_matches(&report, self.info.cid) {
                        last_heard = Instant::now();
                    }
                    tx
                }
                Step::Keepalive(tx, status) => {
                    last_heard = Instant::now();
                    if let Some(cb) = options.on_keepalive.as_mut() {
                        cb(status);
                    }
                    tx
                }
                Step::Done(payload) => return Ok(payload),
                Step::Failed(e) => return Err(ChannelError::Protocol(e)),
            };
        }
    }
}

fn tx_cid_matches(report: &[u8], cid: ChannelId) -> bool {
    report.get(..4) == Some(&cid.to_bytes()[..])
}

fn handshake<C: HidConnection>(
    conn: &mut C,
    hs: InitHandshake,
    timeout: Duration,
) -> Result<InitResponse, ChannelError> {
    conn.send_report(&hs.report())?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ChannelError::Timeout);
        }
        if let Some(report) = conn.recv_report(left)? {
            match hs.on_report(&report) {
                Some(Ok(info)) => return Ok(info),
                Some(Err(e)) => return Err(ChannelError::Protocol(e)),
                None => {}
            }
        }
    }
}
