//! The store engine shared by [`crate::FileStore`] and the TPM store: files, index, locking.
//!
//! ```text
//! DIR/                 0700
//!   lock               0600  held (flock) by the one opener; its process ID (see `lock`)
//!   keystore           0600  "LKKS" 0x01 ‖ custody kind ‖ custody section (key wrapping / TPM PIN object)
//!   state              0600  the authenticator's persistent state
//!   credentials/       0700
//!     <hex SHA-256(credential ID)>.cred   one record per credential (see `record`)
//! ```
//!
//! What differs between stores is *custody*: where private keys live and how a PIN unlocks the
//! [`MasterKey`] that seals the per-credential secrets ([`Custody`]).

use std::fs;
use std::path::{Path, PathBuf};

use latchkey_authenticator::env::Rng;
use latchkey_authenticator::store::Damage;
use latchkey_authenticator::store::{
    Algorithm, Credential, KeyBlob, PersistentState, PinHash, PublicKey, RpEntity, StoreError,
};

use crate::crypto::MasterKey;
use crate::fsutil::{self, io_err};
use crate::index::Index;
use crate::lock::StoreLock;
use crate::record::{Record, UpdateWrite};
use crate::session::{Check, Sessions};
use crate::state;

const KEYRING: &str = "keystore";
const STATE: &str = "state";
const CREDENTIALS: &str = "credentials";
const KEYRING_MAGIC: &[u8; 5] = b"LKKS\x01";
const MAX_KEYRING: usize = 64 * 1024;

/// Key custody: who holds private keys and what a PIN unlocks.
pub(crate) trait Custody {
    /// Tag in the keyring header, so a directory is never opened by the wrong kind of store.
    const KIND: u8;

    /// The custody section of the keyring file.
    fn encode(&self) -> Vec<u8>;

    /// Whether a PIN is set.
    fn pin_is_set(&self) -> bool;

    /// A master key usable without user verification (test stores only).
    fn resident_key(&self) -> Option<&MasterKey>;

    /// Checks `pin`; the master key on success, `None` for a wrong PIN.
    fn unlock(&mut self, pin: &PinHash) -> Result<Option<MasterKey>, StoreError>;

    /// Binds the master key to `pin`: `current` is the unlocked key, `None` when no PIN was set
    /// (then a fresh key is made). The caller persists [`Custody::encode`] afterwards.
    fn set_pin(&mut self, pin: &PinHash, current: Option<&MasterKey>) -> Result<(), StoreError>;

    /// Makes a key pair; the blob is sealed (software) or TPM-wrapped.
    fn generate_key(
        &mut self,
        alg: Algorithm,
        rng: &mut dyn Rng,
        mk: &MasterKey,
    ) -> Result<(PublicKey, KeyBlob), StoreError>;

    /// Signs with a key from [`Custody::generate_key`].
    fn sign(
        &mut self,
        key: &KeyBlob,
        alg: Algorithm,
        message: &[u8],
        mk: &MasterKey,
    ) -> Result<Vec<u8>, StoreError>;

    /// Whether keys of `alg` can be made here.
    fn supports(&self, alg: Algorithm) -> bool;

    /// Forgets anything derived from the last verification.
    fn lock(&mut self) {}

    /// Returns to the state of a new store (no PIN).
    fn wipe(&mut self) -> Result<(), StoreError>;
}

/// Reads the custody section of `dir/keystore`, if the store exists.
pub(crate) fn read_keyring(dir: &Path, kind: u8) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(bytes) = fsutil::read_bounded(&dir.join(KEYRING), MAX_KEYRING)? else {
        return Ok(None);
    };
    let body = bytes
        .strip_prefix(KEYRING_MAGIC.as_slice())
        .ok_or_else(|| StoreError::corrupt("keystore file", Damage::BadMagic))?;
    match body.split_first() {
        Some((&k, rest)) if k == kind => Ok(Some(rest.to_vec())),
        Some((&k, _)) => Err(StoreError::corrupt(
            "keystore file",
            Damage::UnknownValue {
                field: "store kind",
                value: u64::from(k),
            },
        )),
        None => Err(StoreError::corrupt("keystore file", Damage::Truncated)),
    }
}

/// Options shared by every store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_discoverable: usize,
    /// How long a session lasts without a verification; `None`: no sessions (see `session`).
    pub(crate) session_idle: Option<std::time::Duration>,
}

/// A credential store over a directory and a custody.
pub(crate) struct Engine<C: Custody> {
    dir: PathBuf,
    cred_dir: PathBuf,
    pub(crate) custody: C,
    /// What the last successful [`Custody::unlock`] returned, until `lock`.
    unlocked: Option<MasterKey>,
    /// The master key and a PIN verifier kept between verifications (see `session`).
    pub(crate) sessions: Sessions,
    index: Index,
    /// The authenticator's persistent state as it works on it.
    state: Option<PersistentState>,
    /// What the `state` file holds (read or last written); `None` while there is no file. It
    /// differs from `state` only by a PIN retry count not yet written ([`one_try_ahead`]).
    written: Option<PersistentState>,
    limits: Limits,
    /// Bumped by every change to the discoverable credentials while open (see
    /// `CredentialStore::discoverable_generation`); a deletion bumps it whether or not the
    /// credential was discoverable, which only costs a platform a needless re-enumeration.
    generation: u64,
    /// Declared last: dropped after [`Drop`] has written the counters back.
    _lock: StoreLock,
}

impl<C: Custody> Engine<C> {
    /// Opens (creating if needed) the store in `dir` with `custody`, which the caller built from
    /// [`read_keyring`]'s result after taking `lock` on `dir`.
    pub(crate) fn open(
        dir: &Path,
        lock: StoreLock,
        custody: C,
        limits: Limits,
    ) -> Result<Self, StoreError> {
        fsutil::ensure_private_dir(dir)?;
        let cred_dir = dir.join(CREDENTIALS);
        fsutil::ensure_private_dir(&cred_dir)?;
        fsutil::remove_stale_temps(dir)?;
        let index = Index::scan(&cred_dir)?;
        let engine = Engine {
            dir: dir.to_path_buf(),
            cred_dir,
            custody,
            unlocked: None,
            sessions: Sessions::new(limits.session_idle),
            index,
            state: None,
            written: None,
            limits,
            generation: 0,
            _lock: lock,
        };
        if !dir.join(KEYRING).exists() {
            engine.write_keyring()?;
        }
        Ok(engine)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn write_keyring(&self) -> Result<(), StoreError> {
        let mut bytes = KEYRING_MAGIC.to_vec();
        bytes.push(C::KIND);
        bytes.extend_from_slice(&self.custody.encode());
        fsutil::write_atomic(&self.dir, KEYRING, &bytes)
    }

    /// The master key if usable now.
    fn key(&self) -> Result<&MasterKey, StoreError> {
        self.unlocked
            .as_ref()
            .or_else(|| self.custody.resident_key())
            .ok_or(StoreError::Locked)
    }

    fn key_opt(&self) -> Option<&MasterKey> {
        self.key().ok()
    }

    /// Whether keys can be used without a user verification now.
    pub(crate) fn is_unlocked(&self) -> bool {
        self.key_opt().is_some()
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// How many records keep opened secrets (see `secrets.rs`).
    #[cfg(test)]
    pub(crate) fn kept_secrets(&self) -> usize {
        self.index.kept_secrets()
    }

    // ---- CredentialStore ----

    pub(crate) fn generate_key(
        &mut self,
        alg: Algorithm,
        rng: &mut dyn Rng,
    ) -> Result<(PublicKey, KeyBlob), StoreError> {
        let mk = self.key()?.clone();
        self.custody.generate_key(alg, rng, &mk)
    }

    pub(crate) fn sign(
        &mut self,
        key: &KeyBlob,
        alg: Algorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let mk = self.key()?.clone();
        self.custody.sign(key, alg, message, &mk)
    }

    pub(crate) fn insert(&mut self, credential: Credential) -> Result<(), StoreError> {
        let replaced = if credential.discoverable {
            self.index
                .discoverable_for(&credential.rp.id, &credential.user.id)?
                .filter(|id| *id != credential.id)
        } else {
            None
        };
        if credential.discoverable && replaced.is_none() {
            let same_id_discoverable = self
                .index
                .get(&credential.id)?
                .is_some_and(|r| r.discoverable);
            if !same_id_discoverable && self.index.discoverable() >= self.limits.max_discoverable {
                return Err(StoreError::Full);
            }
        }
        let seq = self.index.next_seq(&credential.rp.id)?;
        let rec = Record::seal(seq, &credential, self.key()?)?;
        // Written before the replaced record is removed: a crash in between leaves both, and
        // the newer wins when the RP is next read.
        self.index.put(rec)?;
        if credential.discoverable {
            self.generation += 1;
        }
        if let Some(old) = replaced {
            self.index.remove(&old)?;
        }
        Ok(())
    }

    pub(crate) fn discoverable_generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn get(&mut self, id: &[u8]) -> Result<Option<Credential>, StoreError> {
        let mk = self
            .unlocked
            .as_ref()
            .or_else(|| self.custody.resident_key());
        self.index.credential(id, mk)
    }

    pub(crate) fn by_rp(&mut self, rp_id: &str) -> Result<Vec<Credential>, StoreError> {
        let mk = self
            .unlocked
            .as_ref()
            .or_else(|| self.custody.resident_key());
        self.index.credentials_of_rp(rp_id, mk)
    }

    pub(crate) fn rps(&mut self) -> Result<Vec<RpEntity>, StoreError> {
        self.index.rps()
    }

    pub(crate) fn update(&mut self, credential: &Credential) -> Result<(), StoreError> {
        let Some(rec) = self.index.get(&credential.id)? else {
            return Err(StoreError::NoSuchCredential);
        };
        let mut updated = rec.clone();
        if updated.discoverable
            && (updated.user_name != credential.user.name
                || updated.display_name != credential.user.display_name)
        {
            self.generation += 1;
        }
        match updated.apply_update(credential)? {
            UpdateWrite::Durable => self.index.put(updated),
            UpdateWrite::None => {
                self.index.replace_cached(updated);
                Ok(())
            }
        }
    }

    /// Writes every counter kept in memory to its record (see [`crate::record`]), so the next
    /// open resumes where this one stopped. Done when the store is dropped; a crash instead
    /// leaves the ceilings, which are above every counter value handed out.
    pub(crate) fn settle_counters(&mut self) -> Result<usize, StoreError> {
        self.index.settle_counters()
    }

    pub(crate) fn delete(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        let removed = self.index.remove(id)?;
        if removed {
            self.generation += 1;
        }
        Ok(removed)
    }

    pub(crate) fn discoverable_count(&mut self) -> Result<(usize, usize), StoreError> {
        let n = self.index.discoverable();
        Ok((n, self.limits.max_discoverable.saturating_sub(n)))
    }

    pub(crate) fn load_state(&mut self) -> Result<PersistentState, StoreError> {
        if let Some(s) = &self.state {
            return Ok(s.clone());
        }
        let written = match fsutil::read_bounded(&self.dir.join(STATE), state::MAX_FILE)? {
            Some(bytes) => Some(state::decode(&bytes)?),
            None => None,
        };
        let s = written.clone().unwrap_or_default();
        self.state = Some(s.clone());
        self.written = written;
        Ok(s)
    }

    /// Saves the authenticator's state: durably before it returns, with one exception.
    ///
    /// Every PIN check lowers `pinRetries` and saves that before it compares (CTAP 2.1
    /// §6.5.5.5), and a right PIN raises it back to the maximum. Writing both would cost each
    /// sign-in two atomic writes (four fsyncs). Instead, a save that differs from the file only
    /// by `pinRetries` raised by one to the maximum stays in memory ([`one_try_ahead`]): the file
    /// keeps the lowered count, which
    /// already pays for the next check's lowering, so that save finds the file holding what it
    /// asks and writes nothing. Any other save is written before it returns, so a guess is always
    /// on disk before it is compared. Closing the store writes the raised count
    /// ([`Engine::settle_state`]); a crash loses it, and the next open counts one try fewer until
    /// the next right PIN (keystore SECURITY.md).
    pub(crate) fn save_state(&mut self, s: &PersistentState) -> Result<(), StoreError> {
        if self.state.is_none() {
            self.load_state()?;
        }
        let on_disk = self.written.as_ref();
        if on_disk != Some(s) && !on_disk.is_some_and(|w| one_try_ahead(w, s)) {
            fsutil::write_atomic(&self.dir, STATE, &state::encode(s)?)?;
            self.written = Some(s.clone());
        }
        self.state = Some(s.clone());
        Ok(())
    }

    /// Writes a raised PIN retry count that [`Engine::save_state`] kept in memory.
    pub(crate) fn settle_state(&mut self) -> Result<bool, StoreError> {
        let (Some(s), Some(w)) = (&self.state, &self.written) else {
            return Ok(false);
        };
        if !one_try_ahead(w, s) {
            return Ok(false);
        }
        let s = s.clone();
        fsutil::write_atomic(&self.dir, STATE, &state::encode(&s)?)?;
        self.written = Some(s);
        Ok(true)
    }

    pub(crate) fn pin_is_set(&mut self) -> Result<bool, StoreError> {
        Ok(self.custody.pin_is_set())
    }

    pub(crate) fn set_pin(&mut self, pin: &PinHash) -> Result<(), StoreError> {
        let current = match self.key_opt() {
            Some(mk) => Some(mk.clone()),
            None if self.custody.pin_is_set() => return Err(StoreError::Locked),
            None => None,
        };
        // A session's verifier holds the old PIN: it ends whatever happens next.
        self.sessions.end();
        self.custody.set_pin(pin, current.as_ref())?;
        self.write_keyring()?;
        // Setting or changing the PIN is not a verification for later commands (CTAP 2.1 §6.5.5.5
        // and §6.5.5.6 leave no pinUvAuthToken behind): the store is locked afterwards.
        self.lock();
        Ok(())
    }

    pub(crate) fn verify_pin(&mut self, pin: &PinHash) -> Result<bool, StoreError> {
        let mk = match self.sessions.check(pin) {
            Check::Right(mk) => mk,
            Check::Wrong => return Ok(false),
            Check::NoSession => match self.custody.unlock(pin)? {
                Some(mk) => {
                    self.sessions.start(&mk, pin);
                    mk
                }
                None => return Ok(false),
            },
        };
        // Secrets opened under another key (there is none in practice: the PIN unwraps the one
        // master key) must not outlive it.
        if !self.key_opt().is_some_and(|old| old.ct_eq(&mk)) {
            self.index.forget_secrets();
        }
        self.unlocked = Some(mk);
        Ok(true)
    }

    pub(crate) fn lock(&mut self) {
        self.unlocked = None;
        // Everything opened while unlocked goes: the records' secrets and the custody's keys.
        self.index.forget_secrets();
        self.custody.lock();
        // The session is left alone (a lock ends one verification, not the session), unless it
        // has been idle too long.
        self.sessions.expire();
    }

    /// Locks the store and ends the session: the next verification pays the slow unwrap.
    pub(crate) fn end_session(&mut self) {
        self.sessions.end();
        self.lock();
    }

    /// Ends the session if it has been idle too long; `true` if that happened now.
    pub(crate) fn expire_session(&mut self) -> bool {
        if self.sessions.expire() {
            self.lock();
            return true;
        }
        false
    }

    pub(crate) fn wipe(&mut self) -> Result<(), StoreError> {
        self.end_session();
        // The key custody goes first: once the wrapped master key (or the TPM PIN object) is
        // gone, a crash before the records are deleted leaves nothing usable behind.
        self.custody.wipe()?;
        self.write_keyring()?;
        let entries =
            fs::read_dir(&self.cred_dir).map_err(|e| io_err("listing", &self.cred_dir, e))?;
        for entry in entries {
            let path = entry
                .map_err(|e| io_err("listing", &self.cred_dir, e))?
                .path();
            fs::remove_file(&path).map_err(|e| io_err("removing", &path, e))?;
        }
        fsutil::sync_dir(&self.cred_dir)?;
        self.index.clear();
        self.generation += 1;
        fsutil::remove_durable(&self.dir, STATE)?;
        self.state = None;
        self.written = None;
        Ok(())
    }
}

/// `state` is `on_disk` with pinRetries raised by one to the maximum and nothing else changed
/// (a right PIN after the lowering its check wrote): the one save [`Engine::save_state`] may
/// keep in memory, because losing it costs a try, never a guess.
fn one_try_ahead(on_disk: &PersistentState, state: &PersistentState) -> bool {
    state.pin_retries == latchkey_authenticator::retries::MAX_PIN_RETRIES
        && on_disk.pin_retries.checked_add(1) == Some(state.pin_retries)
        && PersistentState {
            pin_retries: on_disk.pin_retries,
            ..state.clone()
        } == *on_disk
}

impl<C: Custody> Drop for Engine<C> {
    fn drop(&mut self) {
        // Best effort: if these writes fail, the ceilings on disk still keep the counters from
        // going back; they only skip further at the next open. Likewise the PIN retry count on
        // disk is never above the one in memory: a failed write costs one try, not a guess.
        let _ = self.settle_counters();
        let _ = self.settle_state();
    }
}
