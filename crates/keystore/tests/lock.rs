#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! One owner of a store directory at a time: whoever opens it holds an exclusive lock until the
//! store is dropped or the process ends; a second opener, in this process or another, is refused
//! with `StoreError::InUse` and changes nothing on disk.
//!
//! The holder in another process is this test binary run again with
//! `LATCHKEY_KEYSTORE_LOCK_CHILD=<dir>`, which makes `lock_holder_child` open the store, print
//! `holding`, and wait for a line on its standard input (end of input included) before exiting.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{contract::unlock, fast_options, new_credential, snapshot, verify};
use latchkey_authenticator::store::{Algorithm, CredentialStore, StoreError};
use latchkey_keystore::{FileStore, Protection};

const CHILD_ENV: &str = "LATCHKEY_KEYSTORE_LOCK_CHILD";

fn open(dir: &Path) -> Result<FileStore, StoreError> {
    FileStore::open_with(dir, Protection::Pin, fast_options())
}

/// Asserts that `result` is the refusal a second opener gets, naming `holder` when given.
fn assert_in_use(result: Result<FileStore, StoreError>, holder: Option<u32>) {
    match result {
        Err(StoreError::InUse { holder: h }) => {
            if let Some(pid) = holder {
                assert_eq!(h, Some(pid), "the refusal names the holder");
            }
        }
        Err(e) => panic!("expected InUse, got {e:?}"),
        Ok(_) => panic!("a second opener got the store while the first holds it"),
    }
}

#[test]
fn a_second_opener_cannot_delete_what_the_first_still_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let mut first = open(&dir).unwrap();
    unlock(&mut first);
    let c = new_credential(&mut first, "example.com", b"alice", true);
    first.insert(c.clone()).unwrap();
    let before = snapshot(&dir);

    // Without the lock, this opener deleted the record while `first` kept serving it from
    // memory: a credential the user deleted stayed usable until latchkeyd's worker restarted.
    assert_in_use(open(&dir), Some(std::process::id()));
    assert_eq!(
        snapshot(&dir),
        before,
        "the refused opener changed the directory"
    );

    let got = first.get(&c.id).unwrap().unwrap();
    let sig = first.sign(&got.key, Algorithm::Es256, b"still").unwrap();
    assert!(verify(&c.public_key, b"still", &sig));

    // Once the first is closed, the second opens and its delete is the only truth.
    drop(first);
    let mut second = open(&dir).unwrap();
    assert!(second.delete(&c.id).unwrap());
    drop(second);
    let mut third = open(&dir).unwrap();
    assert!(third.get(&c.id).unwrap().is_none());
    assert!(third.by_rp("example.com").unwrap().is_empty());
}

#[test]
fn a_second_opener_cannot_move_a_counter_the_first_keeps_in_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let mut first = open(&dir).unwrap();
    unlock(&mut first);
    let mut c = new_credential(&mut first, "example.com", b"alice", true);
    first.insert(c.clone()).unwrap();
    // The first assertion writes a ceiling; the next ones stay in memory under it.
    for n in 1..=5 {
        c.sign_count = n;
        first.update(&c).unwrap();
    }
    let before = snapshot(&dir);

    // Without the lock, this opener read the ceiling as the counter and signed past it, then the
    // first wrote its exact counter (5) when closed: the next assertion went back below a value
    // an RP had already seen.
    assert_in_use(open(&dir), Some(std::process::id()));
    assert_eq!(
        snapshot(&dir),
        before,
        "the refused opener changed the directory"
    );

    drop(first);
    let mut again = open(&dir).unwrap();
    assert_eq!(again.get(&c.id).unwrap().unwrap().sign_count, 5);
}

#[test]
fn the_store_opens_again_after_it_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let first = open(&dir).unwrap();
    drop(first);
    let second = open(&dir).unwrap();
    assert_in_use(open(&dir), Some(std::process::id()));
    drop(second);
    open(&dir).unwrap();
}

/// The holder. Does nothing unless started by the tests below.
#[test]
#[ignore = "the holder process of the lock tests"]
fn lock_holder_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = open(Path::new(&dir)).unwrap();
    println!("holding");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    drop(store);
}

/// Starts a holder of the store in `dir` and waits until it holds it; also returns the rest of
/// its output, which must be read for it to exit cleanly.
fn holder(dir: &Path) -> (Child, impl Iterator<Item = String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "lock_holder_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    assert!(
        lines.any(|l| l.contains("holding")),
        "the holder did not open the store"
    );
    (child, lines)
}

#[test]
fn the_lock_goes_when_its_holder_exits() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let (mut child, rest) = holder(&dir);
    let before = snapshot(&dir);
    assert_in_use(open(&dir), Some(child.id()));
    assert_eq!(snapshot(&dir), before);
    child.stdin.take().unwrap().write_all(b"exit\n").unwrap();
    rest.for_each(drop);
    assert!(child.wait().unwrap().success());
    open(&dir).unwrap();
}

#[test]
fn the_lock_goes_when_its_holder_is_killed() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let (mut child, _rest) = holder(&dir);
    assert_in_use(open(&dir), Some(child.id()));
    child.kill().unwrap(); // SIGKILL: no destructor runs, the kernel drops the lock
    child.wait().unwrap();
    let mut store = open(&dir).unwrap();
    unlock(&mut store);
}
