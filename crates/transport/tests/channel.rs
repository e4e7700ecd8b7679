#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

//! The host-side channel against scripted fake devices on UDP.

use std::net::UdpSocket;
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::{Duration, Instant};

use latchkey_ctap::hid::{fragment, ChannelId, Command, ErrorCode, HostError, InitResponse};
use latchkey_transport::channel::ChannelError;
use latchkey_transport::{CtapHidChannel, TransactOptions, UdpConnection};

fn fake_device() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Answers the INIT in `buf` on the broadcast channel, first with a stranger's nonce.
fn answer_init(dev: &UdpSocket, cid: u32) -> std::net::SocketAddr {
    let mut buf = [0u8; 64];
    let (n, peer) = dev.recv_from(&mut buf).unwrap();
    assert_eq!(n, 64);
    assert_eq!(&buf[..7], &[0xff, 0xff, 0xff, 0xff, 0x86, 0, 8]);
    let mut nonce = [0u8; 8];
    nonce.copy_from_slice(&buf[7..15]);
    for n in [[0xee; 8], nonce] {
        let info = InitResponse {
            nonce: n,
            cid: ChannelId(cid),
            protocol_version: 2,
            version: Default::default(),
            capabilities: latchkey_ctap::hid::Capabilities(0x04),
        };
        for r in fragment(ChannelId::BROADCAST, Command::INIT, &info.to_bytes()).unwrap() {
            dev.send_to(&r, peer).unwrap();
        }
    }
    peer
}

#[test]
fn open_ignores_foreign_nonces_and_uses_the_allocated_channel() {
    let dev = fake_device();
    let addr = dev.local_addr().unwrap();
    let fake = thread::spawn(move || {
        let peer = answer_init(&dev, 0x0102_0304);
        let mut buf = [0u8; 64];
        dev.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..8], &[1, 2, 3, 4, 0x81, 0, 1, 0x42]);
        // A keepalive-free reply on another channel first, then ours.
        for cid in [9, 0x0102_0304] {
            for r in fragment(ChannelId(cid), Command::PING, &[0x43]).unwrap() {
                dev.send_to(&r, peer).unwrap();
            }
        }
    });
    let mut ch = CtapHidChannel::open(UdpConnection::connect(addr).unwrap()).unwrap();
    assert_eq!(ch.cid(), ChannelId(0x0102_0304));
    assert_eq!(ch.ping(&[0x42]).unwrap(), vec![0x43]);
    fake.join().unwrap();
}

#[test]
fn silent_device_times_out() {
    let dev = fake_device();
    let addr = dev.local_addr().unwrap();
    let start = Instant::now();
    let err = CtapHidChannel::open_with_timeout(
        UdpConnection::connect(addr).unwrap(),
        Duration::from_millis(300),
    )
    .unwrap_err();
    assert!(matches!(err, ChannelError::Timeout), "{err}");
    assert!(start.elapsed() >= Duration::from_millis(300));
    drop(dev);
}

#[test]
fn device_error_and_cancel_report() {
    let dev = fake_device();
    let addr = dev.local_addr().unwrap();
    let fake = thread::spawn(move || {
        let peer = answer_init(&dev, 7);
        let mut buf = [0u8; 64];
        // The CBOR request, then (after the flag rises) the CANCEL, then answer busy.
        dev.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..5], &[0, 0, 0, 7, 0x90]);
        dev.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..7], &[0, 0, 0, 7, 0x91, 0, 0]);
        for r in fragment(ChannelId(7), Command::ERROR, &[ErrorCode::CHANNEL_BUSY.0]).unwrap() {
            dev.send_to(&r, peer).unwrap();
        }
    });
    let mut ch = CtapHidChannel::open(UdpConnection::connect(addr).unwrap()).unwrap();
    let cancel = AtomicBool::new(true);
    let err = ch
        .cbor(
            &[0x01],
            TransactOptions {
                cancel: Some(&cancel),
                ..TransactOptions::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            ChannelError::Protocol(HostError::Device(ErrorCode::CHANNEL_BUSY))
        ),
        "{err}"
    );
    fake.join().unwrap();
}

/// A device on channel 7 that answers INIT, then sends KEEPALIVE (user presence needed) every
/// 50 ms until `stop`, ignoring everything else, CANCEL included.
fn chatty_device(dev: UdpSocket, stop: std::sync::Arc<AtomicBool>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let peer = answer_init(&dev, 7);
        dev.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut buf = [0u8; 64];
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = dev.recv_from(&mut buf);
            for r in fragment(ChannelId(7), Command::KEEPALIVE, &[0x02]).unwrap() {
                let _ = dev.send_to(&r, peer);
            }
        }
    })
}

/// A key that keeps sending keepalives and never answers is given up on: `max_time` after the
/// request, or `cancel_grace` after the CANCEL it ignores.
#[test]
fn a_key_that_only_keeps_alive_is_given_up_on() {
    for cancelled in [false, true] {
        let dev = fake_device();
        let addr = dev.local_addr().unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let fake = chatty_device(dev, stop.clone());
        let mut ch = CtapHidChannel::open(UdpConnection::connect(addr).unwrap()).unwrap();
        let cancel = AtomicBool::new(cancelled);
        let mut keepalives = 0;
        let mut on_keepalive = |_| keepalives += 1;
        let start = Instant::now();
        let err = ch
            .cbor(
                &[0x01],
                TransactOptions {
                    on_keepalive: Some(&mut on_keepalive),
                    cancel: Some(&cancel),
                    max_time: if cancelled {
                        Duration::from_secs(600)
                    } else {
                        Duration::from_millis(700)
                    },
                    cancel_grace: Duration::from_millis(400),
                    ..TransactOptions::default()
                },
            )
            .unwrap_err();
        let took = start.elapsed();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        fake.join().unwrap();
        assert!(matches!(err, ChannelError::Timeout), "{err}");
        let bound = if cancelled { 400 } else { 700 };
        assert!(took >= Duration::from_millis(bound), "{took:?}");
        assert!(keepalives > 2, "the key kept talking: {keepalives}");
    }
}
