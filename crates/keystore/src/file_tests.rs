use super::*;
use latchkey_authenticator::store::CredentialStore;

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
