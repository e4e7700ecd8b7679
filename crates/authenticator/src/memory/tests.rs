use super::*;
use crate::store::UserEntity;

struct Seq(u8);
impl Rng for Seq {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

fn cred(store: &mut MemoryStore, id: u8, rp: &str, user: u8, rk: bool) -> Credential {
    let (public_key, key) = store.generate_key(Algorithm::Es256, &mut Seq(id)).unwrap();
    Credential::new(
        vec![id; 16],
        RpEntity {
            id: rp.into(),
            name: None,
        },
        UserEntity {
            id: vec![user],
            name: None,
            display_name: None,
        },
        rk,
        public_key,
        key,
    )
}

#[test]
fn discoverable_with_same_rp_and_user_replaces() {
    let mut s = MemoryStore::default();
    let a = cred(&mut s, 1, "a.example", 9, true);
    let b = cred(&mut s, 2, "a.example", 9, true);
    let c = cred(&mut s, 3, "a.example", 9, false);
    s.insert(a).unwrap();
    s.insert(b).unwrap();
    s.insert(c).unwrap();
    let ids: Vec<u8> = s
        .by_rp("a.example")
        .unwrap()
        .iter()
        .map(|c| c.id[0])
        .collect();
    assert_eq!(ids, vec![2, 3]);
    assert_eq!(s.discoverable_count().unwrap(), (1, DEFAULT_CAPACITY - 1));
}

#[test]
fn capacity_is_enforced_for_discoverable_only() {
    let mut s = MemoryStore::with_capacity(1);
    let a = cred(&mut s, 1, "a.example", 1, true);
    let b = cred(&mut s, 2, "a.example", 2, true);
    let c = cred(&mut s, 3, "a.example", 3, false);
    s.insert(a).unwrap();
    assert!(matches!(s.insert(b), Err(StoreError::Full)));
    s.insert(c).unwrap();
    assert_eq!(s.credentials().len(), 2);
}

#[test]
fn pin_verification_unlocks_and_lock_locks() {
    let mut s = MemoryStore::default();
    assert!(!s.pin_is_set().unwrap());
    assert!(!s.verify_pin(&PinHash([1; 16])).unwrap());
    s.set_pin(&PinHash([1; 16]), &mut Seq(0)).unwrap();
    s.lock();
    assert!(!s.verify_pin(&PinHash([2; 16])).unwrap());
    assert!(!s.is_unlocked());
    assert!(s.verify_pin(&PinHash([1; 16])).unwrap());
    assert!(s.is_unlocked());
    s.lock();
    assert!(!s.is_unlocked());
    s.wipe().unwrap();
    assert!(!s.pin_is_set().unwrap());
}

#[test]
fn injected_key_is_used_and_cached_signing_verifies() {
    use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
    let mut s = MemoryStore::default();
    s.inject_next_key(&[0x11; 32]);
    let (pk, blob) = s.generate_key(Algorithm::Es256, &mut Seq(0)).unwrap();
    let (expected, _) = softkey::from_secret(Algorithm::Es256, &[0x11; 32]).unwrap();
    assert_eq!(pk, expected);
    for msg in [b"one".as_slice(), b"two"] {
        let sig = s.sign(&blob, Algorithm::Es256, msg).unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &pk.bytes)
            .verify(msg, &sig)
            .unwrap();
    }
    let (pk2, _) = s.generate_key(Algorithm::Es256, &mut Seq(0)).unwrap();
    assert_ne!(pk2, pk);
}

#[test]
fn update_and_delete() {
    let mut s = MemoryStore::default();
    let mut a = cred(&mut s, 1, "a.example", 1, true);
    s.insert(a.clone()).unwrap();
    a.sign_count = 5;
    s.update(&a).unwrap();
    assert_eq!(s.get(&a.id).unwrap().unwrap().sign_count, 5);
    assert_eq!(s.rps().unwrap().len(), 1);
    assert!(s.delete(&a.id).unwrap());
    assert!(!s.delete(&a.id).unwrap());
    assert!(s.update(&a).is_err());
}

/// The discoverable index follows replacements, deletions and a full store: a deleted
/// credential frees its slot, a replacement needs none, and the count is what the credentials say.
#[test]
fn discoverable_index_follows_replace_delete_and_capacity() {
    let mut s = MemoryStore::with_capacity(2);
    let a = cred(&mut s, 1, "a.example", 1, true);
    let b = cred(&mut s, 2, "b.example", 1, true);
    let c = cred(&mut s, 3, "c.example", 1, true);
    let a2 = cred(&mut s, 4, "a.example", 1, true);
    s.insert(a.clone()).unwrap();
    s.insert(b.clone()).unwrap();
    assert!(matches!(s.insert(c.clone()), Err(StoreError::Full)));
    assert_eq!(s.discoverable_count().unwrap(), (2, 0));
    // A full store still takes a replacement.
    s.insert(a2.clone()).unwrap();
    let ids: Vec<u8> = s.credentials().iter().map(|c| c.id[0]).collect();
    assert_eq!(ids, vec![2, 4]);
    assert_eq!(s.discoverable_count().unwrap(), (2, 0));
    // Deleting the replaced credential's ID changes nothing; deleting the new one frees a slot.
    assert!(!s.delete(&a.id).unwrap());
    assert!(s.delete(&a2.id).unwrap());
    assert_eq!(s.discoverable_count().unwrap(), (1, 1));
    s.insert(c).unwrap();
    assert_eq!(s.discoverable_count().unwrap(), (2, 0));
    // The same RP and user again after a delete is a new credential, not a replacement.
    assert!(s.delete(&b.id).unwrap());
    s.insert(a.clone()).unwrap();
    let ids: Vec<u8> = s.credentials().iter().map(|c| c.id[0]).collect();
    assert_eq!(ids, vec![3, 1]);
    s.wipe().unwrap();
    assert_eq!(s.discoverable_count().unwrap(), (0, 2));
    s.insert(a).unwrap();
    assert_eq!(s.discoverable_count().unwrap(), (1, 1));
}

/// Generated keys sign without a reload, and the cache of loaded keys stays bounded.
#[test]
fn key_cache_is_bounded_and_signatures_verify() {
    use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
    let mut s = MemoryStore::default();
    let mut keys = Vec::new();
    for i in 0..(KEY_CACHE + 10) {
        keys.push(s.generate_key(Algorithm::Es256, &mut Seq(i as u8)).unwrap());
    }
    // Only the newest generated key waits to sign; the others are loaded when they do.
    assert_eq!(s.cache.len(), 1);
    // Every key signs, the oldest (loaded now) and the newest (kept since it was made) alike,
    // and the cache stays bounded.
    for (pk, blob) in &keys {
        let sig = s.sign(blob, Algorithm::Es256, b"m").unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &pk.bytes)
            .verify(b"m", &sig)
            .unwrap();
    }
    assert_eq!(s.cache.len(), KEY_CACHE);
}
