#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! A native messaging host is privileged only when a configured browser started it: real
//! processes with chosen executables (copies of `/bin/sh` and `/bin/sleep`), classified through
//! the kernel-backed identity code.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

mod common;

use latchkey_daemon::identity::{identify, CallerIdentity, PeerCredentials};
use latchkey_daemon::policy::{CallerClass, Policy, PolicyDirs};

/// Copies `src` to `dir/name` (executable) and returns the copy's path.
fn copy_exe(src: &str, dir: &Path, name: &str) -> PathBuf {
    let dst = dir.join(name);
    std::fs::copy(src, &dst).unwrap();
    dst
}

/// A running "parent" (a copy of sh) that started `child_exe 60` in the background.
struct Pair {
    parent: Child,
    child_pid: u32,
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child_pid.to_string())
            .status();
        let _ = self.parent.kill();
        let _ = self.parent.wait();
    }
}

fn spawn_pair(parent_exe: &Path, child_exe: &Path) -> Pair {
    let script = format!("'{}' 60 & echo $!; wait", child_exe.display());
    // A freshly written executable can be briefly busy (ETXTBSY) while another test thread forks:
    // the child that thread forked holds the copy's descriptor until it execs. Nothing announces
    // that exec to this thread, so the spawn is retried after a short pause: a sleep that stays.
    let mut tries = 0;
    let mut parent = loop {
        match Command::new(parent_exe)
            .arg("-c")
            .arg(&script)
            .stdout(Stdio::piped())
            .spawn()
        {
            Ok(c) => break c,
            Err(e) if e.raw_os_error() == Some(26) && tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("spawning {}: {e}", parent_exe.display()),
        }
    };
    let mut line = String::new();
    BufReader::new(parent.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let child_pid: u32 = line.trim().parse().unwrap();
    // Wait until the child has exec'd the requested binary. An exec is seen only in /proc (no
    // inotify there, and a pidfd tells only of exit), so this looks again after a short pause: a
    // sleep that stays.
    for _ in 0..200 {
        if std::fs::read_link(format!("/proc/{child_pid}/exe"))
            .ok()
            .as_deref()
            == Some(child_exe)
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Pair { parent, child_pid }
}

fn ident(pid: u32) -> CallerIdentity {
    identify(
        PeerCredentials {
            pid: Some(pid),
            pidfd: None,
            uid: None,
        },
        0,
    )
    .unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    browser: PathBuf,
    other: PathBuf,
    host: PathBuf,
    not_host: PathBuf,
    policy: String,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let browser = copy_exe("/bin/sh", dir.path(), "browser");
    let other = copy_exe("/bin/sh", dir.path(), "other-program");
    let host = copy_exe("/bin/sleep", dir.path(), "native-host");
    let not_host = copy_exe("/bin/sleep", dir.path(), "browser-helper");
    let policy = format!(
        "[[privileged]]\nname = \"Test Browser\"\nexecutable = {:?}\n\n\
         [[native_host]]\nexecutable = {:?}\n",
        browser.display().to_string(),
        host.display().to_string()
    );
    Setup {
        _dir: dir,
        browser,
        other,
        host,
        not_host,
        policy,
    }
}

#[test]
fn host_started_by_a_privileged_browser_is_that_browser() {
    let s = setup();
    let policy = Policy::from_toml(&s.policy).unwrap();
    assert!(policy.warnings.is_empty(), "{:?}", policy.warnings);
    let pair = spawn_pair(&s.browser, &s.host);
    let id = ident(pair.child_pid);
    assert_eq!(id.executable.as_deref(), Some(s.host.as_path()));
    assert_eq!(id.ppid, pair.parent.id());
    assert_eq!(
        policy.classify(&id),
        CallerClass::Privileged {
            name: "Test Browser".into(),
            via_native_host: Some(s.host.clone()),
        }
    );
    // The browser itself is privileged directly, not through a host.
    assert_eq!(
        policy.classify(&ident(pair.parent.id())),
        CallerClass::Privileged {
            name: "Test Browser".into(),
            via_native_host: None,
        }
    );
}

#[test]
fn host_started_by_another_program_is_unknown() {
    let s = setup();
    let policy = Policy::from_toml(&s.policy).unwrap();
    let pair = spawn_pair(&s.other, &s.host);
    let id = ident(pair.child_pid);
    assert_eq!(id.executable.as_deref(), Some(s.host.as_path()));
    assert_eq!(policy.classify(&id), CallerClass::Unknown);
}

#[test]
fn non_host_child_of_a_browser_is_not_privileged() {
    let s = setup();
    let policy = Policy::from_toml(&s.policy).unwrap();
    let pair = spawn_pair(&s.browser, &s.not_host);
    let id = ident(pair.child_pid);
    assert_eq!(id.executable.as_deref(), Some(s.not_host.as_path()));
    assert_eq!(id.ppid, pair.parent.id());
    assert_eq!(policy.classify(&id), CallerClass::Unknown);
}

#[test]
fn host_whose_parent_is_gone_is_unknown() {
    let s = setup();
    let policy = Policy::from_toml(&s.policy).unwrap();
    let pair = spawn_pair(&s.browser, &s.host);
    let id = ident(pair.child_pid);
    // Kill the browser: the host is reparented, so its recorded ppid no longer holds.
    let mut pair = pair;
    pair.parent.kill().unwrap();
    pair.parent.wait().unwrap();
    // The kernel reparents an exiting process's children before its parent can reap it: once
    // wait() returned, the host has its new parent.
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pair.child_pid)).unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    let ppid: u32 = after.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_ne!(ppid, id.ppid, "the host was not reparented");
    assert_eq!(policy.classify(&id), CallerClass::Unknown);
}

#[test]
fn user_layer_can_remove_a_native_host_but_not_add_one() {
    let s = setup();
    let root = tempfile::tempdir().unwrap();
    let system = root.path().join("system");
    let admin = root.path().join("admin");
    let user = root.path().join("user");
    for d in [&system, &admin, &user] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(system.join("50-browsers.toml"), &s.policy).unwrap();
    let dirs = PolicyDirs {
        system,
        admin,
        user: Some(user.clone()),
    };
    let pair = spawn_pair(&s.browser, &s.host);
    let id = ident(pair.child_pid);

    let before = Policy::load(&dirs).unwrap();
    assert!(matches!(
        before.classify(&id),
        CallerClass::Privileged { .. }
    ));

    std::fs::write(
        user.join("10-no-host.toml"),
        format!(
            "[[native_host]]\nexecutable = {:?}\n",
            s.host.display().to_string()
        ),
    )
    .unwrap();
    let after = Policy::load(&dirs).unwrap();
    assert!(after.warnings.is_empty(), "{:?}", after.warnings);
    assert_eq!(after.classify(&id), CallerClass::Unknown);

    // The user layer cannot make another binary a native host.
    let pair2 = spawn_pair(&s.browser, &s.not_host);
    std::fs::write(
        user.join("10-no-host.toml"),
        format!(
            "[[native_host]]\nexecutable = {:?}\n",
            s.not_host.display().to_string()
        ),
    )
    .unwrap();
    let widened = Policy::load(&dirs).unwrap();
    assert_eq!(
        widened.classify(&ident(pair2.child_pid)),
        CallerClass::Unknown
    );
    // (and the configured host is unaffected by removing an entry that was never there)
    assert!(matches!(
        widened.classify(&id),
        CallerClass::Privileged { .. }
    ));
}

#[test]
#[ignore = "run by the tests as a separate caller process"]
fn caller_process() {
    common::caller::serve_if_asked();
}

/// Copies `src` to `dst` (permissions included).
fn copy_to(src: &Path, dst: &Path) {
    std::fs::copy(src, dst).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_through_the_native_host_is_shown_as_the_browser_via_the_host() {
    use common::caller::{command_via, outcome, CallerRequest};
    use common::{get_options, start_daemon, Prompt, TestBus};

    let log = latchkey_testkit::logs::LogCapture::default();
    tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .try_init()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let browser = copy_exe("/bin/sh", dir.path(), "browser");
    // The host is a copy of this test binary, so it can make a real request on the bus.
    let host = dir.path().join("native-host");
    copy_to(&std::env::current_exe().unwrap(), &host);
    let policy = format!(
        "[[privileged]]\nname = \"Test Browser\"\nexecutable = {:?}\n\n\
         [[native_host]]\nexecutable = {:?}\n\n{}",
        browser.display().to_string(),
        host.display().to_string(),
        common::trusted_prompt()
    );
    let bus = TestBus::start();
    let auth = common::FakeBackend::new(common::FakeMode::Answer);
    let _daemon = start_daemon(&bus, &policy, auth).await;
    let prompt = Prompt::spawn(&bus, "approve\n", false);
    let req = CallerRequest {
        bus: bus.address.clone(),
        kind: latchkey_api::Kind::Get,
        options_json: get_options("example.com"),
        origin: Some("https://example.com".into()),
    };
    let out = tokio::task::spawn_blocking(move || {
        // A freshly copied executable can be briefly busy (ETXTBSY) while another thread forks;
        // nothing announces that thread's child's exec, so this retries (see `spawn_pair`).
        let mut tries = 0;
        let mut child = loop {
            match command_via(&browser, &host, &req).spawn() {
                Ok(c) => break c,
                Err(e) if e.raw_os_error() == Some(26) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("spawning the browser: {e}"),
            }
        };
        (outcome(&mut child), host)
    })
    .await
    .unwrap();
    let (out, host) = out;
    assert_eq!(out["code"], 0, "{out}");
    let consents = prompt.consents();
    assert_eq!(consents.len(), 1);
    let details = &consents[0]["details"];
    assert_eq!(
        details["caller"], "Test Browser (via native messaging host)",
        "{details}"
    );
    assert_eq!(details["native_host"], host.display().to_string());
    assert_eq!(details["caller_class"], "privileged");
    assert_eq!(details["origin"], "https://example.com");
    // latchkeyd logs a request's end after it has sent the Response.
    let ended = |l: &str| l.contains("request succeeded") || l.contains("request failed");
    log.until("latchkeyd's log line of the request's end", ended)
        .await;
    let logged = log.text();
    assert!(
        logged.contains("caller=Test Browser (via native messaging host)"),
        "{logged}"
    );
    assert!(
        logged.lines().any(|l| l.contains("request succeeded")
            && l.contains(r#"caller=Some("Test Browser (via native messaging host)")"#)),
        "{logged}"
    );

    // The same binary run directly (not started by the browser) is not the browser.
    let direct = CallerRequest {
        bus: bus.address.clone(),
        kind: latchkey_api::Kind::Get,
        options_json: get_options("example.com"),
        origin: Some("https://example.com".into()),
    };
    let out = tokio::task::spawn_blocking(move || {
        common::caller::call_from_another_process(&host, &direct)
    })
    .await
    .unwrap();
    assert_eq!(out["error"], "SecurityError", "{out}");
    assert_eq!(prompt.consents().len(), 1, "no prompt for the direct call");
}
