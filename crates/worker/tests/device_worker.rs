#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! `latchkey-device-worker` on its own: its sandbox (no home directory, no store), keys found and
//! driven through it, a hostile key refused inside it, and its death seen by latchkeyd's side.

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use latchkey_client::{CancelHandle, Device, DeviceError};
use latchkey_testkit::keys::{Presence, TestKey};
use latchkey_transport::DeviceSpec;
use latchkey_worker::device_worker::{DeviceWorker, DeviceWorkerConfig, Reach, KEYS_STOPPED};
use socket2::{Domain, SockAddr, Socket, Type};

const WORKER: &str = env!("CARGO_BIN_EXE_latchkey-device-worker");

fn probe(args: &[&str], path: &Path) -> (bool, String) {
    let out = Command::new(WORKER)
        .args(args)
        .arg("--sandbox-probe")
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_sandboxed_worker_cannot_read_a_home_directory_or_a_store_but_reads_sysfs() {
    // Files this process (root in CI, or the user) may read: only Landlock can refuse them.
    let home = tempfile::tempdir().unwrap();
    let secret = home.path().join("secret");
    std::fs::write(&secret, b"not for the device worker").unwrap();
    let store = home.path().join(".local/share/latchkey");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("master"), b"key material").unwrap();
    for path in [&secret, &store, &store.join("master")] {
        let (readable, said) = probe(&[], path);
        assert!(!readable, "{said}");
        // Not in its namespace (where the system gives none, Landlock refuses it).
        let refused = if said.starts_with("namespace: entered") {
            "No such file or directory (os error 2)"
        } else {
            "Permission denied (os error 13)"
        };
        assert!(said.contains(refused), "{said}");
    }
    // Landlock too, not only the namespace: the worker's own root exists, and Landlock refuses it.
    let (readable, said) = probe(&[], Path::new("/"));
    assert!(
        !readable && said.contains("Permission denied (os error 13)"),
        "{said}"
    );
    // What it needs stays readable: sysfs for hidraw enumeration (and nothing else).
    let (readable, said) = probe(&[], Path::new("/sys/class"));
    assert!(readable, "{said}");
    // Without USB discovery not even that.
    let (readable, said) = probe(&["--no-usb"], Path::new("/sys/class"));
    assert!(
        !readable && (said.contains("os error 13") || said.contains("os error 2")),
        "{said}"
    );
}

/// The user's sockets are out of the worker's reach but for those latchkeyd names (pcscd's): not
/// a key's socket (latchkeyd connects those for it), not the bus socket beside them (as the
/// session bus lies beside a key's socket in `$XDG_RUNTIME_DIR`; from the bus, `systemd --user`
/// starts any process), not an abstract socket of the session's (its network namespace is its
/// own). Its terminals and shared memory under `/dev` are covered, and of sysfs only `class` and
/// `devices` are there; hidraw's `/dev` stays.
#[test]
fn the_worker_reaches_the_sockets_it_is_given_and_no_other() {
    use std::os::linux::net::SocketAddrExt as _;
    use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
    let dir = tempfile::tempdir().unwrap();
    let bus = dir.path().join("bus");
    let _bus = UnixListener::bind(&bus).unwrap();
    let pcscd = dir.path().join("pcscd.comm");
    let _pcscd = UnixListener::bind(&pcscd).unwrap();
    let key = TestKey::start(&dir.path().join("key.sock"), Presence::Touch);
    let key_path = key.spec().strip_prefix("unix:").unwrap().to_owned();
    let abstract_name = format!("latchkey-test-{}", std::process::id());
    let _abstract =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(&abstract_name).unwrap()).unwrap();
    // This process reaches them all.
    UnixStream::connect(&bus).unwrap();
    UnixStream::connect_addr(&SocketAddr::from_abstract_name(&abstract_name).unwrap()).unwrap();
    let given = ["--socket", pcscd.to_str().unwrap()];
    let (reached, said) = probe(&given, &pcscd);
    assert!(
        reached && said.starts_with("namespace: entered\n"),
        "{said}"
    );
    assert!(said.contains("reachable"), "{said}");
    for unreached in [bus.as_path(), Path::new(&key_path)] {
        let (reached, said) = probe(&given, unreached);
        assert!(!reached, "{said}");
        assert!(
            said.contains("No such file or directory (os error 2)"),
            "{said}"
        );
    }
    // Given the bus, it would reach it: the refusal above is the namespace's.
    let (reached, said) = probe(&["--socket", bus.to_str().unwrap()], &bus);
    assert!(reached, "{said}");
    // No abstract socket of this network namespace exists in the worker's (refused by the
    // namespace, ECONNREFUSED; Landlock's scope, where the kernel has it, would say EPERM).
    let (reached, said) = probe(&given, Path::new(&format!("@{abstract_name}")));
    assert!(
        !reached && said.contains("Connection refused (os error 111)"),
        "{said}"
    );
    let ptmx = Path::new("/dev/pts/ptmx");
    assert!(ptmx.exists());
    let (reached, said) = probe(&given, ptmx);
    assert!(!reached && said.contains("os error 2"), "{said}");
    let cgroups = Path::new("/sys/fs/cgroup");
    assert!(cgroups.exists());
    let (reached, said) = probe(&given, cgroups);
    assert!(!reached && said.contains("os error 2"), "{said}");
    for kept in ["/dev/null", "/sys/class"] {
        let (reached, said) = probe(&given, Path::new(kept));
        assert!(reached, "{said}");
    }
}

/// A worker reaches the sockets it was started with (pcscd's) as they were: one made anew since
/// (pcscd restarted) or one that appeared since needs a new worker. A `unix:` key made anew is
/// reached all the same: latchkeyd connects it for the worker.
#[test]
fn a_socket_made_anew_is_not_reached_by_a_worker_started_before_but_a_key_is() {
    let dir = tempfile::tempdir().unwrap();
    let pcscd = dir.path().join("pcscd.comm");
    let listener = std::os::unix::net::UnixListener::bind(&pcscd).unwrap();
    let later = dir.path().join("later.comm");
    let reach = Reach {
        sockets: vec![pcscd.clone()],
        host_network: false,
    };
    let worker = DeviceWorker::start(&config(), &reach).unwrap();
    assert!(worker.suits(&reach));
    assert!(!worker.suits(&Reach {
        host_network: true,
        ..reach.clone()
    }));
    assert!(worker.reaches(std::slice::from_ref(&pcscd)));
    // A socket that is not there yet is nothing to reach.
    assert!(worker.reaches(&[pcscd.clone(), later.clone()]));
    let _later = std::os::unix::net::UnixListener::bind(&later).unwrap();
    assert!(!worker.reaches(&[pcscd.clone(), later.clone()]));
    drop(listener);
    std::fs::remove_file(&pcscd).unwrap();
    let _again = std::os::unix::net::UnixListener::bind(&pcscd).unwrap();
    assert!(!worker.reaches(std::slice::from_ref(&pcscd)));

    let key_path = dir.path().join("key.sock");
    let key = TestKey::start(&key_path, Presence::Touch);
    let specs = [spec(&key)];
    let ceremony = CancelHandle::new();
    assert_eq!(
        worker
            .find(&specs, false, false, &ceremony)
            .unwrap()
            .present
            .len(),
        1
    );
    drop(key);
    let _again = TestKey::start(&key_path, Presence::Touch);
    let ceremony = CancelHandle::new();
    let mut found = worker.find(&specs, false, false, &ceremony).unwrap();
    assert_eq!(found.present.len(), 1);
    let info = found.present[0].cbor(&[0x04], &mut |_| {}).unwrap();
    assert_eq!(info[0], 0);
}

fn config() -> DeviceWorkerConfig {
    DeviceWorkerConfig {
        program: WORKER.into(),
        usb: None,
        log_level: "debug".into(),
    }
}

/// A worker, its `unix:` keys connected by latchkeyd's side (the broker).
fn start() -> Arc<DeviceWorker> {
    DeviceWorker::start(&config(), &Reach::default()).unwrap()
}

fn spec(key: &TestKey) -> DeviceSpec {
    key.spec().parse().unwrap()
}

#[test]
fn a_key_named_to_the_worker_is_opened_there_and_answers_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::start(&dir.path().join("key.sock"), Presence::Touch);
    let worker = start();
    let ceremony = CancelHandle::new();
    let mut found = worker.find(&[spec(&key)], false, false, &ceremony).unwrap();
    assert_eq!(found.present.len(), 1);
    let device = &mut found.present[0];
    assert_eq!(device.info().path, key.spec());
    assert!(device.info().cbor);
    // authenticatorGetInfo: status 0 and the key's AAGUID in the CBOR.
    let info = device.cbor(&[0x04], &mut |_| {}).unwrap();
    assert_eq!(info[0], 0);
    let aaguid = latchkey_testkit::keys::KEY_AAGUID;
    assert!(info.windows(16).any(|w| w == aaguid), "{info:02x?}");
}

#[test]
fn a_key_that_answers_garbage_is_refused_in_the_worker_which_serves_on() {
    let dir = tempfile::tempdir().unwrap();
    // A "key" that answers CTAPHID_INIT with a report of garbage.
    let hostile = dir.path().join("hostile.sock");
    let listener = Socket::new(Domain::UNIX, Type::SEQPACKET, None).unwrap();
    listener.bind(&SockAddr::unix(&hostile).unwrap()).unwrap();
    listener.listen(4).unwrap();
    let server = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut conn = std::fs::File::from(std::os::fd::OwnedFd::from(conn));
        let mut report = [0u8; 64];
        let _ = conn.read(&mut report);
        use std::io::Write;
        let _ = conn.write(&[0xff; 64]);
        std::thread::sleep(std::time::Duration::from_secs(2));
    });
    let good = TestKey::start(&dir.path().join("key.sock"), Presence::Touch);
    let hostile_spec: DeviceSpec = format!("unix:{}", hostile.display()).parse().unwrap();
    let worker = start();
    let ceremony = CancelHandle::new();
    let found = worker
        .find(&[hostile_spec, spec(&good)], false, false, &ceremony)
        .unwrap();
    let paths: Vec<String> = found.present.iter().map(|d| d.info().path).collect();
    assert_eq!(paths, [good.spec()]);
    assert!(worker.is_alive());
    drop(found);
    server.join().unwrap();
}

/// A key that waits for a touch, opened through a new worker.
struct WaitingKey {
    worker: Arc<DeviceWorker>,
    /// The key's device in the worker.
    device: Box<dyn latchkey_client::Device>,
    /// The worker's process.
    pid: u32,
    /// Sends the worker its signal once the key waits.
    signaller: std::thread::JoinHandle<(TestKey, tempfile::TempDir)>,
}

/// A [`WaitingKey`] whose worker gets `signal` once the key waits, after which `then` runs.
fn waiting_key_and_signal(
    signal: &'static str,
    then: impl FnOnce() + Send + 'static,
) -> WaitingKey {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::start(&dir.path().join("key.sock"), Presence::Wait);
    let worker = start();
    let ceremony = CancelHandle::new();
    let mut found = worker.find(&[spec(&key)], false, false, &ceremony).unwrap();
    let device = found.present.pop().unwrap();
    let pid = worker.pid().unwrap();
    let signaller = std::thread::spawn(move || {
        while !key.waiting() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        then();
        (key, dir)
    });
    WaitingKey {
        worker,
        device,
        pid,
        signaller,
    }
}

/// Whether `err` says the security key worker stopped (the system's fault, not the key's).
fn the_worker_stopped(err: &DeviceError) -> bool {
    matches!(
        err,
        DeviceError::Gone(latchkey_client::device::Gone::Stopped(
            latchkey_client::device::Server::DeviceWorker
        ))
    )
}

#[test]
fn a_worker_killed_under_a_request_fails_it_as_stopped() {
    let WaitingKey {
        worker,
        mut device,
        signaller: killer,
        ..
    } = waiting_key_and_signal("-KILL", || {});
    // authenticatorSelection (CTAP 2.1 §6.9): waits for a touch that never comes.
    let err = device.cbor(&[0x0b], &mut |_| {}).unwrap_err();
    assert!(
        the_worker_stopped(&err) && err.to_string().ends_with(KEYS_STOPPED),
        "{err:?}"
    );
    assert!(!worker.is_alive());
    let _key = killer.join().unwrap();
}

/// A worker that stops answering (here: stopped with SIGSTOP, as a hung or taken-over worker
/// would be) does not hold latchkeyd's request for ever: once the request is cancelled and no
/// answer comes in time, the request fails as the worker's (stopped) and the worker is killed.
#[test]
fn a_worker_that_stops_answering_fails_a_cancelled_request_in_time() {
    let cancel: Arc<std::sync::Mutex<Option<CancelHandle>>> = Arc::default();
    let handle = cancel.clone();
    let WaitingKey {
        worker: _worker,
        mut device,
        pid,
        signaller: stopper,
    } = waiting_key_and_signal("-STOP", move || {
        if let Some(c) = handle.lock().unwrap().take() {
            c.cancel();
        }
    });
    *cancel.lock().unwrap() = Some(device.cancel_handle());
    let started = std::time::Instant::now();
    // authenticatorSelection (CTAP 2.1 §6.9): waits for a touch that never comes.
    let err = device.cbor(&[0x0b], &mut |_| {}).unwrap_err();
    assert!(the_worker_stopped(&err), "{err:?}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(10));
    let _key = stopper.join().unwrap();
    // Killed: a stopped process is gone once SIGKILL arrives.
    let mut gone = false;
    for _ in 0..200 {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if state.is_empty() || state.contains(") Z ") {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(gone, "the unresponsive worker {pid} still runs");
}

/// A key holds its worker: a worker latchkeyd let go (replaced by a newer one) still serves the
/// keys a ceremony holds, and stops once they and the acquisition are let go.
#[test]
fn a_worker_let_go_serves_the_keys_still_held_then_stops() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::start(&dir.path().join("key.sock"), Presence::Touch);
    let worker = start();
    let ceremony = CancelHandle::new();
    let mut found = worker.find(&[spec(&key)], false, false, &ceremony).unwrap();
    let pid = worker.pid().unwrap();
    drop(worker);
    let info = found.present[0].cbor(&[0x04], &mut |_| {}).unwrap();
    assert_eq!(info[0], 0);
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    assert!(proc_dir.exists());
    drop(found);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while proc_dir.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker let go still runs"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
