#![cfg(feature = "pcsc")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The PC/SC driver through a real pcscd: a virtual card served in this process over vpcd
//! (vsmartcard's reader driver), found by the reader watcher, driven through `PcscLink` and
//! `NfcChannel` — chaining both ways, extended length, status updates, cancel, removal.
//!
//! One test: libpcsclite reads `PCSCLITE_CSOCK_NAME` once per process, so every step shares
//! the one private pcscd.

// latchkey-testkit's, included rather than depended on: the kit depends on this crate.
#[path = "../../testkit/src/pcscd.rs"]
mod pcscd;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use latchkey_ctap::hid::KeepaliveStatus;
use latchkey_ctap::iso7816::CommandApdu;
use latchkey_ctap::nfc::{AppletVersion, Encoding};
use latchkey_transport::channel::TransactOptions;
use latchkey_transport::pcsc::{readers, PcscLink, ReaderEvent, ReaderWatcher};
use latchkey_transport::virtual_key::vpcd::{self, VpcdOptions};
use latchkey_transport::virtual_key::{CtapHidApp, Signals, VirtualKey};
use latchkey_transport::{LinkError, NfcChannel, NfcChannelError};

/// Answers CTAP requests by command byte: 0x01 waits 350 ms, 0x02 waits for a cancel, anything
/// else echoes reversed after a status byte 0; U2F APDUs get their INS and 9000 back.
struct Echo {
    signals: Signals,
}

impl CtapHidApp for Echo {
    fn cbor(&mut self, request: &[u8]) -> Vec<u8> {
        match request.first() {
            Some(0x01) => thread::sleep(Duration::from_millis(350)),
            Some(0x02) => {
                self.signals.set_up_needed(true);
                while !self.signals.is_cancelled() {
                    thread::sleep(Duration::from_millis(5));
                }
                return vec![0x2D];
            }
            _ => {}
        }
        let mut out = vec![0x00];
        out.extend(request.iter().rev());
        out
    }

    fn msg(&mut self, apdu: &[u8]) -> Vec<u8> {
        vec![apdu[1], 0x90, 0x00]
    }

    fn power_cycle(&mut self) {}
}

/// A card on `vpcd`, served on a thread until the returned flag rises.
fn insert(vpcd: &str) -> (Arc<AtomicBool>, thread::JoinHandle<std::io::Result<()>>) {
    let signals = Signals::new();
    let key = VirtualKey::new(
        Echo {
            signals: signals.clone(),
        },
        signals,
    );
    let stream = vpcd::connect(vpcd.parse().unwrap(), Duration::from_secs(10)).unwrap();
    let shutdown = Arc::new(AtomicBool::new(false));
    let flag = shutdown.clone();
    let server = thread::spawn(move || key.serve_vpcd(stream, VpcdOptions::default(), flag));
    (shutdown, server)
}

fn next(watcher: &mut ReaderWatcher) -> ReaderEvent {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(event) = watcher.next_event(Duration::from_millis(200)).unwrap() {
            return event;
        }
        assert!(Instant::now() < deadline, "no reader event");
    }
}

fn opts<'a>(
    cancel: Option<&'a AtomicBool>,
    on: Option<&'a mut dyn FnMut(KeepaliveStatus)>,
) -> TransactOptions<'a> {
    TransactOptions {
        on_keepalive: on,
        cancel,
        timeout: Duration::from_secs(5),
        ..TransactOptions::default()
    }
}

#[test]
fn a_virtual_card_through_pcscd() {
    let Some(pcscd) = pcscd::Pcscd::start() else {
        return;
    };
    std::env::set_var("PCSCLITE_CSOCK_NAME", &pcscd.socket);

    let found = readers().unwrap();
    let names: Vec<&str> = found.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, [pcscd::READER, pcscd::READER_2]);
    assert!(found.iter().all(|r| !r.card_present));

    // The card arrives: the watcher says so, and the reader list agrees.
    let mut watcher = ReaderWatcher::open().unwrap();
    let (shutdown, server) = insert(&pcscd.vpcd());
    assert_eq!(
        next(&mut watcher),
        ReaderEvent::CardPresent(pcscd::READER.into())
    );
    assert!(readers().unwrap()[0].card_present);

    let link = PcscLink::connect(pcscd::READER, Duration::from_secs(5)).unwrap();
    let mut card = NfcChannel::open(link, Encoding::Short).unwrap();
    assert_eq!(card.version(), AppletVersion::U2f);

    // A request and an answer over 255 bytes: a command chain, then GET RESPONSE.
    let request: Vec<u8> = (0..700u32).map(|i| (i % 251) as u8 + 4).collect();
    let answer = card.cbor(&request, opts(None, None)).unwrap();
    assert_eq!(answer[0], 0);
    assert!(answer[1..].iter().eq(request.iter().rev()));

    // A U2F APDU passes through with its status word.
    let version = CommandApdu::parse(&[0x00, 0x03, 0x00, 0x00]).unwrap();
    assert_eq!(
        card.msg(&version, opts(None, None)).unwrap(),
        [0x03, 0x90, 0x00]
    );

    // A slow request: status updates (PROCESSING) until the answer.
    let mut seen = Vec::new();
    let mut on = |k: KeepaliveStatus| seen.push(k);
    let answer = card.cbor(&[0x01, 0xAA], opts(None, Some(&mut on))).unwrap();
    assert_eq!(answer, [0x00, 0xAA, 0x01]);
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|k| *k == KeepaliveStatus::Processing),
        "{seen:?}"
    );

    // A request waiting for the user, cancelled after its first UPNEEDED.
    let cancel = AtomicBool::new(false);
    let mut ups = 0;
    let mut on = |k: KeepaliveStatus| {
        assert_eq!(k, KeepaliveStatus::UpNeeded);
        ups += 1;
        cancel.store(true, Ordering::SeqCst);
    };
    let answer = card
        .cbor(&[0x02], opts(Some(&cancel), Some(&mut on)))
        .unwrap();
    assert_eq!(answer, [0x2D], "CTAP2_ERR_KEEPALIVE_CANCEL");
    assert_eq!(ups, 1);

    // Extended length over the same reader: one APDU each way.
    let link = PcscLink::connect(pcscd::READER, Duration::from_secs(5)).unwrap();
    let mut extended = NfcChannel::open(link, Encoding::Extended).unwrap();
    let request = vec![0x07; 3000];
    let answer = extended.cbor(&request, opts(None, None)).unwrap();
    assert_eq!(answer.len(), 3001);

    // The card leaves: the watcher says so, and the card's connection reports it gone.
    shutdown.store(true, Ordering::SeqCst);
    server.join().unwrap().unwrap();
    assert_eq!(
        next(&mut watcher),
        ReaderEvent::CardGone(pcscd::READER.into())
    );
    match card.cbor(&[0x04], opts(None, None)) {
        Err(NfcChannelError::Link(LinkError::Removed(why))) => {
            assert!(why.starts_with(pcscd::READER), "{why}")
        }
        other => panic!("a removed card answered {other:?}"),
    }
}
