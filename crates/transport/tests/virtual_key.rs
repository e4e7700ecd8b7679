#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

//! The virtual key server driven in-process by the host-side channel and by raw reports.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use latchkey_ctap::hid::{
    fragment, ChannelId, Command, ErrorCode, HostError, InitHandshake, KeepaliveStatus, Report,
};
use latchkey_transport::virtual_key::{CtapHidApp, Signals, VirtualKey, REBOOT_REPORT};
use latchkey_transport::{
    ChannelError, CtapHidChannel, HidConnection, SeqpacketListener, TransactOptions, UdpConnection,
    UnixConnection,
};

#[derive(Default)]
struct Counters {
    winks: AtomicUsize,
    power_cycles: AtomicUsize,
}

/// Echoes CBOR as status 0 ‖ request, APDUs as request ‖ 9000.
/// CBOR command 0x51 is slow: it waits for presence (UPNEEDED) until cancelled or 5 s pass.
/// CBOR command 0x52 works for 350 ms without needing presence.
struct TestApp {
    signals: Signals,
    counters: Arc<Counters>,
}

impl CtapHidApp for TestApp {
    fn cbor(&mut self, req: &[u8]) -> Vec<u8> {
        match req.first() {
            Some(0x51) => {
                self.signals.set_up_needed(true);
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(5) {
                    if self.signals.is_cancelled() {
                        return vec![0x2D];
                    }
                    thread::sleep(Duration::from_millis(5));
                }
                vec![0x27] // CTAP2_ERR_OPERATION_DENIED after the timeout
            }
            Some(0x52) => {
                thread::sleep(Duration::from_millis(350));
                vec![0x00]
            }
            _ => {
                let mut out = vec![0x00];
                out.extend_from_slice(req);
                out
            }
        }
    }

    fn msg(&mut self, apdu: &[u8]) -> Vec<u8> {
        let mut out = apdu.to_vec();
        out.extend_from_slice(&[0x90, 0x00]);
        out
    }

    fn wink(&mut self) {
        self.counters.winks.fetch_add(1, Ordering::SeqCst);
    }

    fn power_cycle(&mut self) {
        self.counters.power_cycles.fetch_add(1, Ordering::SeqCst);
    }
}

struct Server {
    shutdown: Arc<AtomicBool>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
    counters: Arc<Counters>,
    udp: Option<SocketAddr>,
    unix: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    fn app() -> (VirtualKey<TestApp>, Arc<Counters>) {
        let signals = Signals::new();
        let counters = Arc::new(Counters::default());
        let app = TestApp {
            signals: signals.clone(),
            counters: Arc::clone(&counters),
        };
        (VirtualKey::new(app, signals), counters)
    }

    fn udp() -> Self {
        let (key, counters) = Self::app();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let shutdown = Arc::new(AtomicBool::new(false));
        let sd = Arc::clone(&shutdown);
        let thread = thread::spawn(move || key.serve_udp(socket, sd));
        Self {
            shutdown,
            thread: Some(thread),
            counters,
            udp: Some(addr),
            unix: None,
            _dir: None,
        }
    }

    fn unix() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.sock");
        Self::unix_at(dir, path)
    }

    fn unix_at(dir: tempfile::TempDir, path: PathBuf) -> Self {
        let (key, counters) = Self::app();
        let listener = SeqpacketListener::bind(&path).unwrap();
        let shutdown = Arc::new(AtomicBool::new(false));
        let sd = Arc::clone(&shutdown);
        let thread = thread::spawn(move || key.serve_unix(listener, sd));
        Self {
            shutdown,
            thread: Some(thread),
            counters,
            udp: None,
            unix: Some(path),
            _dir: Some(dir),
        }
    }

    fn connect(&self) -> Box<dyn HidConnection> {
        match (&self.udp, &self.unix) {
            (Some(addr), _) => Box::new(UdpConnection::connect(*addr).unwrap()),
            (_, Some(path)) => Box::new(UnixConnection::connect(path).unwrap()),
            _ => unreachable!(),
        }
    }

    fn channel(&self) -> CtapHidChannel<Box<dyn HidConnection>> {
        CtapHidChannel::open(self.connect()).unwrap()
    }

    fn stop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
    }
}

fn both() -> [Server; 2] {
    [Server::udp(), Server::unix()]
}

fn frames(cid: ChannelId, cmd: Command, payload: &[u8]) -> Vec<Report> {
    fragment(cid, cmd, payload).unwrap().collect()
}

fn recv(conn: &mut dyn HidConnection) -> Report {
    conn.recv_report(Duration::from_secs(2))
        .unwrap()
        .expect("no report from the device")
}

/// Reads until a report on `cid` that is not a keepalive arrives, returns (cmd, first byte).
fn recv_answer(conn: &mut dyn HidConnection, cid: ChannelId) -> (u8, u8) {
    loop {
        let r = recv(conn);
        if r[..4] == cid.to_bytes() && r[4] != 0xBB {
            return (r[4] & 0x7f, r[7]);
        }
    }
}

fn raw_init(conn: &mut dyn HidConnection) -> ChannelId {
    let hs = InitHandshake::new([7; 8]);
    conn.send_report(&hs.report()).unwrap();
    loop {
        if let Some(r) = hs.on_report(&recv(conn)) {
            return r.unwrap().cid;
        }
    }
}

#[test]
fn init_reports_versions_and_capabilities() {
    for server in both() {
        let a = server.channel();
        let b = server.channel();
        assert_ne!(a.cid(), b.cid());
        assert_eq!(a.info().protocol_version, 2);
        assert_eq!(a.info().capabilities.0, 0x05);
    }
}

#[test]
fn cbor_and_msg_round_trip() {
    for server in both() {
        let mut ch = server.channel();
        let answer = ch.cbor(&[0x04, 0xa0], TransactOptions::default()).unwrap();
        assert_eq!(answer, vec![0x00, 0x04, 0xa0]);
        let answer = ch.msg(&[0, 3, 0, 0], TransactOptions::default()).unwrap();
        assert_eq!(answer, vec![0, 3, 0, 0, 0x90, 0x00]);
    }
}

#[test]
fn ping_carries_the_largest_message() {
    for server in both() {
        let mut ch = server.channel();
        let payload: Vec<u8> = (0..7609).map(|i| (i % 253) as u8).collect();
        assert_eq!(ch.ping(&payload).unwrap(), payload);
    }
}

#[test]
fn other_channel_is_busy_during_a_request() {
    for server in both() {
        let mut a = server.connect();
        let mut b = server.connect();
        let ca = raw_init(a.as_mut());
        let cb = raw_init(b.as_mut());
        for r in frames(ca, Command::CBOR, &[0x52]) {
            a.send_report(&r).unwrap();
        }
        thread::sleep(Duration::from_millis(50));
        b.send_report(&frames(cb, Command::PING, &[1])[0]).unwrap();
        assert_eq!(
            recv_answer(b.as_mut(), cb),
            (Command::ERROR.0, ErrorCode::CHANNEL_BUSY.0)
        );
        // The slow request still completes on its own channel.
        assert_eq!(recv_answer(a.as_mut(), ca), (Command::CBOR.0, 0x00));
    }
}

#[test]
fn out_of_sequence_continuation_is_invalid_seq() {
    for server in both() {
        let mut c = server.connect();
        let cid = raw_init(c.as_mut());
        let f = frames(cid, Command::PING, &[9; 200]);
        c.send_report(&f[0]).unwrap();
        c.send_report(&f[2]).unwrap();
        assert_eq!(
            recv_answer(c.as_mut(), cid),
            (Command::ERROR.0, ErrorCode::INVALID_SEQ.0)
        );
    }
}

#[test]
fn stalled_message_times_out() {
    for server in both() {
        let mut c = server.connect();
        let cid = raw_init(c.as_mut());
        let start = Instant::now();
        c.send_report(&frames(cid, Command::PING, &[9; 200])[0])
            .unwrap();
        assert_eq!(
            recv_answer(c.as_mut(), cid),
            (Command::ERROR.0, ErrorCode::MSG_TIMEOUT.0)
        );
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(740), "{waited:?}");
        assert!(waited < Duration::from_millis(1500), "{waited:?}");
    }
}

#[test]
fn unknown_channel_is_invalid_channel() {
    for server in both() {
        let mut c = server.connect();
        raw_init(c.as_mut());
        let bad = ChannelId(0x1234_5678);
        c.send_report(&frames(bad, Command::PING, &[1])[0]).unwrap();
        assert_eq!(
            recv_answer(c.as_mut(), bad),
            (Command::ERROR.0, ErrorCode::INVALID_CHANNEL.0)
        );
    }
}

#[test]
fn cancel_during_a_slow_request_answers_keepalive_cancel() {
    for server in both() {
        let mut ch = server.channel();
        let cancel = AtomicBool::new(false);
        let mut statuses = Vec::new();
        let started = Instant::now();
        let mut on_keepalive = |s: KeepaliveStatus| {
            statuses.push(s);
            if statuses.len() == 3 {
                cancel.store(true, Ordering::SeqCst);
            }
        };
        let answer = ch
            .cbor(
                &[0x51],
                TransactOptions {
                    on_keepalive: Some(&mut on_keepalive),
                    cancel: Some(&cancel),
                    ..TransactOptions::default()
                },
            )
            .unwrap();
        assert_eq!(answer, vec![0x2D]);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(statuses.len() >= 3);
        assert!(
            statuses.contains(&KeepaliveStatus::UpNeeded),
            "{statuses:?}"
        );
        // The device is usable again at once.
        assert_eq!(ch.ping(b"ok").unwrap(), b"ok");
    }
}

#[test]
fn keepalives_say_processing_then_nothing_after_the_answer() {
    let server = Server::unix();
    let mut ch = server.channel();
    let mut statuses = Vec::new();
    let mut on_keepalive = |s: KeepaliveStatus| statuses.push(s);
    let answer = ch
        .cbor(
            &[0x52],
            TransactOptions {
                on_keepalive: Some(&mut on_keepalive),
                ..TransactOptions::default()
            },
        )
        .unwrap();
    assert_eq!(answer, vec![0x00]);
    // 350 ms of work at one keepalive per 100 ms.
    assert!((2..=4).contains(&statuses.len()), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == KeepaliveStatus::Processing));
    let mut conn = ch.into_inner();
    assert!(conn
        .recv_report(Duration::from_millis(250))
        .unwrap()
        .is_none());
}

#[test]
fn magic_reboot_power_cycles_the_app_and_keeps_channels() {
    for server in both() {
        let mut ch = server.channel();
        let cid = ch.cid();
        ch.connection().send_report(&REBOOT_REPORT).unwrap();
        thread::sleep(Duration::from_millis(100));
        assert_eq!(server.counters.power_cycles.load(Ordering::SeqCst), 1);
        // The host's channel outlives the authenticator's reboot (the firmware simulators'
        // convention the report comes from).
        assert_eq!(ch.ping(b"x").unwrap(), b"x");
        let mut fresh = server.channel();
        assert_eq!(
            fresh.cid(),
            ChannelId(cid.0 + 1),
            "channel numbering goes on after a reboot"
        );
        assert_eq!(fresh.ping(b"y").unwrap(), b"y");
    }
}

#[test]
fn wink_reaches_the_app() {
    for server in both() {
        let mut ch = server.channel();
        ch.wink().unwrap();
        ch.wink().unwrap();
        thread::sleep(Duration::from_millis(50));
        assert_eq!(server.counters.winks.load(Ordering::SeqCst), 2);
    }
}

#[test]
fn several_connections_share_one_device() {
    for server in both() {
        let server = Arc::new(Mutex::new(server));
        let mut threads = Vec::new();
        for t in 0..3u8 {
            let mut ch = server.lock().unwrap().channel();
            threads.push(thread::spawn(move || {
                for i in 0..15u8 {
                    let payload = vec![t.wrapping_mul(31).wrapping_add(i); 300];
                    loop {
                        match ch.ping(&payload) {
                            Ok(echo) => {
                                assert_eq!(echo, payload);
                                break;
                            }
                            Err(ChannelError::Protocol(HostError::Device(
                                ErrorCode::CHANNEL_BUSY,
                            ))) => thread::sleep(Duration::from_millis(3)),
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
    }
}

#[test]
fn unix_socket_file_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stale.sock");
    // A stale socket file left by a crashed server is replaced.
    drop(std::os::unix::net::UnixDatagram::bind(&path).unwrap());
    assert!(path.exists());
    let mut server = Server::unix_at(dir, path.clone());
    assert_eq!(server.channel().ping(b"hi").unwrap(), b"hi");
    // A second server on a live socket is refused.
    let err = SeqpacketListener::bind(&path).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    let start = Instant::now();
    server.stop();
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(!path.exists(), "socket file removed on exit");
}

#[test]
fn shutdown_during_a_blocked_request_is_prompt() {
    let mut server = Server::udp();
    let mut c = server.connect();
    let cid = raw_init(c.as_mut());
    c.send_report(&frames(cid, Command::CBOR, &[0x51])[0])
        .unwrap();
    thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    server.stop();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn udp_answers_go_to_each_channels_sender() {
    let server = Server::udp();
    let mut a = server.channel();
    let mut b = server.channel();
    for i in 0..5u8 {
        assert_eq!(a.ping(&[i; 100]).unwrap(), vec![i; 100]);
        assert_eq!(b.ping(&[i + 100; 10]).unwrap(), vec![i + 100; 10]);
    }
}

#[test]
fn wrong_sized_datagram_is_invalid_len() {
    let server = Server::udp();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(server.udp.unwrap()).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut short = frames(ChannelId(1), Command::PING, &[1])[0].to_vec();
    short.truncate(40);
    socket.send(&short).unwrap();
    let mut buf = [0u8; 128];
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(n, 64);
    assert_eq!(
        &buf[..8],
        &[0, 0, 0, 1, 0xBF, 0, 1, ErrorCode::INVALID_LEN.0]
    );
}

#[test]
fn hosts_coming_and_going_leave_the_device_working() {
    let server = Server::unix();
    let mut keep = server.channel();
    for i in 0..20u8 {
        let mut ch = server.channel();
        assert_eq!(ch.ping(&[i]).unwrap(), vec![i]);
        drop(ch);
    }
    // One host leaving in the middle of a request does not wedge the device either.
    let mut c = server.connect();
    let cid = raw_init(c.as_mut());
    for r in frames(cid, Command::CBOR, &[0x52]) {
        c.send_report(&r).unwrap();
    }
    drop(c);
    thread::sleep(Duration::from_millis(400));
    assert_eq!(keep.ping(b"still here").unwrap(), b"still here");
}
