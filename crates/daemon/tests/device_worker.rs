#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Security keys through the sandboxed device worker: the real `latchkeyd` on a private bus,
//! `--device unix:PATH` virtual keys served by the test. latchkeyd holds no key's connection
//! itself; a worker that dies fails the ceremony clearly and the next ceremony starts another.

mod common;

use std::time::Duration;

use common::*;
use latchkey_testkit::keys::*;
use latchkey_testkit::latchkeyd::Latchkeyd;
use latchkey_testkit::one_key::{client, key_create, start_key_create, OneKey};
use latchkey_testkit::rp::*;

/// The socket inodes a process holds (`socket:[N]` links in `/proc/PID/fd`), and its other
/// open files; `None` if its descriptors cannot be read (the non-dumpable worker, unless this
/// test runs as root).
fn fds(pid: u32) -> Option<(Vec<u64>, Vec<String>)> {
    let mut sockets = Vec::new();
    let mut files = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()? {
        let Ok(target) = std::fs::read_link(fd.unwrap().path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        match target
            .strip_prefix("socket:[")
            .and_then(|s| s.strip_suffix(']'))
        {
            Some(inode) => sockets.push(inode.parse().unwrap()),
            None => files.push(target),
        }
    }
    Some((sockets, files))
}

/// The inodes of the client ends connected to the Unix socket at `path`: `ss` lists the
/// server's accepted sockets with the listener's path and their peer's inode.
fn peers_of(path: &str) -> Vec<u64> {
    let out = std::process::Command::new("ss")
        .args(["-xn", "state", "established"])
        .output()
        .expect("ss (iproute2) is installed by the test command");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let at = cols.iter().position(|c| *c == path)?;
            // PATH INODE PEER_ADDRESS PEER_INODE
            cols.get(at + 3)?.parse().ok()
        })
        .collect()
}

fn child(d: &Latchkeyd, name: &str) -> Option<(u32, String)> {
    d.children()
        .into_iter()
        .find(|(_, n, _)| n == name)
        .map(|(pid, _, status)| (pid, status))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latchkeyd_holds_no_key_the_sandboxed_device_worker_does() {
    let bus = TestBus::start();
    let key = TestKey::start(&bus.dir.path().join("key.sock"), Presence::Wait);
    let d = Latchkeyd::start(
        &bus,
        &policy_privileged_self(),
        &[format!("--device={}", key.spec())],
    )
    .await;
    // No ceremony on keys yet: no device worker.
    assert!(child(&d, "latchkey-device-worker").is_none());
    let _prompt = Prompt::spawn(&bus, "approve\n", false);
    let client = client(&bus).await;
    let core = rp();
    let (_, pending) = start_key_create(&client, &core).await;
    key.until_waiting().await;

    let (worker, status) = child(&d, "latchkey-device-worker").expect("a device worker");
    for line in ["NoNewPrivs:\t1", "Seccomp:\t2"] {
        assert!(status.lines().any(|l| l == line), "{line} not in {status}");
    }
    let path = key.spec().strip_prefix("unix:").unwrap().to_owned();
    let peers = peers_of(&path);
    assert_eq!(peers.len(), 1, "one connection to the key: {peers:?}");
    if let Some((worker_sockets, _)) = fds(worker) {
        assert!(
            worker_sockets.contains(&peers[0]),
            "the worker holds the key's connection"
        );
    }
    // Its filesystem holds neither the key's socket (latchkeyd connected it and passed it in)
    // nor the bus's beside it, as a key's socket in $XDG_RUNTIME_DIR lies beside the session bus
    // (from which `systemd --user` would start any process). Its root is readable here only as
    // root, the worker being non-dumpable.
    assert!(
        d.log().contains("in namespaces of its own"),
        "the worker did not say it entered its namespaces:\n{}",
        d.log()
    );
    let root = std::path::PathBuf::from(format!("/proc/{worker}/root"));
    if std::fs::read_dir(&root).is_ok() {
        let inside = |p: &std::path::Path| root.join(p.strip_prefix("/").unwrap());
        let bus_socket = bus.address.strip_prefix("unix:path=").unwrap();
        let bus_socket = bus_socket.split(',').next().unwrap();
        assert!(std::path::Path::new(bus_socket).exists());
        assert!(
            !inside(std::path::Path::new(&path)).exists(),
            "the key's socket"
        );
        assert!(
            !inside(std::path::Path::new(bus_socket)).exists(),
            "the bus"
        );
        assert!(!inside(std::path::Path::new("/etc")).exists());
        let ptmx = std::path::Path::new("/dev/pts/ptmx");
        assert!(ptmx.exists() && !inside(ptmx).exists(), "terminals");
    }
    let latchkeyd: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let (own_sockets, own_files) = fds(latchkeyd).unwrap();
    assert!(
        !own_sockets.contains(&peers[0]),
        "latchkeyd holds the key's connection"
    );
    assert!(
        !own_files.iter().any(|f| f.starts_with("/dev/hidraw")),
        "{own_files:?}"
    );
    pending.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_worker_killed_mid_ceremony_fails_it_clearly_and_the_next_one_restarts_it() {
    let OneKey {
        client,
        prompt: _prompt,
        latchkeyd: mut d,
        key,
        bus: _bus,
    } = OneKey::start(Presence::Wait, "approve\napprove\n").await;
    let core = rp();
    let (_, pending) = start_key_create(&client, &core).await;
    key.until_waiting().await;
    let (first, _) = child(&d, "latchkey-device-worker").unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &first.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::time::timeout(Duration::from_secs(20), pending.response())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.code, 2);
    // latchkeyd's own worker stopping is the system's fault (as the platform worker's is), not
    // a refusal by the key or the user.
    assert_eq!(out.error_name().as_deref(), Some("UnknownError"));
    let message = out.message().unwrap();
    assert!(
        message.contains("the security key worker stopped"),
        "{message}"
    );
    assert!(d.running());

    // The key itself still waits in the dead worker's transaction (its channel is busy until
    // then): the touch ends it, as it would for any client that died.
    key.touch();
    key.until("the key's wait ended", || !key.waiting()).await;
    // The next ceremony starts a new worker and succeeds on the same key.
    key.set_presence(Presence::Touch);
    assert_eq!(key_create(&client, &core).await, KEY_AAGUID);
    let (second, _) = child(&d, "latchkey-device-worker").unwrap();
    assert_ne!(first, second);
    assert!(d
        .log()
        .contains("the security key worker stopped; starting a new one"));
}

/// The worker's filesystem holds no `unix:` key's socket: latchkeyd connects each for it. A key
/// that made its socket anew (restarted) is reached by the same worker, and the ceremony
/// succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_made_its_socket_anew_is_reached_through_the_same_worker() {
    let OneKey {
        client,
        prompt: _prompt,
        latchkeyd: d,
        key,
        bus: _bus,
    } = OneKey::start(Presence::Touch, "approve\napprove\n").await;
    let core = rp();
    assert_eq!(key_create(&client, &core).await, KEY_AAGUID);
    let (first, _) = child(&d, "latchkey-device-worker").unwrap();
    let path = key.spec().strip_prefix("unix:").unwrap().to_owned();
    drop(key);
    let _key = TestKey::start(std::path::Path::new(&path), Presence::Touch);
    assert_eq!(key_create(&client, &core).await, KEY_AAGUID);
    let (second, _) = child(&d, "latchkey-device-worker").unwrap();
    assert_eq!(first, second);
}
