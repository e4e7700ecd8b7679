#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
#![cfg(feature = "tpm")]
//! `TpmStore` against a software TPM (`swtpm`) that each test starts and stops itself.

mod common;
#[path = "common/swtpm.rs"]
mod swtpm;

use std::path::Path;
use std::time::Instant;

use common::contract::{unlock, Flavour, PIN};
use common::{new_credential, pin_hash, verify, SysRng};
use latchkey_authenticator::softkey::SigningKey;
use latchkey_authenticator::store::{Algorithm, CredentialStore, StoreError};
use latchkey_keystore::{TpmStore, TpmStoreOptions};
use swtpm::Swtpm;

fn open(tpm: &Swtpm, dir: &Path, max_discoverable: usize) -> TpmStore {
    let opts = TpmStoreOptions {
        tcti: Some(tpm.tcti()),
        max_discoverable,
        ..TpmStoreOptions::default()
    };
    TpmStore::open(dir, opts).unwrap()
}

mod contract {
    use super::*;
    crate::contract_suite!(Swtpm::start(), open, Flavour { locks_keys: true });
}

#[test]
fn keys_are_made_and_used_in_the_tpm_only() {
    let tpm = Swtpm::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(&tpm, tmp.path(), 100);
    unlock(&mut s);
    let c = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(c.clone()).unwrap();
    let sig = s.sign(&c.key, Algorithm::Es256, b"client data").unwrap();
    assert!(verify(&c.public_key, b"client data", &sig));
    assert_eq!(c.public_key.bytes.len(), 65);
    // The blob is the TPM's: not a software key, and it carries the TPM public area (x, y).
    assert_eq!(&c.key.as_bytes()[..4], b"LKT\x01");
    assert!(
        SigningKey::load(Algorithm::Es256, &c.key).is_err(),
        "no software key in the store"
    );
    let x = &c.public_key.bytes[1..33];
    assert!(c.key.as_bytes().windows(32).any(|w| w == x));
    // The record on disk holds that blob and nothing else key-like.
    let files: Vec<_> = std::fs::read_dir(tmp.path().join("credentials"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read(files[0].as_ref().unwrap().path()).unwrap();
    assert!(raw
        .windows(c.key.as_bytes().len())
        .any(|w| w == c.key.as_bytes()));
    assert!(matches!(
        s.generate_key(Algorithm::EdDsa, &mut SysRng),
        Err(StoreError::UnsupportedAlgorithm(Algorithm::EdDsa))
    ));
    drop(s);

    // The same files with another TPM (a stolen home directory): nothing unlocks.
    let other = Swtpm::start();
    let mut t = open(&other, tmp.path(), 100);
    assert!(t.get(&c.id).unwrap().is_some(), "public data is readable");
    assert!(matches!(
        t.sign(&c.key, Algorithm::Es256, b"m"),
        Err(StoreError::Locked)
    ));
    assert!(
        t.verify_pin(&pin_hash(PIN)).is_err(),
        "the PIN object only loads in its own TPM"
    );
    assert!(!t.is_unlocked());
}

#[test]
fn wrong_pins_are_refused_and_counted_by_the_tpm() {
    let tpm = Swtpm::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(&tpm, tmp.path(), 100);
    s.set_pin(&pin_hash(PIN), &mut SysRng).unwrap();
    let before = s.lockout_counter().unwrap();
    assert!(!s.verify_pin(&pin_hash("0000")).unwrap());
    assert_eq!(s.lockout_counter().unwrap(), before + 1);
    assert!(!s.verify_pin(&pin_hash("1111")).unwrap());
    assert_eq!(s.lockout_counter().unwrap(), before + 2);
    assert!(!s.is_unlocked());
    assert!(s.verify_pin(&pin_hash(PIN)).unwrap());
    assert_eq!(
        s.lockout_counter().unwrap(),
        before + 2,
        "a right PIN is not a failure"
    );
}

#[test]
fn the_tpm_locks_out_a_pin_guesser() {
    let tpm = Swtpm::start_with(3);
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(&tpm, tmp.path(), 100);
    s.set_pin(&pin_hash(PIN), &mut SysRng).unwrap();
    for guess in ["0000", "1111", "2222"] {
        assert!(!s.verify_pin(&pin_hash(guess)).unwrap());
    }
    // In lockout even the right PIN is refused, and not as "wrong PIN" (it is not counted).
    let err = s.verify_pin(&pin_hash(PIN)).unwrap_err();
    assert!(matches!(err, StoreError::TpmLockout), "{err:?}");
    assert!(!s.is_unlocked());
}

#[test]
fn the_store_survives_tpm_and_process_restarts() {
    let mut tpm = Swtpm::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(&tpm, tmp.path(), 100);
    unlock(&mut s);
    let c = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(c.clone()).unwrap();
    drop(s);
    tpm.restart();
    let mut s = open(&tpm, tmp.path(), 100);
    assert!(matches!(
        s.sign(&c.key, Algorithm::Es256, b"m"),
        Err(StoreError::Locked)
    ));
    assert!(s.verify_pin(&pin_hash(PIN)).unwrap());
    assert_eq!(s.get(&c.id).unwrap().unwrap(), c);
    let sig = s.sign(&c.key, Algorithm::Es256, b"after reboot").unwrap();
    assert!(verify(&c.public_key, b"after reboot", &sig));
}

/// ES384 keys are TPM keys too (swtpm lists NIST P-384); ML-DSA keys, which no TPM 2.0 holds,
/// are software keys sealed under the TPM-sealed master key: usable with this TPM and the PIN
/// only, like every other key of the store.
#[test]
fn es384_lives_in_the_tpm_and_ml_dsa_under_its_master_key() {
    let tpm = Swtpm::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(&tpm, tmp.path(), 100);
    assert!(s.supports(Algorithm::Es384), "swtpm has P-384");
    assert!(s.supports(Algorithm::MlDsa65) && s.supports(Algorithm::MlDsa44));
    assert!(!s.supports(Algorithm::EdDsa));
    unlock(&mut s);
    let (pk, key) = s.generate_key(Algorithm::Es384, &mut SysRng).unwrap();
    assert_eq!(pk.bytes.len(), 97);
    assert_eq!(&key.as_bytes()[..4], b"LKT\x01", "a TPM key blob");
    let sig = s.sign(&key, Algorithm::Es384, b"client data").unwrap();
    assert!(verify(&pk, b"client data", &sig));
    let es384 = common::credential("example.com", b"p384", true, pk, key);
    s.insert(es384.clone()).unwrap();

    let (pk, key) = s.generate_key(Algorithm::MlDsa65, &mut SysRng).unwrap();
    assert_eq!(pk.bytes.len(), 1952);
    assert_eq!(
        key.as_bytes()[0],
        1,
        "a sealed software key, not a TPM blob"
    );
    assert!(
        SigningKey::load(Algorithm::MlDsa65, &key).is_err(),
        "sealed: not loadable without the master key"
    );
    let mldsa = common::credential("example.com", b"pq", true, pk, key);
    s.insert(mldsa.clone()).unwrap();
    let sig = s.sign(&mldsa.key, Algorithm::MlDsa65, b"m").unwrap();
    assert!(verify(&mldsa.public_key, b"m", &sig));
    s.lock();
    assert!(matches!(
        s.sign(&mldsa.key, Algorithm::MlDsa65, b"m"),
        Err(StoreError::Locked)
    ));
    drop(s);

    // Another TPM with the same files: the sealed ML-DSA key is as useless as the TPM keys.
    let other = Swtpm::start();
    let mut t = open(&other, tmp.path(), 100);
    assert!(t.verify_pin(&pin_hash(PIN)).is_err());
    for c in [&es384, &mldsa] {
        assert!(matches!(
            t.sign(&c.key, c.public_key.alg, b"m"),
            Err(StoreError::Locked)
        ));
    }
}

#[test]
fn a_warm_assertion_is_one_tpm_command() {
    let tpm = Swtpm::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(&tpm, tmp.path(), 100);
    assert_eq!(
        s.tpm_commands(),
        2,
        "open: TPM2_CreatePrimary, TPM2_GetCapability (ECC curves)"
    );
    unlock(&mut s);
    let c = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(c.clone()).unwrap();
    let before = s.tpm_commands();
    s.sign(&c.key, Algorithm::Es256, b"warm-up").unwrap();
    assert_eq!(
        s.tpm_commands() - before,
        2,
        "first use: TPM2_Load + TPM2_Sign"
    );
    let n = 20;
    let before = s.tpm_commands();
    let start = Instant::now();
    for i in 0..n {
        let msg = format!("assertion {i}");
        let sig = s.sign(&c.key, Algorithm::Es256, msg.as_bytes()).unwrap();
        assert!(verify(&c.public_key, msg.as_bytes(), &sig));
    }
    let per_sign = start.elapsed() / n;
    assert_eq!(
        s.tpm_commands() - before,
        u64::from(n),
        "one TPM2_Sign per assertion"
    );
    // Another key evicts the cached one (one cache slot): load + sign, then back again.
    let d = new_credential(&mut s, "example.com", b"bob", true);
    let before = s.tpm_commands();
    s.sign(&d.key, Algorithm::Es256, b"x").unwrap();
    s.sign(&c.key, Algorithm::Es256, b"y").unwrap();
    assert_eq!(s.tpm_commands() - before, 6, "flush + load + sign, twice");
    eprintln!("TPM sign against swtpm: {per_sign:?} per signature (warm key)");
}

const CHILD_ENV: &str = "LATCHKEY_KEYSTORE_TPM_CHILD";

/// Run by `a_credential_made_by_another_process_survives_a_tpm_restart` in a separate process:
/// makes one credential and prints `made <ID hex> <public key hex>`.
#[test]
#[ignore = "the child process of a_credential_made_by_another_process_survives_a_tpm_restart"]
fn tpm_writer_child() {
    let Some(spec) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let spec = spec.into_string().unwrap();
    let (tcti, dir) = spec.split_once('|').unwrap();
    let opts = TpmStoreOptions {
        tcti: Some(tcti.to_string()),
        ..TpmStoreOptions::default()
    };
    let mut s = TpmStore::open(Path::new(dir), opts).unwrap();
    unlock(&mut s);
    let c = new_credential(&mut s, "example.com", b"carol", true);
    s.insert(c.clone()).unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    println!("made {} {}", hex(&c.id), hex(&c.public_key.bytes));
}

#[test]
fn a_credential_made_by_another_process_survives_a_tpm_restart() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let mut tpm = Swtpm::start();
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tpm_writer_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            CHILD_ENV,
            format!("{}|{}", tpm.tcti(), tmp.path().display()),
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = &stdout[stdout
        .find("made ")
        .expect("the child reported a credential")..];
    let mut parts = line.split_whitespace().skip(1);
    let unhex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let id = unhex(parts.next().unwrap());
    let public = unhex(parts.next().unwrap());

    tpm.restart();
    let mut s = open(&tpm, tmp.path(), 100);
    let c = s.get(&id).unwrap().expect("the credential is on disk");
    assert_eq!(c.public_key.bytes, public);
    assert!(matches!(
        s.sign(&c.key, Algorithm::Es256, b"m"),
        Err(StoreError::Locked)
    ));
    assert!(s.verify_pin(&pin_hash(PIN)).unwrap());
    let sig = s
        .sign(&c.key, Algorithm::Es256, b"new process, rebooted TPM")
        .unwrap();
    assert!(verify(&c.public_key, b"new process, rebooted TPM", &sig));
}

#[test]
fn a_second_opener_of_a_tpm_store_is_refused_before_the_tpm_is_asked() {
    let tpm = Swtpm::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(&tpm, tmp.path(), 100);
    unlock(&mut s);
    let c = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(c.clone()).unwrap();
    let before = common::snapshot(tmp.path());
    let pid = std::process::id();
    // A TCTI that reaches no TPM: refused by the lock before any connection is tried.
    let nowhere = TpmStoreOptions {
        tcti: Some("swtpm:host=127.0.0.1,port=1".into()),
        ..TpmStoreOptions::default()
    };
    assert!(matches!(
        TpmStore::open(tmp.path(), nowhere),
        Err(StoreError::InUse { holder: Some(p) }) if p == pid
    ));
    // A file store over the same directory: refused by the lock before the keyring is read
    // (which would have said it belongs to a TPM store).
    assert!(matches!(
        latchkey_keystore::FileStore::open(tmp.path(), latchkey_keystore::Protection::Pin),
        Err(StoreError::InUse { holder: Some(p) }) if p == pid
    ));
    assert_eq!(common::snapshot(tmp.path()), before);
    assert!(s.delete(&c.id).unwrap());
    drop(s);
    let mut again = open(&tpm, tmp.path(), 100);
    assert!(again.get(&c.id).unwrap().is_none());
}
