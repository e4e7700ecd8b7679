//! Loaded software signing keys, kept while the store is unlocked.
//!
//! Loading a sealed key costs an AES-GCM open and a P-256 base-point multiplication (aws-lc's
//! pairwise consistency test, see `latchkey_authenticator::softkey`): more than half of an
//! assertion on the file store. [`KeyCache`] keeps the keys it has loaded so the next assertion
//! with the same credential signs at once.
//!
//! Why this does not weaken the protection at rest:
//!
//! - Keys stay sealed on disk; only the in-memory form is kept, in the process that already holds
//!   the unwrapped master key for exactly as long. Anyone who can read this memory can read the
//!   master key, which opens every key anyway.
//! - The cache lives only while the store is unlocked: the store empties it in
//!   `Custody::lock` (every lock: token expiry, PIN change, reset, power cycle), and aws-lc
//!   cleanses a key's memory when the key is dropped. A locked store signs nothing, cached or not
//!   (`Engine::sign` asks for the master key first).
//! - Entries are keyed by the sealed blob and by the master key that opened them: a hit needs the
//!   very bytes that were opened and authenticated under the same master key. If the usable
//!   master key changes, the cache is emptied before it is consulted.
//! - At most [`CAPACITY`] keys are kept, and the newest generated one until it signs; the oldest
//!   loaded is dropped first, and a key just generated replaces only the one generated before it.

use latchkey_authenticator::softkey::{LoadedKeys, SigningKey};

use crate::crypto::MasterKey;

/// Most keys kept (a few hundred bytes of aws-lc state each).
pub(crate) const CAPACITY: usize = 128;

/// Signing keys by sealed key blob, all opened under one master key.
pub(crate) struct KeyCache {
    /// The master key every cached key was opened with.
    owner: Option<MasterKey>,
    keys: LoadedKeys,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self {
            owner: None,
            keys: LoadedKeys::new(CAPACITY),
        }
    }
}

impl KeyCache {
    /// Empties the cache unless it was filled under `mk`.
    fn claim(&mut self, mk: &MasterKey) {
        if !self.owner.as_ref().is_some_and(|o| o.ct_eq(mk)) {
            self.clear();
            self.owner = Some(mk.clone());
        }
    }

    /// The key loaded from `blob` under `mk`, if kept.
    pub(crate) fn get(&mut self, mk: &MasterKey, blob: &[u8]) -> Option<&SigningKey> {
        self.claim(mk);
        self.keys.get(blob)
    }

    /// Keeps `key`, loaded from `blob` under `mk`.
    pub(crate) fn put(&mut self, mk: &MasterKey, blob: &[u8], key: SigningKey) {
        self.claim(mk);
        self.keys.put(blob, key);
    }

    /// Keeps `key`, just generated and sealed as `blob` under `mk`, apart from the keys in use
    /// until it signs (`LoadedKeys::put_new`).
    pub(crate) fn put_new(&mut self, mk: &MasterKey, blob: &[u8], key: SigningKey) {
        self.claim(mk);
        self.keys.put_new(blob, key);
    }

    /// Drops every key and the master key they were opened with.
    pub(crate) fn clear(&mut self) {
        self.keys.clear();
        self.owner = None;
    }

    /// How many keys are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_authenticator::softkey;
    use latchkey_authenticator::store::Algorithm;

    fn key(i: u8) -> SigningKey {
        let mut secret = [0u8; 32];
        secret[31] = i.max(1);
        softkey::from_secret_loaded(Algorithm::Es256, &secret)
            .unwrap()
            .2
    }

    #[test]
    fn bounded_and_bound_to_the_master_key() {
        let mk = MasterKey::generate().unwrap();
        let other = MasterKey::generate().unwrap();
        let mut c = KeyCache::default();
        for i in 0..(CAPACITY + 5) {
            c.put(&mk, &i.to_be_bytes(), key(1));
        }
        assert_eq!(c.len(), CAPACITY);
        // The oldest went first.
        assert!(c.get(&mk, &0usize.to_be_bytes()).is_none());
        assert!(c.get(&mk, &(CAPACITY + 4).to_be_bytes()).is_some());
        // Another master key sees nothing, and empties the cache.
        assert!(c.get(&other, &(CAPACITY + 4).to_be_bytes()).is_none());
        assert_eq!(c.len(), 0);
        c.put(&other, b"k", key(2));
        assert_eq!(c.len(), 1);
        c.clear();
        assert_eq!(c.len(), 0);
        assert!(c.owner.is_none());
    }
}
