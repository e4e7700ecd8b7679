//! [`TpmStore`]: every credential key is made and used inside a TPM 2.0.
//!
//! - A storage primary key (ECC P-256, restricted decryption) is derived in the owner hierarchy
//!   at every open (`TPM2_CreatePrimary` is deterministic for a template and the TPM's seed), so
//!   nothing about it is stored.
//! - The *PIN object* is a sealed data object under the primary whose content is the store's
//!   random master key and whose authValue is SHA-256(domain ‖ PinHash). It is subject to the
//!   TPM's dictionary-attack protection: [`CredentialStore::verify_pin`] is a `TPM2_Unseal`, and
//!   every wrong PIN counts against the TPM's lockout counter. A PIN change replaces this one
//!   object.
//! - Each ES256 credential key is an ECC P-256 ECDSA/SHA-256 signing key made by `TPM2_Create`
//!   (ES384: P-384 with SHA-384, where the TPM lists that curve); its authValue is derived from
//!   the master key, so it can only be used after a verification. The TPM's wrapped private blob
//!   and public area are the [`KeyBlob`]; the private key never exists outside the TPM.
//! - ML-DSA keys (post-quantum, opt-in) cannot live in a TPM 2.0, which knows no ML-DSA: they
//!   are software keys sealed under the master key, exactly as the file store keeps every key
//!   (`sealedkey`). At rest they need the TPM and the PIN like every other key here, since the
//!   master key is TPM-sealed; in use, unlike TPM keys, they are in this process's memory
//!   (SECURITY.md). EdDSA is not offered: TPM 2.0 has no Ed25519.
//! - Per-credential secrets (CredRandom, largeBlobKey, credBlob) are sealed in software under the
//!   master key, like [`crate::FileStore`] does.
//!
//! Loaded signing keys stay cached (up to [`TpmStoreOptions::cached_keys`]), so an assertion with
//! a warm key is one `TPM2_Sign`. [`TpmStore::tpm_commands`] counts the commands sent.
//!
//! [`CredentialStore::verify_pin`]: latchkey_authenticator::store::CredentialStore::verify_pin

use std::collections::VecDeque;
use std::path::Path;
use std::str::FromStr;

use latchkey_authenticator::env::Rng;
use latchkey_authenticator::store::Damage;
use latchkey_authenticator::store::{Algorithm, KeyBlob, PinHash, PublicKey, StoreError};
use tss_esapi::constants::tss::{TPM2_RH_NULL, TPM2_ST_HASHCHECK};
use tss_esapi::constants::{CapabilityType, EccCurveIdentifier, PropertyTag, Tss2ResponseCodeKind};
use tss_esapi::handles::{KeyHandle, ObjectHandle};
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    Auth, CapabilityData, Digest, HashcheckTicket, Public, SensitiveData, Signature,
    SignatureScheme,
};
use tss_esapi::traits::Marshall;
use tss_esapi::tss2_esys::TPMT_TK_HASHCHECK;
use tss_esapi::{Context, TctiNameConf};

use crate::codec::{Reader, Writer};
use crate::crypto::{sha256, MasterKey};
use crate::engine::{self, Custody, Engine, Limits};
use crate::keycache::KeyCache;
use crate::lock::StoreLock;
use crate::sealedkey;

mod der;
mod objects;

use objects::{primary_template, sealed_template, signing_template, Blobs};

const PIN_AUTH_DOMAIN: &[u8] = b"latchkey-keystore/tpm-pin-auth/v1";
const KEY_AUTH_DOMAIN: &[u8] = b"latchkey-keystore/tpm-key-auth/v1";
const KEY_BLOB_MAGIC: &[u8; 4] = b"LKT\x01";

/// Options for [`TpmStore::open`].
#[derive(Debug, Clone)]
pub struct TpmStoreOptions {
    /// The TCTI configuration, e.g. `device:/dev/tpmrm0` or `swtpm:host=127.0.0.1,port=2321`.
    /// `None`: [`TpmStore::tcti_from_env`].
    pub tcti: Option<String>,
    /// How many discoverable credentials fit.
    pub max_discoverable: usize,
    /// Signing keys kept loaded in the TPM. A TPM without a resource manager (a bare `swtpm`,
    /// `/dev/tpm0`) has as few as three transient slots, one taken by the primary key and one
    /// needed for loading others: keep this at 1 there; through `/dev/tpmrm0` more is fine.
    pub cached_keys: usize,
}

impl Default for TpmStoreOptions {
    fn default() -> Self {
        TpmStoreOptions {
            tcti: None,
            max_discoverable: crate::DEFAULT_MAX_DISCOVERABLE,
            cached_keys: 1,
        }
    }
}

fn tpm_err(what: &'static str, e: tss_esapi::Error) -> StoreError {
    // Any command on a DA-protected object is refused in lockout, not only the unseal.
    if is_lockout(&e) {
        return StoreError::TpmLockout;
    }
    StoreError::tpm(what, e)
}

fn auth(bytes: &[u8]) -> Result<Auth, StoreError> {
    Auth::try_from(bytes.to_vec()).map_err(|e| tpm_err("authValue", e))
}

fn pin_auth(pin: &PinHash) -> [u8; 32] {
    sha256(&[PIN_AUTH_DOMAIN, &pin.0])
}

fn key_auth(mk: &MasterKey) -> [u8; 32] {
    sha256(&[KEY_AUTH_DOMAIN, mk.as_bytes()])
}

fn is_wrong_auth(e: &tss_esapi::Error) -> bool {
    matches!(e, tss_esapi::Error::Tss2Error(rc)
        if matches!(rc.kind(), Some(Tss2ResponseCodeKind::AuthFail | Tss2ResponseCodeKind::BadAuth)))
}

fn is_lockout(e: &tss_esapi::Error) -> bool {
    matches!(e, tss_esapi::Error::Tss2Error(rc) if rc.kind() == Some(Tss2ResponseCodeKind::Lockout))
}

/// TPM custody: an ESAPI context, the primary key and a cache of loaded signing keys.
pub(crate) struct TpmCustody {
    ctx: Context,
    primary: KeyHandle,
    pin_object: Option<Blobs>,
    /// (SHA-256 of the key blob, its loaded handle), oldest first.
    cache: VecDeque<([u8; 32], KeyHandle)>,
    cache_size: usize,
    commands: u64,
    /// Whether the TPM lists NIST P-384 among its curves (ES384 in the TPM).
    p384: bool,
    /// Loaded ML-DSA keys (sealed in software, see the module docs).
    soft_keys: KeyCache,
}

/// The TPM curve, hash and coordinate width of an ECDSA algorithm made in the TPM.
fn ecdsa_params(alg: Algorithm) -> Option<(EccCurve, HashingAlgorithm, usize)> {
    match alg {
        Algorithm::Es256 => Some((EccCurve::NistP256, HashingAlgorithm::Sha256, 32)),
        Algorithm::Es384 => Some((EccCurve::NistP384, HashingAlgorithm::Sha384, 48)),
        _ => None,
    }
}

/// The digest the TPM signs for `alg`: SHA-256 or SHA-384 of the message.
fn ecdsa_digest(alg: Algorithm, message: &[u8]) -> Vec<u8> {
    let algorithm = match alg {
        Algorithm::Es384 => &aws_lc_rs::digest::SHA384,
        _ => &aws_lc_rs::digest::SHA256,
    };
    aws_lc_rs::digest::digest(algorithm, message)
        .as_ref()
        .to_vec()
}

impl TpmCustody {
    fn connect(tcti: &str, cache_size: usize) -> Result<Self, StoreError> {
        let conf = TctiNameConf::from_str(tcti).map_err(|e| tpm_err("TCTI configuration", e))?;
        let mut ctx = Context::new(conf).map_err(|e| tpm_err("connecting", e))?;
        let template = primary_template()?;
        let primary = ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.create_primary(Hierarchy::Owner, template, None, None, None, None)
            })
            .map_err(|e| tpm_err("TPM2_CreatePrimary", e))?
            .key_handle;
        let mut custody = TpmCustody {
            ctx,
            primary,
            pin_object: None,
            cache: VecDeque::new(),
            cache_size,
            commands: 1,
            p384: false,
            soft_keys: KeyCache::default(),
        };
        custody.p384 = custody.has_curve(EccCurveIdentifier::NistP384);
        Ok(custody)
    }

    /// Whether the TPM lists `curve` (TPM2_GetCapability TPM_CAP_ECC_CURVES); a TPM that does
    /// not answer is taken not to have it.
    fn has_curve(&mut self, curve: EccCurveIdentifier) -> bool {
        self.commands += 1;
        match self.ctx.get_capability(CapabilityType::EccCurves, 0, 32) {
            Ok((CapabilityData::EccCurves(list), _)) => list.as_ref().contains(&curve),
            _ => false,
        }
    }

    fn decode_section(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let mut r = Reader::new(bytes, "keystore file");
        self.pin_object = if r.bool()? {
            Some(Blobs::read(&mut r)?)
        } else {
            None
        };
        r.finish()
    }

    fn load(&mut self, blobs: &Blobs) -> Result<KeyHandle, StoreError> {
        let (public, private) = blobs.parse()?;
        let primary = self.primary;
        self.commands += 1;
        self.ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.load(primary, private, public)
            })
            .map_err(|e| tpm_err("TPM2_Load", e))
    }

    fn flush(&mut self, handle: KeyHandle) {
        self.commands += 1;
        // A failed flush leaves a transient object until the TPM is reset; nothing to undo.
        let _ = self.ctx.flush_context(ObjectHandle::from(handle));
    }

    fn flush_cache(&mut self) {
        while let Some((_, h)) = self.cache.pop_front() {
            self.flush(h);
        }
    }

    /// The loaded handle for a key blob, loading (and evicting the oldest) if needed.
    fn key_handle(&mut self, blob: &[u8], blobs: &Blobs) -> Result<KeyHandle, StoreError> {
        let tag = sha256(&[blob]);
        if let Some(&(_, h)) = self.cache.iter().find(|(t, _)| *t == tag) {
            return Ok(h);
        }
        while self.cache.len() >= self.cache_size.max(1) {
            if let Some((_, old)) = self.cache.pop_front() {
                self.flush(old);
            }
        }
        let h = self.load(blobs)?;
        self.cache.push_back((tag, h));
        Ok(h)
    }

    fn lockout_counter(&mut self) -> Result<u32, StoreError> {
        self.commands += 1;
        let (data, _) = self
            .ctx
            .get_capability(
                CapabilityType::TpmProperties,
                PropertyTag::LockoutCounter.into(),
                1,
            )
            .map_err(|e| tpm_err("TPM2_GetCapability", e))?;
        match data {
            CapabilityData::TpmProperties(list) => list
                .find(PropertyTag::LockoutCounter)
                .map(|p| p.value())
                .ok_or(StoreError::TpmAnswer("no TPM_PT_LOCKOUT_COUNTER")),
            _ => Err(StoreError::TpmAnswer("another capability")),
        }
    }
}

impl Drop for TpmCustody {
    fn drop(&mut self) {
        self.flush_cache();
        let primary = self.primary;
        self.flush(primary);
    }
}

impl Custody for TpmCustody {
    const KIND: u8 = 2;

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match &self.pin_object {
            None => {
                w.u8(0);
            }
            Some(b) => {
                w.u8(1);
                b.write(&mut w);
            }
        }
        w.into_vec()
    }

    fn pin_is_set(&self) -> bool {
        self.pin_object.is_some()
    }

    fn resident_key(&self) -> Option<&MasterKey> {
        None
    }

    fn unlock(&mut self, pin: &PinHash) -> Result<Option<MasterKey>, StoreError> {
        let Some(blobs) = self.pin_object.take() else {
            return Ok(None);
        };
        let loaded = self.load(&blobs);
        self.pin_object = Some(blobs);
        let handle = loaded?;
        let unsealed = self
            .ctx
            .tr_set_auth(ObjectHandle::from(handle), auth(&pin_auth(pin))?)
            .map_err(|e| tpm_err("setting the PIN authValue", e))
            .map(|()| {
                self.commands += 1;
                self.ctx
                    .execute_with_session(Some(AuthSession::Password), |ctx| {
                        ctx.unseal(ObjectHandle::from(handle))
                    })
            });
        self.flush(handle);
        match unsealed? {
            Ok(data) => MasterKey::from_bytes(data.value()).map(Some),
            Err(e) if is_wrong_auth(&e) => Ok(None),
            Err(e) if is_lockout(&e) => Err(StoreError::TpmLockout),
            Err(e) => Err(tpm_err("TPM2_Unseal", e)),
        }
    }

    fn set_pin(&mut self, pin: &PinHash, current: Option<&MasterKey>) -> Result<(), StoreError> {
        let mk = match current {
            Some(mk) => mk.clone(),
            None if self.pin_object.is_some() => return Err(StoreError::Locked),
            None => MasterKey::generate()?,
        };
        let template = sealed_template()?;
        let data = SensitiveData::try_from(mk.as_bytes().to_vec())
            .map_err(|e| tpm_err("sealing the master key", e))?;
        let pin_auth = auth(&pin_auth(pin))?;
        let primary = self.primary;
        self.commands += 1;
        let created = self
            .ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.create(primary, template, Some(pin_auth), Some(data), None, None)
            })
            .map_err(|e| tpm_err("TPM2_Create (PIN object)", e))?;
        let public = created
            .out_public
            .marshall()
            .map_err(|e| tpm_err("marshalling", e))?;
        self.pin_object = Some(Blobs {
            public,
            private: created.out_private.value().to_vec(),
        });
        Ok(())
    }

    fn generate_key(
        &mut self,
        alg: Algorithm,
        rng: &mut dyn Rng,
        mk: &MasterKey,
    ) -> Result<(PublicKey, KeyBlob), StoreError> {
        if matches!(alg, Algorithm::MlDsa44 | Algorithm::MlDsa65) {
            return sealedkey::generate(&mut self.soft_keys, alg, rng, mk);
        }
        let Some((curve, hash, width)) = ecdsa_params(alg).filter(|_| self.supports(alg)) else {
            return Err(StoreError::UnsupportedAlgorithm(alg));
        };
        let template = signing_template(curve, hash)?;
        let key_auth = auth(&key_auth(mk))?;
        let primary = self.primary;
        self.commands += 1;
        let created = self
            .ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.create(primary, template, Some(key_auth), None, None, None)
            })
            .map_err(|e| tpm_err("TPM2_Create (credential key)", e))?;
        let point = match &created.out_public {
            Public::Ecc { unique, .. } => {
                der::sec1_point(unique.x().value(), unique.y().value(), width)?
            }
            _ => return Err(StoreError::TpmAnswer("a key of another type")),
        };
        let blobs = Blobs {
            public: created
                .out_public
                .marshall()
                .map_err(|e| tpm_err("marshalling", e))?,
            private: created.out_private.value().to_vec(),
        };
        let mut w = Writer::new();
        w.raw(KEY_BLOB_MAGIC);
        blobs.write(&mut w);
        Ok((PublicKey { alg, bytes: point }, KeyBlob::new(w.into_vec())))
    }

    fn sign(
        &mut self,
        key: &KeyBlob,
        alg: Algorithm,
        message: &[u8],
        mk: &MasterKey,
    ) -> Result<Vec<u8>, StoreError> {
        if sealedkey::is_sealed(key) {
            return sealedkey::sign(&mut self.soft_keys, key, alg, message, mk);
        }
        let Some((_, _, width)) = ecdsa_params(alg) else {
            return Err(StoreError::UnsupportedAlgorithm(alg));
        };
        let mut r = Reader::new(key.as_bytes(), "TPM key blob");
        if r.raw(KEY_BLOB_MAGIC.len())? != KEY_BLOB_MAGIC {
            return Err(StoreError::corrupt(
                "TPM key blob",
                Damage::Foreign("not a TPM key of this store"),
            ));
        }
        let blobs = Blobs::read(&mut r)?;
        r.finish()?;
        let handle = self.key_handle(key.as_bytes(), &blobs)?;
        self.ctx
            .tr_set_auth(ObjectHandle::from(handle), auth(&key_auth(mk))?)
            .map_err(|e| tpm_err("setting the key authValue", e))?;
        let digest =
            Digest::try_from(ecdsa_digest(alg, message)).map_err(|e| tpm_err("digest", e))?;
        let ticket = HashcheckTicket::try_from(TPMT_TK_HASHCHECK {
            tag: TPM2_ST_HASHCHECK,
            hierarchy: TPM2_RH_NULL,
            digest: Default::default(),
        })
        .map_err(|e| tpm_err("hash-check ticket", e))?;
        self.commands += 1;
        let signature = self
            .ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.sign(handle, digest, SignatureScheme::Null, ticket)
            })
            .map_err(|e| {
                if is_wrong_auth(&e) {
                    StoreError::corrupt(
                        "TPM key blob",
                        Damage::Foreign("the TPM refused it: it belongs to another master key"),
                    )
                } else {
                    tpm_err("TPM2_Sign", e)
                }
            })?;
        match signature {
            Signature::EcDsa(sig) => {
                der::ecdsa_der(sig.signature_r().value(), sig.signature_s().value(), width)
            }
            _ => Err(StoreError::TpmAnswer("another signature scheme")),
        }
    }

    fn supports(&self, alg: Algorithm) -> bool {
        match alg {
            Algorithm::Es256 | Algorithm::MlDsa44 | Algorithm::MlDsa65 => true,
            Algorithm::Es384 => self.p384,
            Algorithm::EdDsa => false,
        }
    }

    fn lock(&mut self) {
        self.soft_keys.clear();
        // ESAPI keeps each handle's authValue in host memory: forget them with the master key.
        let handles: Vec<KeyHandle> = self.cache.iter().map(|&(_, h)| h).collect();
        for h in handles {
            if let Ok(empty) = auth(&[]) {
                // Local to ESAPI (no TPM command); it cannot fail for a live handle.
                let _ = self.ctx.tr_set_auth(ObjectHandle::from(h), empty);
            }
        }
    }

    fn wipe(&mut self) -> Result<(), StoreError> {
        self.flush_cache();
        self.soft_keys.clear();
        self.pin_object = None;
        Ok(())
    }
}

/// A credential store whose keys live in a TPM 2.0 (see the module docs and SECURITY.md).
pub struct TpmStore {
    pub(crate) engine: Engine<TpmCustody>,
}

impl TpmStore {
    /// The TCTI to use when none is configured: [`crate::configured_tcti`], else the kernel
    /// resource manager `device:/dev/tpmrm0`.
    pub fn tcti_from_env() -> String {
        crate::configured_tcti().unwrap_or_else(|| "device:/dev/tpmrm0".to_string())
    }

    /// Connects to the TPM and opens (creating if needed) the store in `dir`, holding it until
    /// dropped; [`StoreError::InUse`] if another opener holds it (one owner at a time).
    pub fn open(dir: &Path, options: TpmStoreOptions) -> Result<Self, StoreError> {
        // Before the TPM is asked anything or a file read: one owner at a time.
        let lock = StoreLock::acquire(dir)?;
        let tcti = options.tcti.clone().unwrap_or_else(Self::tcti_from_env);
        let mut custody = TpmCustody::connect(&tcti, options.cached_keys)?;
        if let Some(bytes) = engine::read_keyring(dir, TpmCustody::KIND)? {
            custody.decode_section(&bytes)?;
        }
        // No sessions: a verification is three TPM commands, and each guess must stay under
        // the TPM's dictionary-attack counter.
        let limits = Limits {
            max_discoverable: options.max_discoverable,
            session_idle: None,
        };
        Ok(TpmStore {
            engine: Engine::open(dir, lock, custody, limits)?,
        })
    }

    /// TPM commands sent since the store was opened (opening costs one: `TPM2_CreatePrimary`).
    pub fn tpm_commands(&self) -> u64 {
        self.engine.custody.commands
    }

    /// The TPM's dictionary-attack failure counter (`TPM_PT_LOCKOUT_COUNTER`).
    pub fn lockout_counter(&mut self) -> Result<u32, StoreError> {
        self.engine.custody.lockout_counter()
    }

    /// Whether keys are usable now (after `verify_pin`, until `lock`).
    pub fn is_unlocked(&self) -> bool {
        self.engine.is_unlocked()
    }

    /// Number of credentials.
    pub fn len(&self) -> usize {
        self.engine.len()
    }

    /// Whether the store holds no credential.
    pub fn is_empty(&self) -> bool {
        self.engine.len() == 0
    }
}

delegate_store!(TpmStore);
