use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};

use super::*;

#[test]
fn the_holder_is_recorded_and_a_second_acquire_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let held = StoreLock::acquire(&dir).unwrap();
    let path = dir.join(LOCK_FILE);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("{}\n", std::process::id())
    );
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(matches!(
        StoreLock::acquire(&dir),
        Err(StoreError::InUse { holder: Some(pid) }) if pid == std::process::id()
    ));
    drop(held);
    let again = StoreLock::acquire(&dir).unwrap();
    drop(again);
    assert!(path.exists(), "the lock file stays: deleting it would race");
}

#[test]
fn a_shared_descriptor_does_not_keep_the_lock_past_its_owner() {
    let tmp = tempfile::tempdir().unwrap();
    // What a child forked without exec holds: the same open file description.
    let held = StoreLock::acquire(tmp.path()).unwrap();
    let shared = held.file.try_clone().unwrap();
    drop(held);
    StoreLock::acquire(tmp.path()).unwrap();
    drop(shared);
}

#[test]
fn an_unreadable_holder_record_is_no_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let held = StoreLock::acquire(tmp.path()).unwrap();
    for junk in [
        &b""[..],
        b"0\n",
        b"not a pid",
        b"99999999999999999999",
        &[0xff; 40],
    ] {
        fs::write(tmp.path().join(LOCK_FILE), junk).unwrap();
        assert!(
            matches!(
                StoreLock::acquire(tmp.path()),
                Err(StoreError::InUse { holder: None })
            ),
            "{junk:?}"
        );
    }
    drop(held);
}

#[test]
fn a_symlinked_lock_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    fs::write(&elsewhere, b"").unwrap();
    let dir = tmp.path().join("store");
    fs::create_dir(&dir).unwrap();
    symlink(&elsewhere, dir.join(LOCK_FILE)).unwrap();
    match StoreLock::acquire(&dir) {
        Err(StoreError::File { action, source, .. }) => {
            assert_eq!(action, "opening");
            // O_NOFOLLOW on a symbolic link (open(2)).
            assert_eq!(source.raw_os_error(), Some(40), "{source}");
        }
        other => panic!("a symlinked lock file was not refused as a file error: {other:?}"),
    }
    assert_eq!(fs::read(&elsewhere).unwrap(), b"");
}
