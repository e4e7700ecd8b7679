#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The platform authenticator worker: ceremonies through [`WorkerDevice`] verified by the
//! webauthn crate's RP side, list and delete, the sandbox (probed in a child process that applies
//! the same `sandbox::apply`, and read from the real worker's /proc status), a worker killed
//! mid-ceremony and mid-request, malformed messages and the round-trip cost. latchkeyd's D-Bus
//! API with the worker as its platform authenticator is `crates/daemon/tests/platform_worker.rs`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use latchkey_client::platform::PlatformDevice;
use latchkey_client::{
    Assertion, CeremonyUi, CreateRequest, Device, DeviceError, GetRequest, PinReason, Registration,
    ScriptedUi,
};
use latchkey_ctap::cbor::{self, Value};
use latchkey_testkit::landlock_abi;
use latchkey_webauthn::b64;
use latchkey_webauthn::ids::{CoseAlgorithm, UserHandle};
use latchkey_webauthn::origin::RpId;
use latchkey_webauthn::rp::{
    verify_authentication, verify_registration, CredentialRecord, ExpectedAuthentication,
    ExpectedOrigins, ExpectedRegistration, ExpectedUser,
};
use latchkey_worker::protocol::{
    ErrorCode, Message, Reply, Request, MAX_MESSAGE, MAX_USER_FIELD, PROTOCOL_VERSION,
};
use latchkey_worker::sandbox::{self, LandlockOutcome, Policy};
use latchkey_worker::{ManagedDevice, Refusal, WorkerConfig, WorkerDevice, WorkerError, STOPPED};
use serde_json::json;
use socket2::{Domain, Socket, Type};

const WORKER: &str = env!("CARGO_BIN_EXE_latchkey-platform-worker");
const ORIGIN: &str = "https://example.com";
const RP_ID: &str = "example.com";
const PIN: &str = "4321";

/// How long a test lets the worker take to start: generous, for a loaded 2-core machine that
/// runs the whole crate's tests at once (latchkeyd itself allows 30 s).
const TEST_START_TIMEOUT: Duration = Duration::from_secs(120);

fn start(store: &Path) -> WorkerDevice {
    let mut config = WorkerConfig::new(WORKER, store);
    config.start_timeout = TEST_START_TIMEOUT;
    WorkerDevice::start(config)
        .unwrap_or_else(|e| panic!("the worker over {} did not start: {e}", store.display()))
}

fn random(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut b)
        .unwrap();
    b
}

struct Created {
    reg: Registration,
    challenge: Vec<u8>,
    user: Vec<u8>,
}

fn create(
    dev: &mut dyn Device,
    ui: &mut dyn CeremonyUi,
) -> Result<Created, latchkey_webauthn::WebAuthnError> {
    let user = random(16);
    let challenge = random(32);
    let options = json!({
        "rp": {"id": RP_ID, "name": "Example"},
        "user": {"id": b64::encode(&user), "name": "alice", "displayName": "Alice"},
        "challenge": b64::encode(&challenge),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "authenticatorSelection": {"residentKey": "required", "userVerification": "required"},
        "attestation": "none",
    });
    let request = CreateRequest::new(options.to_string().as_bytes(), ORIGIN, None).unwrap();
    let reg = latchkey_client::register(dev, &request, ui)?;
    Ok(Created {
        reg,
        challenge,
        user,
    })
}

fn get(
    dev: &mut dyn Device,
    ui: &mut dyn CeremonyUi,
) -> Result<(Assertion, Vec<u8>), latchkey_webauthn::WebAuthnError> {
    let challenge = random(32);
    let options = json!({
        "challenge": b64::encode(&challenge),
        "rpId": RP_ID,
        "userVerification": "required",
    });
    let request = GetRequest::new(options.to_string().as_bytes(), ORIGIN, None).unwrap();
    Ok((latchkey_client::authenticate(dev, &request, ui)?, challenge))
}

fn rp_register(c: &Created) -> CredentialRecord {
    let rp_id = RpId::parse(RP_ID).unwrap();
    let (record, _) = verify_registration(
        &c.reg.to_response().unwrap(),
        &ExpectedRegistration {
            challenge: &c.challenge,
            origins: ExpectedOrigins {
                origins: &[ORIGIN],
                top_origins: &[],
            },
            rp_id: &rp_id,
            require_user_verification: true,
            algorithms: &[CoseAlgorithm(-7)],
        },
    )
    .unwrap();
    record
}

fn rp_authenticate(a: &Assertion, challenge: &[u8], record: &CredentialRecord, user: &[u8]) -> u32 {
    let rp_id = RpId::parse(RP_ID).unwrap();
    let handle = UserHandle::new(user.to_vec()).unwrap();
    verify_authentication(
        &a.to_response().unwrap(),
        &ExpectedAuthentication {
            challenge,
            origins: ExpectedOrigins {
                origins: &[ORIGIN],
                top_origins: &[],
            },
            rp_id: &rp_id,
            require_user_verification: true,
            allow_credentials: &[],
            user: ExpectedUser::Discoverable(&handle),
        },
        record,
    )
    .unwrap()
    .sign_count
}

#[test]
fn a_ceremony_through_the_worker_verifies_and_its_credential_is_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("latchkey");
    let mut dev = start(&store);
    assert_eq!(dev.kind(), "file");
    let info = dev.info();
    assert_eq!(info.path, store.display().to_string());
    assert_eq!(info.transport, latchkey_client::Transport::Internal);

    let mut ui = ScriptedUi::with_pins([PIN]);
    let c = create(&mut dev, &mut ui).unwrap();
    assert_eq!(ui.pin_requests[0].reason, PinReason::New);
    let record = rp_register(&c);
    // The worker wrote the store: one credential file on disk.
    assert_eq!(
        std::fs::read_dir(store.join("credentials"))
            .unwrap()
            .count(),
        1
    );

    let mut ui = ScriptedUi::with_pins([PIN]);
    let (a, challenge) = get(&mut dev, &mut ui).unwrap();
    assert_eq!(ui.pin_requests[0].reason, PinReason::Verify);
    assert_eq!(a.credential_id, c.reg.credential_id);
    assert_eq!(rp_authenticate(&a, &challenge, &record, &c.user), 1);

    // List (all, then by RP) and delete, through the ManagedDevice surface latchkeyd uses.
    let routed: &mut dyn ManagedDevice = &mut dev;
    let all = routed.list(None).unwrap().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].credential_id, c.reg.credential_id);
    assert_eq!(all[0].rp_id, RP_ID);
    assert_eq!(all[0].user_id, c.user);
    assert_eq!(all[0].user_name.as_deref(), Some("alice"));
    assert_eq!(all[0].user_display_name.as_deref(), Some("Alice"));
    assert!(all[0].discoverable);
    assert_eq!(routed.list(Some("other.example")).unwrap().unwrap(), vec![]);
    assert_eq!(routed.list(Some(RP_ID)).unwrap().unwrap(), all);
    // Rename (signalCurrentUserDetails): the worker's store keeps the new names; a name over the
    // store's limit is cut on a character boundary before it is sent.
    assert!(!routed.update_user(&[9; 16], "bob", "Bob").unwrap().unwrap());
    assert!(routed
        .update_user(&c.reg.credential_id, "alice@new", "Alice N.")
        .unwrap()
        .unwrap());
    let renamed = routed.list(Some(RP_ID)).unwrap().unwrap();
    assert_eq!(renamed[0].user_name.as_deref(), Some("alice@new"));
    assert_eq!(renamed[0].user_display_name.as_deref(), Some("Alice N."));
    assert_eq!(renamed[0].user_id, c.user);
    let long = "ü".repeat(latchkey_client::manage::MAX_USER_FIELD);
    assert!(routed
        .update_user(&c.reg.credential_id, &long, "A")
        .unwrap()
        .unwrap());
    let renamed = routed.list(Some(RP_ID)).unwrap().unwrap();
    assert_eq!(
        renamed[0].user_name.as_deref(),
        Some(
            "ü".repeat(latchkey_client::manage::MAX_USER_FIELD / 2)
                .as_str()
        )
    );
    assert!(!routed.delete(&[9; 16]).unwrap().unwrap());
    assert!(routed.delete(&c.reg.credential_id).unwrap().unwrap());
    assert!(routed.list(None).unwrap().unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(store.join("credentials"))
            .unwrap()
            .count(),
        0
    );
    let mut ui = ScriptedUi::with_pins([PIN]);
    assert_eq!(
        get(&mut dev, &mut ui).unwrap_err().name(),
        "NotAllowedError"
    );
}

/// A UI that kills the worker when asked for the PIN, then gives the PIN.
struct KillingUi {
    pid: u32,
}

fn kill(pid: u32) {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    // Wait until it is gone (a zombie until WorkerDevice reaps it).
    let status = format!("/proc/{}/status", pid.as_raw_nonzero());
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match std::fs::read_to_string(&status) {
            Ok(s) if s.contains("State:\tZ") => return,
            Err(_) => return,
            Ok(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    panic!("the worker did not die");
}

impl CeremonyUi for KillingUi {
    fn pin(
        &mut self,
        _request: &latchkey_client::PinRequest,
    ) -> Result<latchkey_client::Pin, latchkey_client::ui::Cancelled> {
        kill(self.pid);
        // Its leader shows as a zombie before its other threads have gone; let them go.
        std::thread::sleep(Duration::from_millis(300));
        Ok(latchkey_client::Pin::new(zeroize::Zeroizing::new(
            PIN.to_owned(),
        )))
    }
    fn choose_credential(
        &mut self,
        _accounts: &[latchkey_client::Account],
    ) -> Result<usize, latchkey_client::ui::Cancelled> {
        Ok(0)
    }
    fn status(&mut self, _status: latchkey_client::Status) {}
}

#[test]
fn a_worker_killed_between_requests_of_a_ceremony_is_replaced_for_the_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = start(dir.path());
    let c = create(&mut dev, &mut ScriptedUi::with_pins([PIN])).unwrap();
    let record = rp_register(&c);
    let first = dev.pid().unwrap();

    // Killed while the PIN is asked for, with no request under way: the next request finds it
    // dead, reaps it and starts a new worker over the same store, and the ceremony completes.
    let mut ui = KillingUi { pid: first };
    let (a, challenge) = get(&mut dev, &mut ui).unwrap();
    let second = dev.pid().unwrap();
    assert_ne!(first, second);
    assert!(
        !Path::new(&format!("/proc/{first}")).exists(),
        "the dead worker was reaped"
    );
    assert_eq!(rp_authenticate(&a, &challenge, &record, &c.user), 1);
}

#[test]
fn a_worker_killed_mid_request_fails_that_request_and_the_next_one_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = start(dir.path());
    create(&mut dev, &mut ScriptedUi::with_pins([PIN])).unwrap();
    // A new worker opens the store afresh: its first PIN check runs Argon2id (128 MiB, t=4), a
    // request that takes a while (later ones in the same session would not).
    drop(dev);
    let mut dev = start(dir.path());
    let pid = dev.pid().unwrap();
    let runner = std::thread::spawn(move || {
        let started = Instant::now();
        let result = get(&mut dev, &mut ScriptedUi::with_pins([PIN]));
        (dev, result.map(|_| ()), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(150));
    kill(pid);
    let (mut dev, result, took) = runner.join().unwrap();
    let e = result.unwrap_err();
    // The worker stopping is the system's failure, not a refusal by the authenticator or user.
    assert_eq!(e.name(), "UnknownError", "{e:?} after {took:?}");
    assert!(e.message().contains(STOPPED), "{}", e.message());
    get(&mut dev, &mut ScriptedUi::with_pins([PIN])).unwrap();
    assert_ne!(dev.pid(), Some(pid));
}

#[test]
fn cancelling_fails_the_request_at_once_and_a_reset_device_works_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = start(dir.path());
    let cancel = dev.cancel_handle();
    cancel.cancel();
    assert!(matches!(
        dev.cbor(&[0x04], &mut |_| {}),
        Err(DeviceError::Cancelled)
    ));
    cancel.reset();
    let info = dev.cbor(&[0x04], &mut |_| {}).unwrap();
    assert_eq!(info[0], 0x00);
    assert!(dev.msg(&[0; 7]).is_err(), "no U2F through the worker");
    // Dropping the device closes the link: the worker exits and is reaped.
    let pid = dev.pid().unwrap();
    drop(dev);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the worker is gone"
    );
}

#[test]
fn a_missing_worker_or_an_unusable_store_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let e =
        WorkerDevice::start(WorkerConfig::new(dir.path().join("nope"), dir.path())).unwrap_err();
    assert!(matches!(e, WorkerError::Spawn { .. }), "{e:?}");
    // latchkeyd looks next to itself; this test binary has no worker beside it.
    let e = WorkerConfig::for_latchkeyd(Some(dir.path())).unwrap_err();
    match e {
        WorkerError::NotFound(p) => {
            assert_eq!(
                p,
                std::env::current_exe()
                    .unwrap()
                    .with_file_name("latchkey-platform-worker")
            );
        }
        other => panic!("{other:?}"),
    }
    // A store path under a regular file cannot be created.
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let e = WorkerDevice::start(WorkerConfig::new(WORKER, file.join("store"))).unwrap_err();
    match e {
        WorkerError::Refused(Refusal::Said { message, .. }) => {
            assert!(message.contains("cannot create"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// The real worker runs with no_new_privs, three seccomp filters, and is not dumpable.
#[test]
fn the_running_worker_is_sandboxed() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start(dir.path());
    let status = std::fs::read_to_string(format!("/proc/{}/status", dev.pid().unwrap())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(field("NoNewPrivs:"), "1");
    assert_eq!(field("Seccomp:"), "2", "filter mode");
    assert_eq!(
        field("Seccomp_filters:"),
        "3",
        "allow-list, arguments, clone3"
    );
    // Non-dumpable: its /proc files belong to root instead of the user.
    let meta = std::fs::metadata(format!("/proc/{}/mem", dev.pid().unwrap())).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.uid(), 0);
}

/// What the sandbox probe child reports, one `name value` per line.
fn probe(store: &Path, outside: &Path) -> std::collections::BTreeMap<String, String> {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "sandbox_probe_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LATCHKEY_SANDBOX_PROBE_STORE", store)
        .env("LATCHKEY_SANDBOX_PROBE_OUTSIDE", outside)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "probe failed:\n{text}");
    text.lines()
        // libtest prints the test's name on the line of its first output.
        .filter_map(|l| l.find("PROBE ").map(|i| &l[i + "PROBE ".len()..]))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn the_sandbox_confines_files_sockets_and_exec() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let outside = dir.path().join("secret");
    std::fs::write(&outside, b"not for the worker").unwrap();
    let r = probe(&store, &outside);
    let eacces = libc::EACCES.to_string();
    let eperm = libc::EPERM.to_string();
    // We ask for ABI 7's rights: a kernel with ABI 7 or later enforces them all; an older one
    // only part (and the rest of this test still holds on one with ABI 1 or later).
    let abi = landlock_abi();
    if abi >= 7 {
        assert_eq!(r["landlock"], "Full", "ABI {abi}: {r:?}");
    } else {
        assert!(abi >= 1, "this test needs Landlock (kernel ABI {abi})");
        assert_eq!(r["landlock"], "Partial", "ABI {abi}: {r:?}");
    }
    assert_eq!(r["store_write"], "ok", "{r:?}");
    assert_eq!(r["store_read"], "ok", "{r:?}");
    assert_eq!(
        r["outside_read"], eacces,
        "Landlock denies files outside the store: {r:?}"
    );
    assert_eq!(r["outside_create"], eacces, "{r:?}");
    assert_eq!(r["proc_self"], eacces, "{r:?}");
    assert_eq!(r["etc_passwd"], eacces, "{r:?}");
    assert_eq!(r["tcp_socket"], eperm, "seccomp denies AF_INET: {r:?}");
    assert_eq!(r["udp6_socket"], eperm, "seccomp denies AF_INET6: {r:?}");
    assert_eq!(
        r["unix_socket"], eperm,
        "seccomp denies every new socket: {r:?}"
    );
    assert_eq!(r["exec"], eperm, "seccomp denies execve: {r:?}");
    assert_eq!(r["ioctl_tiocsti"], eperm, "seccomp denies TIOCSTI: {r:?}");
    assert_eq!(
        r["ioctl_tioclinux"], eperm,
        "seccomp denies TIOCLINUX: {r:?}"
    );
    assert_eq!(r["unshare_newuser"], eperm, "{r:?}");
    assert_eq!(r["clone_newuser"], eperm, "{r:?}");
    #[cfg(target_arch = "x86_64")]
    assert_eq!(r["x32_getpid"], eperm, "seccomp denies the x32 ABI: {r:?}");
    assert_eq!(
        r["thread"], "ok",
        "threads still start (clone3 → clone): {r:?}"
    );
}

/// Not a test on its own: the child process of `the_sandbox_confines_files_sockets_and_exec`,
/// which sandboxes itself with the worker's `sandbox::apply` and reports what it could do.
#[test]
#[ignore = "run in a child process by the_sandbox_confines_files_sockets_and_exec"]
fn sandbox_probe_child() {
    let store = PathBuf::from(std::env::var_os("LATCHKEY_SANDBOX_PROBE_STORE").unwrap());
    let outside = PathBuf::from(std::env::var_os("LATCHKEY_SANDBOX_PROBE_OUTSIDE").unwrap());
    let policy = Policy::platform_worker(&store);
    let profile = sandbox::profile::platform_worker(&policy).unwrap();
    let status = sandbox::apply(&policy, &profile).unwrap();
    let report = |name: &str, r: std::io::Result<()>| {
        let v = match r {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.raw_os_error().map_or(format!("{e}"), |n| n.to_string()),
        };
        println!("PROBE {name} {v}");
    };
    let landlock = match status.landlock {
        LandlockOutcome::Full => "Full",
        LandlockOutcome::Partial => "Partial",
        LandlockOutcome::Unsupported => "Unsupported",
    };
    println!("PROBE landlock {landlock}");
    let inside = store.join("probe");
    report(
        "store_write",
        std::fs::File::create(&inside).and_then(|mut f| f.write_all(b"ok")),
    );
    report(
        "store_read",
        std::fs::read(&inside).and_then(|b| {
            (b == b"ok")
                .then_some(())
                .ok_or_else(|| std::io::Error::other("wrong bytes"))
        }),
    );
    report("outside_read", std::fs::read(&outside).map(drop));
    report(
        "outside_create",
        std::fs::File::create(outside.with_file_name("planted")).map(drop),
    );
    report("proc_self", std::fs::read("/proc/self/status").map(drop));
    report("etc_passwd", std::fs::read("/etc/passwd").map(drop));
    report(
        "tcp_socket",
        std::net::TcpListener::bind("127.0.0.1:0").map(drop),
    );
    report(
        "udp6_socket",
        std::net::UdpSocket::bind("[::1]:0").map(drop),
    );
    report(
        "unix_socket",
        std::os::unix::net::UnixDatagram::unbound().map(drop),
    );
    report("exec", Command::new("/bin/true").status().map(drop));
    // Terminal injection: seccomp answers before the kernel looks at the descriptor (stdout is a
    // pipe here, which would otherwise say ENOTTY).
    let ioctl = |cmd: libc::c_ulong| {
        let mut c: libc::c_char = b'x' as libc::c_char;
        // SAFETY: ioctl on our own stdout with a pointer to a live byte; at worst it fails.
        #[allow(unsafe_code)]
        let r = unsafe { libc::ioctl(1, cmd, &mut c as *mut libc::c_char) };
        if r == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    report("ioctl_tiocsti", ioctl(libc::TIOCSTI));
    // TIOCLINUX with the x32-style high bits set: only the low 32 bits of the command count.
    report(
        "ioctl_tioclinux",
        ioctl(0xffff_ffff_0000_0000 | libc::TIOCLINUX),
    );
    let syscall_result = |r: libc::c_long| {
        if r == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // SAFETY: unshare takes flags only.
    #[allow(unsafe_code)]
    let r = unsafe { libc::unshare(libc::CLONE_NEWUSER) };
    report("unshare_newuser", syscall_result(libc::c_long::from(r)));
    // clone(CLONE_NEWUSER | SIGCHLD) like fork: a child that got through exits at once.
    // SAFETY: a fork-like clone; the child only calls _exit.
    #[allow(unsafe_code)]
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::c_long::from(libc::CLONE_NEWUSER | libc::SIGCHLD),
            0,
            0,
            0,
            0,
        )
    };
    if r == 0 {
        // SAFETY: in the child; leave without running anything of the parent's.
        #[allow(unsafe_code)]
        unsafe {
            libc::_exit(0)
        };
    }
    if r > 0 {
        // SAFETY: reaping our own child.
        #[allow(unsafe_code)]
        unsafe {
            libc::waitpid(r as libc::pid_t, std::ptr::null_mut(), 0)
        };
    }
    report("clone_newuser", syscall_result(r));
    // An x32 system call (getpid with the x32 bit): denied whether or not the kernel has x32.
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: getpid takes no arguments.
        #[allow(unsafe_code)]
        let r = unsafe { libc::syscall(0x4000_0000 | libc::SYS_getpid) };
        report("x32_getpid", syscall_result(r));
    }
    report(
        "thread",
        std::thread::spawn(|| 7)
            .join()
            .map_err(|_| std::io::Error::other("panicked"))
            .and_then(|n| {
                (n == 7)
                    .then_some(())
                    .ok_or_else(|| std::io::Error::other("?"))
            }),
    );
}

/// Starts the worker by hand, for speaking raw bytes to it.
fn raw_worker(store: &Path) -> (Socket, std::process::Child) {
    let (ours, theirs) = Socket::pair(Domain::UNIX, Type::SEQPACKET, None).unwrap();
    let child = Command::new(WORKER)
        .arg("--store")
        .arg(store)
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        .spawn()
        .unwrap();
    ours.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let ready = recv(&ours);
    assert!(
        matches!(ready.body, Reply::Ready { version, .. } if version == PROTOCOL_VERSION),
        "{ready:?}"
    );
    assert_eq!(ready.seq, 0);
    (ours, child)
}

fn recv(s: &Socket) -> Message<Reply> {
    let mut buf = vec![0u8; MAX_MESSAGE + 1];
    let n = (&*s).read(&mut buf).unwrap();
    Message::<Reply>::decode(&buf[..n]).unwrap()
}

fn error_code(m: &Message<Reply>) -> ErrorCode {
    match &m.body {
        Reply::Error { code, .. } => *code,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn message<T: latchkey_worker::protocol::wire::MessageSet>(seq: u64, body: T) -> Vec<u8> {
    Message { seq, body }.encode().unwrap()
}

/// A message as a peer that skips the sender's checks would write it: `{1: seq, 2: kind,
/// 3: body}` in canonical CBOR.
fn unchecked(seq: u64, kind: u64, body: Value) -> Vec<u8> {
    cbor::encode(&Value::Map(vec![
        (Value::from(1u64), Value::from(seq)),
        (Value::from(2u64), Value::from(kind)),
        (Value::from(3u64), body),
    ]))
}

fn ctap_request(command: &[u8]) -> Request {
    Request::Ctap {
        command: command.to_vec(),
    }
}

#[test]
fn malformed_messages_get_an_error_reply_and_the_worker_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let (s, mut child) = raw_worker(dir.path());
    let send = |b: &[u8]| assert_eq!((&s).write(b).unwrap(), b.len());

    send(b"\xff\x00 not cbor");
    let r = recv(&s);
    assert_eq!((r.seq, error_code(&r)), (0, ErrorCode::Malformed));

    // {1: 3, 2: 9, 3: {}}: an unknown type, answered under its seq.
    send(&[0xa3, 0x01, 0x03, 0x02, 0x09, 0x03, 0xa0]);
    let r = recv(&s);
    assert_eq!((r.seq, error_code(&r)), (3, ErrorCode::Malformed));

    // A CTAP request one byte over the limit.
    let long = Value::Map(vec![(Value::from(1u64), Value::Bytes(vec![0; 7610]))]);
    send(&unchecked(4, 1, long));
    let r = recv(&s);
    assert_eq!((r.seq, error_code(&r)), (4, ErrorCode::Malformed));

    // A message over MAX_MESSAGE.
    send(&vec![0xa0; MAX_MESSAGE + 100]);
    let r = recv(&s);
    assert_eq!((r.seq, error_code(&r)), (0, ErrorCode::TooLarge));

    // Not canonical: getInfo numbered 12 in two bytes; keys out of order. Refused, never run.
    send(&[
        0xa3, 0x01, 0x18, 0x0c, 0x02, 0x01, 0x03, 0xa1, 0x01, 0x41, 0x04,
    ]);
    let r = recv(&s);
    assert_eq!((r.seq, error_code(&r)), (0, ErrorCode::Malformed));
    let Reply::Error { message: why, .. } = &r.body else {
        panic!("{r:?}")
    };
    assert!(why.contains("canonical"), "{why}");
    send(&[0xa3, 0x02, 0x01, 0x01, 0x0c, 0x03, 0xa1, 0x01, 0x41, 0x04]);
    let r = recv(&s);
    assert_eq!((r.seq, error_code(&r)), (0, ErrorCode::Malformed));

    // A CTAP request with garbage CBOR reaches the authenticator, which answers a CTAP error.
    send(&message(5, ctap_request(&[0x01, 0xff])));
    let r = recv(&s);
    assert_eq!(r.seq, 5);
    let Reply::Ctap { response } = r.body else {
        panic!("{r:?}")
    };
    assert_ne!(response[0], 0x00, "a CTAP error status");

    // UpdateUser: an empty credential ID, a name over the limit: malformed, under their seq.
    let update = |credential_id: Vec<u8>, name: String| {
        Value::Map(vec![
            (Value::from(1u64), Value::Bytes(credential_id)),
            (Value::from(2u64), Value::Text(name)),
            (Value::from(3u64), Value::Text("D".into())),
        ])
    };
    send(&unchecked(9, 5, update(vec![], "a".into())));
    let r = recv(&s);
    assert_eq!((r.seq, error_code(&r)), (9, ErrorCode::Malformed));
    send(&unchecked(
        10,
        5,
        update(vec![1; 16], "x".repeat(MAX_USER_FIELD + 1)),
    ));
    let r = recv(&s);
    assert_eq!((r.seq, error_code(&r)), (10, ErrorCode::Malformed));
    // A well-formed one for no credential: Updated(false).
    send(&unchecked(
        11,
        5,
        update(vec![1; 16], "x".repeat(MAX_USER_FIELD)),
    ));
    assert_eq!(
        recv(&s),
        Message {
            seq: 11,
            body: Reply::Updated { updated: false }
        }
    );

    // A request cancelled before it arrived is answered Cancelled under its seq.
    send(&message(12, Request::Cancel {}));
    send(&message(12, ctap_request(&[0x04])));
    let r = recv(&s);
    assert_eq!((r.seq, error_code(&r)), (12, ErrorCode::Cancelled));

    // A number that does not increase is refused.
    send(&message(6, ctap_request(&[0x04])));
    let r = recv(&s);
    assert_eq!((r.seq, error_code(&r)), (6, ErrorCode::Malformed));

    // Still up: getInfo answers.
    send(&message(13, ctap_request(&[0x04])));
    let r = recv(&s);
    assert_eq!(r.seq, 13);
    let Reply::Ctap { response } = r.body else {
        panic!("{r:?}")
    };
    assert_eq!(response[0], 0x00);
    assert!(child.try_wait().unwrap().is_none(), "the worker runs");

    // Closing our end stops it cleanly.
    drop(s);
    assert!(child.wait().unwrap().success());
}

/// The process boundary changes nothing a caller sees: getInfo through the worker is the same bytes
/// as in process, every time. (What the boundary costs is measured in the benchmark, not here.)
#[test]
fn get_info_through_the_worker_is_the_same_bytes_as_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let mut worker = start(&dir.path().join("w"));
    let mut local = PlatformDevice::open(Some(&dir.path().join("l")), |_| true).unwrap();
    let inside = local.cbor(&[0x04], &mut |_| {}).unwrap();
    assert!(inside.len() > 1 && inside[0] == 0, "{inside:02x?}");
    for _ in 0..50 {
        let through = worker.cbor(&[0x04], &mut |_| {}).unwrap();
        assert_eq!(through, inside, "the same getInfo either way");
    }
}

/// A ceremony's cancel (the device's cancel handle, as a request's `CancelToken` reaches it)
/// does not refuse listing, deleting or renaming, which are no part of any ceremony.
#[test]
fn a_cancelled_ceremony_does_not_refuse_list_delete_or_update_user() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = start(dir.path());
    create(&mut dev, &mut ScriptedUi::with_pins([PIN, PIN])).unwrap();
    dev.cancel_handle().cancel();
    let list = ManagedDevice::list(&mut dev, Some(RP_ID)).unwrap().unwrap();
    assert_eq!(list.len(), 1);
    let id = list[0].credential_id.clone();
    assert!(ManagedDevice::update_user(&mut dev, &id, "bob", "Bob")
        .unwrap()
        .unwrap());
    assert!(!ManagedDevice::delete(&mut dev, &[9, 9, 9])
        .unwrap()
        .unwrap());
    // The ceremony itself stays cancelled until the flag is reset.
    assert!(matches!(
        dev.cbor(&[0x04], &mut |_| {}),
        Err(DeviceError::Cancelled)
    ));
}
/// A worker stand-in that speaks the protocol badly: this test binary, re-run (through a shell
/// script, since latchkeyd clears the worker's environment) as `fake_worker_child` in `mode`.
fn fake_worker(dir: &Path, mode: &str) -> WorkerConfig {
    use std::os::unix::fs::PermissionsExt;
    let exe = std::env::current_exe().unwrap();
    let script = dir.join(format!("fake-worker-{mode}"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nLATCHKEY_FAKE_WORKER={mode} LATCHKEY_FAKE_WORKER_MARKS='{}' exec '{}' \
             --exact fake_worker_child --nocapture --test-threads=1\n",
            marks(dir).display(),
            exe.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = WorkerConfig::new(script, dir);
    config.start_timeout = TEST_START_TIMEOUT;
    config.request_timeout = Duration::from_secs(2);
    config
}

/// Where the stand-ins started by [`fake_worker`] leave one file each.
fn marks(dir: &Path) -> PathBuf {
    let marks = dir.join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    marks
}

/// A worker of another protocol version (as after an upgrade replaced the binary under a
/// running latchkeyd) is started once more, then refused with both versions named.
#[test]
fn a_worker_of_another_protocol_version_is_restarted_once_then_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = WorkerDevice::start(fake_worker(dir.path(), "version")).unwrap_err();
    let WorkerError::VersionMismatch { ours, theirs, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (*ours, *theirs),
        (PROTOCOL_VERSION, Some(PROTOCOL_VERSION + 1))
    );
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "speaks protocol version {}, latchkeyd version {PROTOCOL_VERSION}",
            PROTOCOL_VERSION + 1
        )),
        "{text}"
    );
    assert!(text.contains("restart latchkeyd"), "{text}");
    let started = std::fs::read_dir(marks(dir.path())).unwrap().count();
    assert_eq!(started, 2, "started once, then once more");
}

/// The stand-in's body (does nothing unless started by [`fake_worker`]).
#[test]
fn fake_worker_child() {
    use latchkey_client::manage::CredentialInfo;
    use latchkey_worker::link::{Link, Received};
    let Some(mode) = std::env::var_os("LATCHKEY_FAKE_WORKER") else {
        return;
    };
    let link = Link::from_stdin().unwrap();
    // Each start leaves a mark, so that a test can count them.
    let marks = std::env::var_os("LATCHKEY_FAKE_WORKER_MARKS").map(std::path::PathBuf::from);
    if let Some(dir) = &marks {
        std::fs::write(dir.join(std::process::id().to_string()), b"").unwrap();
    }
    let version = if mode == "version" {
        PROTOCOL_VERSION + 1
    } else {
        PROTOCOL_VERSION
    };
    let ready = Reply::Ready {
        version,
        store: "file".into(),
        path: "/fake".into(),
    };
    link.send(&message(0, ready)).unwrap();
    let next = || match link.recv() {
        Ok(Received::Message(bytes)) => Some(Message::<Request>::decode(&bytes).unwrap().seq),
        _ => None,
    };
    let Some(mut seq) = next() else {
        return;
    };
    let item = |i: u32| CredentialInfo {
        credential_id: i.to_be_bytes().to_vec(),
        rp_id: RP_ID.into(),
        user_id: vec![1; 16],
        user_name: Some("alice".into()),
        user_display_name: Some("Alice".into()),
        discoverable: true,
        cred_protect: 1,
        sign_count: Some(0),
    };
    match mode.to_str().unwrap() {
        // Part after part of the list, always saying more follow, and then, should the gateway
        // still read, the end of a 200,000-credential list.
        "endless" => {
            for n in 0u32..2_000 {
                let items = (0..100).map(|i| item(n * 100 + i)).collect();
                let part = Reply::Credentials { items, more: true };
                if link.send(&message(seq, part)).is_err() {
                    return;
                }
            }
            let last = Reply::Credentials {
                items: Vec::new(),
                more: false,
            };
            let _ = link.send(&message(seq, last));
        }
        // Replies to an earlier request, forever, as fast as the gateway reads them (a send
        // blocks while the socket's buffer is full), so that a read never waits.
        // The first request is answered; after the second, the first's reply again, forever.
        "stale" => {
            let _ = link.send(&message(seq, Reply::Deleted { deleted: false }));
            let Some(second) = next() else {
                return;
            };
            seq = second;
            loop {
                if link
                    .send(&message(seq - 1, Reply::Deleted { deleted: true }))
                    .is_err()
                {
                    return;
                }
            }
        }
        other => panic!("unknown mode {other}"),
    }
    std::thread::sleep(Duration::from_secs(600));
}

/// Runs `f` on the device in a thread; its result and how long it took, or a failure if it
/// takes more than `limit`.
fn bounded<T: Send + 'static>(
    mut dev: WorkerDevice,
    limit: Duration,
    f: impl FnOnce(&mut WorkerDevice) -> T + Send + 'static,
) -> (T, Duration, WorkerDevice) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let began = Instant::now();
        let out = f(&mut dev);
        let _ = tx.send((out, began.elapsed(), dev));
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("the call did not end within {limit:?}"))
}

#[test]
fn a_worker_listing_without_end_is_cut_off_and_killed() {
    let dir = tempfile::tempdir().unwrap();
    let dev = WorkerDevice::start(fake_worker(dir.path(), "endless"))
        .unwrap_or_else(|e| panic!("the stand-in did not start: {e}"));
    let pid = dev.pid().unwrap();
    let (result, took, dev) = bounded(dev, Duration::from_secs(30), |d| d.list(None));
    let e = match result {
        Ok(list) => panic!("an endless list must fail, got {} credentials", list.len()),
        Err(e) => e,
    };
    let chain = latchkey_worker::managed::chain(&e);
    assert!(
        chain.contains("10000 credentials"),
        "{chain} after {took:?}"
    );
    assert_eq!(dev.pid(), None, "the stand-in is forgotten");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the stand-in was killed and reaped"
    );
}

#[test]
fn a_worker_sending_only_stale_replies_times_out_and_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let dev = WorkerDevice::start(fake_worker(dir.path(), "stale"))
        .unwrap_or_else(|e| panic!("the stand-in did not start: {e}"));
    let pid = dev.pid().unwrap();
    let (result, took, dev) = bounded(dev, Duration::from_secs(20), |d| {
        assert!(matches!(
            ManagedDevice::delete(d, &[1, 2, 3]).unwrap(),
            Ok(false)
        ));
        ManagedDevice::delete(d, &[1, 2, 3]).unwrap()
    });
    let e = result.expect_err("stale replies only must fail");
    let chain = latchkey_worker::managed::chain(&e);
    assert!(chain.contains("in time"), "{chain}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert_eq!(dev.pid(), None);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the stand-in was killed and reaped"
    );
}

/// A worker that dies while idle is reaped at the next call (no zombie left behind), which then
/// starts a new worker and succeeds.
#[test]
fn a_worker_that_died_while_idle_is_reaped_and_the_next_call_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = start(dir.path());
    let pid = dev.pid().unwrap();
    kill(pid);
    // Its leader shows as a zombie before its other threads have gone; let them go.
    std::thread::sleep(Duration::from_millis(300));
    let list = ManagedDevice::list(&mut dev, None)
        .unwrap()
        .expect("the call after an idle death starts a new worker");
    assert!(list.is_empty());
    assert_ne!(dev.pid(), Some(pid));
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the dead worker was reaped"
    );
}
