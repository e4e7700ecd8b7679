//! An in-memory [`CredentialStore`] for tests and the virtual security key.
//!
//! Keys are software keys ([`crate::softkey`]) generated from the injected RNG; the PIN verifier
//! is the PIN hash itself, compared in constant time. Nothing survives the process: a virtual key
//! that must remember its credentials uses the keystore crate's file store instead.

use std::collections::{HashMap, VecDeque};

use zeroize::Zeroizing;

use crate::env::Rng;
use crate::softkey::{self, LoadedKeys, SigningKey};
use crate::store::{
    Algorithm, Credential, CredentialStore, KeyBlob, PersistentState, PinHash, PublicKey, RpEntity,
    StoreError,
};

/// Default number of discoverable credentials a [`MemoryStore`] holds.
pub const DEFAULT_CAPACITY: usize = 50;

/// Most loaded signing keys kept (the oldest loaded goes first).
const KEY_CACHE: usize = 64;

/// An in-memory credential store.
pub struct MemoryStore {
    /// Every credential, oldest first.
    credentials: Vec<Credential>,
    /// The discoverable credentials' IDs by RP ID and user handle (at most one each), so that an
    /// insert costs the same in a full store as in an empty one.
    discoverable: HashMap<String, HashMap<Vec<u8>, Vec<u8>>>,
    /// How many credentials are discoverable.
    discoverable_count: usize,
    state: PersistentState,
    pin: Option<PinHash>,
    pin_code_points: Option<u8>,
    unlocked: bool,
    capacity: usize,
    /// Private keys to hand out instead of generating one (test vectors).
    injected_keys: VecDeque<Zeroizing<Vec<u8>>>,
    /// Loaded signing keys, keyed by their blob: at most [`KEY_CACHE`], and the newest generated
    /// key until it signs ([`LoadedKeys::put_new`]).
    cache: LoadedKeys,
    /// Bumped by every change to the discoverable credentials (see
    /// [`CredentialStore::discoverable_generation`]).
    generation: u64,
    /// Every write fails with this, when set ([`MemoryStore::fail_writes`]).
    failing: Option<StoreError>,
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
            discoverable: HashMap::new(),
            discoverable_count: 0,
            state: PersistentState::default(),
            pin: None,
            pin_code_points: None,
            unlocked: false,
            capacity,
            injected_keys: VecDeque::new(),
            cache: LoadedKeys::new(KEY_CACHE),
            generation: 0,
            failing: None,
        }
    }

    /// Makes every write (a new credential, an update, a delete, the state, the PIN) fail with
    /// `error` from now on, or succeed again with `None`: a store on a file system that turned
    /// read-only, for the tests of what latchkeyd makes of a failing store.
    pub fn fail_writes(&mut self, error: Option<StoreError>) {
        self.failing = error;
    }

    fn writable(&self) -> Result<(), StoreError> {
        match &self.failing {
            Some(e) => Err(e.clone()),
            None => Ok(()),
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

impl MemoryStore {
    /// The ID of the discoverable credential for this RP and user handle.
    fn discoverable_for(&self, rp_id: &str, user_id: &[u8]) -> Option<&Vec<u8>> {
        self.discoverable.get(rp_id)?.get(user_id)
    }

    /// Adds `c` to the discoverable index (if it is discoverable).
    fn index(&mut self, c: &Credential) {
        if c.discoverable {
            // The RP ID is copied only for an RP's first credential.
            let users = match self.discoverable.get_mut(&c.rp.id) {
                Some(users) => users,
                None => self.discoverable.entry(c.rp.id.clone()).or_default(),
            };
            let previous = users.insert(c.user.id.clone(), c.id.clone());
            if previous.is_none() {
                self.discoverable_count += 1;
            }
        }
    }

    /// Removes `c` from the discoverable index (if it is the one indexed).
    fn unindex(&mut self, c: &Credential) {
        if !c.discoverable {
            return;
        }
        let Some(users) = self.discoverable.get_mut(&c.rp.id) else {
            return;
        };
        if users.get(&c.user.id) == Some(&c.id) {
            users.remove(&c.user.id);
            self.discoverable_count -= 1;
            if users.is_empty() {
                self.discoverable.remove(&c.rp.id);
            }
        }
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
        let (public, blob, loaded) = match self.injected_keys.pop_front() {
            Some(secret) => softkey::from_secret_loaded(alg, &secret)?,
            None => softkey::generate_loaded(alg, rng)?,
        };
        // The key is loaded already: the first signature (self attestation, the first
        // assertion) needs no second load. It waits apart from the keys in use until it signs.
        self.cache.put_new(blob.as_bytes(), loaded);
        Ok((public, blob))
    }

    fn sign(
        &mut self,
        key: &KeyBlob,
        alg: Algorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        if let Some(loaded) = self.cache.get(key.as_bytes()) {
            return loaded.sign(message);
        }
        let loaded = SigningKey::load(alg, key)?;
        let sig = loaded.sign(message)?;
        self.cache.put(key.as_bytes(), loaded);
        Ok(sig)
    }

    fn insert(&mut self, credential: Credential) -> Result<(), StoreError> {
        self.writable()?;
        if credential.discoverable {
            match self
                .discoverable_for(&credential.rp.id, &credential.user.id)
                .cloned()
            {
                // A discoverable credential with the same RP ID and user handle is replaced.
                Some(old_id) => {
                    if let Some(at) = self
                        .credentials
                        .iter()
                        .position(|c| c.discoverable && c.id == old_id)
                    {
                        let old = self.credentials.remove(at);
                        self.unindex(&old);
                    }
                }
                None if self.discoverable_count >= self.capacity => return Err(StoreError::Full),
                None => {}
            }
        }
        if credential.discoverable {
            self.generation += 1;
        }
        self.index(&credential);
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
        self.writable()?;
        let Some(at) = self.credentials.iter().position(|c| c.id == credential.id) else {
            return Err(StoreError::NoSuchCredential);
        };
        let old = &self.credentials[at];
        if (old.discoverable || credential.discoverable) && old.user != credential.user {
            self.generation += 1;
        }
        let reindex = old.discoverable != credential.discoverable
            || old.rp.id != credential.rp.id
            || old.user.id != credential.user.id;
        if reindex {
            let old = old.clone();
            self.unindex(&old);
            self.index(credential);
        }
        self.credentials[at] = credential.clone();
        Ok(())
    }

    fn delete(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        self.writable()?;
        let mut removed = Vec::new();
        self.credentials.retain(|c| {
            let keep = c.id != id;
            if !keep {
                removed.push(c.clone());
            }
            keep
        });
        for c in &removed {
            if c.discoverable {
                self.generation += 1;
            }
            self.unindex(c);
            self.cache.remove(c.key.as_bytes());
        }
        Ok(!removed.is_empty())
    }

    fn discoverable_count(&mut self) -> Result<(usize, usize), StoreError> {
        let count = self.discoverable_count;
        Ok((count, self.capacity.saturating_sub(count)))
    }

    fn load_state(&mut self) -> Result<PersistentState, StoreError> {
        Ok(self.state.clone())
    }

    fn save_state(&mut self, state: &PersistentState) -> Result<(), StoreError> {
        self.writable()?;
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
        self.discoverable.clear();
        self.discoverable_count = 0;
        self.state = PersistentState::default();
        self.pin = None;
        self.pin_code_points = None;
        self.unlocked = false;
        self.cache.clear();
        self.generation += 1;
        Ok(())
    }

    fn discoverable_generation(&self) -> Option<u64> {
        Some(self.generation)
    }
}

#[cfg(test)]
mod tests;
