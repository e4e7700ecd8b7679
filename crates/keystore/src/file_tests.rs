use super::*;
use crate::sealedkey::KEY_BLOB_VERSION;
use latchkey_authenticator::store::{Credential, CredentialStore};

struct Sys;
impl Rng for Sys {
    fn fill(&mut self, buf: &mut [u8]) {
        crypto::random(buf).unwrap();
    }
}

fn fast() -> FileStoreOptions {
    FileStoreOptions {
        kdf: KdfParams::INSECURE_TEST,
        ..FileStoreOptions::default()
    }
}

#[test]
fn key_blobs_are_sealed_and_bound_to_their_algorithm() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = FileStore::open_with(tmp.path(), Protection::None, fast()).unwrap();
    let (pk, blob) = s.generate_key(Algorithm::Es256, &mut Sys).unwrap();
    assert_eq!(blob.as_bytes()[..2], [KEY_BLOB_VERSION, 1]);
    assert_eq!(blob.as_bytes().len(), 2 + 97 + crypto::SEAL_OVERHEAD);
    // The public key is in the plaintext blob, never the sealed one in the clear.
    assert!(!blob
        .as_bytes()
        .windows(65)
        .any(|w| w == pk.bytes.as_slice()));
    assert!(matches!(
        s.sign(&blob, Algorithm::EdDsa, b"m"),
        Err(StoreError::Corrupt(_))
    ));
    let mut flipped = blob.as_bytes().to_vec();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(matches!(
        s.sign(&KeyBlob::new(flipped), Algorithm::Es256, b"m"),
        Err(StoreError::Corrupt(_))
    ));
    let (pk, blob) = s.generate_key(Algorithm::EdDsa, &mut Sys).unwrap();
    let sig = s.sign(&blob, Algorithm::EdDsa, b"m").unwrap();
    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, &pk.bytes)
        .verify(b"m", &sig)
        .unwrap();
}

#[test]
fn keys_from_another_store_do_not_sign() {
    let t1 = tempfile::tempdir().unwrap();
    let t2 = tempfile::tempdir().unwrap();
    let mut a = FileStore::open_with(t1.path(), Protection::None, fast()).unwrap();
    let mut b = FileStore::open_with(t2.path(), Protection::None, fast()).unwrap();
    let (_, blob) = a.generate_key(Algorithm::Es256, &mut Sys).unwrap();
    assert!(matches!(
        b.sign(&blob, Algorithm::Es256, b"m"),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn protection_mismatch_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    drop(FileStore::open_with(tmp.path(), Protection::None, fast()).unwrap());
    assert!(matches!(
        FileStore::open_with(tmp.path(), Protection::Pin, fast()),
        Err(StoreError::Corrupt(_))
    ));
    let tmp = tempfile::tempdir().unwrap();
    drop(FileStore::open_with(tmp.path(), Protection::Pin, fast()).unwrap());
    assert!(matches!(
        FileStore::open_with(tmp.path(), Protection::None, fast()),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn pin_keeps_the_cost_it_was_set_with() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = FileStore::open_with(tmp.path(), Protection::Pin, fast()).unwrap();
    s.set_pin(&PinHash([7; 16]), &mut Sys).unwrap();
    drop(s);
    let other = FileStoreOptions {
        kdf: KdfParams {
            memory_kib: 128,
            iterations: 2,
            parallelism: 1,
        },
        ..fast()
    };
    let mut s = FileStore::open_with(tmp.path(), Protection::Pin, other).unwrap();
    assert!(s.verify_pin(&PinHash([7; 16])).unwrap());
    assert!(s.is_unlocked());
    s.lock();
    assert!(!s.is_unlocked());
}

#[test]
fn tampered_kdf_parameters_are_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = FileStore::open_with(tmp.path(), Protection::Pin, fast()).unwrap();
    s.set_pin(&PinHash([7; 16]), &mut Sys).unwrap();
    drop(s);
    let path = tmp.path().join("keystore");
    let mut bytes = std::fs::read(&path).unwrap();
    // "LKKS" 1 ‖ kind ‖ protection ‖ present ‖ memory (u32 BE): make the memory 4 GiB.
    bytes[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        FileStore::open_with(tmp.path(), Protection::Pin, fast()),
        Err(StoreError::Corrupt(_))
    ));
}

/// Loaded keys are kept while the store is unlocked and dropped when it locks: after `lock` no
/// key is held and signing fails with `Locked` until the PIN is verified again.
#[test]
fn loaded_keys_live_only_while_unlocked() {
    use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
    let tmp = tempfile::tempdir().unwrap();
    let pin = PinHash([7; 16]);
    let mut s = FileStore::open_with(tmp.path(), Protection::Pin, fast()).unwrap();
    s.set_pin(&pin, &mut Sys).unwrap();
    assert!(s.verify_pin(&pin).unwrap());
    let (pk, blob) = s.generate_key(Algorithm::Es256, &mut Sys).unwrap();
    // The new key is loaded once, at generation.
    assert_eq!(s.engine.custody.keys.len(), 1);
    for msg in [b"one".as_slice(), b"two"] {
        let sig = s.sign(&blob, Algorithm::Es256, msg).unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &pk.bytes)
            .verify(msg, &sig)
            .unwrap();
    }
    assert_eq!(s.engine.custody.keys.len(), 1);

    s.lock();
    assert_eq!(s.engine.custody.keys.len(), 0);
    assert!(matches!(
        s.sign(&blob, Algorithm::Es256, b"m"),
        Err(StoreError::Locked)
    ));
    // A wrong PIN unlocks nothing.
    assert!(!s.verify_pin(&PinHash([8; 16])).unwrap());
    assert!(matches!(
        s.sign(&blob, Algorithm::Es256, b"m"),
        Err(StoreError::Locked)
    ));
    assert_eq!(s.engine.custody.keys.len(), 0);

    // Unlocked again, the key is opened from its sealed blob and kept again.
    assert!(s.verify_pin(&pin).unwrap());
    let sig = s.sign(&blob, Algorithm::Es256, b"three").unwrap();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &pk.bytes)
        .verify(b"three", &sig)
        .unwrap();
    assert_eq!(s.engine.custody.keys.len(), 1);

    // A PIN change locks the store too; a reset forgets everything.
    s.set_pin(&PinHash([9; 16]), &mut Sys).unwrap();
    assert_eq!(s.engine.custody.keys.len(), 0);
    assert!(s.verify_pin(&PinHash([9; 16])).unwrap());
    s.sign(&blob, Algorithm::Es256, b"four").unwrap();
    assert_eq!(s.engine.custody.keys.len(), 1);
    s.wipe().unwrap();
    assert_eq!(s.engine.custody.keys.len(), 0);
}

/// A tampered blob is refused even when the untampered one is cached: the cache is keyed by the
/// exact sealed bytes.
#[test]
fn a_cached_key_does_not_answer_for_a_tampered_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = FileStore::open_with(tmp.path(), Protection::None, fast()).unwrap();
    let (_, blob) = s.generate_key(Algorithm::Es256, &mut Sys).unwrap();
    s.sign(&blob, Algorithm::Es256, b"m").unwrap();
    let mut flipped = blob.as_bytes().to_vec();
    flipped[5] ^= 1;
    assert!(matches!(
        s.sign(&KeyBlob::new(flipped), Algorithm::Es256, b"m"),
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        s.sign(&blob, Algorithm::EdDsa, b"m"),
        Err(StoreError::Corrupt(_))
    ));
}

fn credential_with_secrets(s: &mut FileStore, id: u8, rp: &str, user: u8) -> Credential {
    use latchkey_authenticator::store::{
        CredProtect, CredRandom, CredentialKind, RpEntity, UserEntity,
    };
    let (public_key, key) = s.generate_key(Algorithm::Es256, &mut Sys).unwrap();
    Credential {
        id: vec![id; 16],
        rp: RpEntity {
            id: rp.into(),
            name: None,
        },
        user: UserEntity {
            id: vec![user],
            name: None,
            display_name: None,
        },
        discoverable: true,
        public_key,
        key,
        cred_protect: CredProtect::UvOptional,
        cred_random: Some(CredRandom {
            with_uv: [id; 32],
            without_uv: [id ^ 0xff; 32],
        }),
        cred_blob: Some(vec![id, 1, 2]),
        large_blob_key: Some(zeroize::Zeroizing::new([id; 32])),
        sign_count: 0,
        created_at: 0,
        kind: CredentialKind::Ctap2,
        third_party_payment: false,
    }
}

/// Secrets opened while unlocked are kept with their records (the same values every time) and
/// all dropped when the store locks: a locked store hands out no secret, kept or not.
#[test]
fn opened_secrets_live_only_while_unlocked() {
    let tmp = tempfile::tempdir().unwrap();
    let pin = PinHash([7; 16]);
    let mut s = FileStore::open_with(tmp.path(), Protection::Pin, fast()).unwrap();
    s.set_pin(&pin, &mut Sys).unwrap();
    assert!(s.verify_pin(&pin).unwrap());
    let a = credential_with_secrets(&mut s, 1, "a.example", 1);
    let b = credential_with_secrets(&mut s, 2, "a.example", 2);
    let c = credential_with_secrets(&mut s, 3, "c.example", 3);
    for cred in [&a, &b, &c] {
        s.insert(cred.clone()).unwrap();
    }
    assert_eq!(s.engine.kept_secrets(), 0);
    for _ in 0..2 {
        assert_eq!(s.by_rp("a.example").unwrap(), vec![a.clone(), b.clone()]);
        assert_eq!(s.engine.kept_secrets(), 2);
    }
    assert_eq!(s.get(&c.id).unwrap().unwrap(), c);
    assert_eq!(s.engine.kept_secrets(), 3);
    // An update keeps the record's secrets (it changes none of them).
    let mut a2 = a.clone();
    a2.sign_count = 9;
    s.update(&a2).unwrap();
    assert_eq!(s.get(&a.id).unwrap().unwrap(), a2);
    assert_eq!(s.engine.kept_secrets(), 3);

    s.lock();
    assert_eq!(s.engine.kept_secrets(), 0);
    for cred in s.by_rp("a.example").unwrap() {
        assert!(cred.cred_random.is_none() && cred.cred_blob.is_none());
        assert!(cred.large_blob_key.is_none());
    }
    assert!(s.get(&c.id).unwrap().unwrap().cred_random.is_none());
    assert_eq!(s.engine.kept_secrets(), 0);

    // After the PIN again, the same secrets, opened afresh from the sealed records.
    assert!(s.verify_pin(&pin).unwrap());
    assert_eq!(s.by_rp("a.example").unwrap(), vec![a2, b]);
    assert_eq!(s.engine.kept_secrets(), 2);
    s.wipe().unwrap();
    assert_eq!(s.engine.kept_secrets(), 0);
}

thread_local! {
    static NOW: std::cell::Cell<Duration> = const { std::cell::Cell::new(Duration::from_secs(1)) };
}

fn test_clock() -> Duration {
    NOW.with(std::cell::Cell::get)
}

/// A session: the first right PIN pays the unwrap; later ones are checked against the verifier
/// (shown by breaking the wrapped key after the first: only the session can still answer), and
/// the core's `lock` still locks the store between verifications.
#[test]
fn a_session_answers_later_verifications_without_the_unwrap() {
    let tmp = tempfile::tempdir().unwrap();
    let pin = PinHash([7; 16]);
    let mut s = FileStore::open_with(tmp.path(), Protection::Pin, fast()).unwrap();
    s.engine.sessions.clock = test_clock;
    s.set_pin(&pin, &mut Sys).unwrap();
    assert!(!s.session_is_live());
    assert!(s.verify_pin(&pin).unwrap());
    assert!(s.session_is_live());
    let (_, blob) = s.generate_key(Algorithm::Es256, &mut Sys).unwrap();
    if let Some(w) = s.engine.custody.wrap.as_mut() {
        w.sealed[0] ^= 1;
    }
    s.lock();
    assert!(!s.is_unlocked());
    assert!(matches!(
        s.sign(&blob, Algorithm::Es256, b"m"),
        Err(StoreError::Locked)
    ));
    assert!(s.verify_pin(&pin).unwrap());
    s.sign(&blob, Algorithm::Es256, b"m").unwrap();
    // Ended (screen lock): the slow path is back, and the broken wrap refuses the right PIN.
    s.end_session();
    assert!(!s.is_unlocked());
    assert!(!s.session_is_live());
    assert!(!s.verify_pin(&pin).unwrap());
    assert!(!s.is_unlocked());
}

/// A wrong PIN inside a session is refused, unlocks nothing and ends the session.
#[test]
fn a_wrong_pin_ends_the_session() {
    let tmp = tempfile::tempdir().unwrap();
    let pin = PinHash([7; 16]);
    let mut s = FileStore::open_with(tmp.path(), Protection::Pin, fast()).unwrap();
    s.engine.sessions.clock = test_clock;
    s.set_pin(&pin, &mut Sys).unwrap();
    assert!(s.verify_pin(&pin).unwrap());
    s.lock();
    assert!(!s.verify_pin(&PinHash([8; 16])).unwrap());
    assert!(!s.is_unlocked());
    assert!(!s.session_is_live());
    // The right PIN still works, through the unwrap, and starts a new session.
    assert!(s.verify_pin(&pin).unwrap());
    assert!(s.session_is_live());
}

/// Idle for the configured time, the session ends and the store locks; a PIN change and a reset
/// end it too.
#[test]
fn a_session_ends_when_idle_at_a_pin_change_and_at_reset() {
    let tmp = tempfile::tempdir().unwrap();
    let pin = PinHash([7; 16]);
    let idle = Duration::from_secs(60);
    let options = FileStoreOptions {
        session_idle: Some(idle),
        ..fast()
    };
    let mut s = FileStore::open_with(tmp.path(), Protection::Pin, options).unwrap();
    s.engine.sessions.clock = test_clock;
    s.set_pin(&pin, &mut Sys).unwrap();
    assert!(s.verify_pin(&pin).unwrap());
    NOW.with(|n| n.set(n.get() + idle - Duration::from_millis(1)));
    assert!(!s.expire_session());
    assert!(s.is_unlocked());
    NOW.with(|n| n.set(n.get() + Duration::from_millis(1)));
    assert!(s.expire_session());
    assert!(!s.is_unlocked());
    assert!(!s.session_is_live());

    assert!(s.verify_pin(&pin).unwrap());
    let new_pin = PinHash([9; 16]);
    s.set_pin(&new_pin, &mut Sys).unwrap();
    assert!(!s.session_is_live());
    assert!(!s.verify_pin(&pin).unwrap());
    assert!(s.verify_pin(&new_pin).unwrap());
    assert!(s.session_is_live());
    s.wipe().unwrap();
    assert!(!s.session_is_live());
    assert!(!s.is_unlocked());
}

/// With sessions off every verification pays the unwrap: a broken wrap refuses the right PIN
/// right after it was accepted.
#[test]
fn without_sessions_every_verification_unwraps() {
    let tmp = tempfile::tempdir().unwrap();
    let pin = PinHash([7; 16]);
    let options = FileStoreOptions {
        session_idle: None,
        ..fast()
    };
    let mut s = FileStore::open_with(tmp.path(), Protection::Pin, options).unwrap();
    s.set_pin(&pin, &mut Sys).unwrap();
    assert!(s.verify_pin(&pin).unwrap());
    assert!(!s.session_is_live());
    if let Some(w) = s.engine.custody.wrap.as_mut() {
        w.sealed[0] ^= 1;
    }
    s.lock();
    assert!(!s.verify_pin(&pin).unwrap());
}
