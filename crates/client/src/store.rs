//! Which credential store backs the platform authenticator: a TPM 2.0 when the crate is built
//! with the `tpm` feature and a TPM is reachable (and the directory is not already a file
//! store), else the PIN-protected file store. Both live in the same directory; a directory
//! belongs to one kind of store for good.

use std::path::Path;

use latchkey_authenticator::env::PresencePurpose;
use latchkey_authenticator::store::StoreError;
use latchkey_keystore::FileStore;

use crate::device::{CancelHandle, Device, DeviceDescription, DeviceError, KeepaliveStatus};
use crate::manage::{self, CredentialInfo};
use crate::platform::{PlatformDevice, StoreOpenError};

/// Where the TPM store finds its TPM (re-exported for the platform worker's sandbox).
pub use latchkey_keystore::configured_tcti;

/// The platform authenticator over whichever store was chosen.
#[derive(Debug)]
pub enum PlatformAuthenticator {
    /// Keys wrapped by a key derived from the PIN, in files.
    File(PlatformDevice<FileStore>),
    /// Keys inside the TPM.
    #[cfg(feature = "tpm")]
    Tpm(PlatformDevice<latchkey_keystore::TpmStore>),
}

#[cfg(feature = "tpm")]
fn tpm_reachable() -> bool {
    latchkey_keystore::configured_tcti().is_some() || Path::new("/dev/tpmrm0").exists()
}

impl PlatformAuthenticator {
    /// Opens the platform authenticator in `dir` (default `$XDG_DATA_HOME/latchkey/`).
    pub fn open(
        dir: Option<&Path>,
        presence: impl Fn(&PresencePurpose<'_>) -> bool + Send + Sync + 'static,
    ) -> Result<Self, StoreOpenError> {
        #[cfg(feature = "tpm")]
        {
            let dir = crate::platform::store_dir(dir)?;
            let config = crate::platform_options::PlatformOptions::load()?.config();
            if tpm_reachable() {
                let options = latchkey_keystore::TpmStoreOptions::default();
                match latchkey_keystore::TpmStore::open(&dir, options) {
                    Ok(store) => {
                        let cancel = CancelHandle::new();
                        let presence = crate::platform::Presence::with(cancel.clone(), presence);
                        return Ok(Self::Tpm(PlatformDevice::with_store(
                            config,
                            store,
                            presence,
                            cancel,
                            format!("{} (TPM)", dir.display()),
                        )));
                    }
                    // Another opener holds the directory: the file store would be refused
                    // too, and falling back would hide why.
                    Err(source @ StoreError::InUse { .. }) => {
                        return Err(StoreOpenError::Store { dir, source })
                    }
                    // Not silently: keys would land in the file store instead of the TPM.
                    Err(e) => tracing::warn!(
                        error = %e,
                        "a TPM is configured but its store does not open; using the file store"
                    ),
                }
            }
            PlatformDevice::open(Some(&dir), presence).map(Self::File)
        }
        #[cfg(not(feature = "tpm"))]
        {
            PlatformDevice::open(dir, presence).map(Self::File)
        }
    }

    /// `"tpm"` or `"file"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            #[cfg(feature = "tpm")]
            Self::Tpm(_) => "tpm",
        }
    }

    /// Forgets the kept getInfo and key agreement ([`crate::kept`]): the store changes outside
    /// CTAP.
    fn forget_kept(&mut self) {
        match self {
            Self::File(d) => d.forget_kept(),
            #[cfg(feature = "tpm")]
            Self::Tpm(d) => d.forget_kept(),
        }
    }

    /// Lists the platform credentials (public data: no PIN needed).
    pub fn list(&mut self, rp_id: Option<&str>) -> Result<Vec<CredentialInfo>, StoreError> {
        match self {
            Self::File(d) => manage::list_store(d.core_mut().store_mut(), rp_id),
            #[cfg(feature = "tpm")]
            Self::Tpm(d) => manage::list_store(d.core_mut().store_mut(), rp_id),
        }
    }

    /// Deletes a platform credential; `false` if there was none with that ID.
    pub fn delete(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        self.forget_kept();
        match self {
            Self::File(d) => manage::delete_from_store(d.core_mut().store_mut(), id),
            #[cfg(feature = "tpm")]
            Self::Tpm(d) => manage::delete_from_store(d.core_mut().store_mut(), id),
        }
    }

    /// Sets `user.name` and `user.displayName` of a platform credential (each cut to
    /// [`manage::MAX_USER_FIELD`] bytes); `false` if there was none with that ID.
    pub fn update_user(
        &mut self,
        credential_id: &[u8],
        name: &str,
        display_name: &str,
    ) -> Result<bool, StoreError> {
        self.forget_kept();
        match self {
            Self::File(d) => manage::update_user_in_store(
                d.core_mut().store_mut(),
                credential_id,
                name,
                display_name,
            ),
            #[cfg(feature = "tpm")]
            Self::Tpm(d) => manage::update_user_in_store(
                d.core_mut().store_mut(),
                credential_id,
                name,
                display_name,
            ),
        }
    }

    /// The store failure the authenticator core recorded in its last command, where its CTAP
    /// status hides it (`Authenticator::take_store_failure`).
    pub fn take_store_failure(&mut self) -> Option<StoreError> {
        match self {
            Self::File(d) => d.core_mut().take_store_failure(),
            #[cfg(feature = "tpm")]
            Self::Tpm(d) => d.core_mut().take_store_failure(),
        }
    }

    /// Ends the file store's session now (screen locked, machine suspending): the master key
    /// and the PIN verifier leave memory and the next PIN pays Argon2id (keystore SECURITY.md,
    /// "Sessions"); `true` if one was live. The TPM store has no sessions.
    pub fn end_session(&mut self) -> bool {
        self.forget_kept();
        match self {
            Self::File(d) => {
                let store = d.core_mut().store_mut();
                let live = store.session_is_live();
                store.end_session();
                live
            }
            #[cfg(feature = "tpm")]
            Self::Tpm(_) => false,
        }
    }

    /// Ends the file store's session if it has been idle too long, and says how long the live
    /// session has left (`None`: none is live), for a timer that ends it on time.
    pub fn expire_session(&mut self) -> Option<std::time::Duration> {
        match self {
            Self::File(d) => {
                let store = d.core_mut().store_mut();
                store.expire_session();
                store.session_expires_in()
            }
            #[cfg(feature = "tpm")]
            Self::Tpm(_) => None,
        }
    }

    /// Whether the file store's session holds its master key in memory.
    pub fn session_is_live(&mut self) -> bool {
        match self {
            Self::File(d) => d.core_mut().store_mut().session_is_live(),
            #[cfg(feature = "tpm")]
            Self::Tpm(_) => false,
        }
    }

    fn device(&self) -> &dyn Device {
        match self {
            Self::File(d) => d,
            #[cfg(feature = "tpm")]
            Self::Tpm(d) => d,
        }
    }

    fn device_mut(&mut self) -> &mut dyn Device {
        match self {
            Self::File(d) => d,
            #[cfg(feature = "tpm")]
            Self::Tpm(d) => d,
        }
    }
}

impl Device for PlatformAuthenticator {
    fn info(&self) -> DeviceDescription {
        self.device().info()
    }
    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        self.device_mut().cbor(request, status)
    }
    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.device_mut().msg(apdu)
    }
    fn cancel_handle(&self) -> CancelHandle {
        self.device().cancel_handle()
    }
    fn kept(&mut self) -> Option<&mut crate::kept::Kept> {
        self.device_mut().kept()
    }
}
