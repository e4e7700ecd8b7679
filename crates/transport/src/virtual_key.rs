//! The virtual security key: serves a CTAPHID device over UDP or a Unix socket.
//!
//! One documented loop (`engine`) owns the sans-I/O [`Device`](latchkey_ctap::hid::Device):
//! listener threads feed it the reports they read, a worker thread runs the application and
//! feeds back its answers, and the loop wakes the device at its next deadline for keepalives
//! and timeouts. Because the application runs on its own thread, PING, INIT, CANCEL and
//! KEEPALIVE keep flowing while it blocks waiting for the user.
//!
//! Listeners:
//! - UDP: each datagram is one 64-byte report; answers go back to the address the channel's
//!   last report came from (the Solo and Trezor simulator convention).
//! - Unix `SOCK_SEQPACKET`: each message is one report; every accepted connection is a host
//!   that opened the device, and all of them share the one device state.
//! - vpcd (vsmartcard's virtual PC/SC reader): the key is a contactless card in pcscd's
//!   reader, speaking CTAP over NFC ([`vpcd`]); the application and its worker are the same.
//!
//! The 64 bytes of [`REBOOT_REPORT`] (the Solo simulator's convention) power-cycle the
//! authenticator: [`CtapHidApp::power_cycle`] runs and a request in progress is abandoned, but
//! the channels hosts allocated stay valid, as in the firmware simulators that defined the
//! report (the host never closed the device, so only the authenticator's state is volatile).

mod engine;
mod udp;
mod unix;
pub mod vpcd;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use latchkey_ctap::hid::{DeviceConfig, Report};

/// The application behind the device: a CTAP2 authenticator, or a test double.
///
/// Called on a dedicated worker thread, one request at a time.
pub trait CtapHidApp: Send + 'static {
    /// A CTAPHID_CBOR request: command byte ‖ CBOR in, status byte ‖ CBOR out.
    fn cbor(&mut self, request: &[u8]) -> Vec<u8>;
    /// A CTAPHID_MSG request: a U2F command APDU in, response APDU out.
    fn msg(&mut self, apdu: &[u8]) -> Vec<u8>;
    /// CTAPHID_WINK: identify the device to the user.
    fn wink(&mut self) {}
    /// The device was unplugged and plugged back in.
    fn power_cycle(&mut self);
}

/// The Solo simulator's "reboot" report: receiving exactly these 64 bytes power-cycles the
/// virtual authenticator, keeping the hosts' channels.
pub const REBOOT_REPORT: Report = [
    0xac, 0x10, 0x52, 0xca, 0x95, 0xe5, 0x69, 0xde, 0x69, 0xe0, 0x2e, 0xbf, 0xf3, 0x33, 0x48, 0x5f,
    0x13, 0xf9, 0xb2, 0xda, 0x34, 0xc5, 0xa8, 0xa3, 0x40, 0x52, 0x66, 0x97, 0xa9, 0xab, 0x2e, 0x0b,
    0x39, 0x4d, 0x8d, 0x04, 0x97, 0x3c, 0x13, 0x40, 0x05, 0xbe, 0x1a, 0x01, 0x40, 0xbf, 0xf6, 0x04,
    0x5b, 0xb2, 0x6e, 0xb7, 0x7a, 0x73, 0xea, 0xa4, 0x78, 0x13, 0xf6, 0xb4, 0x9a, 0x72, 0x50, 0xdc,
];

#[derive(Debug, Default)]
struct SignalState {
    /// Id of the request the worker is running (0: none yet).
    running: AtomicU64,
    /// Id of the last request the host cancelled.
    cancelled: AtomicU64,
    up_needed: AtomicBool,
}

/// Shared between the server and the application's user-presence code: the application polls
/// [`Signals::is_cancelled`] while it waits for the user, and raises
/// [`Signals::set_up_needed`] so the server's keepalives say UPNEEDED.
///
/// Cancellation is tracked per request, so a cancel meant for one request can never leak
/// into the next.
#[derive(Debug, Clone, Default)]
pub struct Signals(Arc<SignalState>);

impl Signals {
    /// Fresh signals: nothing cancelled, no presence needed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the host cancelled the request the application is running.
    pub fn is_cancelled(&self) -> bool {
        let running = self.0.running.load(Ordering::SeqCst);
        running != 0 && self.0.cancelled.load(Ordering::SeqCst) == running
    }

    /// The application is (or is no longer) waiting for user presence.
    pub fn set_up_needed(&self, needed: bool) {
        self.0.up_needed.store(needed, Ordering::SeqCst);
    }

    /// Whether the application said it is waiting for user presence.
    pub fn up_needed(&self) -> bool {
        self.0.up_needed.load(Ordering::SeqCst)
    }

    /// The worker starts request `id`.
    fn start(&self, id: u64) {
        self.0.up_needed.store(false, Ordering::SeqCst);
        self.0.running.store(id, Ordering::SeqCst);
    }

    /// The host cancelled request `id`.
    fn cancel(&self, id: u64) {
        self.0.cancelled.store(id, Ordering::SeqCst);
    }
}

/// A virtual CTAPHID device serving `app`.
#[derive(Debug)]
pub struct VirtualKey<A> {
    app: A,
    signals: Signals,
    config: DeviceConfig,
}

impl<A: CtapHidApp> VirtualKey<A> {
    /// A device that serves `app` and shares `signals` with it.
    pub fn new(app: A, signals: Signals) -> Self {
        Self {
            app,
            signals,
            config: DeviceConfig::default(),
        }
    }

    /// Overrides the version and capabilities reported by CTAPHID_INIT.
    pub fn with_device_config(mut self, config: DeviceConfig) -> Self {
        self.config = config;
        self
    }

    /// Serves on a bound UDP socket until `shutdown` becomes true.
    pub fn serve_udp(
        self,
        socket: std::net::UdpSocket,
        shutdown: Arc<AtomicBool>,
    ) -> std::io::Result<()> {
        udp::serve(self, socket, shutdown)
    }

    /// Serves on a listening Unix seqpacket socket until `shutdown` becomes true; the socket
    /// file is removed when the listener is dropped.
    pub fn serve_unix(
        self,
        listener: crate::SeqpacketListener,
        shutdown: Arc<AtomicBool>,
    ) -> std::io::Result<()> {
        unix::serve(self, listener, shutdown)
    }

    /// Serves as a contactless card on a connection to vsmartcard's vpcd (see
    /// [`vpcd::connect`]) until `shutdown` becomes true or vpcd closes the connection.
    pub fn serve_vpcd(
        self,
        stream: std::net::TcpStream,
        options: vpcd::VpcdOptions,
        shutdown: Arc<AtomicBool>,
    ) -> std::io::Result<()> {
        vpcd::serve(self, stream, options, shutdown)
    }
}
