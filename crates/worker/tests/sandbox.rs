#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The platform authenticator worker's standard error: never latchkeyd's own (which may be a
//! terminal the worker could inject input into), but relayed into latchkeyd's log as
//! `worker=PID` lines. Checked in a child process (this test binary, re-run) whose standard
//! error and log are both captured.

use std::process::Command;
use std::time::Duration;

use latchkey_client::Device;
use latchkey_worker::process::log_line;
use latchkey_worker::{WorkerConfig, WorkerDevice};

const WORKER: &str = env!("CARGO_BIN_EXE_latchkey-platform-worker");
/// What the worker logs at debug level once its sandbox is on.
const SANDBOXED: &str = "sandboxed: Landlock, seccomp";

#[test]
fn the_workers_stderr_goes_to_latchkeyds_log_not_to_its_stderr() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "relay_child", "--nocapture", "--test-threads=1"])
        .env("LATCHKEY_RELAY_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let logged = stdout
        .lines()
        .find_map(|l| l.strip_prefix("LOG "))
        .unwrap_or_else(|| panic!("no LOG line from the child: {stdout}"));
    assert!(
        logged.contains(SANDBOXED),
        "the worker's line is in latchkeyd's log: {logged}"
    );
    let pid = stdout
        .lines()
        .find_map(|l| l.strip_prefix("PID "))
        .unwrap_or_else(|| panic!("no PID line from the child: {stdout}"));
    assert!(
        logged.contains(&format!("worker={pid}")),
        "prefixed with the worker's pid: {logged}"
    );
    assert!(
        !stderr.contains(SANDBOXED),
        "the worker does not write to latchkeyd's stderr: {stderr}"
    );
}

/// Not a test on its own: the child of the test above.
#[test]
fn relay_child() {
    if std::env::var_os("LATCHKEY_RELAY_CHILD").is_none() {
        return;
    }
    let log = latchkey_testkit::logs::LogCapture::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(log.clone())
            .finish(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = WorkerConfig::new(WORKER, dir.path());
    config.log_level = "debug".into();
    config.start_timeout = Duration::from_secs(120);
    let mut dev = WorkerDevice::start(config).unwrap_or_else(|e| panic!("start: {e}"));
    let pid = dev.pid().unwrap();
    assert_eq!(dev.cbor(&[0x04], &mut |_| {}).unwrap()[0], 0x00);
    drop(dev);
    let line = log.blocking_until("the worker's sandboxed line in the log", |l| {
        l.contains(SANDBOXED)
    });
    println!("\nPID {pid}");
    println!("LOG {line}");
}

#[test]
fn relayed_lines_are_trimmed_and_escaped() {
    assert_eq!(log_line(b"plain text\n"), "plain text");
    assert_eq!(log_line(b"crlf\r\n"), "crlf");
    assert_eq!(
        log_line(b"\x1b[31mred\x07"),
        "\\u{1b}[31mred\\u{7}",
        "terminal escapes are escaped"
    );
    assert_eq!(log_line(b"bad \xff utf-8"), "bad \u{fffd} utf-8");
}
