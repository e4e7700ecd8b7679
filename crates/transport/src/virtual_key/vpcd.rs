//! The virtual key as a contactless card in vsmartcard's virtual reader, `vpcd`: a pcscd
//! driver that listens on TCP (port 35963 by default) for a virtual card to connect, so that
//! PC/SC clients talk to this process through the real pcscd.
//!
//! vpcd's protocol (vsmartcard `virtualsmartcard/src/vpcd/vpcd.c`): every message either way is
//! a 2-byte big-endian length and that many bytes. From vpcd, a 1-byte message is a control
//! code — 0 power off, 1 power on, 2 reset, 4 "send your ATR" (the only one answered) — and
//! anything longer is a command APDU, answered with one response APDU. vpcd asks for the ATR
//! every few hundred milliseconds to see whether the card is still there; closing the
//! connection is removing the card.
//!
//! One loop: read a message, let the [`Applet`] decide, run CTAP and U2F requests on the
//! application's worker thread, and answer a client that accepts status updates within
//! [`POLL_INTERVAL_MS`] with the answer or with "still working" (UPNEEDED while the
//! application waits for the user).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey_ctap::hid::{ChannelId, Command, KeepaliveStatus};
use latchkey_ctap::iso7816::StatusWord;
use latchkey_ctap::nfc::{Action, Applet, AppletConfig, Job, CONTACTLESS_ATR, POLL_INTERVAL_MS};

use super::engine::Input;
use super::worker::{self, Job as WorkerJob};
use super::{CtapHidApp, Signals, VirtualKey};
use crate::seqpacket::is_timeout;

/// How often a blocked read looks at the shutdown flag.
const READ_POLL: Duration = Duration::from_millis(50);
/// vpcd's control codes.
const CTRL_OFF: u8 = 0;
const CTRL_ON: u8 = 1;
const CTRL_RESET: u8 = 2;
const CTRL_ATR: u8 = 4;
/// The largest response data one vpcd message carries: 65,535 bytes less SW1 SW2.
const MAX_RESPONSE_DATA: usize = 65_533;
/// authenticatorGetInfo's command byte: a misbehaving card still answers it, so clients open it.
const GET_INFO: u8 = 0x04;

/// Ways the card can break CTAP over NFC on purpose, to test what clients do about it. Each
/// applies to every CTAP2 request but authenticatorGetInfo, from its first answer on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Answers with one byte, shorter than a status word.
    Truncated,
    /// Answers with status word 6A80 instead of the response.
    WrongStatus,
    /// Answers `61 00` without data, and the same to every GET RESPONSE.
    EndlessChain,
    /// Answers 256 bytes and `61 00`, and the same to every GET RESPONSE, without end.
    Oversized,
    /// Answers "still working" (9100), and the same to every poll, for ever.
    EndlessUpdates,
    /// Never answers (the connection stays open).
    Silent,
}

/// How the card behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct VpcdOptions {
    /// What the applet accepts.
    pub applet: AppletConfig,
    /// Break the protocol this way, for testing clients.
    pub misbehave: Option<Misbehaviour>,
}

/// Connects to vpcd at `addr`, retrying while nothing listens there yet (pcscd loads vpcd a
/// moment after it starts) until `patience` has passed.
pub fn connect(addr: SocketAddr, patience: Duration) -> io::Result<TcpStream> {
    let deadline = Instant::now() + patience;
    loop {
        match TcpStream::connect(addr) {
            Ok(stream) => return Ok(stream),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Reads vpcd's length-prefixed messages, waking up to look at the shutdown flag.
struct Frames {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Frames {
    /// The next message; `None` once `shutdown` rises.
    fn next(&mut self, shutdown: &AtomicBool) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let [hi, lo, rest @ ..] = self.buf.as_slice() {
                let len = usize::from(u16::from_be_bytes([*hi, *lo]));
                if rest.len() >= len {
                    let message = rest[..len].to_vec();
                    self.buf.drain(..2 + len);
                    return Ok(Some(message));
                }
            }
            if shutdown.load(Ordering::SeqCst) {
                return Ok(None);
            }
            // vpcd writes a message's length and its body separately without TCP_NODELAY, so
            // Nagle holds the body back until the length is acknowledged: acknowledge at once
            // rather than after the 40 ms of a delayed ACK (Linux resets this after each use).
            let _ = socket2::SockRef::from(&self.stream).set_tcp_quickack(true);
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "vpcd closed the connection",
                    ))
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let len = u16::try_from(message.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "answer over 65535 bytes"))?;
        let mut out = Vec::with_capacity(2 + message.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(message);
        self.stream.write_all(&out)
    }
}

/// The card: the applet, the request the application runs, and the misbehaviour under way.
struct Card {
    applet: Applet,
    signals: Signals,
    jobs: Sender<WorkerJob>,
    answers: Receiver<Input<()>>,
    next_id: u64,
    running: Option<u64>,
    misbehave: Option<Misbehaviour>,
    /// The misbehaviour has started: every APDU until the next SELECT gets it.
    misbehaving: bool,
}

impl Card {
    /// The answer to one command APDU; `None` to answer nothing.
    fn on_apdu(&mut self, apdu: &[u8], shutdown: &AtomicBool) -> Option<Vec<u8>> {
        let select = apdu.get(1) == Some(&latchkey_ctap::iso7816::INS_SELECT);
        let action = self.applet.on_apdu(apdu);
        if self.misbehaving {
            if !select {
                self.applet.abandon();
                return self.misbehaviour();
            }
            // A fresh SELECT ends the misbehaviour until the next request.
            self.misbehaving = false;
        }
        match action {
            Action::Reply(reply) => Some(reply),
            Action::Abandon(reply) => {
                self.cancel_running();
                Some(reply)
            }
            Action::Run { job, updates } => {
                if self.misbehave.is_some()
                    && matches!(&job, Job::Ctap(r) if r.first() != Some(&GET_INFO))
                {
                    self.misbehaving = true;
                    self.applet.abandon();
                    return self.misbehaviour();
                }
                let id = self.next_id;
                self.next_id += 1;
                let (cmd, payload) = match job {
                    Job::Ctap(r) => (Command::CBOR, r),
                    Job::U2f(a) => (Command::MSG, a),
                };
                let request = WorkerJob::Request {
                    id,
                    cid: ChannelId(0),
                    cmd,
                    payload,
                };
                if self.jobs.send(request).is_err() {
                    self.applet.abandon();
                    return Some(StatusWord::NO_PRECISE_DIAGNOSIS.to_bytes().to_vec());
                }
                self.running = Some(id);
                self.await_answer(updates, shutdown)
            }
            Action::Poll { cancel } => {
                if let (true, Some(id)) = (cancel, self.running) {
                    self.signals.cancel(id);
                }
                self.await_answer(true, shutdown)
            }
        }
    }

    /// Waits for the running request's answer: with `updates` for one poll interval, then
    /// answers "still working"; without, until it comes (or shutdown).
    fn await_answer(&mut self, updates: bool, shutdown: &AtomicBool) -> Option<Vec<u8>> {
        let until = Instant::now() + Duration::from_millis(POLL_INTERVAL_MS);
        loop {
            let wait = if updates {
                until.saturating_duration_since(Instant::now())
            } else {
                READ_POLL
            };
            match self.answers.recv_timeout(wait) {
                Ok(Input::AppDone { id, payload, .. }) if Some(id) == self.running => {
                    self.running = None;
                    return self.applet.finish(payload);
                }
                // The answer to an abandoned request.
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) if updates && Instant::now() >= until => {
                    let how = if self.signals.up_needed() {
                        KeepaliveStatus::UpNeeded
                    } else {
                        KeepaliveStatus::Processing
                    };
                    return self.applet.still_running(how);
                }
                Err(RecvTimeoutError::Timeout) if shutdown.load(Ordering::SeqCst) => return None,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.applet.abandon();
                    return Some(StatusWord::NO_PRECISE_DIAGNOSIS.to_bytes().to_vec());
                }
            }
        }
    }

    fn misbehaviour(&self) -> Option<Vec<u8>> {
        match self.misbehave? {
            Misbehaviour::Truncated => Some(vec![0x90]),
            Misbehaviour::WrongStatus => Some(StatusWord::WRONG_DATA.to_bytes().to_vec()),
            Misbehaviour::EndlessChain => Some(vec![0x61, 0x00]),
            Misbehaviour::Oversized => {
                let mut piece = vec![0xA5; 256];
                piece.extend_from_slice(&[0x61, 0x00]);
                Some(piece)
            }
            Misbehaviour::EndlessUpdates => Some(vec![0x01, 0x91, 0x00]),
            Misbehaviour::Silent => None,
        }
    }

    /// Cancels the running request; its answer will be dropped.
    fn cancel_running(&mut self) {
        if let Some(id) = self.running.take() {
            self.signals.cancel(id);
        }
    }

    /// The card left the field or was reset: the application loses its volatile state.
    fn power_cycle(&mut self) {
        if self.applet.reset() {
            self.cancel_running();
        }
        self.misbehaving = false;
        let _ = self.jobs.send(WorkerJob::PowerCycle);
    }
}

pub(super) fn serve<A: CtapHidApp>(
    key: VirtualKey<A>,
    stream: TcpStream,
    options: VpcdOptions,
    shutdown: Arc<AtomicBool>,
) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_POLL))?;
    stream.set_nodelay(true)?;
    let (answer_tx, answers) = mpsc::channel::<Input<()>>();
    let (jobs, app_thread) = worker::spawn(key.app, key.signals.clone(), answer_tx)?;
    let mut card = Card {
        applet: Applet::new(AppletConfig {
            max_response_data: options.applet.max_response_data.min(MAX_RESPONSE_DATA),
            ..options.applet
        }),
        signals: key.signals,
        jobs,
        answers,
        next_id: 1,
        running: None,
        misbehave: options.misbehave,
        misbehaving: false,
    };
    let mut frames = Frames {
        stream,
        buf: Vec::new(),
    };
    let result = loop {
        let message = match frames.next(&shutdown) {
            Ok(Some(m)) => m,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let answer = match message.as_slice() {
            [CTRL_ATR] => Some(CONTACTLESS_ATR.to_vec()),
            [CTRL_OFF] | [CTRL_RESET] => {
                card.power_cycle();
                None
            }
            [CTRL_ON] | [_] => None,
            apdu => card.on_apdu(apdu, &shutdown),
        };
        if let Some(answer) = answer {
            if let Err(e) = frames.send(&answer) {
                break Err(e);
            }
        }
    };
    shutdown.store(true, Ordering::SeqCst);
    card.cancel_running();
    drop(card);
    super::unix::join_briefly(app_thread);
    result
}

/// Where a `--vpcd` argument points: `HOST:PORT`.
pub fn resolve(addr: &str) -> io::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{addr}: no address")))
}
