//! The platform authenticator most tests run ceremonies on: the software CTAP 2.1 core with the
//! platform configuration over an in-memory credential store (no Argon2id, nothing on disk),
//! presence granted (latchkeyd's prompt obtained consent), behind latchkeyd's platform back-end;
//! and credentials [`seed`]ed into such a store, for the tests of signals and management.

use std::sync::Arc;

use latchkey_authenticator::env::Rng;
use latchkey_authenticator::memory::MemoryStore;
use latchkey_authenticator::store::{Algorithm, Credential, CredentialStore, RpEntity, UserEntity};
use latchkey_client::platform::{self, PlatformDevice, Presence};
use latchkey_client::CancelHandle;
use latchkey_daemon::platform::PlatformBackend;

/// The platform authenticator over `store`.
pub fn device_with(store: MemoryStore) -> PlatformDevice<MemoryStore> {
    let cancel = CancelHandle::new();
    PlatformDevice::with_store(
        platform::config(),
        store,
        Presence::granted(cancel.clone()),
        cancel,
        "memory".into(),
    )
}

/// The platform authenticator over an empty memory store.
pub fn device() -> PlatformDevice<MemoryStore> {
    device_with(MemoryStore::default())
}

/// latchkeyd's platform back-end over [`device`]: its ceremonies and its store.
pub fn memory_platform() -> Arc<PlatformBackend> {
    Arc::new(PlatformBackend::new(Box::new(device())))
}

/// An RNG counting up from its seed: the same keys every run.
pub struct CountingRng(pub u8);

impl Rng for CountingRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

/// Stores a credential `id` (its first byte seeds its key) for `rp` and `user` named `name`
/// (displayed in capitals). A store keeps one discoverable credential per RP and user (CTAP 2.1
/// §6.1.2 step 16), so a user's second credential at an RP is stored non-discoverable, as a
/// server-side credential would be.
pub fn seed(
    store: &mut MemoryStore,
    id: &[u8],
    rp: &str,
    user: &[u8],
    name: &str,
    discoverable: bool,
) {
    let (public_key, key) = store
        .generate_key(Algorithm::Es256, &mut CountingRng(id[0]))
        .unwrap();
    store
        .insert(Credential::new(
            id.to_vec(),
            RpEntity {
                id: rp.into(),
                name: None,
            },
            UserEntity {
                id: user.to_vec(),
                name: Some(name.into()),
                display_name: Some(name.to_uppercase()),
            },
            discoverable,
            public_key,
            key,
        ))
        .unwrap();
}
