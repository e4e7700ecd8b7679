#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! A CTAPHID key's channel after a request that got no answer in time: the client resynchronises
//! it (CTAPHID_INIT on the channel), so that a late answer to the old request cannot be taken for
//! the next one's.

use std::net::UdpSocket;
use std::time::Duration;

use latchkey_client::Device as _;
use latchkey_ctap::hid::{fragment, ChannelId, Command, InitResponse};

const CID: u32 = 7;

/// Reads one report; its channel, command byte (with the init bit) and the rest.
fn report(dev: &UdpSocket) -> (u32, u8, Vec<u8>, std::net::SocketAddr) {
    let mut buf = [0u8; 64];
    let (n, peer) = dev.recv_from(&mut buf).unwrap();
    assert_eq!(n, 64);
    let cid = u32::from_be_bytes(buf[..4].try_into().unwrap());
    (cid, buf[4], buf[5..].to_vec(), peer)
}

/// Answers the INIT whose report body is `body` (length, then the nonce) on `on`.
fn answer_init(dev: &UdpSocket, peer: std::net::SocketAddr, on: u32, body: &[u8]) {
    let mut nonce = [0u8; 8];
    nonce.copy_from_slice(&body[2..10]);
    let info = InitResponse {
        nonce,
        cid: ChannelId(CID),
        protocol_version: 2,
        version: Default::default(),
        capabilities: latchkey_ctap::hid::Capabilities(0x04),
    };
    for r in fragment(ChannelId(on), Command::INIT, &info.to_bytes()).unwrap() {
        dev.send_to(&r, peer).unwrap();
    }
}

#[test]
fn after_a_request_that_timed_out_the_channel_is_resynchronised() {
    let dev = UdpSocket::bind("127.0.0.1:0").unwrap();
    dev.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let addr = dev.local_addr().unwrap().to_string();
    let key = std::thread::spawn(move || {
        let (cid, cmd, body, peer) = report(&dev);
        assert_eq!((cid, cmd), (0xffff_ffff, 0x86));
        answer_init(&dev, peer, 0xffff_ffff, &body);
        // The first request gets no answer.
        let (cid, cmd, _, _) = report(&dev);
        assert_eq!((cid, cmd), (CID, 0x90), "CTAPHID_CBOR on the channel");
        // Then the host resynchronises the channel it holds.
        let (cid, cmd, body, peer) = report(&dev);
        assert_eq!((cid, cmd), (CID, 0x86), "CTAPHID_INIT on the channel");
        answer_init(&dev, peer, CID, &body);
        // The next request is answered.
        let (cid, cmd, _, peer) = report(&dev);
        assert_eq!((cid, cmd), (CID, 0x90));
        for r in fragment(ChannelId(CID), Command::CBOR, &[0x00, 0xa0]).unwrap() {
            dev.send_to(&r, peer).unwrap();
        }
    });
    let mut device = latchkey_client::hid::open_udp(&addr).unwrap();
    let err = device.cbor(&[0x04], &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, latchkey_client::DeviceError::Timeout),
        "{err:?}"
    );
    assert_eq!(device.cbor(&[0x04], &mut |_| {}).unwrap(), [0x00, 0xa0]);
    key.join().unwrap();
}
