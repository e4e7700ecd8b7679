//! Row 4: the platform file store at scale: 10, 1,000 and 10,000 credentials over 100 RPs.
//!
//! The store is filled through the store API (generate_key + insert), not through
//! makeCredential: 10,000 ceremonies would each pay a PIN token and an fsync'd write. It is
//! written on tmpfs when there is one (fsync is free there) and then copied to a temporary
//! directory on the real disk, where it is loaded and used. Its PIN is wrapped with the cheap test
//! Argon2id cost so that the per-ceremony PIN tokens of the get rows stay cheap; the production
//! cost is timed on its own row ([`measure_pin_unlock`]).

use std::path::{Path, PathBuf};

use latchkey_authenticator::env::Rng;
use latchkey_authenticator::store::{
    Algorithm, Credential, CredentialStore, PinHash, RpEntity, UserEntity,
};
use latchkey_client::platform::{PlatformDevice, Presence, SystemRng};
use latchkey_client::{CancelHandle, GetRequest, ScriptedUi};
use latchkey_ctap::pin::{self, Permissions};
use latchkey_keystore::{FileStore, FileStoreOptions, KdfParams, Protection};
use latchkey_webauthn::b64;
use serde_json::json;

use crate::core::{check_ok, CtapClient, PIN};
use crate::{stats, BenchError, Budget, Samples};

/// How many RPs the credentials are spread over (fewer if there are fewer credentials).
pub const RPS: usize = 100;

/// The RP the get rows sign in to.
pub fn rp(i: usize) -> String {
    format!("rp{i}.example")
}

/// The options every scale store is opened with.
pub fn options(n: usize) -> FileStoreOptions {
    FileStoreOptions {
        kdf: KdfParams::INSECURE_TEST,
        max_discoverable: n + 1,
        ..FileStoreOptions::default()
    }
}

fn pin_hash() -> PinHash {
    PinHash(pin::pin_hash(PIN))
}

/// A store of `n` discoverable credentials on disk, and one credential ID per RP.
pub struct ScaleStore {
    /// The credential count.
    pub n: usize,
    /// Where the store lives (on the real disk).
    pub dir: PathBuf,
    /// Credential IDs of RP 7 (or of the last RP when there are fewer).
    pub ids_of_rp: Vec<Vec<u8>>,
    /// The RP that `ids_of_rp` belong to.
    pub rp_id: String,
    _tmp: tempfile::TempDir,
}

fn credential(store: &mut FileStore, i: usize, rps: usize) -> Result<Credential, BenchError> {
    let (public_key, key) = store.generate_key(Algorithm::Es256, &mut SystemRng)?;
    let mut id = vec![0u8; 32];
    SystemRng.fill(&mut id);
    let rp_id = rp(i % rps);
    Ok(Credential {
        created_at: 1_700_000_000,
        ..Credential::new(
            id,
            RpEntity {
                id: rp_id.clone(),
                name: Some(format!("{rp_id} Inc.")),
            },
            UserEntity {
                id: format!("user{i}").into_bytes(),
                name: Some(format!("user{i}@{rp_id}")),
                display_name: Some(format!("User {i}")),
            },
            true,
            public_key,
            key,
        )
    })
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}

impl ScaleStore {
    /// Builds the store (see the module docs for how).
    pub fn build(n: usize) -> Result<Self, BenchError> {
        let rps = RPS.min(n).max(1);
        let target_rp = 7 % rps;
        let shm = Path::new("/dev/shm");
        let scratch = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .map_err(|e| BenchError::setup("scratch directory", e))?;
        let mut store = FileStore::open_with(scratch.path(), Protection::Pin, options(n))?;
        store.set_pin(&pin_hash(), &mut SystemRng)?;
        if !store.verify_pin(&pin_hash())? {
            return Err(BenchError::setup("store", "the PIN just set is refused"));
        }
        let mut ids_of_rp = Vec::new();
        for i in 0..n {
            let c = credential(&mut store, i, rps)?;
            if i % rps == target_rp {
                ids_of_rp.push(c.id.clone());
            }
            store.insert(c)?;
        }
        drop(store);
        let tmp = tempfile::tempdir().map_err(|e| BenchError::setup("store directory", e))?;
        let dir = tmp.path().join("store");
        copy_dir(scratch.path(), &dir).map_err(|e| BenchError::setup("copy the store", e))?;
        Ok(ScaleStore {
            n,
            dir,
            ids_of_rp,
            rp_id: rp(target_rp),
            _tmp: tmp,
        })
    }

    /// Opens the store (what latchkeyd does at start).
    pub fn open(&self) -> Result<FileStore, BenchError> {
        let s = FileStore::open_with(&self.dir, Protection::Pin, options(self.n))?;
        if s.len() != self.n {
            return Err(BenchError::setup(
                "store",
                format!("{} credentials, not {}", s.len(), self.n),
            ));
        }
        Ok(s)
    }

    /// Times opening the store.
    pub fn measure_load(&self, budget: Budget) -> Result<Samples, BenchError> {
        stats::measure(budget, || self.open().map(drop))
    }

    /// Times a discoverable getAssertion (empty allowList) for one RP through the authenticator
    /// core, the PIN token got beforehand (untimed): the command itself, as the authenticator
    /// worker would run it.
    pub fn measure_discoverable_get(&self, budget: Budget) -> Result<Samples, BenchError> {
        let mut c = CtapClient::platform(self.open()?);
        let rp_id = self.rp_id.clone();
        stats::measure_with_setup(
            budget,
            &mut c,
            |c| {
                let token = c.token(Permissions::GET_ASSERTION, &rp_id)?;
                Ok(c.get_assertion_request(&rp_id, &[], &token))
            },
            |c, request| check_ok("getAssertion", &c.auth.handle_cbor(&request)),
        )
    }

    /// Times a whole authentication ceremony through the client crate with a 64-entry
    /// allowList (63 IDs the store does not hold, then one of the RP's): the client's pre-flight
    /// in batches of the authenticator's maxCredentialCountInList, the PIN token, the assertion.
    pub fn measure_allow_list_get(&self, budget: Budget) -> Result<Samples, BenchError> {
        let cancel = CancelHandle::new();
        let mut device = PlatformDevice::with_store(
            latchkey_client::platform::config(),
            self.open()?,
            Presence::granted(cancel.clone()),
            cancel,
            "bench".into(),
        );
        let real = self
            .ids_of_rp
            .first()
            .cloned()
            .ok_or(BenchError::setup("store", "no credential for the RP"))?;
        let mut allow: Vec<serde_json::Value> = (0..63)
            .map(|_| {
                let mut id = [0u8; 32];
                SystemRng.fill(&mut id);
                json!({"type": "public-key", "id": b64::encode(&id)})
            })
            .collect();
        allow.push(json!({"type": "public-key", "id": b64::encode(&real)}));
        let rp_id = self.rp_id.clone();
        stats::measure(budget, || {
            let mut challenge = [0u8; 32];
            SystemRng.fill(&mut challenge);
            let options = json!({
                "challenge": b64::encode(&challenge),
                "rpId": rp_id,
                "allowCredentials": allow,
                "userVerification": "required",
            });
            let request = GetRequest::new(
                options.to_string().as_bytes(),
                &format!("https://{rp_id}"),
                None,
            )
            .map_err(|e| BenchError::Ceremony(e.to_string()))?;
            let mut ui = ScriptedUi::with_pins([std::str::from_utf8(PIN).unwrap_or("1234")]);
            let a = latchkey_client::authenticate(&mut device, &request, &mut ui)
                .map_err(|e| BenchError::Ceremony(e.to_string()))?;
            if a.credential_id != real {
                return Err(BenchError::Ceremony("the wrong credential answered".into()));
            }
            Ok(())
        })
    }

    /// Times listing every credential (public data, no PIN), as `ListCredentials` does.
    pub fn measure_list(&self, budget: Budget) -> Result<Samples, BenchError> {
        let mut store = self.open()?;
        let n = self.n;
        stats::measure(budget, || {
            let all = latchkey_client::manage::list_store(&mut store, None)
                .map_err(|e| BenchError::Ceremony(e.to_string()))?;
            if all.len() == n {
                Ok(())
            } else {
                Err(BenchError::Ceremony(format!("listed {} of {n}", all.len())))
            }
        })
    }
}

/// Times the deliberate cost of a fresh user verification on the file store: verifying the PIN
/// with the production Argon2id parameters (it unwraps the master key), as the first
/// verification of a session does (`session`: `false`), or a verification inside a session, the
/// PIN checked against the session's verifier (`session`: `true`; SECURITY.md, "Sessions").
pub fn measure_pin_unlock(budget: Budget, session: bool) -> Result<Samples, BenchError> {
    let tmp = tempfile::tempdir().map_err(|e| BenchError::setup("store directory", e))?;
    let mut store = FileStore::open_with(tmp.path(), Protection::Pin, FileStoreOptions::default())?;
    store.set_pin(&pin_hash(), &mut SystemRng)?;
    if session && !store.verify_pin(&pin_hash())? {
        return Err(BenchError::setup("store", "the PIN is refused"));
    }
    stats::measure(budget, || {
        if session {
            store.lock();
        } else {
            store.end_session();
        }
        if store.verify_pin(&pin_hash())? && store.session_is_live() {
            Ok(())
        } else {
            Err(BenchError::setup("store", "the PIN is refused"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_store_loads_gets_and_lists() {
        let s = ScaleStore::build(10).unwrap();
        assert_eq!(s.rp_id, "rp7.example");
        assert_eq!(s.ids_of_rp.len(), 1);
        let q = Budget::quick();
        assert_eq!(s.measure_load(q).unwrap().len(), 5);
        assert_eq!(s.measure_discoverable_get(q).unwrap().len(), 5);
        assert_eq!(s.measure_allow_list_get(q).unwrap().len(), 5);
        assert_eq!(s.measure_list(q).unwrap().len(), 5);
        // The store on disk is the one filled: ten records' worth of files.
        let mut store = s.open().unwrap();
        assert_eq!(store.rps().unwrap().len(), 10);
    }
}
