//! The platform authenticator most tests run ceremonies on: the software CTAP 2.1 core with the
//! platform configuration over an in-memory credential store (no Argon2id, nothing on disk),
//! presence granted (latchkeyd's prompt obtained consent), behind latchkeyd's platform back-end.

use std::sync::Arc;

use latchkey_authenticator::memory::MemoryStore;
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
