//! [`FileStore`]: software keys in files, sealed by a master key that the PIN unwraps.

use std::path::Path;
use std::time::Duration;

use latchkey_authenticator::env::Rng;
use latchkey_authenticator::store::Damage;
use latchkey_authenticator::store::{Algorithm, KeyBlob, PinHash, PublicKey, StoreError};

use crate::codec::{Reader, Writer};
use crate::crypto::{self, derive_kek, KdfParams, MasterKey};
use crate::engine::{self, Custody, Engine, Limits};
use crate::keycache::KeyCache;
use crate::lock::StoreLock;
use crate::sealedkey;

const WRAP_AAD: &[u8] = b"latchkey-keystore/pin-wrap/v1";

/// How a [`FileStore`] protects private keys at rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Keys are sealed by a master key wrapped with Argon2id(PinHash): nothing can be signed until
    /// the PIN is verified, and no key can be made before a PIN is set.
    Pin,
    /// **Test only.** The master key lies in the clear next to the records: anyone who can read
    /// the directory can use every key. For virtual test keys (`latchkey virtual-key`), never for a
    /// user's real credentials. The PIN is still checked, but it protects nothing at rest.
    None,
}

impl Protection {
    fn tag(self) -> u8 {
        match self {
            Protection::None => 0,
            Protection::Pin => 1,
        }
    }
}

/// Options for [`FileStore::open_with`].
#[derive(Debug, Clone, Copy)]
pub struct FileStoreOptions {
    /// Argon2id cost for PINs set from now on (a PIN already set keeps the cost it was set with).
    pub kdf: KdfParams,
    /// How many discoverable credentials fit.
    pub max_discoverable: usize,
    /// How long the master key stays in memory after a right PIN without another one, so that
    /// later verifications check the PIN against an in-memory verifier instead of paying
    /// Argon2id again; `None` pays Argon2id at every verification. SECURITY.md, "Sessions".
    pub session_idle: Option<Duration>,
}

impl Default for FileStoreOptions {
    fn default() -> Self {
        FileStoreOptions {
            kdf: KdfParams::default(),
            max_discoverable: crate::DEFAULT_MAX_DISCOVERABLE,
            session_idle: Some(crate::DEFAULT_SESSION_IDLE),
        }
    }
}

/// The master key wrapped under a PIN-derived key.
struct PinWrap {
    params: KdfParams,
    salt: [u8; 16],
    sealed: Vec<u8>,
}

impl PinWrap {
    fn aad(params: KdfParams, salt: &[u8; 16]) -> Vec<u8> {
        let mut w = Writer::new();
        w.raw(WRAP_AAD)
            .u32(params.memory_kib)
            .u32(params.iterations)
            .u32(params.parallelism)
            .raw(salt);
        w.into_vec()
    }
}

/// Software custody: keys are aws-lc-rs keys sealed under the master key.
pub(crate) struct SoftCustody {
    protection: Protection,
    kdf: KdfParams,
    /// `Protection::None` only: the master key, stored in the clear.
    resident: Option<MasterKey>,
    wrap: Option<PinWrap>,
    /// Keys loaded while unlocked; emptied by [`Custody::lock`] (see `keycache` for why this is
    /// safe).
    pub(crate) keys: KeyCache,
}

impl SoftCustody {
    fn new(protection: Protection, kdf: KdfParams) -> Result<Self, StoreError> {
        let resident = match protection {
            Protection::None => Some(MasterKey::generate()?),
            Protection::Pin => None,
        };
        Ok(SoftCustody {
            protection,
            kdf,
            resident,
            wrap: None,
            keys: KeyCache::default(),
        })
    }

    fn decode(bytes: &[u8], protection: Protection, kdf: KdfParams) -> Result<Self, StoreError> {
        let mut r = Reader::new(bytes, "keystore file");
        let tag = r.u8()?;
        if tag != protection.tag() {
            return Err(StoreError::corrupt(
                "keystore file",
                Damage::Foreign("created with another protection (PIN or none)"),
            ));
        }
        let resident = match protection {
            Protection::None => Some(MasterKey::from_bytes(r.raw(32)?)?),
            Protection::Pin => None,
        };
        let wrap = if r.bool()? {
            let params = KdfParams {
                memory_kib: r.u32()?,
                iterations: r.u32()?,
                parallelism: r.u32()?,
            }
            .check()?;
            let salt = r.array::<16>()?;
            let sealed = r.bytes(256)?.to_vec();
            Some(PinWrap {
                params,
                salt,
                sealed,
            })
        } else {
            None
        };
        r.finish()?;
        Ok(SoftCustody {
            protection,
            kdf,
            resident,
            wrap,
            keys: KeyCache::default(),
        })
    }
}

impl Custody for SoftCustody {
    const KIND: u8 = 1;

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(self.protection.tag());
        if let Some(mk) = &self.resident {
            w.raw(mk.as_bytes());
        }
        match &self.wrap {
            None => {
                w.u8(0);
            }
            Some(p) => {
                w.u8(1)
                    .u32(p.params.memory_kib)
                    .u32(p.params.iterations)
                    .u32(p.params.parallelism)
                    .raw(&p.salt)
                    .bytes(&p.sealed);
            }
        }
        w.into_vec()
    }

    fn pin_is_set(&self) -> bool {
        self.wrap.is_some()
    }

    fn resident_key(&self) -> Option<&MasterKey> {
        self.resident.as_ref()
    }

    fn unlock(&mut self, pin: &PinHash) -> Result<Option<MasterKey>, StoreError> {
        let Some(wrap) = &self.wrap else {
            return Ok(None);
        };
        let kek = derive_kek(pin, &wrap.salt, wrap.params)?;
        match crypto::open(&kek, &PinWrap::aad(wrap.params, &wrap.salt), &wrap.sealed) {
            Some(mk) => MasterKey::from_bytes(&mk).map(Some),
            None => Ok(None),
        }
    }

    fn set_pin(&mut self, pin: &PinHash, current: Option<&MasterKey>) -> Result<(), StoreError> {
        let mk = match (current, &self.resident) {
            (Some(mk), _) => mk.clone(),
            (None, Some(mk)) => mk.clone(),
            (None, None) if self.wrap.is_none() => MasterKey::generate()?,
            (None, None) => return Err(StoreError::Locked),
        };
        let mut salt = [0u8; 16];
        crypto::random(&mut salt)?;
        let params = self.kdf.check()?;
        let kek = derive_kek(pin, &salt, params)?;
        let sealed = crypto::seal(&kek, &PinWrap::aad(params, &salt), mk.as_bytes())?;
        self.wrap = Some(PinWrap {
            params,
            salt,
            sealed,
        });
        Ok(())
    }

    fn generate_key(
        &mut self,
        alg: Algorithm,
        rng: &mut dyn Rng,
        mk: &MasterKey,
    ) -> Result<(PublicKey, KeyBlob), StoreError> {
        sealedkey::generate(&mut self.keys, alg, rng, mk)
    }

    fn sign(
        &mut self,
        key: &KeyBlob,
        alg: Algorithm,
        message: &[u8],
        mk: &MasterKey,
    ) -> Result<Vec<u8>, StoreError> {
        sealedkey::sign(&mut self.keys, key, alg, message, mk)
    }

    fn supports(&self, _alg: Algorithm) -> bool {
        true
    }

    fn lock(&mut self) {
        self.keys.clear();
    }

    fn wipe(&mut self) -> Result<(), StoreError> {
        *self = SoftCustody::new(self.protection, self.kdf)?;
        Ok(())
    }
}

/// A credential store in a directory, keys in software (see the crate docs and SECURITY.md).
pub struct FileStore {
    pub(crate) engine: Engine<SoftCustody>,
}

impl FileStore {
    /// Opens or creates the store in `dir` with default options.
    pub fn open(dir: &Path, protection: Protection) -> Result<Self, StoreError> {
        Self::open_with(dir, protection, FileStoreOptions::default())
    }

    /// Opens or creates the store in `dir`, holding it until dropped. Fails with
    /// [`StoreError::InUse`] if another opener holds it (this process's or another's: one owner
    /// at a time), and with [`StoreError::Corrupt`] if `dir` holds a store made with another
    /// protection or by a TPM store, or a damaged record.
    pub fn open_with(
        dir: &Path,
        protection: Protection,
        options: FileStoreOptions,
    ) -> Result<Self, StoreError> {
        // Before anything is read: another opener's files may be changing under it.
        let lock = StoreLock::acquire(dir)?;
        let custody = match engine::read_keyring(dir, SoftCustody::KIND)? {
            Some(bytes) => SoftCustody::decode(&bytes, protection, options.kdf)?,
            None => SoftCustody::new(protection, options.kdf)?,
        };
        let limits = Limits {
            max_discoverable: options.max_discoverable,
            session_idle: options.session_idle,
        };
        Ok(FileStore {
            engine: Engine::open(dir, lock, custody, limits)?,
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        self.engine.dir()
    }

    /// Whether keys are usable now without a PIN (after `verify_pin`, or always for
    /// [`Protection::None`]).
    pub fn is_unlocked(&self) -> bool {
        self.engine.is_unlocked()
    }

    /// Ends the session (screen locked, machine suspending, user logging out): locks the store
    /// and zeroises the master key and the PIN verifier, so the next verification pays Argon2id.
    pub fn end_session(&mut self) {
        self.engine.end_session()
    }

    /// Ends the session if it has been idle for longer than
    /// [`FileStoreOptions::session_idle`]; `true` if it ended now. A verification checks this
    /// itself; a caller with a timer calls it to drop the key from memory on time.
    pub fn expire_session(&mut self) -> bool {
        self.engine.expire_session()
    }

    /// How long until the live session is idle too long (zero when it is due), so that a
    /// caller's timer can call [`Self::expire_session`] on time; `None` without a live session.
    pub fn session_expires_in(&self) -> Option<std::time::Duration> {
        self.engine.sessions.remaining()
    }

    /// Whether a session holds the master key in memory (SECURITY.md, "Sessions").
    pub fn session_is_live(&self) -> bool {
        self.engine.sessions.is_live()
    }

    /// Number of credentials (discoverable or not).
    pub fn len(&self) -> usize {
        self.engine.len()
    }

    /// Whether the store holds no credential.
    pub fn is_empty(&self) -> bool {
        self.engine.len() == 0
    }
}

delegate_store!(FileStore);

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
