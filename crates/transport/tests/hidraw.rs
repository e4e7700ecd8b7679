#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

//! `HidrawConnection` against real file descriptors that behave like a hidraw node: a
//! `SOCK_SEQPACKET` socketpair (one read is one report, hang-up on close) and a pseudo-terminal
//! reached through an injected /dev root (EIO once the other side is gone, as an unplugged
//! hidraw node answers).

use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use latchkey_transport::hidraw::{is_device_gone, DeviceGone, GoneCause, HidrawConnection};
use latchkey_transport::virtual_key::{CtapHidApp, Signals, VirtualKey};
use latchkey_transport::{CtapHidChannel, HidConnection};
use rustix::net::{AddressFamily, SocketFlags, SocketType};

fn pair() -> (HidrawConnection, OwnedFd) {
    let (a, b) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    (HidrawConnection::from_fd(a, "/dev/hidraw-test").unwrap(), b)
}

fn gone_cause(e: &std::io::Error) -> GoneCause {
    assert!(is_device_gone(e), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    e.get_ref()
        .unwrap()
        .downcast_ref::<DeviceGone>()
        .unwrap()
        .cause
}

#[test]
fn writes_carry_report_id_zero_and_reads_return_whole_reports() {
    let (mut conn, dev) = pair();
    let mut report = [0u8; 64];
    report
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = i as u8);
    conn.send_report(&report).unwrap();
    let mut buf = [0u8; 128];
    let n = rustix::io::read(&dev, &mut buf).unwrap();
    assert_eq!(n, 65);
    assert_eq!(buf[0], 0, "report ID first");
    assert_eq!(buf[1..65], report);

    rustix::io::write(&dev, &[0xAB; 64]).unwrap();
    assert_eq!(
        conn.recv_report(Duration::from_secs(5)).unwrap(),
        Some([0xAB; 64])
    );
}

#[test]
fn reads_time_out_and_skip_reports_of_the_wrong_size() {
    let (mut conn, dev) = pair();
    let start = Instant::now();
    assert_eq!(conn.recv_report(Duration::from_millis(150)).unwrap(), None);
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");

    rustix::io::write(&dev, &[1u8; 10]).unwrap();
    rustix::io::write(&dev, &[2u8; 65]).unwrap();
    rustix::io::write(&dev, &[3u8; 64]).unwrap();
    assert_eq!(
        conn.recv_report(Duration::from_secs(5)).unwrap(),
        Some([3; 64])
    );
    rustix::io::write(&dev, &[1u8; 10]).unwrap();
    assert_eq!(conn.recv_report(Duration::from_millis(50)).unwrap(), None);
    // A zero timeout still returns a report that is already there.
    rustix::io::write(&dev, &[4u8; 64]).unwrap();
    assert_eq!(conn.recv_report(Duration::ZERO).unwrap(), Some([4; 64]));
    assert_eq!(conn.recv_report(Duration::ZERO).unwrap(), None);
}

#[test]
fn a_vanished_device_is_gone_not_a_timeout() {
    let (mut conn, dev) = pair();
    rustix::io::write(&dev, &[9u8; 64]).unwrap();
    drop(dev);
    // What was queued before the hang-up is still delivered.
    assert_eq!(
        conn.recv_report(Duration::from_secs(5)).unwrap(),
        Some([9; 64])
    );
    let err = conn.recv_report(Duration::from_secs(5)).unwrap_err();
    assert!(matches!(
        gone_cause(&err),
        GoneCause::EndOfFile | GoneCause::HangUp
    ));
    let err = conn.send_report(&[0; 64]).unwrap_err();
    assert_eq!(
        gone_cause(&err),
        GoneCause::Errno(rustix::io::Errno::PIPE.raw_os_error())
    );
    assert!(
        err.to_string().contains("/dev/hidraw-test is gone"),
        "{err}"
    );
}

#[test]
fn ioctls_on_something_else_fail_cleanly() {
    let (conn, _dev) = pair();
    let err = conn.report_descriptor().unwrap_err();
    assert!(!is_device_gone(&err));
    assert_eq!(
        err.raw_os_error(),
        Some(rustix::io::Errno::NOTTY.raw_os_error())
    );
    let err = conn.raw_info().unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(rustix::io::Errno::NOTTY.raw_os_error())
    );
}

#[test]
fn opening_a_missing_node_names_it() {
    let err = HidrawConnection::open(std::path::Path::new("/nonexistent/hidraw42")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(!is_device_gone(&err), "never opened is not gone");
    assert!(err.to_string().contains("/nonexistent/hidraw42"), "{err}");
}

/// Opens a pty and links its terminal side into a fake /dev as `hidraw0`.
fn pty_node(dev_root: &std::path::Path) -> Option<(OwnedFd, std::path::PathBuf)> {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = match openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC) {
        Ok(m) => m,
        Err(e) => {
            println!("skipped: no pseudo-terminals here ({e})");
            return None;
        }
    };
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = std::path::PathBuf::from(name.to_str().unwrap());
    // Raw mode: bytes pass unchanged, no echo, no line buffering.
    let mut tio = rustix::termios::tcgetattr(&master).unwrap();
    tio.make_raw();
    rustix::termios::tcsetattr(&master, rustix::termios::OptionalActions::Now, &tio).unwrap();
    let node = dev_root.join("hidraw0");
    std::os::unix::fs::symlink(&slave, &node).unwrap();
    Some((master, node))
}

#[test]
fn a_pty_node_in_a_fake_dev_root_reads_writes_and_reports_eio_as_gone() {
    let dir = tempfile::tempdir().unwrap();
    let Some((master, node)) = pty_node(dir.path()) else {
        return;
    };
    let spec = latchkey_transport::DeviceSpec::parse_with_dev_root("hidraw:0", dir.path()).unwrap();
    let mut conn = HidrawConnection::open(&node).unwrap();
    conn.send_report(&[0x77; 64]).unwrap();
    let mut buf = [0u8; 200];
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < 65 && Instant::now() < deadline {
        let n = rustix::io::read(&master, &mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got.len(), 65);
    assert_eq!(got[0], 0);
    assert!(got[1..].iter().all(|b| *b == 0x77));

    rustix::io::write(&master, &[0x42; 64]).unwrap();
    assert_eq!(
        conn.recv_report(Duration::from_secs(5)).unwrap(),
        Some([0x42; 64])
    );
    assert_eq!(conn.recv_report(Duration::from_millis(30)).unwrap(), None);

    // The spec form opens the same node.
    drop(spec.open().unwrap());

    // Closing the master is the unplug: the terminal side now answers EIO / hang-up.
    drop(master);
    let err = conn.recv_report(Duration::from_secs(5)).unwrap_err();
    let cause = gone_cause(&err);
    println!("pty unplug seen as {cause:?}");
    assert!(
        matches!(cause, GoneCause::HangUp | GoneCause::EndOfFile)
            || cause == GoneCause::Errno(rustix::io::Errno::IO.raw_os_error()),
        "{cause:?}"
    );
}

/// Echoes PING through the host channel: a full CTAPHID INIT + PING exchange over a hidraw
/// connection, bridged to the virtual key server (the bridge strips the report-ID byte, as the
/// kernel does before a report reaches the device).
struct Nothing;
impl CtapHidApp for Nothing {
    fn cbor(&mut self, _: &[u8]) -> Vec<u8> {
        vec![0x01]
    }
    fn msg(&mut self, _: &[u8]) -> Vec<u8> {
        vec![0x6d, 0x00]
    }
    fn power_cycle(&mut self) {}
}

#[test]
fn ctaphid_channel_runs_over_a_hidraw_connection() {
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let shutdown = Arc::new(AtomicBool::new(false));
    let sd = shutdown.clone();
    let key = thread::spawn(move || VirtualKey::new(Nothing, Signals::new()).serve_udp(server, sd));

    let (conn, dev) = pair();
    let bridge_stop = Arc::new(AtomicBool::new(false));
    let stop = bridge_stop.clone();
    let bridge = thread::spawn(move || {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.connect(addr).unwrap();
        udp.set_nonblocking(true).unwrap();
        rustix::fs::fcntl_setfl(&dev, rustix::fs::OFlags::NONBLOCK).unwrap();
        let mut buf = [0u8; 128];
        while !stop.load(Ordering::Relaxed) {
            if let Ok(65) = rustix::io::read(&dev, &mut buf) {
                assert_eq!(buf[0], 0);
                udp.send(&buf[1..65]).unwrap();
            }
            if let Ok(64) = udp.recv(&mut buf) {
                rustix::io::write(&dev, &buf[..64]).unwrap();
            }
            thread::sleep(Duration::from_millis(1));
        }
    });

    let mut channel = CtapHidChannel::open(conn).unwrap();
    let data: Vec<u8> = (0..200u8).collect();
    assert_eq!(channel.ping(&data).unwrap(), data);
    bridge_stop.store(true, Ordering::Relaxed);
    bridge.join().unwrap();
    shutdown.store(true, Ordering::Relaxed);
    key.join().unwrap().unwrap();
}

#[test]
fn open_with_retry_waits_for_a_node_that_appears_late() {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("hidraw0");
    let late = node.clone();
    let maker = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        std::fs::write(&late, b"").unwrap();
    });
    let start = Instant::now();
    let conn = HidrawConnection::open_with_retry(&node, Duration::from_secs(5)).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(90));
    assert_eq!(conn.path(), node);
    maker.join().unwrap();

    let start = Instant::now();
    let err =
        HidrawConnection::open_with_retry(&dir.path().join("hidraw1"), Duration::from_millis(100))
            .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(start.elapsed() >= Duration::from_millis(100));
}

/// A character node whose device has no driver answers `ENXIO` on open, as a hidraw node whose
/// key was just removed answers `ENODEV`: both are "gone", not a permission or path problem.
#[test]
fn a_node_without_a_device_is_gone_at_open() {
    use rustix::fs::{makedev, mknodat, FileType, Mode, CWD};
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("hidraw0");
    // Major 4000 is far above any registered one.
    if let Err(e) = mknodat(
        CWD,
        &node,
        FileType::CharacterDevice,
        Mode::from_raw_mode(0o600),
        makedev(4000, 0),
    ) {
        return println!("skipped: cannot create device nodes here ({e})");
    }
    let err = HidrawConnection::open(&node).unwrap_err();
    if err.kind() == ErrorKind::PermissionDenied {
        return println!("skipped: device nodes are not usable on this filesystem");
    }
    assert_eq!(
        gone_cause(&err),
        GoneCause::Errno(rustix::io::Errno::NXIO.raw_os_error())
    );
}
