//! The platform authenticator: the software CTAP 2.1 authenticator core over the user's credential
//! store, driven in this process through the same [`Device`] trait as a security key.
//!
//! Its PIN is the platform PIN, with CTAP clientPIN semantics (CTAP 2.1 §6.5): set on first use
//! (the ceremony asks the UI for a new PIN when none is set), retries counted, blocked after eight
//! wrong PINs. The store is `FileStore` with `Protection::Pin` (every key wrapped by a key derived
//! from the PIN) under `$XDG_DATA_HOME/latchkey/`, so a stolen home directory yields no usable key.
//! Its configuration says `plat: true`, transports `["internal"]`, `alwaysUv`, BE/BS clear, and
//! attestation `none` (packed self attestation when the RP's `attestationFormats` asks for it);
//! ES256, EdDSA (file store only) and ES384, and ML-DSA when `platform.toml` enables it
//! ([`crate::platform_options`]).
//!
//! User presence is granted by whoever owns the device: the `latchkey` command's user at the
//! terminal, latchkeyd's prompt. [`Presence`] carries that decision; a cancelled
//! [`CancelHandle`] always refuses it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use latchkey_authenticator::config::{AttestationMode, Config};
use latchkey_authenticator::env::{Clock, PresenceDenied, PresencePurpose, Rng, UserPresence};
use latchkey_authenticator::store::{CredentialStore, StoreError};
use latchkey_authenticator::Authenticator;
use latchkey_keystore::{FileStore, Protection};

use crate::device::{
    CancelHandle, Device, DeviceDescription, DeviceError, KeepaliveStatus, Transport,
};

/// The platform authenticator's AAGUID: all zero, as WebAuthn L3 §6.5.1 asks of `none` attestation.
pub const AAGUID: [u8; 16] = [0; 16];

/// The configuration of the platform authenticator core.
pub fn config() -> Config {
    Config {
        aaguid: AAGUID,
        attestation: AttestationMode::None,
        transports: vec!["internal".to_owned()],
        always_uv_default: true,
        platform: true,
        backup_eligible: false,
        backup_state: false,
        ..Config::default()
    }
}

/// Where the platform store lives: `dir` if given, else `$XDG_DATA_HOME/latchkey/`.
pub fn store_dir(dir: Option<&Path>) -> Result<PathBuf, StoreOpenError> {
    match dir {
        Some(d) => Ok(d.to_path_buf()),
        None => latchkey_keystore::default_dir().ok_or(StoreOpenError::NoHome),
    }
}

/// Why the platform store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreOpenError {
    /// Neither `$XDG_DATA_HOME` nor `$HOME` is set.
    #[error("cannot find the credential store: neither XDG_DATA_HOME nor HOME is set")]
    NoHome,
    /// The platform authenticator's settings (`platform.toml`) do not parse.
    #[error("cannot read the platform authenticator's settings: {0}")]
    Options(#[from] crate::platform_options::OptionsError),
    /// The store refused to open.
    #[error("cannot open the credential store at {}: {}", dir.display(), source.with_causes())]
    Store {
        /// The directory.
        dir: PathBuf,
        /// What went wrong.
        source: StoreError,
    },
}

/// Whether the user is present, decided by the owner of the device.
pub type PresenceFn = dyn Fn(&PresencePurpose<'_>) -> bool + Send + Sync;

/// The platform authenticator's presence check: the owner's decision, refused once cancelled.
#[derive(Clone)]
pub struct Presence {
    decide: Arc<PresenceFn>,
    cancel: CancelHandle,
}

impl Presence {
    /// Presence is granted for every request (the caller has the user's intent already: the
    /// `latchkey` command run at a terminal, a confirmed prompt).
    pub fn granted(cancel: CancelHandle) -> Self {
        Self::with(cancel, |_| true)
    }

    /// Presence as `decide` says.
    pub fn with(
        cancel: CancelHandle,
        decide: impl Fn(&PresencePurpose<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self {
            decide: Arc::new(decide),
            cancel,
        }
    }
}

impl UserPresence for Presence {
    fn request_presence(&mut self, purpose: PresencePurpose<'_>) -> Result<(), PresenceDenied> {
        if self.cancel.is_cancelled() {
            return Err(PresenceDenied::Cancelled);
        }
        if (self.decide)(&purpose) {
            Ok(())
        } else if self.cancel.is_cancelled() {
            Err(PresenceDenied::Cancelled)
        } else {
            Err(PresenceDenied::Denied)
        }
    }
}

/// The wall clock, in milliseconds since this device was opened.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    start: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
    fn unix_time(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// The operating system's random number generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRng;

impl Rng for SystemRng {
    fn fill(&mut self, buf: &mut [u8]) {
        system_fill(buf);
    }

    fn fill_public(&mut self, buf: &mut [u8]) {
        public_pool::fill(buf);
    }

    fn is_system(&self) -> bool {
        true
    }
}

/// Public random bytes (credential IDs) drawn from aws-lc in bulk.
///
/// One `aws_lc_rs::rand::fill` costs the same for 16 bytes as for 512 (about 0.35 µs on the
/// benchmark machine: the cost is per call), and makeCredential draws a 16-byte credential ID
/// each time. So IDs come from a per-thread pool refilled with one call per
/// [`POOL`](public_pool::POOL) bytes. Only values that are published at once are served from it
/// ([`Rng::fill_public`]); keys, tokens and nonces keep coming straight from aws-lc. Each
/// handed-out byte is zeroed in the pool, so the pool holds only IDs not yet made. A pool copied
/// by `fork(2)` would be handed out twice; the workspace forbids unsafe code, so nothing here
/// forks without an `exec`.
mod public_pool {
    use std::cell::RefCell;

    /// Bytes drawn per refill: 32 credential IDs of the default length.
    pub(super) const POOL: usize = 512;

    struct Pool {
        bytes: [u8; POOL],
        /// How many of `bytes` are handed out (or were never filled).
        used: usize,
    }

    thread_local! {
        static PUBLIC: RefCell<Pool> = const {
            RefCell::new(Pool {
                bytes: [0; POOL],
                used: POOL,
            })
        };
    }

    /// Fills `buf` from the pool; a request longer than a quarter of the pool is drawn directly.
    pub(super) fn fill(buf: &mut [u8]) {
        if buf.len() > POOL / 4 {
            super::system_fill(buf);
            return;
        }
        PUBLIC.with_borrow_mut(|pool| {
            if POOL - pool.used < buf.len() {
                super::system_fill(&mut pool.bytes);
                pool.used = 0;
            }
            let taken = &mut pool.bytes[pool.used..pool.used + buf.len()];
            buf.copy_from_slice(taken);
            taken.fill(0);
            pool.used += buf.len();
        });
    }
}

/// `buf` from aws-lc's generator (seeded by the operating system).
fn system_fill(buf: &mut [u8]) {
    if aws_lc_rs::rand::fill(buf).is_err() {
        // Without randomness no key, token or nonce would be safe: stop rather than go on.
        std::process::abort();
    }
}

/// The platform authenticator core over the store `S`.
pub type PlatformCore<S> = Authenticator<S, Presence, SystemClock, SystemRng>;

/// An in-process authenticator behind the [`Device`] trait.
pub struct PlatformDevice<S: CredentialStore> {
    core: PlatformCore<S>,
    cancel: CancelHandle,
    description: DeviceDescription,
    /// getInfo and the key agreement kept between ceremonies ([`crate::kept`]); the platform
    /// authenticator only, not the in-process software key that stands in for a security key.
    kept: Option<crate::kept::Kept>,
}

impl<S: CredentialStore> std::fmt::Debug for PlatformDevice<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformDevice")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl PlatformDevice<FileStore> {
    /// The user's platform authenticator over the PIN-protected file store in `dir` (default
    /// `$XDG_DATA_HOME/latchkey/`), with user presence decided by `presence`.
    pub fn open(
        dir: Option<&Path>,
        presence: impl Fn(&PresencePurpose<'_>) -> bool + Send + Sync + 'static,
    ) -> Result<Self, StoreOpenError> {
        let dir = store_dir(dir)?;
        let store =
            FileStore::open(&dir, Protection::Pin).map_err(|source| StoreOpenError::Store {
                dir: dir.clone(),
                source,
            })?;
        let config = crate::platform_options::PlatformOptions::load()?.config();
        let cancel = CancelHandle::new();
        let presence = Presence::with(cancel.clone(), presence);
        Ok(Self::with_store(
            config,
            store,
            presence,
            cancel,
            format!("{}", dir.display()),
        ))
    }
}

impl<S: CredentialStore + Send> PlatformDevice<S> {
    /// An in-process authenticator with any store and configuration (tests use a `MemoryStore`).
    /// `presence` must share `cancel` so that cancelling refuses the touch.
    pub fn with_store(
        config: Config,
        store: S,
        presence: Presence,
        cancel: CancelHandle,
        path: String,
    ) -> Self {
        let internal = config.platform;
        let core = Authenticator::new(config, store, presence, SystemClock::default(), SystemRng);
        let (name, transport) = if internal {
            ("Latchkey platform authenticator", Transport::Internal)
        } else {
            ("Latchkey software key (in process)", Transport::Virtual)
        };
        Self {
            core,
            cancel,
            description: DeviceDescription {
                name: name.to_owned(),
                path,
                transport,
                cbor: true,
            },
            kept: internal.then(crate::kept::Kept::new),
        }
    }

    /// The authenticator core (for its store).
    pub fn core(&self) -> &PlatformCore<S> {
        &self.core
    }

    /// The authenticator core, mutably. Whoever changes its store through it (not through CTAP)
    /// calls [`Self::forget_kept`].
    pub fn core_mut(&mut self) -> &mut PlatformCore<S> {
        &mut self.core
    }

    /// Forgets the kept getInfo and key agreement ([`crate::kept`]): the store changed outside
    /// CTAP (credentials deleted or renamed, its session ended).
    pub fn forget_kept(&mut self) {
        if let Some(kept) = self.kept.as_mut() {
            kept.forget();
        }
    }
}

impl<S: CredentialStore + Send> Device for PlatformDevice<S> {
    fn info(&self) -> DeviceDescription {
        self.description.clone()
    }

    fn cbor(
        &mut self,
        request: &[u8],
        _status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        if self.cancel.is_cancelled() {
            return Err(DeviceError::Cancelled);
        }
        if let Some(kept) = self.kept.as_mut() {
            kept.observe(request);
        }
        Ok(self.core.handle_cbor(request))
    }

    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        if self.cancel.is_cancelled() {
            return Err(DeviceError::Cancelled);
        }
        self.forget_kept();
        Ok(self.core.handle_u2f(apdu))
    }

    fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    fn kept(&mut self) -> Option<&mut crate::kept::Kept> {
        self.kept.as_mut()
    }
}

#[cfg(test)]
mod pool_tests {
    use super::public_pool::POOL;
    use super::*;

    #[test]
    fn public_bytes_never_repeat_across_refills_and_long_requests_bypass_the_pool() {
        let mut rng = SystemRng;
        // 100 IDs of 16 bytes: three refills and a part.
        let ids: Vec<[u8; 16]> = (0..100)
            .map(|_| {
                let mut id = [0u8; 16];
                rng.fill_public(&mut id);
                id
            })
            .collect();
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        assert!(ids.iter().all(|id| id.iter().any(|&b| b != 0)));
        // Lengths that do not divide the pool, a request longer than what is left in it, and
        // one longer than a quarter of the pool (drawn directly).
        let mut seen = Vec::new();
        for len in [7, 100, 128, 129, POOL] {
            let mut buf = vec![0u8; len];
            rng.fill_public(&mut buf);
            assert!(buf.iter().any(|&b| b != 0), "{len} bytes left zero");
            seen.push(buf);
        }
        for (i, a) in seen.iter().enumerate() {
            for b in &seen[i + 1..] {
                let n = a.len().min(b.len()).min(16);
                assert_ne!(a[..n], b[..n]);
            }
        }
    }
}
