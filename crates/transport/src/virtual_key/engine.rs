//! The server's one loop: every report, application answer and wake-up passes through here.
//!
//! ```text
//! listener threads ──Input::Report──▶ ┌────────┐ ──reports──▶ send(peer, report)
//! worker thread ───Input::AppDone──▶ │ Engine │ ──Job──────▶ worker thread (the app)
//! the device's next deadline ──────▶ └────────┘ ──cancel────▶ Signals
//! ```
//!
//! The loop waits for input until the device's [`Device::next_deadline`] (a partial message's
//! timeout, a keepalive, a lock's end), then wakes the device with the time. While a request
//! runs it also looks every [`STATUS_POLL`] at whether the application waits for the user, so
//! a change to UPNEEDED is announced within that time; idle, it wakes every [`IDLE_POLL`] only
//! to see whether to shut down.
//!
//! Answers are routed by CID to the peer that last sent a report on that channel (a fresh
//! channel's INIT answer goes to whoever asked for it); a report on the broadcast channel is
//! answered to its sender.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use latchkey_ctap::hid::{
    ChannelId, Command, Device, DeviceConfig, Event, KeepaliveStatus, Report,
};

use super::worker::Job;
use super::{Signals, REBOOT_REPORT};

/// How often the application's "waiting for the user" flag is read while a request runs.
const STATUS_POLL: Duration = Duration::from_millis(10);

/// The longest wait for input with nothing pending, between looks at the shutdown flag.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// Routes kept at most; a peer that allocates channels without end cannot grow memory.
const MAX_ROUTES: usize = 1024;

/// What reaches the engine.
#[derive(Debug)]
pub(crate) enum Input<P> {
    /// A report (any size: the device judges it) from a peer.
    Report(P, Vec<u8>),
    /// The application answered request `id`.
    AppDone {
        id: u64,
        cid: ChannelId,
        payload: Vec<u8>,
    },
    /// A peer went away (Unix connection closed).
    Gone(P),
}

/// The state of the loop.
pub(crate) struct Engine<P> {
    device: Device,
    epoch: Instant,
    signals: Signals,
    jobs: Sender<Job>,
    next_job: u64,
    running: Option<u64>,
    routes: HashMap<ChannelId, P>,
}

impl<P: Clone + Eq + Hash> Engine<P> {
    pub(crate) fn new(config: DeviceConfig, signals: Signals, jobs: Sender<Job>) -> Self {
        Self {
            device: Device::new(config),
            epoch: Instant::now(),
            signals,
            jobs,
            next_job: 1,
            running: None,
            routes: HashMap::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs until `shutdown` is set or every input sender is gone.
    pub(crate) fn run(
        mut self,
        inputs: &Receiver<Input<P>>,
        mut send: impl FnMut(&P, &Report),
        shutdown: &AtomicBool,
    ) {
        while !shutdown.load(Ordering::SeqCst) {
            match inputs.recv_timeout(self.wait()) {
                Ok(input) => self.on_input(input, &mut send),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let status = if self.signals.up_needed() {
                KeepaliveStatus::UpNeeded
            } else {
                KeepaliveStatus::Processing
            };
            self.device.set_keepalive_status(status);
            let now = self.now_ms();
            if self.device.next_deadline().is_some_and(|due| due <= now) {
                let events = self.device.on_tick(now);
                self.apply(events, None, &mut send);
            }
        }
        // Let a request blocked on the user see that nobody waits for it any more.
        if let Some(id) = self.running {
            self.signals.cancel(id);
        }
    }

    /// How long to wait for input: until the device's next deadline, at most [`IDLE_POLL`],
    /// and at most [`STATUS_POLL`] while the application runs a request.
    fn wait(&self) -> Duration {
        let cap = if self.running.is_some() {
            STATUS_POLL
        } else {
            IDLE_POLL
        };
        match self.device.next_deadline() {
            Some(due) => Duration::from_millis(due.saturating_sub(self.now_ms())).min(cap),
            None => cap,
        }
    }

    fn on_input(&mut self, input: Input<P>, send: &mut impl FnMut(&P, &Report)) {
        match input {
            Input::Report(peer, bytes) => {
                if bytes[..] == REBOOT_REPORT[..] {
                    return self.restart();
                }
                if let [a, b, c, d, ..] = bytes[..] {
                    let cid = ChannelId(u32::from_be_bytes([a, b, c, d]));
                    if cid != ChannelId::BROADCAST && cid != ChannelId::RESERVED {
                        self.learn(cid, peer.clone());
                    }
                }
                let events = self.device.on_report(self.now_ms(), &bytes);
                self.apply(events, Some(&peer), send);
            }
            Input::AppDone { id, cid, payload } => {
                if self.running == Some(id) {
                    self.running = None;
                    let events = self.device.on_app_response(cid, &payload);
                    self.apply(events, None, send);
                }
            }
            Input::Gone(peer) => self.routes.retain(|_, p| *p != peer),
        }
    }

    fn learn(&mut self, cid: ChannelId, peer: P) {
        if self.routes.len() >= MAX_ROUTES && !self.routes.contains_key(&cid) {
            self.routes.clear();
        }
        self.routes.insert(cid, peer);
    }

    /// The reboot report: the authenticator power-cycles (its volatile state is lost) while the
    /// host keeps the device open, so channels and their routes stay, as in the firmware
    /// simulators that defined the report.
    fn restart(&mut self) {
        self.device.restart();
        if let Some(id) = self.running.take() {
            self.signals.cancel(id);
        }
        // The worker is gone only when the server is stopping; nothing to power-cycle then.
        let _ = self.jobs.send(Job::PowerCycle);
    }

    fn apply(&mut self, events: Vec<Event>, from: Option<&P>, send: &mut impl FnMut(&P, &Report)) {
        for event in events {
            match event {
                Event::Send(report) => {
                    let cid = ChannelId(u32::from_be_bytes([
                        report[0], report[1], report[2], report[3],
                    ]));
                    if let (Some(peer), Some(new_cid)) = (from, allocated_cid(&report)) {
                        self.learn(new_cid, peer.clone());
                    }
                    if let Some(peer) = self.routes.get(&cid).or(from) {
                        send(peer, &report);
                    }
                }
                Event::Dispatch(request) => {
                    let id = self.next_job;
                    self.next_job += 1;
                    self.running = Some(id);
                    let job = Job::Request {
                        id,
                        cid: request.cid,
                        cmd: request.cmd,
                        payload: request.payload,
                    };
                    if self.jobs.send(job).is_err() {
                        // No worker: answer as the application would on an internal error.
                        self.running = None;
                        let events = self.device.on_app_response(request.cid, &[0x7F]);
                        self.apply(events, None, send);
                    }
                }
                Event::Cancel(_) => {
                    if let Some(id) = self.running {
                        self.signals.cancel(id);
                    }
                }
                Event::Wink(_) => {
                    let _ = self.jobs.send(Job::Wink);
                }
            }
        }
    }
}

/// The CID a CTAPHID_INIT answer on the broadcast channel hands out.
fn allocated_cid(report: &Report) -> Option<ChannelId> {
    let is_broadcast_init =
        report[..4] == ChannelId::BROADCAST.to_bytes() && report[4] == Command::INIT.0 | 0x80;
    is_broadcast_init.then(|| {
        ChannelId(u32::from_be_bytes([
            report[15], report[16], report[17], report[18],
        ]))
    })
}
