use std::sync::atomic::AtomicBool;
use std::time::Duration;

use latchkey_transport::virtual_key::{CtapHidApp, Signals, VirtualKey};
use latchkey_transport::SeqpacketListener;

use super::*;

use crate::shown::StatusLine;
use latchkey_client::Device;

/// A CTAPHID device that answers nothing useful: enough to be opened (INIT is the server's).
struct Mute;

impl CtapHidApp for Mute {
    fn cbor(&mut self, _: &[u8]) -> Vec<u8> {
        vec![0x01]
    }
    fn msg(&mut self, _: &[u8]) -> Vec<u8> {
        vec![0x6d, 0x00]
    }
    fn power_cycle(&mut self) {}
}

fn serve(path: &Path) -> Arc<AtomicBool> {
    let listener = SeqpacketListener::bind(path).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || VirtualKey::new(Mute, Signals::new()).serve_unix(listener, flag));
    stop
}

fn sources(dir: &Path, devices: &[&str], config: Option<&str>) -> KeySources {
    let config = config.map(|text| {
        let p = dir.join("devices.toml");
        std::fs::write(&p, text).unwrap();
        p
    });
    KeySources {
        devices: devices.iter().map(|d| d.parse().unwrap()).collect(),
        config,
        usb: None,
        pcsc: false,
    }
}

#[test]
fn named_keys_merge_the_command_line_and_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = sources(
        dir.path(),
        &["unix:/run/a", "udp:127.0.0.1:9"],
        Some("devices = [\"unix:/run/a\", \"unix:/run/b\"]\n"),
    );
    let names: Vec<String> = s.named_specs().iter().map(ToString::to_string).collect();
    assert_eq!(names, ["unix:/run/a", "udp:127.0.0.1:9", "unix:/run/b"]);
    assert!(s.enabled());
    // A broken file is skipped (and reported by `check`), the command line still counts.
    let s = sources(
        dir.path(),
        &["unix:/run/a"],
        Some("devices = [\"tcp:1\"]\n"),
    );
    assert!(s.check().is_err());
    assert_eq!(s.named_specs().len(), 1);
    // Nothing named, no file, no USB: keys are off, and so are their capabilities.
    let off = KeySources {
        config: Some(dir.path().join("absent.toml")),
        ..KeySources::default()
    };
    assert!(!off.enabled());
    let cards = KeySources {
        pcsc: true,
        ..KeySources::default()
    };
    assert!(cards.enabled(), "cards on PC/SC readers alone are keys");
    let caps = KeyBackend::new(off, Timeouts::default()).capabilities();
    assert_eq!(caps.get("extension:prf"), Some(&false));
    assert_eq!(caps.get("hybridTransport"), Some(&false));
    let caps = KeyBackend::new(s, Timeouts::default()).capabilities();
    assert_eq!(caps.get("extension:prf"), Some(&true));
    assert_eq!(caps.get("extension:appid"), Some(&true));
    assert_eq!(caps.get("hybridTransport"), Some(&false));
}

fn acquire_now(
    s: &KeySources,
    cancel: &CancelHandle,
    wait: Duration,
) -> (Result<Box<dyn Device>, WebAuthnError>, Vec<String>) {
    let (show, rx) = crate::shown::channel();
    let got = acquire::acquire(
        &KeyAccess::InProcess,
        s,
        cancel,
        &show,
        Instant::now() + wait,
    );
    drop(show);
    // What the request's task would have shown, as a version 1 prompt's notices.
    let mut line = StatusLine::default();
    let shown = rx
        .queued()
        .into_iter()
        .filter_map(|s| line.next(s))
        .map(|s| s.v1_text())
        .collect();
    (got, shown)
}

#[test]
fn a_key_that_appears_while_waiting_is_used_and_the_user_is_asked_to_insert_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.sock");
    let s = sources(dir.path(), &[&format!("unix:{}", path.display())], None);
    let later = path.clone();
    let server = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        serve(&later)
    });
    let (got, shown) = acquire_now(&s, &CancelHandle::new(), Duration::from_secs(10));
    let device = got.unwrap();
    assert_eq!(device.info().path, format!("unix:{}", path.display()));
    assert_eq!(shown, [crate::shown::INSERT_KEY]);
    server
        .join()
        .unwrap()
        .store(true, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn no_key_in_time_is_not_allowed_and_a_cancelled_wait_is_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    let s = sources(dir.path(), &["unix:/nonexistent/key.sock"], None);
    let (got, _) = acquire_now(&s, &CancelHandle::new(), Duration::from_millis(250));
    let e = got.err().unwrap();
    assert_eq!(e.name(), "NotAllowedError");
    assert!(e.message().contains("no security key"), "{}", e.message());

    // Keys off altogether: refused at once, without asking to insert one.
    let t = Instant::now();
    let (got, shown) = acquire_now(
        &KeySources::default(),
        &CancelHandle::new(),
        Duration::from_secs(30),
    );
    let e = got.err().unwrap();
    assert_eq!(e.name(), "NotAllowedError");
    assert!(
        e.message().contains("no security key is configured"),
        "{}",
        e.message()
    );
    assert!(shown.is_empty() && t.elapsed() < Duration::from_secs(2));

    let cancel = CancelHandle::new();
    let c = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        c.cancel();
    });
    let t = Instant::now();
    let (got, _) = acquire_now(&s, &cancel, Duration::from_secs(30));
    assert_eq!(got.err().unwrap().name(), "AbortError");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn one_key_present_is_used_without_a_selection_touch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.sock");
    let stop = serve(&path);
    let s = sources(dir.path(), &[&format!("unix:{}", path.display())], None);
    let (got, shown) = acquire_now(&s, &CancelHandle::new(), Duration::from_secs(5));
    // The mute key would fail a selection: it was not asked for one.
    assert!(got.is_ok());
    assert!(shown.is_empty(), "{shown:?}");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
}
