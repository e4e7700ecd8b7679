#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

//! CTAPHID corner cases (CTAP 2.1 §11.2.9) on the virtual key over UDP, driven with raw reports
//! the way a host and the conformance suites do: several channels on one socket, packets of
//! different messages interleaved, a message left unfinished, the reboot report.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use latchkey_ctap::hid::{fragment, ChannelId, Command, ErrorCode, InitHandshake, Report};
use latchkey_transport::virtual_key::{CtapHidApp, Signals, VirtualKey, REBOOT_REPORT};

/// Echoes CBOR as status 0 ‖ request; CBOR command 0x52 works for 300 ms first.
struct Echo;

impl CtapHidApp for Echo {
    fn cbor(&mut self, req: &[u8]) -> Vec<u8> {
        if req.first() == Some(&0x52) {
            thread::sleep(Duration::from_millis(300));
        }
        let mut out = vec![0x00];
        out.extend_from_slice(req);
        out
    }

    fn msg(&mut self, apdu: &[u8]) -> Vec<u8> {
        let mut out = apdu.to_vec();
        out.extend_from_slice(&[0x90, 0x00]);
        out
    }

    fn power_cycle(&mut self) {}
}

/// The virtual key on a UDP port, and one host socket talking to it.
struct Key {
    shutdown: Arc<AtomicBool>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
    host: UdpSocket,
}

impl Key {
    fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = socket.local_addr().unwrap();
        let shutdown = Arc::new(AtomicBool::new(false));
        let sd = Arc::clone(&shutdown);
        let key = VirtualKey::new(Echo, Signals::new());
        let thread = thread::spawn(move || key.serve_udp(socket, sd));
        let host = UdpSocket::bind("127.0.0.1:0").unwrap();
        host.connect(addr).unwrap();
        host.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        Self {
            shutdown,
            thread: Some(thread),
            host,
        }
    }

    fn send(&self, report: &Report) {
        self.host.send(report).unwrap();
    }

    /// The next report from the device, skipping keepalives.
    fn recv(&self) -> Report {
        loop {
            let mut buf = [0u8; 65];
            let n = self.host.recv(&mut buf).expect("no report from the device");
            assert_eq!(n, 64);
            if buf[4] != Command::KEEPALIVE.0 | 0x80 {
                let mut r = [0u8; 64];
                r.copy_from_slice(&buf[..64]);
                return r;
            }
        }
    }

    /// The next message from the device: (channel, command, payload).
    fn recv_message(&self) -> (ChannelId, Command, Vec<u8>) {
        let first = self.recv();
        let cid = ChannelId(u32::from_be_bytes([first[0], first[1], first[2], first[3]]));
        let len = usize::from(u16::from_be_bytes([first[5], first[6]]));
        let mut payload = first[7..].to_vec();
        while payload.len() < len {
            payload.extend_from_slice(&self.recv()[5..]);
        }
        payload.truncate(len);
        (cid, Command(first[4] & 0x7f), payload)
    }

    /// CTAPHID_INIT on `cid` (broadcast: a new channel); the channel the answer names.
    fn init_on(&self, cid: ChannelId) -> ChannelId {
        let hs = if cid == ChannelId::BROADCAST {
            InitHandshake::new([3; 8])
        } else {
            InitHandshake::resync(cid, [3; 8])
        };
        self.send(&hs.report());
        hs.on_report(&self.recv()).unwrap().unwrap().cid
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap().unwrap();
        }
    }
}

fn frames(cid: ChannelId, cmd: Command, payload: &[u8]) -> Vec<Report> {
    fragment(cid, cmd, payload).unwrap().collect()
}

fn error(cid: ChannelId, code: ErrorCode) -> (ChannelId, Command, Vec<u8>) {
    (cid, Command::ERROR, vec![code.0])
}

#[test]
fn init_on_another_channel_is_answered_while_a_message_is_partly_received() {
    let key = Key::start();
    let a = key.init_on(ChannelId::BROADCAST);
    let ping = frames(a, Command::PING, &[0x11; 150]);
    key.send(&ping[0]);
    key.send(&ping[1]);
    // A channel the host made up: adopted and answered before the first message completes.
    let other = ChannelId(0x1122_3344);
    assert_eq!(key.init_on(other), other);
    key.send(&ping[2]);
    assert_eq!(key.recv_message(), (a, Command::PING, vec![0x11; 150]));
    key.send(&frames(other, Command::PING, b"mine")[0]);
    assert_eq!(key.recv_message(), (other, Command::PING, b"mine".to_vec()));
}

#[test]
fn a_partial_message_times_out_on_its_own_channel() {
    let key = Key::start();
    let a = key.init_on(ChannelId::BROADCAST);
    let sent = Instant::now();
    let ping = frames(a, Command::PING, &[0x22; 200]);
    key.send(&ping[0]);
    key.send(&ping[1]);
    // Nothing else is sent: the device wakes itself.
    assert_eq!(key.recv_message(), error(a, ErrorCode::MSG_TIMEOUT));
    let waited = sent.elapsed();
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    // The device is idle again.
    key.send(&frames(a, Command::PING, &[1])[0]);
    assert_eq!(key.recv_message(), (a, Command::PING, vec![1]));
}

#[test]
fn init_packet_where_a_continuation_is_due_and_a_skipped_sequence_are_invalid_seq() {
    let key = Key::start();
    let a = key.init_on(ChannelId::BROADCAST);
    let ping = frames(a, Command::PING, &[0x33; 1024]);
    key.send(&ping[0]);
    key.send(&ping[1]);
    key.send(&frames(a, Command::CBOR, &[0x04])[0]);
    assert_eq!(key.recv_message(), error(a, ErrorCode::INVALID_SEQ));
    key.send(&ping[0]);
    key.send(&ping[1]);
    key.send(&ping[2]);
    key.send(&ping[4]);
    assert_eq!(key.recv_message(), error(a, ErrorCode::INVALID_SEQ));
    key.send(&frames(a, Command::PING, &[2])[0]);
    assert_eq!(key.recv_message(), (a, Command::PING, vec![2]));
}

#[test]
fn another_channel_is_busy_while_a_message_arrives_interleaved_and_the_first_completes() {
    let key = Key::start();
    let first = ChannelId(0x1122_3344);
    let second = ChannelId(0x0122_3344);
    assert_eq!(key.init_on(second), second);
    assert_eq!(key.init_on(first), first);
    let ping1 = frames(first, Command::PING, &[0x44; 99]);
    let ping2 = frames(second, Command::PING, &[0x55; 99]);
    key.send(&ping1[0]);
    key.send(&ping2[0]);
    key.send(&ping2[1]);
    assert_eq!(key.recv_message(), error(second, ErrorCode::CHANNEL_BUSY));
    key.send(&ping1[1]);
    assert_eq!(key.recv_message(), (first, Command::PING, vec![0x44; 99]));
}

#[test]
fn another_channel_is_busy_while_a_request_is_processed_and_the_first_completes() {
    let key = Key::start();
    let a = key.init_on(ChannelId::BROADCAST);
    let b = key.init_on(ChannelId::BROADCAST);
    key.send(&frames(a, Command::CBOR, &[0x52])[0]);
    // Not interleaved: b sends whole messages while a's request runs.
    key.send(&frames(b, Command::PING, &[1])[0]);
    assert_eq!(key.recv_message(), error(b, ErrorCode::CHANNEL_BUSY));
    key.send(&frames(b, Command::CBOR, &[0x04])[0]);
    assert_eq!(key.recv_message(), error(b, ErrorCode::CHANNEL_BUSY));
    assert_eq!(key.recv_message(), (a, Command::CBOR, vec![0x00, 0x52]));
    key.send(&frames(b, Command::PING, &[1])[0]);
    assert_eq!(key.recv_message(), (b, Command::PING, vec![1]));
}

#[test]
fn channels_stay_valid_across_the_reboot_report() {
    let key = Key::start();
    let a = key.init_on(ChannelId::BROADCAST);
    let adopted = key.init_on(ChannelId(0x0a0b_0c0d));
    // A request in progress is abandoned by the reboot.
    key.send(&frames(a, Command::CBOR, &[0x52])[0]);
    key.send(&REBOOT_REPORT);
    for cid in [a, adopted] {
        key.send(&frames(cid, Command::PING, b"after")[0]);
        assert_eq!(key.recv_message(), (cid, Command::PING, b"after".to_vec()));
    }
    // No answer to the abandoned request comes, even after it would have finished.
    key.host
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 65];
    let stray = key.host.recv(&mut buf);
    assert!(stray.is_err(), "{:02x?}", &buf[..8]);
    key.host
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    // A new host gets a channel no other host holds.
    assert_eq!(key.init_on(ChannelId::BROADCAST), ChannelId(a.0 + 1));
}
