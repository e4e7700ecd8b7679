#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Choosing among several keys and the ways a key can fail while the user is asked to touch it:
//! refusal, a touch on another key (CTAPHID_CANCEL), a key plugged in mid-ceremony, a key
//! unplugged mid-ceremony, a key that hangs, keepalives, and a key answering garbage.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::*;
use latchkey_client::ctap2::{self, CtapError};
use latchkey_client::device::KeepaliveStatus;
use latchkey_client::select::{select, select_joining, SILENT_PROMPT};
use latchkey_client::ui::{Account, Cancelled, CeremonyUi, Pin, PinRequest};
use latchkey_client::{Device, DeviceError, ScriptedUi, Status};
use latchkey_transport::SeqpacketListener;
use latchkey_webauthn::ErrorName;
use serde_json::json;

/// What a [`FakeKey`] does once asked a CTAPHID_CBOR request.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// Never answers.
    Hang,
    /// Sends UPNEEDED keepalives, then closes its end (the key was pulled out).
    Unplug,
    /// Sends UPNEEDED keepalives, then answers CTAP2_OK with no body.
    KeepaliveThenOk,
    /// Answers with pseudo-random reports: first on other channels (ignored), then on its own
    /// channel with command 0x42, which answers nothing.
    Garbage,
}

/// A hand-written CTAPHID device on a Unix socket: answers CTAPHID_INIT properly, then behaves
/// as told. Counts the CTAPHID_CANCEL reports it receives.
struct FakeKey {
    path: PathBuf,
    cancels: Arc<AtomicUsize>,
    /// How many CTAPHID_CBOR requests it received.
    asked: Arc<AtomicUsize>,
    /// Set once an unplugging key has closed its end.
    gone: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

const CID: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

fn report(cid: [u8; 4], cmd: u8, data: &[u8]) -> [u8; 64] {
    let mut r = [0u8; 64];
    r[..4].copy_from_slice(&cid);
    r[4] = cmd;
    r[5..7].copy_from_slice(&(data.len() as u16).to_be_bytes());
    r[7..7 + data.len()].copy_from_slice(data);
    r
}

impl FakeKey {
    fn start(behaviour: Behaviour) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fake.sock");
        let listener = SeqpacketListener::bind(&path).unwrap();
        let cancels = Arc::new(AtomicUsize::new(0));
        let counted = cancels.clone();
        let asked = Arc::new(AtomicUsize::new(0));
        let requests = asked.clone();
        let gone = Arc::new(AtomicBool::new(false));
        let unplugged = gone.clone();
        std::thread::spawn(move || {
            let stream = listener.accept().unwrap();
            let mut buf = [0u8; 65];
            let mut seed: u32 = 0x1234_5678;
            loop {
                let n = match stream.recv(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if n != 64 {
                    continue;
                }
                if buf[4] == 0x90 {
                    requests.fetch_add(1, Ordering::SeqCst);
                }
                match buf[4] {
                    0x86 => {
                        // CTAPHID_INIT: nonce, new CID, protocol 2, version 1.0.0, CBOR | NMSG.
                        let mut data = buf[7..15].to_vec();
                        data.extend_from_slice(&CID);
                        data.extend_from_slice(&[2, 1, 0, 0, 0x0C]);
                        let cid = [buf[0], buf[1], buf[2], buf[3]];
                        stream.send(&report(cid, 0x86, &data)).unwrap();
                    }
                    0x91 => {
                        counted.fetch_add(1, Ordering::SeqCst);
                    }
                    0x90 => match behaviour {
                        Behaviour::Hang => {}
                        Behaviour::Unplug => {
                            for _ in 0..3 {
                                let _ = stream.send(&report(CID, 0xBB, &[2]));
                                std::thread::sleep(Duration::from_millis(100));
                            }
                            drop(stream);
                            unplugged.store(true, Ordering::SeqCst);
                            return;
                        }
                        Behaviour::KeepaliveThenOk => {
                            for _ in 0..3 {
                                stream.send(&report(CID, 0xBB, &[2])).unwrap();
                                std::thread::sleep(Duration::from_millis(50));
                            }
                            stream.send(&report(CID, 0x90, &[0x00])).unwrap();
                        }
                        Behaviour::Garbage => {
                            let mut r = [0u8; 64];
                            for _ in 0..8 {
                                for b in r.iter_mut() {
                                    seed ^= seed << 13;
                                    seed ^= seed >> 17;
                                    seed ^= seed << 5;
                                    *b = seed as u8;
                                }
                                r[..3].copy_from_slice(&[0xA0, 0xB0, 0xC0]);
                                stream.send(&r).unwrap();
                            }
                            // On its own channel: an answer with a command nobody asked for.
                            r[..4].copy_from_slice(&CID);
                            r[4] = 0xC2;
                            stream.send(&r).unwrap();
                        }
                    },
                    _ => {}
                }
            }
        });
        Self {
            path,
            cancels,
            asked,
            gone,
            _dir: dir,
        }
    }

    fn open(&self) -> Box<dyn Device> {
        Box::new(latchkey_client::hid::open_unix(&self.path).unwrap())
    }
}

fn path_of(server: &VirtualKeyServer) -> String {
    format!("unix:{}", server.path.display())
}

/// Waits until `done` holds, polling; a bound far beyond any scheduling delay turns a hang into
/// a failure naming `what`.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A [`ScriptedUi`] that also sends every status it is shown down a channel, so that another
/// thread can act once the user was told something.
struct TellingUi {
    inner: ScriptedUi,
    told: mpsc::Sender<Status>,
}

impl TellingUi {
    fn new() -> (Self, mpsc::Receiver<Status>) {
        let (told, hear) = mpsc::channel();
        let ui = Self {
            inner: ScriptedUi::default(),
            told,
        };
        (ui, hear)
    }
}

impl CeremonyUi for TellingUi {
    fn pin(&mut self, request: &PinRequest) -> Result<Pin, Cancelled> {
        self.inner.pin(request)
    }
    fn choose_credential(&mut self, accounts: &[Account]) -> Result<usize, Cancelled> {
        self.inner.choose_credential(accounts)
    }
    fn status(&mut self, status: Status) {
        let _ = self.told.send(status.clone());
        self.inner.status(status);
    }
}

/// Waits for the UI to be told `status`.
fn hear(statuses: &mpsc::Receiver<Status>, status: &Status) {
    loop {
        let heard = statuses
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("the UI was never told {status:?}: {e}"));
        if heard == *status {
            return;
        }
    }
}

#[test]
fn of_two_keys_one_refusing_the_granting_one_is_used() {
    let refusing = VirtualKeyServer::start();
    refusing.deny.store(true, Ordering::SeqCst);
    let granting = VirtualKeyServer::start();
    granting.hold.store(true, Ordering::SeqCst);
    let grant = granting.grant.clone();
    let (refused, asked) = (refusing.touches.clone(), granting.touches.clone());
    let toucher = std::thread::spawn(move || {
        // Touched only once both keys were asked (and one refused at once).
        wait_until("both keys were asked for a touch", || {
            refused.count() == 1 && asked.count() == 1
        });
        grant.store(true, Ordering::SeqCst);
    });
    let mut ui = ScriptedUi::default();
    let chosen = select(vec![refusing.open(), granting.open()], &mut ui).unwrap();
    toucher.join().unwrap();
    assert_eq!(chosen.info().path, path_of(&granting));
    assert_eq!(refusing.touches.count(), 1);
    assert_eq!(granting.cancels.count(), 0);
}

#[test]
fn of_two_waiting_keys_the_first_touched_wins_and_the_other_is_cancelled() {
    let first = VirtualKeyServer::start();
    let second = VirtualKeyServer::start();
    first.hold.store(true, Ordering::SeqCst);
    second.hold.store(true, Ordering::SeqCst);
    let grant = second.grant.clone();
    let (asked_first, asked_second) = (first.touches.clone(), second.touches.clone());
    let (mut ui, statuses) = TellingUi::new();
    let toucher = std::thread::spawn(move || {
        // The user touches the second key once told to, with both keys waiting.
        hear(&statuses, &Status::TouchNeeded);
        wait_until("both keys wait for a touch", || {
            asked_first.count() == 1 && asked_second.count() == 1
        });
        grant.store(true, Ordering::SeqCst);
    });
    let chosen = select(vec![first.open(), second.open()], &mut ui).unwrap();
    toucher.join().unwrap();
    assert_eq!(chosen.info().path, path_of(&second));
    // The other key saw CTAPHID_CANCEL and stopped waiting.
    wait_until("the first key was cancelled", || first.cancels.count() > 0);
    assert_eq!(first.cancels.count(), 1);
    assert_eq!(second.cancels.count(), 0);
    assert_eq!(ui.inner.statuses.first(), Some(&Status::TouchNeeded));
}

#[test]
fn a_key_plugged_in_mid_ceremony_joins_and_is_used() {
    let waiting = VirtualKeyServer::start();
    waiting.hold.store(true, Ordering::SeqCst);
    let (plug, joins) = mpsc::channel();
    let asked = waiting.touches.clone();
    let plugged = std::thread::spawn(move || {
        // Plugged in while the first key waits for a touch.
        wait_until("the first key waits for a touch", || asked.count() == 1);
        let late = VirtualKeyServer::start();
        plug.send(late.open()).unwrap();
        late
    });
    let mut ui = ScriptedUi::default();
    let started = Instant::now();
    let mut chosen = select_joining(
        vec![waiting.open()],
        &joins,
        &mut ui,
        Duration::from_secs(10),
    )
    .unwrap();
    let late = plugged.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(chosen.info().path, path_of(&late));
    assert_eq!(late.touches.count(), 1);
    // The chosen key then runs the ceremony.
    let user = random(8);
    let (options, _) = create_options(&user, "discouraged", "discouraged", &[], json!({}));
    let reg = latchkey_client::register(&mut *chosen, &create_request(&options), &mut ui).unwrap();
    assert!(!reg.credential_id.is_empty());
    assert_eq!(late.touches.count(), 2);
    wait_until("the first key was cancelled", || {
        waiting.cancels.count() > 0
    });
    assert_eq!(waiting.cancels.count(), 1);
}

#[test]
fn a_key_plugged_into_an_empty_selection_is_used() {
    let (plug, joins) = mpsc::channel();
    let key = VirtualKeyServer::start();
    plug.send(key.open()).unwrap();
    let mut ui = ScriptedUi::default();
    let chosen = select_joining(Vec::new(), &joins, &mut ui, Duration::from_secs(5)).unwrap();
    assert_eq!(chosen.info().path, path_of(&key));
    assert_eq!(
        key.touches.count(),
        1,
        "a lone key is still asked for a touch"
    );
}

#[test]
fn with_no_key_and_none_plugged_in_selection_times_out_clearly() {
    let (_plug, joins) = mpsc::channel::<Box<dyn Device>>();
    let mut ui = ScriptedUi::default();
    let started = Instant::now();
    let err = select_joining(Vec::new(), &joins, &mut ui, Duration::from_millis(300))
        .err()
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert_eq!(err.message(), "no authenticator was touched in time");
    // With the feed closed and no key, it fails at once.
    drop(_plug);
    let err = select_joining(Vec::new(), &joins, &mut ui, Duration::from_secs(30))
        .err()
        .unwrap();
    assert_eq!(err.message(), "no authenticator is available");
}

#[test]
fn a_key_unplugged_while_waiting_for_a_touch_fails_clearly() {
    let fake = FakeKey::start(Behaviour::Unplug);
    let mut dev = fake.open();
    let mut statuses = Vec::new();
    let err = ctap2::selection(&mut *dev, &mut |k| statuses.push(k)).unwrap_err();
    assert!(
        matches!(err, CtapError::Device(DeviceError::Gone(_))),
        "{err:?}"
    );
    assert!(
        statuses.contains(&KeepaliveStatus::UpNeeded),
        "{statuses:?}"
    );
    // In a ceremony: NotAllowedError, naming the reason.
    let fake = FakeKey::start(Behaviour::Unplug);
    let mut dev = fake.open();
    let mut ui = ScriptedUi::default();
    let user = random(8);
    let (options, _) = create_options(&user, "discouraged", "discouraged", &[], json!({}));
    let err = latchkey_client::register(&mut *dev, &create_request(&options), &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed, "{err:?}");
    assert!(err.message().contains("gone"), "{}", err.message());
}

#[test]
fn a_key_unplugged_during_selection_leaves_the_other_key_in_the_race() {
    let unplugged = FakeKey::start(Behaviour::Unplug);
    let granting = VirtualKeyServer::start();
    granting.hold.store(true, Ordering::SeqCst);
    let grant = granting.grant.clone();
    let (gone, asked) = (unplugged.gone.clone(), granting.touches.clone());
    let toucher = std::thread::spawn(move || {
        // The other key is touched only after the first one was pulled out.
        wait_until("one key is gone and the other waits", || {
            gone.load(Ordering::SeqCst) && asked.count() == 1
        });
        grant.store(true, Ordering::SeqCst);
    });
    let mut ui = ScriptedUi::default();
    let chosen = select(vec![unplugged.open(), granting.open()], &mut ui).unwrap();
    toucher.join().unwrap();
    assert_eq!(chosen.info().path, path_of(&granting));
}

#[test]
fn only_unplugged_keys_fail_selection_with_each_reason() {
    let a = FakeKey::start(Behaviour::Unplug);
    let b = FakeKey::start(Behaviour::Unplug);
    let mut ui = ScriptedUi::default();
    let err = select(vec![a.open(), b.open()], &mut ui).err().unwrap();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    let message = err.message();
    assert!(message.contains(&a.path.display().to_string()), "{message}");
    assert!(message.contains(&b.path.display().to_string()), "{message}");
    assert!(message.contains("gone"), "{message}");
}

#[test]
fn a_hanging_key_times_out_without_holding_up_another() {
    let hanging = FakeKey::start(Behaviour::Hang);
    let mut dev = hanging.open();
    let started = Instant::now();
    let err = ctap2::selection(&mut *dev, &mut |_| {}).unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(err, CtapError::Device(DeviceError::Timeout)),
        "{err:?}"
    );
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(10));
    assert_eq!(err.to_string(), "the authenticator did not answer in time");

    // The other key is touched once the hanging one has its request (a request cancelled
    // before it was sent needs no CTAPHID_CANCEL).
    let hanging = FakeKey::start(Behaviour::Hang);
    let ready = VirtualKeyServer::start();
    ready.hold.store(true, Ordering::SeqCst);
    let (hangs, asked, grant) = (
        hanging.asked.clone(),
        ready.touches.clone(),
        ready.grant.clone(),
    );
    let toucher = std::thread::spawn(move || {
        wait_until("both keys have the request", || {
            hangs.load(Ordering::SeqCst) == 1 && asked.count() == 1
        });
        grant.store(true, Ordering::SeqCst);
    });
    let mut ui = ScriptedUi::default();
    let started = Instant::now();
    let chosen = select(vec![hanging.open(), ready.open()], &mut ui).unwrap();
    toucher.join().unwrap();
    // Chosen without waiting for the hanging key to time out.
    assert!(started.elapsed() < waited, "{:?}", started.elapsed());
    assert_eq!(chosen.info().path, path_of(&ready));
    // The hanging key was told to stop.
    wait_until("the hanging key was cancelled", || {
        hanging.cancels.load(Ordering::SeqCst) > 0
    });
    assert_eq!(hanging.cancels.load(Ordering::SeqCst), 1);
}

#[test]
fn keepalives_reach_the_status_callback_before_the_answer() {
    let fake = FakeKey::start(Behaviour::KeepaliveThenOk);
    let mut dev = fake.open();
    let mut statuses = Vec::new();
    ctap2::selection(&mut *dev, &mut |k| statuses.push(k)).unwrap();
    assert_eq!(
        statuses
            .iter()
            .filter(|k| **k == KeepaliveStatus::UpNeeded)
            .count(),
        3,
        "{statuses:?}"
    );
}

#[test]
fn a_key_answering_garbage_fails_with_a_malformed_answer_error() {
    let fake = FakeKey::start(Behaviour::Garbage);
    let mut dev = fake.open();
    let started = Instant::now();
    let err = ctap2::selection(&mut *dev, &mut |_| {}).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "{err:?}");
    assert!(
        matches!(err, CtapError::Device(DeviceError::Garbage(_))),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the authenticator sent a malformed answer: device answered with command 0x42"
    );
}

/// Counts the keepalive packets a device passes up, on the way to the caller's callback.
struct CountingKeepalives {
    inner: Box<dyn Device>,
    seen: Arc<AtomicUsize>,
}

impl Device for CountingKeepalives {
    fn info(&self) -> latchkey_client::DeviceDescription {
        self.inner.info()
    }
    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        let seen = self.seen.clone();
        self.inner.cbor(request, &mut |k| {
            seen.fetch_add(1, Ordering::SeqCst);
            status(k)
        })
    }
    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.inner.msg(apdu)
    }
    fn cancel_handle(&self) -> latchkey_client::CancelHandle {
        self.inner.cancel_handle()
    }
}

#[test]
fn waiting_keys_keepalives_tell_the_ui_touch_needed_once() {
    let first = VirtualKeyServer::start();
    let second = VirtualKeyServer::start();
    first.hold.store(true, Ordering::SeqCst);
    second.hold.store(true, Ordering::SeqCst);
    let packets = Arc::new(AtomicUsize::new(0));
    let wrap = |server: &VirtualKeyServer| -> Box<dyn Device> {
        Box::new(CountingKeepalives {
            inner: server.open(),
            seen: packets.clone(),
        })
    };
    let devices = vec![wrap(&first), wrap(&second)];
    let grant = second.grant.clone();
    let counted = packets.clone();
    let toucher = std::thread::spawn(move || {
        // Touched once the keys have sent several keepalives.
        wait_until("six keepalives arrived", || {
            counted.load(Ordering::SeqCst) >= 6
        });
        grant.store(true, Ordering::SeqCst);
    });
    let mut ui = ScriptedUi::default();
    let chosen = select(devices, &mut ui).unwrap();
    toucher.join().unwrap();
    assert_eq!(chosen.info().path, path_of(&second));
    // Both keys sent UPNEEDED every 100 ms: many packets, one prompt to touch. (A key may say
    // PROCESSING before it gets to asking for the touch; that is a change, told once too.)
    let packets = packets.load(Ordering::SeqCst);
    assert!(packets >= 6, "only {packets} keepalives arrived");
    let touch = ui
        .statuses
        .iter()
        .filter(|s| **s == Status::TouchNeeded)
        .count();
    assert_eq!(touch, 1, "{:?}", ui.statuses);
    assert!(
        ui.statuses.len() <= 2 && ui.statuses.last() == Some(&Status::TouchNeeded),
        "{:?}",
        ui.statuses
    );
}

/// Passes a device's answers up but none of its keepalives (a SHOULD, CTAP 2.1 §11.2.9.1.5):
/// a key or transport that sends none.
struct NoKeepalives(Box<dyn Device>);

impl Device for NoKeepalives {
    fn info(&self) -> latchkey_client::DeviceDescription {
        self.0.info()
    }
    fn cbor(
        &mut self,
        request: &[u8],
        _status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        self.0.cbor(request, &mut |_| {})
    }
    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.0.msg(apdu)
    }
    fn cancel_handle(&self) -> latchkey_client::CancelHandle {
        self.0.cancel_handle()
    }
}

#[test]
fn keys_sending_no_keepalives_still_tell_the_ui_touch_needed_once() {
    let first = VirtualKeyServer::start();
    let second = VirtualKeyServer::start();
    first.hold.store(true, Ordering::SeqCst);
    second.hold.store(true, Ordering::SeqCst);
    let devices: Vec<Box<dyn Device>> = vec![
        Box::new(NoKeepalives(first.open())),
        Box::new(NoKeepalives(second.open())),
    ];
    let grant = second.grant.clone();
    let (mut ui, statuses) = TellingUi::new();
    let started = Instant::now();
    let toucher = std::thread::spawn(move || {
        hear(&statuses, &Status::TouchNeeded);
        let told_after = started.elapsed();
        grant.store(true, Ordering::SeqCst);
        told_after
    });
    let chosen = select(devices, &mut ui).unwrap();
    let told_after = toucher.join().unwrap();
    assert_eq!(chosen.info().path, path_of(&second));
    // Told after the grace period for keepalives, and only once.
    assert!(told_after >= SILENT_PROMPT, "{told_after:?}");
    assert_eq!(ui.inner.statuses, [Status::TouchNeeded]);
    assert_eq!(first.touches.count(), 1);
}

#[test]
fn a_lone_silent_key_plugged_in_is_prompted_for() {
    let key = VirtualKeyServer::start();
    key.hold.store(true, Ordering::SeqCst);
    let (plug, joins) = mpsc::channel();
    plug.send(Box::new(NoKeepalives(key.open())) as Box<dyn Device>)
        .unwrap();
    let grant = key.grant.clone();
    let (mut ui, statuses) = TellingUi::new();
    let toucher = std::thread::spawn(move || {
        hear(&statuses, &Status::TouchNeeded);
        grant.store(true, Ordering::SeqCst);
    });
    let chosen = select_joining(Vec::new(), &joins, &mut ui, Duration::from_secs(30)).unwrap();
    toucher.join().unwrap();
    assert_eq!(chosen.info().path, path_of(&key));
    assert_eq!(ui.inner.statuses, [Status::TouchNeeded]);
}

#[test]
fn keys_that_answer_at_once_leave_the_ui_without_a_touch_prompt() {
    // No key waits for a touch, so none says UPNEEDED and the UI is not told to touch one
    // unless the answer took longer than the wait for a keepalive (a loaded machine).
    let a = VirtualKeyServer::start();
    let b = VirtualKeyServer::start();
    let mut ui = ScriptedUi::default();
    let started = Instant::now();
    select(vec![a.open(), b.open()], &mut ui).unwrap();
    if started.elapsed() < SILENT_PROMPT {
        assert!(ui.statuses.is_empty(), "{:?}", ui.statuses);
    } else {
        assert!(ui.statuses.len() <= 1, "{:?}", ui.statuses);
    }
    assert!(a.touches.count() + b.touches.count() >= 1);
}
