//! The authenticator's store, wrapped so that its last failure is kept for the host.
//!
//! A store failure leaves the authenticator as a CTAP status byte (`From<StoreError> for
//! Status`: a damaged record, a read-only file system and a TPM fault are all `CTAP1_ERR_OTHER`),
//! which is all a CTAP peer may see. The host that runs the authenticator (latchkeyd's platform
//! worker, the `latchkey` command) needs the cause: [`Recorded`] keeps the last failure with its
//! `source()` chain, and the host takes it after a command with
//! [`crate::Authenticator::take_store_failure`].

use super::{
    Algorithm, Credential, CredentialStore, KeyBlob, PersistentState, PinHash, PublicKey, RpEntity,
    StoreError,
};
use crate::env::Rng;

/// A store and its last failure.
#[derive(Debug)]
pub struct Recorded<S> {
    inner: S,
    last: Option<StoreError>,
}

impl<S> Recorded<S> {
    /// Wraps `inner`, with no failure yet.
    pub fn new(inner: S) -> Self {
        Self { inner, last: None }
    }

    /// The store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The store, mutably.
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The last failure since the last take, leaving none.
    pub fn take_failure(&mut self) -> Option<StoreError> {
        self.last.take()
    }

    fn keep<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &result {
            self.last = Some(e.clone());
        }
        result
    }
}

impl<S: CredentialStore> CredentialStore for Recorded<S> {
    fn generate_key(
        &mut self,
        alg: Algorithm,
        rng: &mut dyn Rng,
    ) -> Result<(PublicKey, KeyBlob), StoreError> {
        let r = self.inner.generate_key(alg, rng);
        self.keep(r)
    }

    fn sign(
        &mut self,
        key: &KeyBlob,
        alg: Algorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let r = self.inner.sign(key, alg, message);
        self.keep(r)
    }

    fn insert(&mut self, credential: Credential) -> Result<(), StoreError> {
        let r = self.inner.insert(credential);
        self.keep(r)
    }

    fn get(&mut self, id: &[u8]) -> Result<Option<Credential>, StoreError> {
        let r = self.inner.get(id);
        self.keep(r)
    }

    fn by_rp(&mut self, rp_id: &str) -> Result<Vec<Credential>, StoreError> {
        let r = self.inner.by_rp(rp_id);
        self.keep(r)
    }

    fn rps(&mut self) -> Result<Vec<RpEntity>, StoreError> {
        let r = self.inner.rps();
        self.keep(r)
    }

    fn update(&mut self, credential: &Credential) -> Result<(), StoreError> {
        let r = self.inner.update(credential);
        self.keep(r)
    }

    fn delete(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        let r = self.inner.delete(id);
        self.keep(r)
    }

    fn discoverable_count(&mut self) -> Result<(usize, usize), StoreError> {
        let r = self.inner.discoverable_count();
        self.keep(r)
    }

    fn load_state(&mut self) -> Result<PersistentState, StoreError> {
        let r = self.inner.load_state();
        self.keep(r)
    }

    fn save_state(&mut self, state: &PersistentState) -> Result<(), StoreError> {
        let r = self.inner.save_state(state);
        self.keep(r)
    }

    fn pin_is_set(&mut self) -> Result<bool, StoreError> {
        let r = self.inner.pin_is_set();
        self.keep(r)
    }

    fn set_pin(&mut self, pin: &PinHash, rng: &mut dyn Rng) -> Result<(), StoreError> {
        let r = self.inner.set_pin(pin, rng);
        self.keep(r)
    }

    fn set_pin_code_points(&mut self, code_points: u8) -> Result<(), StoreError> {
        let r = self.inner.set_pin_code_points(code_points);
        self.keep(r)
    }

    fn pin_code_points(&mut self) -> Result<Option<u8>, StoreError> {
        let r = self.inner.pin_code_points();
        self.keep(r)
    }

    fn verify_pin(&mut self, pin: &PinHash) -> Result<bool, StoreError> {
        let r = self.inner.verify_pin(pin);
        self.keep(r)
    }

    fn lock(&mut self) {
        self.inner.lock();
    }

    fn wipe(&mut self) -> Result<(), StoreError> {
        let r = self.inner.wipe();
        self.keep(r)
    }

    fn supports(&self, alg: Algorithm) -> bool {
        self.inner.supports(alg)
    }

    fn discoverable_generation(&self) -> Option<u64> {
        self.inner.discoverable_generation()
    }
}
