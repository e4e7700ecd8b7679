#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! What `FileStore` leaves on disk: modes, no secrets in the clear, tamper evidence.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{
    contract::unlock, credential, fast_options, new_credential, pin_hash, RecordingRng, SysRng,
};
use latchkey_authenticator::store::{Algorithm, CredentialStore, PersistentState, StoreError};
use latchkey_keystore::{FileStore, Protection};

fn open_pin(dir: &Path) -> FileStore {
    FileStore::open_with(dir, Protection::Pin, fast_options()).unwrap()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.clone());
        if p.is_dir() {
            walk(&p, out);
        }
    }
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn hex_sha256(b: &[u8]) -> String {
    let h = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b);
    h.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// `hex(LEFT(SHA-256(RP ID), 8)) ‖ d|n ‖ hex(SHA-256(credential ID)) ‖ ".cred"`.
fn record_path(dir: &Path, c: &latchkey_authenticator::store::Credential) -> PathBuf {
    let flag = if c.discoverable { "d" } else { "n" };
    let name = format!(
        "{}{flag}{}.cred",
        &hex_sha256(c.rp.id.as_bytes())[..16],
        hex_sha256(&c.id)
    );
    dir.join("credentials").join(name)
}

fn cred_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir.join("credentials"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn files_are_0600_and_directories_0700() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data/latchkey");
    let mut s = open_pin(&dir);
    unlock(&mut s);
    let c = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(c.clone()).unwrap();
    s.update(&c).unwrap();
    s.save_state(&PersistentState::default()).unwrap();
    let mut all = vec![dir.clone()];
    walk(&dir, &mut all);
    let names: Vec<_> = all
        .iter()
        .map(|p| p.strip_prefix(&dir).unwrap().to_owned())
        .collect();
    assert_eq!(
        all.len(),
        6,
        "dir, lock, keystore, state, credentials/, one record: {names:?}"
    );
    for p in &all {
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(p), want, "{}", p.display());
    }
}

#[test]
fn no_secret_is_on_disk_in_the_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open_pin(tmp.path());
    let pin = pin_hash("271828");
    s.set_pin(&pin, &mut SysRng).unwrap();
    assert!(s.verify_pin(&pin).unwrap());
    let mut rng = RecordingRng(Vec::new());
    let (pk, key) = s.generate_key(Algorithm::Es256, &mut rng).unwrap();
    let scalar = rng.0.last().unwrap().clone();
    assert_eq!(scalar.len(), 32);
    let mut c = credential("example.com", b"alice", true, pk, key);
    c.cred_blob = Some(common::random_id(32));
    s.insert(c.clone()).unwrap();
    s.save_state(&PersistentState::default()).unwrap();
    drop(s);

    let cr = c.cred_random.clone().unwrap();
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("private scalar", scalar),
        ("CredRandomWithUV", cr.with_uv.to_vec()),
        ("CredRandomWithoutUV", cr.without_uv.to_vec()),
        ("largeBlobKey", c.large_blob_key.as_ref().unwrap().to_vec()),
        ("credBlob", c.cred_blob.clone().unwrap()),
        ("PinHash", pin.0.to_vec()),
    ];
    let mut files = Vec::new();
    walk(tmp.path(), &mut files);
    let mut searched = 0;
    for f in files.iter().filter(|p| p.is_file()) {
        let raw = fs::read(f).unwrap();
        searched += raw.len();
        for (what, secret) in &secrets {
            assert!(
                !raw.windows(secret.len()).any(|w| w == secret.as_slice()),
                "{what} found in {}",
                f.display()
            );
        }
    }
    // The search looked at real data: the public key and credential ID are there.
    let record = fs::read(&cred_files(tmp.path())[0]).unwrap();
    assert!(record
        .windows(65)
        .any(|w| w == c.public_key.bytes.as_slice()));
    assert!(record.windows(32).any(|w| w == c.id.as_slice()));
    assert!(searched > 300);
}

#[test]
fn a_copied_directory_without_the_pin_yields_no_key() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let mut s = open_pin(&home);
    unlock(&mut s);
    let c = new_credential(&mut s, "bank.example", b"alice", true);
    s.insert(c.clone()).unwrap();
    drop(s);

    let stolen = tmp.path().join("stolen");
    fs::create_dir(&stolen).unwrap();
    fs::create_dir(stolen.join("credentials")).unwrap();
    fs::copy(home.join("keystore"), stolen.join("keystore")).unwrap();
    for f in cred_files(&home) {
        fs::copy(&f, stolen.join("credentials").join(f.file_name().unwrap())).unwrap();
    }
    let mut t = open_pin(&stolen);
    // Listing works (documented as visible), keys do not.
    let seen = t.get(&c.id).unwrap().unwrap();
    assert_eq!(seen.rp.id, "bank.example");
    assert_eq!(seen.cred_random, None);
    assert!(matches!(
        t.sign(&c.key, Algorithm::Es256, b"m"),
        Err(StoreError::Locked)
    ));
    assert!(matches!(
        t.generate_key(Algorithm::Es256, &mut SysRng),
        Err(StoreError::Locked)
    ));
    for guess in ["0000", "1111", "123456", "12345"] {
        assert!(!t.verify_pin(&pin_hash(guess)).unwrap(), "{guess}");
        assert!(matches!(
            t.sign(&c.key, Algorithm::Es256, b"m"),
            Err(StoreError::Locked)
        ));
    }
    // Setting a new PIN on the copy is refused: it would need the master key.
    assert!(matches!(
        t.set_pin(&pin_hash("0000"), &mut SysRng),
        Err(StoreError::Locked)
    ));
}

#[test]
fn tampered_records_are_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open_pin(tmp.path());
    unlock(&mut s);
    let c = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(c.clone()).unwrap();
    drop(s);
    let path = cred_files(tmp.path())[0].clone();
    let original = fs::read(&path).unwrap();
    // Flip one bit of the user handle ("alice" -> "alicd"): still parses, fails to open.
    let pos = original.windows(5).position(|w| w == b"alice").unwrap();
    let mut edited = original.clone();
    edited[pos + 4] ^= 1;
    fs::write(&path, &edited).unwrap();
    let mut s = open_pin(tmp.path());
    let seen = s.by_rp("example.com").unwrap();
    assert_eq!(
        seen[0].user.id, b"alicd",
        "locked: the unchecked public view"
    );
    unlock(&mut s);
    assert!(matches!(s.get(&c.id), Err(StoreError::Corrupt(_))));
    assert!(matches!(
        s.by_rp("example.com"),
        Err(StoreError::Corrupt(_))
    ));
    drop(s);
    // The RP ID edited instead: the record no longer belongs under its name.
    let pos = original
        .windows(11)
        .position(|w| w == b"example.com")
        .unwrap();
    let mut edited = original.clone();
    edited[pos + 6] ^= 1;
    fs::write(&path, &edited).unwrap();
    let mut s = open_pin(tmp.path());
    assert!(matches!(
        s.by_rp("example.com"),
        Err(StoreError::Corrupt(_))
    ));
    assert!(s.by_rp("exampld.com").unwrap().is_empty());
    drop(s);
    // A truncated record is corrupt, locked or not (it cannot come from a crash).
    fs::write(&path, &original[..original.len() - 3]).unwrap();
    let mut s = open_pin(tmp.path());
    assert!(matches!(s.get(&c.id), Err(StoreError::Corrupt(_))));
    assert!(matches!(
        s.by_rp("example.com"),
        Err(StoreError::Corrupt(_))
    ));
    drop(s);
    // A damaged record can still be deleted.
    let mut s = open_pin(tmp.path());
    assert!(s.delete(&c.id).unwrap());
    assert!(!path.exists());
    assert!(s.by_rp("example.com").unwrap().is_empty());
    drop(s);
    fs::write(&path, &original).unwrap();
    let mut s = open_pin(tmp.path());
    unlock(&mut s);
    assert_eq!(s.get(&c.id).unwrap().unwrap(), c);
}

#[test]
fn swapped_records_are_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open_pin(tmp.path());
    unlock(&mut s);
    let a = new_credential(&mut s, "a.example", b"alice", true);
    let b = new_credential(&mut s, "b.example", b"bob", true);
    s.insert(a.clone()).unwrap();
    s.insert(b.clone()).unwrap();
    drop(s);
    let (pa, pb) = (record_path(tmp.path(), &a), record_path(tmp.path(), &b));
    let (fa, fb) = (fs::read(&pa).unwrap(), fs::read(&pb).unwrap());
    // Whole files renamed onto each other: the name no longer matches the ID.
    fs::write(&pa, &fb).unwrap();
    fs::write(&pb, &fa).unwrap();
    let mut s = open_pin(tmp.path());
    assert!(matches!(s.get(&a.id), Err(StoreError::Corrupt(_))));
    assert!(matches!(s.by_rp("b.example"), Err(StoreError::Corrupt(_))));
    drop(s);
    fs::write(&pa, &fa).unwrap();
    fs::write(&pb, &fb).unwrap();
    // A's sealed secrets moved into B's record (B's ID, RP and key kept): fails to open.
    let (a_bytes, b_bytes) = (pa, pb);
    let ra = fs::read(&a_bytes).unwrap();
    let rb = fs::read(&b_bytes).unwrap();
    // Layout: magic(5) ‖ u32 len ‖ bound ‖ u32 len ‖ sealed ‖ mutable.
    let split = |r: &[u8]| {
        let bl = u32::from_be_bytes(r[5..9].try_into().unwrap()) as usize;
        let start = 9 + bl;
        let sl = u32::from_be_bytes(r[start..start + 4].try_into().unwrap()) as usize;
        (start, start + 4 + sl)
    };
    let (bs, be) = split(&rb);
    let (as_, ae) = split(&ra);
    let mut franken = rb[..bs].to_vec();
    franken.extend_from_slice(&ra[as_..ae]);
    franken.extend_from_slice(&rb[be..]);
    fs::write(&b_bytes, &franken).unwrap();
    let mut s = open_pin(tmp.path());
    unlock(&mut s);
    assert_eq!(s.get(&a.id).unwrap().unwrap(), a);
    assert!(matches!(s.get(&b.id), Err(StoreError::Corrupt(_))));
}

#[test]
fn debris_of_a_crash_is_cleaned_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open_pin(tmp.path());
    unlock(&mut s);
    let old = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(old.clone()).unwrap();
    let old_file = cred_files(tmp.path())[0].clone();
    let old_bytes = fs::read(&old_file).unwrap();
    let new = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(new.clone()).unwrap();
    drop(s);
    // As if the process died after writing the replacement but before removing the old record,
    // and in the middle of another write.
    fs::write(&old_file, &old_bytes).unwrap();
    fs::write(
        tmp.path().join("credentials/.tmp-deadbeef"),
        b"half a record",
    )
    .unwrap();
    fs::write(tmp.path().join(".tmp-cafe"), b"half a state").unwrap();
    let mut s = open_pin(tmp.path());
    assert_eq!(s.get(&old.id).unwrap(), None, "the newer credential wins");
    assert_eq!(s.by_rp("example.com").unwrap().len(), 1);
    assert!(!old_file.exists());
    assert!(!tmp.path().join("credentials/.tmp-deadbeef").exists());
    assert!(!tmp.path().join(".tmp-cafe").exists());
    assert_eq!(cred_files(tmp.path()).len(), 1);
}

/// The record's last four bytes: the counter ceiling, big-endian.
fn ceiling_in(path: &Path) -> u32 {
    let raw = fs::read(path).unwrap();
    u32::from_be_bytes(raw[raw.len() - 4..].try_into().unwrap())
}

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).unwrap().ino()
}

/// How far above the counter a rewritten record puts its ceiling (`record::COUNTER_RESERVE`).
const RESERVE: u32 = 1024;

#[test]
fn counter_updates_are_written_once_per_reserve_and_settled_at_close() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open_pin(tmp.path());
    unlock(&mut s);
    let mut c = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(c.clone()).unwrap();
    let path = record_path(tmp.path(), &c);
    assert_eq!(ceiling_in(&path), 0);

    // The first assertion's counter passes the ceiling: one durable write, a reserve above it.
    c.sign_count = 1;
    s.update(&c).unwrap();
    assert_eq!(ceiling_in(&path), 1 + RESERVE);
    let written = fs::read(&path).unwrap();
    let ino = inode(&path);
    // The next ones stay in memory: the file is neither rewritten (an atomic write would give it
    // a new inode) nor changed, and the store answers with the counter itself.
    for n in 2..=100 {
        c.sign_count = n;
        s.update(&c).unwrap();
    }
    assert_eq!(inode(&path), ino, "no write under the ceiling");
    assert_eq!(fs::read(&path).unwrap(), written);
    assert_eq!(s.get(&c.id).unwrap().unwrap().sign_count, 100);
    assert_eq!(s.by_rp("example.com").unwrap()[0].sign_count, 100);
    // A user-string change is written at once (with the ceiling it had).
    c.user.display_name = Some("Alice Liddell".into());
    s.update(&c).unwrap();
    assert_ne!(inode(&path), ino);
    assert_eq!(ceiling_in(&path), 1 + RESERVE);

    // Closing the store writes the counter itself: a reopen resumes exactly.
    drop(s);
    assert_eq!(ceiling_in(&path), 100);
    let mut s = open_pin(tmp.path());
    let back = s.get(&c.id).unwrap().unwrap();
    assert_eq!(back.sign_count, 100);
    assert_eq!(back.user.display_name.as_deref(), Some("Alice Liddell"));
    // A store closed with nothing in memory writes nothing.
    let ino = inode(&path);
    drop(s);
    assert_eq!(inode(&path), ino);
}

#[test]
fn after_a_crash_the_counter_resumes_above_every_value_handed_out() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open_pin(tmp.path());
    unlock(&mut s);
    let mut c = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(c.clone()).unwrap();
    for n in 1..=700 {
        c.sign_count = n;
        s.update(&c).unwrap();
    }
    // A crash: the store is never dropped, so nothing is settled; its files are what it leaves.
    std::mem::forget(s);
    let crashed = tempfile::tempdir().unwrap();
    common::copy_store(tmp.path(), crashed.path());
    let path = record_path(crashed.path(), &c);
    assert_eq!(ceiling_in(&path), 1 + RESERVE);
    let mut s = open_pin(crashed.path());
    let back = s.get(&c.id).unwrap().unwrap();
    assert_eq!(
        back.sign_count,
        1 + RESERVE,
        "above the 700 handed out before the crash: skipped, never repeated"
    );
    // A counter that never changes (an authenticator whose counters are always zero) costs no
    // write at all.
    unlock(&mut s);
    let mut zero = new_credential(&mut s, "zero.example", b"bob", true);
    zero.sign_count = 0;
    s.insert(zero.clone()).unwrap();
    let zpath = record_path(crashed.path(), &zero);
    let ino = inode(&zpath);
    for _ in 0..10 {
        s.update(&zero).unwrap();
    }
    drop(s);
    assert_eq!(inode(&zpath), ino);
    assert_eq!(ceiling_in(&zpath), 0);
}
