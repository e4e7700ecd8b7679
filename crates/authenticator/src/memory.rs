//! An in-memory [`CredentialStore`] for tests and the virtual security key.
//!
//! Keys are software keys ([`crate::softkey`]) generated from the injected RNG; the PIN verifier
//! is the PIN hash itself, compared in constant time. Nothing survives the process: a virtual key
//! that must remember its credentials uses the keystore crate's file store instead.

use std::collections::{HashMap, VecDeque};

use zeroize::Zeroizing;

use crate::env::Rng;
use crate::softkey::{self, SigningKey};
use crate::store::{
    Algorithm, Credential, CredentialStore, KeyBlob, PersistentState, PinHash, PublicKey, RpEntity,
    StoreError,
};

/// Default number of discoverable credentials a [`MemoryStore`] holds.
pub const DEFAULT_CAPACITY: usize = 50;

/// An in-memory credential store.
pub struct MemoryStore {
    /// Every credential, oldest first.
    credentials: Vec<Credential>,
    state: PersistentState,
    pin: Option<PinHash>,
    pin_code_points: Option<u8>,
    unlocked: bool,
    capacity: usize,
    /// Private keys to hand out instead of generating one (test vectors).
    injected_keys: VecDeque<Zeroizing<Vec<u8>>>,
    /// Loaded signing keys, keyed by their blob.
    cache: HashMap<Vec<u8>, SigningKey>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::with_capacity(DEFAULT_CAPACITY)
    }
}

impl core::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("credentials", &self.credentials.len())
            .field("capacity", &self.capacity)
            .field("pin_set", &self.pin.is_some())
            .field("unlocked", &self.unlocked)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store with room for `capacity` discoverable credentials.
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryStore {
            credentials: Vec::new(),
            state: PersistentState::default(),
            pin: None,
            pin_code_points: None,
            unlocked: false,
            capacity,
            injected_keys: VecDeque::new(),
            cache: HashMap::new(),
        }
    }

    /// Makes the next [`CredentialStore::generate_key`] use this private scalar (ES256) or seed
    /// (EdDSA) instead of the RNG; for reproducing published test vectors.
    pub fn inject_next_key(&mut self, secret: &[u8]) {
        self.injected_keys
            .push_back(Zeroizing::new(secret.to_vec()));
    }

    /// Whether the last PIN verification unlocked the store and it was not locked since.
    pub fn is_unlocked(&self) -> bool {
        self.unlocked
    }

    /// Every stored credential, oldest first (for tests and diagnostics).
    pub fn credentials(&self) -> &[Credential] {
        &self.credentials
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl CredentialStore for MemoryStore {
    fn generate_key(
        &mut self,
        alg: Algorithm,
        rng: &mut dyn Rng,
    ) -> Result<(PublicKey, KeyBlob), StoreError> {
        match self.injected_keys.pop_front() {
            Some(secret) => softkey::from_secret(alg, &secret),
            None => softkey::generate(alg, rng),
        }
    }

    fn sign(
        &mut self,
        key: &KeyBlob,
        alg: Algorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let cache_key = key.as_bytes().to_vec();
        if let Some(loaded) = self.cache.get(&cache_key) {
            return loaded.sign(message);
        }
        let loaded = SigningKey::load(alg, key)?;
        let sig = loaded.sign(message)?;
        self.cache.insert(cache_key, loaded);
        Ok(sig)
    }

    fn insert(&mut self, credential: Credential) -> Result<(), StoreError> {
        if credential.discoverable {
            let before = self.credentials.len();
            self.credentials.retain(|c| {
                !(c.discoverable && c.rp.id == credential.rp.id && c.user.id == credential.user.id)
            });
            let replaced = before != self.credentials.len();
            let count = self.credentials.iter().filter(|c| c.discoverable).count();
            if !replaced && count >= self.capacity {
                return Err(StoreError::Full);
            }
        }
        self.credentials.push(credential);
        Ok(())
    }

    fn get(&mut self, id: &[u8]) -> Result<Option<Credential>, StoreError> {
        Ok(self.credentials.iter().find(|c| c.id == id).cloned())
    }

    fn by_rp(&mut self, rp_id: &str) -> Result<Vec<Credential>, StoreError> {
        Ok(self
            .credentials
            .iter()
            .filter(|c| c.rp.id == rp_id)
            .cloned()
            .collect())
    }

    fn rps(&mut self) -> Result<Vec<RpEntity>, StoreError> {
        let mut out: Vec<RpEntity> = Vec::new();
        for c in self.credentials.iter().filter(|c| c.discoverable) {
            if !out.iter().any(|rp| rp.id == c.rp.id) {
                out.push(c.rp.clone());
            }
        }
        Ok(out)
    }

    fn update(&mut self, credential: &Credential) -> Result<(), StoreError> {
        match self.credentials.iter_mut().find(|c| c.id == credential.id) {
            Some(slot) => {
                *slot = credential.clone();
                Ok(())
            }
            None => Err(StoreError::Corrupt("no credential with that ID".into())),
        }
    }

    fn delete(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        let before = self.credentials.len();
        self.credentials.retain(|c| c.id != id);
        Ok(before != self.credentials.len())
    }

    fn discoverable_count(&mut self) -> Result<(usize, usize), StoreError> {
        let count = self.credentials.iter().filter(|c| c.discoverable).count();
        Ok((count, self.capacity.saturating_sub(count)))
    }

    fn load_state(&mut self) -> Result<PersistentState, StoreError> {
        Ok(self.state.clone())
    }

    fn save_state(&mut self, state: &PersistentState) -> Result<(), StoreError> {
        self.state = state.clone();
        Ok(())
    }

    fn pin_is_set(&mut self) -> Result<bool, StoreError> {
        Ok(self.pin.is_some())
    }

    fn set_pin(&mut self, pin: &PinHash, _rng: &mut dyn Rng) -> Result<(), StoreError> {
        self.pin = Some(pin.clone());
        self.unlocked = true;
        Ok(())
    }

    fn set_pin_code_points(&mut self, code_points: u8) -> Result<(), StoreError> {
        self.pin_code_points = Some(code_points);
        Ok(())
    }

    fn pin_code_points(&mut self) -> Result<Option<u8>, StoreError> {
        Ok(self.pin.as_ref().and(self.pin_code_points))
    }

    fn verify_pin(&mut self, pin: &PinHash) -> Result<bool, StoreError> {
        let ok = self.pin.as_ref().is_some_and(|p| ct_eq(&p.0, &pin.0));
        if ok {
            self.unlocked = true;
        }
        Ok(ok)
    }

    fn lock(&mut self) {
        self.unlocked = false;
    }

    fn wipe(&mut self) -> Result<(), StoreError> {
        self.credentials.clear();
        self.state = PersistentState::default();
        self.pin = None;
        self.pin_code_points = None;
        self.unlocked = false;
        self.cache.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
