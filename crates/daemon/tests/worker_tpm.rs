#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
#![cfg(feature = "tpm")]
//! The platform authenticator worker over a TPM: a software TPM (`swtpm`, started by each test
//! and reached through the `swtpm:` network TCTI, as in the keystore's TPM tests) behind the real
//! `latchkeyd` binary on a private bus. The worker reports the `tpm` store, ceremonies verify
//! with webauthn-rs (an RP library we did not write) against keys the TPM made, a wrong PIN is
//! refused by the TPM with fewer retries each time, and the worker still runs under its sandbox,
//! which (probed in a child process) lets it reach the TPM's TCP ports and nothing else.
//!
//! Like the keystore's TPM tests, these fail when `swtpm` is not installed.

mod common;
#[path = "../../keystore/tests/common/swtpm.rs"]
mod swtpm;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{landlock_abi, policy_privileged_self, Prompt, TestBus};
use latchkey_api::CredentialsClient;
use latchkey_api::Kind;
use latchkey_testkit::latchkeyd::Latchkeyd;
use latchkey_testkit::rp::*;
use swtpm::Swtpm;
use webauthn_rs_core::proto::{Credential, UserVerificationPolicy};
use webauthn_rs_core::WebauthnCore;

const PIN: &str = "48291637";

/// The real `latchkeyd` on a test bus, its TCTI pointing at a software TPM.
async fn latchkeyd_over(bus: &TestBus, policy: &str, tcti: &str) -> Latchkeyd {
    Latchkeyd::start_with_env(
        bus,
        policy,
        &[],
        None,
        &[("TCTI", None), ("TPM2TOOLS_TCTI", Some(tcti))],
    )
    .await
}

/// Registers a discoverable ES256 passkey through latchkeyd; webauthn-rs verifies it.
async fn register(client: &CredentialsClient, core: &WebauthnCore) -> Credential {
    let reg = registration_with(core, None, UserVerificationPolicy::Required, None, true);
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    let (cred, _) = verify_registration(core, &reg, &ok_json(&out));
    assert!(cred.user_verified);
    cred
}

/// Signs in with `cred` and UV required; returns the sign count webauthn-rs verified.
async fn sign_in_uv(client: &CredentialsClient, core: &WebauthnCore, cred: &Credential) -> u32 {
    let (_, result) = sign_in(client, core, cred, UserVerificationPolicy::Required).await;
    assert!(result.user_verified());
    result.counter()
}

fn pin_requests(prompt: &Prompt) -> Vec<serde_json::Value> {
    prompt
        .shown()
        .into_iter()
        .filter(|r| r["method"] == "RequestPin")
        .collect()
}

/// The single `latchkey-platform-worker` child of latchkeyd: its PID and `/proc` status.
fn worker(d: &Latchkeyd) -> (u32, String) {
    let children = d.children();
    assert_eq!(children.len(), 1, "{children:?}");
    let (pid, name, status) = children.into_iter().next().unwrap();
    assert_eq!(name, "latchkey-platform-worker");
    (pid, status)
}

fn field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map_or("", str::trim)
}

/// Every credential record in the store holds the TPM's key blob (magic `LKT\x01`, keystore
/// `tpm.rs`), not a software key: the keys were made in the TPM.
fn assert_tpm_records(store: &Path, count: usize) {
    let files: Vec<_> = std::fs::read_dir(store.join("credentials"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), count, "{files:?}");
    for f in files {
        let raw = std::fs::read(&f).unwrap();
        assert!(
            raw.windows(4).any(|w| w == b"LKT\x01"),
            "{} holds no TPM key blob",
            f.display()
        );
    }
}

/// The TPM's dictionary-attack failure counter (`TPM_PT_LOCKOUT_COUNTER`), asked over the
/// command port with a raw `TPM2_GetCapability` (TPM 2.0 Part 3 §30.2); swtpm serves one
/// connection at a time and the worker connects per command, so this fits between requests.
fn lockout_counter(tpm: &Swtpm) -> u32 {
    use std::io::{Read, Write};
    let mut cmd = Vec::new();
    cmd.extend_from_slice(&0x8001u16.to_be_bytes()); // TPM_ST_NO_SESSIONS
    cmd.extend_from_slice(&22u32.to_be_bytes());
    cmd.extend_from_slice(&0x0000_017Au32.to_be_bytes()); // TPM_CC_GetCapability
    cmd.extend_from_slice(&6u32.to_be_bytes()); // TPM_CAP_TPM_PROPERTIES
    cmd.extend_from_slice(&0x0000_020Eu32.to_be_bytes()); // TPM_PT_LOCKOUT_COUNTER
    cmd.extend_from_slice(&1u32.to_be_bytes()); // propertyCount
    let mut s = std::net::TcpStream::connect(("127.0.0.1", tpm.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&cmd).unwrap();
    // header (10) ‖ moreData (1) ‖ capability (4) ‖ count (4) ‖ property (4) ‖ value (4)
    let mut resp = [0u8; 27];
    s.read_exact(&mut resp).unwrap();
    assert_eq!(
        &resp[6..10],
        &[0; 4],
        "TPM2_GetCapability failed: {resp:02x?}"
    );
    assert_eq!(&resp[19..23], &0x0000_020Eu32.to_be_bytes());
    u32::from_be_bytes(resp[23..27].try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latchkeyd_over_a_network_tpm_makes_and_uses_passkeys_in_the_sandboxed_worker() {
    let tpm = Swtpm::start();
    let bus = TestBus::start();
    let d = latchkeyd_over(&bus, &policy_privileged_self(), &tpm.tcti()).await;
    let log = d.log();
    assert!(
        log.contains("platform authenticator worker started store=\"tpm\""),
        "{log}"
    );
    let prompt = Prompt::spawn(&bus, &format!("approve\npin {PIN}\n"), false);
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let core = rp();

    let cred = register(&client, &core).await;
    assert_tpm_records(&d.store(), 1);
    assert_eq!(sign_in_uv(&client, &core, &cred).await, 1);
    let pins = pin_requests(&prompt);
    assert_eq!(pins.len(), 2, "{pins:?}");
    assert_eq!(pins[0]["details"]["new_pin"], true, "{pins:?}");
    assert_eq!(pins[1]["details"]["wrong_pin"], false, "{pins:?}");
    // The time of a get through latchkeyd (prompt round trips included), warm.
    let mut took = Vec::new();
    for n in 2..=8 {
        let started = Instant::now();
        assert_eq!(sign_in_uv(&client, &core, &cred).await, n);
        took.push(started.elapsed());
    }
    took.sort();
    println!(
        "a get through latchkeyd over swtpm: median {:?} (min {:?}, max {:?}, {} runs)",
        took[took.len() / 2],
        took[0],
        took[took.len() - 1],
        took.len()
    );

    let (pid, status) = worker(&d);
    assert_eq!(field(&status, "NoNewPrivs:"), "1", "{status}");
    assert_eq!(field(&status, "Seccomp:"), "2", "filter mode: {status}");
    assert_eq!(
        field(&status, "Seccomp_filters:"),
        "3",
        "allow-list, arguments, clone3: {status}"
    );
    // Non-dumpable: its /proc files belong to root instead of the user.
    use std::os::unix::fs::MetadataExt;
    let mem = std::fs::metadata(format!("/proc/{pid}/mem")).unwrap();
    assert_eq!(mem.uid(), 0);
    // The one worker served it all.
    assert_eq!(worker(&d).0, pid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_tpm_a_wrong_pin_is_refused_by_the_tpm_with_fewer_retries_each_time() {
    let tpm = Swtpm::start();
    let bus = TestBus::start();
    let d = latchkeyd_over(&bus, &policy_privileged_self(), &tpm.tcti()).await;
    let script = format!("approve\npin {PIN}\npin 11111119\npin 22222229\npin {PIN}\n");
    let prompt = Prompt::spawn(&bus, &script, false);
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let core = rp();
    let cred = register(&client, &core).await;
    assert_eq!(lockout_counter(&tpm), 0);

    // Two wrong PINs, then the right one: the get succeeds and verifies.
    assert_eq!(sign_in_uv(&client, &core, &cred).await, 1);
    let pins = pin_requests(&prompt);
    assert_eq!(pins.len(), 4, "{pins:?}");
    let get = &pins[1..];
    assert_eq!(get[0]["details"]["wrong_pin"], false, "{pins:?}");
    assert_eq!(get[0]["details"]["retries"], 8, "{pins:?}");
    assert_eq!(get[1]["details"]["wrong_pin"], true, "{pins:?}");
    assert_eq!(get[1]["details"]["retries"], 7, "{pins:?}");
    assert_eq!(get[2]["details"]["wrong_pin"], true, "{pins:?}");
    assert_eq!(get[2]["details"]["retries"], 6, "{pins:?}");
    // Each wrong PIN was the TPM's refusal: an unseal with the wrong authValue, counted by its
    // dictionary-attack protection.
    assert_eq!(lockout_counter(&tpm), 2);
    let log = d.log();
    for pin in [PIN, "11111119", "22222229"] {
        let lines = latchkey_testkit::secret::leaks(&log, pin);
        assert!(lines.is_empty(), "a PIN leaked into the log: {lines:?}");
    }
}

/// The sandbox of a worker over an `swtpm` TCTI, probed in a child process (this test binary,
/// re-run) that applies it: TCP to the TCTI's ports only, no other socket, no listening.
#[test]
fn over_an_swtpm_the_sandbox_allows_tcp_to_its_ports_only() {
    let allowed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = allowed.local_addr().unwrap().port();
    let other_port = other.local_addr().unwrap().port();
    assert!(other_port != port + 1, "pick another pair");
    let store = tempfile::tempdir().unwrap();
    let ports = format!("{port} {other_port}");
    let (status, text) = latchkey_testkit::probe::run(
        "tcp_sandbox_probe_child",
        &[
            (OsStr::new("LATCHKEY_PROBE_STORE"), store.path().as_os_str()),
            (OsStr::new("LATCHKEY_PROBE_PORTS"), OsStr::new(&ports)),
        ],
    );
    assert!(status.success(), "probe failed:\n{text}");
    let r = latchkey_testkit::probe::probes(&text);
    let eperm = libc::EPERM.to_string();
    assert_eq!(r["tcti_port"], "ok", "{r:?}");
    if landlock_abi() >= 4 {
        assert_eq!(
            r["other_port"],
            libc::EACCES.to_string(),
            "Landlock refuses TCP to any other port: {r:?}"
        );
    } else {
        assert_eq!(r["other_port"], "ok", "no Landlock TCP rules here: {r:?}");
    }
    assert_eq!(r["udp_socket"], eperm, "{r:?}");
    assert_eq!(r["raw_socket"], eperm, "{r:?}");
    assert_eq!(r["sctp_stream"], eperm, "only TCP streams: {r:?}");
    assert_eq!(r["unix_socket"], eperm, "{r:?}");
    assert_eq!(r["netlink_socket"], eperm, "{r:?}");
    assert_eq!(r["listen"], eperm, "{r:?}");
    assert_eq!(r["exec"], eperm, "{r:?}");
    assert_eq!(
        r["outside_read"],
        libc::EACCES.to_string(),
        "no library or device paths are left readable: {r:?}"
    );
}

/// Not a test on its own: the child of `over_an_swtpm_the_sandbox_allows_tcp_to_its_ports_only`.
#[test]
#[ignore = "run in a child process by over_an_swtpm_the_sandbox_allows_tcp_to_its_ports_only"]
fn tcp_sandbox_probe_child() {
    use latchkey_worker::sandbox::{self, Policy};
    let store = PathBuf::from(std::env::var_os("LATCHKEY_PROBE_STORE").unwrap());
    let ports = std::env::var("LATCHKEY_PROBE_PORTS").unwrap();
    let (port, other_port) = ports.split_once(' ').unwrap();
    let policy = Policy::platform_worker(&store)
        .with_tcti(&format!("swtpm:host=127.0.0.1,port={port}"))
        .unwrap();
    let profile = sandbox::profile::platform_worker(&policy).unwrap();
    sandbox::apply(&policy, &profile).unwrap();
    let report = |name: &str, r: std::io::Result<()>| {
        let v = match r {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.raw_os_error().map_or(format!("{e}"), |n| n.to_string()),
        };
        println!("PROBE {name} {v}");
    };
    let connect = |p: &str| std::net::TcpStream::connect(format!("127.0.0.1:{p}")).map(drop);
    report("tcti_port", connect(port));
    report("other_port", connect(other_port));
    report(
        "udp_socket",
        std::net::UdpSocket::bind("127.0.0.1:0").map(drop),
    );
    let socket = |domain, kind, protocol| {
        // SAFETY: socket takes plain integers; a descriptor it returns is closed at once.
        #[allow(unsafe_code)]
        let fd = unsafe { libc::socket(domain, kind, protocol) };
        if fd < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            // SAFETY: a descriptor this function owns.
            #[allow(unsafe_code)]
            unsafe {
                libc::close(fd)
            };
            Ok(())
        }
    };
    report(
        "raw_socket",
        socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_TCP),
    );
    report(
        "sctp_stream",
        socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            libc::IPPROTO_SCTP,
        ),
    );
    report(
        "unix_socket",
        std::os::unix::net::UnixDatagram::unbound().map(drop),
    );
    report(
        "netlink_socket",
        socket(libc::AF_NETLINK, libc::SOCK_RAW, 0),
    );
    // listen() on a TCP socket that was allowed: it would bind an ephemeral port implicitly.
    let listen = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .and_then(|s| s.listen(1));
    report("listen", listen);
    report("exec", Command::new("/bin/true").status().map(drop));
    report(
        "outside_read",
        std::fs::read("/usr/lib/os-release").map(drop),
    );
}

/// A TPM that is configured but does not answer leaves the worker on the file store, and says
/// so in latchkeyd's log rather than silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_tpm_falls_back_to_the_file_store_and_says_so() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let bus = TestBus::start();
    let tcti = format!("swtpm:host=127.0.0.1,port={port}");
    let d = latchkeyd_over(&bus, &policy_privileged_self(), &tcti).await;
    let log = d.log();
    assert!(
        log.contains("platform authenticator worker started store=\"file\""),
        "{log}"
    );
    assert!(
        log.contains("a TPM is configured but its store does not open; using the file store"),
        "{log}"
    );
    let (_, status) = worker(&d);
    assert_eq!(field(&status, "Seccomp:"), "2", "{status}");
}
