//! Credential stores for the platform authenticator.
//!
//! Both stores implement [`CredentialStore`], the contract of the software CTAP 2.1 authenticator
//! core, over one directory (by default `$XDG_DATA_HOME/latchkey/`, see [`default_dir`]):
//!
//! - [`FileStore`] keeps keys in software. With [`Protection::Pin`] every private key and every
//!   per-credential secret is sealed (AES-256-GCM) by a random master key, itself wrapped by
//!   Argon2id(PinHash): nothing can be signed until [`CredentialStore::verify_pin`] succeeds.
//!   [`Protection::None`] is for virtual test keys only.
//! - `TpmStore` (cargo feature `tpm`) makes each ES256 and ES384 key inside a TPM 2.0, and seals
//!   ML-DSA keys (which no TPM 2.0 holds) in software under its TPM-sealed master key; the TPM's
//!   dictionary-attack protection limits PIN guessing.
//!
//! A store directory has one owner at a time: opening takes an exclusive lock on `DIR/lock`,
//! held until the store is dropped, and a second opener (another process, or another open in
//! this one) gets [`StoreError::InUse`] having read and changed nothing.
//!
//! Every write is atomic and durable (temp file, fsync, rename, fsync of the directory); files are
//! 0600 and directories 0700. Public data (credential ID, RP, user, public key, credProtect,
//! counter) stays readable while the store is locked, so discovery and listing need no PIN; while
//! locked, [`CredentialStore::get`] and [`CredentialStore::by_rp`] return credentials whose
//! `cred_random`, `large_blob_key` and `cred_blob` are `None`, and signing fails with
//! [`StoreError::Locked`]. The threat model is in `SECURITY.md` next to this crate.
//!
//! [`CredentialStore`]: latchkey_authenticator::store::CredentialStore
//! [`CredentialStore::verify_pin`]: latchkey_authenticator::store::CredentialStore::verify_pin
//! [`CredentialStore::get`]: latchkey_authenticator::store::CredentialStore::get
//! [`CredentialStore::by_rp`]: latchkey_authenticator::store::CredentialStore::by_rp
//! [`StoreError::Locked`]: latchkey_authenticator::store::StoreError::Locked
//! [`StoreError::InUse`]: latchkey_authenticator::store::StoreError::InUse
#![forbid(unsafe_code)]

/// Implements `CredentialStore` for a store type with an `engine` field.
macro_rules! delegate_store {
    ($t:ty) => {
        impl latchkey_authenticator::store::CredentialStore for $t {
            fn generate_key(
                &mut self,
                alg: latchkey_authenticator::store::Algorithm,
                rng: &mut dyn latchkey_authenticator::env::Rng,
            ) -> Result<
                (
                    latchkey_authenticator::store::PublicKey,
                    latchkey_authenticator::store::KeyBlob,
                ),
                latchkey_authenticator::store::StoreError,
            > {
                self.engine.generate_key(alg, rng)
            }
            fn sign(
                &mut self,
                key: &latchkey_authenticator::store::KeyBlob,
                alg: latchkey_authenticator::store::Algorithm,
                message: &[u8],
            ) -> Result<Vec<u8>, latchkey_authenticator::store::StoreError> {
                self.engine.sign(key, alg, message)
            }
            fn insert(
                &mut self,
                credential: latchkey_authenticator::store::Credential,
            ) -> Result<(), latchkey_authenticator::store::StoreError> {
                self.engine.insert(credential)
            }
            fn get(
                &mut self,
                id: &[u8],
            ) -> Result<
                Option<latchkey_authenticator::store::Credential>,
                latchkey_authenticator::store::StoreError,
            > {
                self.engine.get(id)
            }
            fn by_rp(
                &mut self,
                rp_id: &str,
            ) -> Result<
                Vec<latchkey_authenticator::store::Credential>,
                latchkey_authenticator::store::StoreError,
            > {
                self.engine.by_rp(rp_id)
            }
            fn rps(
                &mut self,
            ) -> Result<
                Vec<latchkey_authenticator::store::RpEntity>,
                latchkey_authenticator::store::StoreError,
            > {
                self.engine.rps()
            }
            fn update(
                &mut self,
                credential: &latchkey_authenticator::store::Credential,
            ) -> Result<(), latchkey_authenticator::store::StoreError> {
                self.engine.update(credential)
            }
            fn delete(
                &mut self,
                id: &[u8],
            ) -> Result<bool, latchkey_authenticator::store::StoreError> {
                self.engine.delete(id)
            }
            fn discoverable_count(
                &mut self,
            ) -> Result<(usize, usize), latchkey_authenticator::store::StoreError> {
                self.engine.discoverable_count()
            }
            fn load_state(
                &mut self,
            ) -> Result<
                latchkey_authenticator::store::PersistentState,
                latchkey_authenticator::store::StoreError,
            > {
                self.engine.load_state()
            }
            fn save_state(
                &mut self,
                state: &latchkey_authenticator::store::PersistentState,
            ) -> Result<(), latchkey_authenticator::store::StoreError> {
                self.engine.save_state(state)
            }
            fn pin_is_set(&mut self) -> Result<bool, latchkey_authenticator::store::StoreError> {
                self.engine.pin_is_set()
            }
            fn set_pin(
                &mut self,
                pin: &latchkey_authenticator::store::PinHash,
                _rng: &mut dyn latchkey_authenticator::env::Rng,
            ) -> Result<(), latchkey_authenticator::store::StoreError> {
                self.engine.set_pin(pin)
            }
            fn verify_pin(
                &mut self,
                pin: &latchkey_authenticator::store::PinHash,
            ) -> Result<bool, latchkey_authenticator::store::StoreError> {
                self.engine.verify_pin(pin)
            }
            fn lock(&mut self) {
                self.engine.lock()
            }
            fn wipe(&mut self) -> Result<(), latchkey_authenticator::store::StoreError> {
                self.engine.wipe()
            }
            fn supports(&self, alg: latchkey_authenticator::store::Algorithm) -> bool {
                self.engine.custody.supports(alg)
            }
            fn discoverable_generation(&self) -> Option<u64> {
                Some(self.engine.discoverable_generation())
            }
        }
    };
}

mod codec;
mod crypto;
mod engine;
mod file;
mod fsutil;
mod index;
mod keycache;
mod lock;
mod record;
mod sealedkey;
mod session;
mod state;
#[cfg(feature = "tpm")]
mod tpm;

use std::path::{Path, PathBuf};

pub use crypto::KdfParams;
pub use file::{FileStore, FileStoreOptions, Protection};
pub use session::DEFAULT_SESSION_IDLE;
#[cfg(feature = "tpm")]
pub use tpm::{TpmStore, TpmStoreOptions};

/// The TPM interface (TCTI) configured for this process: `$TPM2TOOLS_TCTI`, else `$TCTI`, in
/// libtss2's `NAME[:CONF]` form (an empty variable counts as unset); `None` means the kernel's
/// resource manager. The one place that says where the TPM store finds its TPM, for whatever must
/// agree with it (the platform worker's sandbox, the choice between TPM and file store).
pub fn configured_tcti() -> Option<String> {
    ["TPM2TOOLS_TCTI", "TCTI"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
}

/// Discoverable credentials a store holds by default.
pub const DEFAULT_MAX_DISCOVERABLE: usize = 50_000;

/// The default store directory: `$XDG_DATA_HOME/latchkey`, else `$HOME/.local/share/latchkey`
/// (XDG Base Directory Specification). `None` if neither variable gives an absolute path.
pub fn default_dir() -> Option<PathBuf> {
    default_dir_from(
        std::env::var_os("XDG_DATA_HOME").as_deref().map(Path::new),
        std::env::var_os("HOME").as_deref().map(Path::new),
    )
}

/// [`default_dir`] from given values of `XDG_DATA_HOME` and `HOME` (relative paths are ignored,
/// as the specification requires).
pub fn default_dir_from(xdg_data_home: Option<&Path>, home: Option<&Path>) -> Option<PathBuf> {
    if let Some(x) = xdg_data_home.filter(|p| p.is_absolute()) {
        return Some(x.join("latchkey"));
    }
    home.filter(|p| p.is_absolute())
        .map(|h| h.join(".local/share/latchkey"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_dir_follows_xdg() {
        assert_eq!(
            default_dir_from(Some(Path::new("/x/data")), Some(Path::new("/home/a"))),
            Some(PathBuf::from("/x/data/latchkey"))
        );
        assert_eq!(
            default_dir_from(Some(Path::new("rel")), Some(Path::new("/home/a"))),
            Some(PathBuf::from("/home/a/.local/share/latchkey"))
        );
        assert_eq!(
            default_dir_from(None, Some(Path::new("/home/a"))),
            Some(PathBuf::from("/home/a/.local/share/latchkey"))
        );
        assert_eq!(default_dir_from(None, None), None);
        assert_eq!(default_dir_from(None, Some(Path::new("h"))), None);
    }
}
