//! Where credentials, their keys and the authenticator's persistent state live.
//!
//! The authenticator core never holds a long-term private key itself: it asks the store to
//! generate and to use keys, so a store may keep them in a TPM, wrapped by a key derived from the
//! user's PIN, or (for the virtual security key and tests) in memory.
//!
//! PIN checking is the store's job too ([`CredentialStore::verify_pin`]): a store that binds keys
//! to the PIN (a TPM authorisation, a KEK derived with Argon2id) can only tell a right PIN from a
//! wrong one by trying it. The CTAP retry counters stay in the core ([`PersistentState`]).

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::env::Rng;

pub use crate::algorithm::Algorithm;
pub use error::{Cause, Corruption, CryptoOperation, Damage, StoreError, StoreErrorKind};

mod error;
mod recorded;
pub use recorded::Recorded;

/// A credential's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The key's algorithm.
    pub alg: Algorithm,
    /// ES256 and ES384: the uncompressed SEC1 point (0x04 ‖ x ‖ y, 65 or 97 bytes); EdDSA: the
    /// 32-byte key; ML-DSA: the FIPS 204 public key (1312 or 1952 bytes).
    pub bytes: Vec<u8>,
}

/// A private key as the store keeps it: opaque to everyone but the store that made it.
///
/// For a software store this is a PKCS#8 document (encrypted at rest by the store); for a TPM
/// store it is the TPM's wrapped key blob, useless without that TPM.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct KeyBlob(Vec<u8>);

impl KeyBlob {
    /// Wraps the store's own encoding of a key.
    pub fn new(bytes: Vec<u8>) -> Self {
        KeyBlob(bytes)
    }

    /// The store's encoding of the key. Only the store that made it should interpret it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for KeyBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyBlob(<{} bytes redacted>)", self.0.len())
    }
}

/// The relying party a credential belongs to (CTAP 2.1 §6.1 `PublicKeyCredentialRpEntity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpEntity {
    /// The RP ID, e.g. `example.com`.
    pub id: String,
    /// A human-palatable name, if the RP gave one.
    pub name: Option<String>,
}

/// The account a credential is for (`PublicKeyCredentialUserEntity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntity {
    /// The RP's opaque user handle, at most 64 bytes.
    pub id: Vec<u8>,
    /// Account name, e.g. `alice@example.com`.
    pub name: Option<String>,
    /// Display name, e.g. `Alice`.
    pub display_name: Option<String>,
}

/// The credProtect level (CTAP 2.1 §12.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CredProtect {
    /// userVerificationOptional (0x01).
    UvOptional,
    /// userVerificationOptionalWithCredentialIDList (0x02).
    UvOptionalWithCredentialIdList,
    /// userVerificationRequired (0x03).
    UvRequired,
}

impl CredProtect {
    /// The extension's wire value.
    pub fn value(self) -> u8 {
        match self {
            CredProtect::UvOptional => 1,
            CredProtect::UvOptionalWithCredentialIdList => 2,
            CredProtect::UvRequired => 3,
        }
    }

    /// The level for a wire value.
    pub fn from_value(v: u64) -> Option<Self> {
        match v {
            1 => Some(CredProtect::UvOptional),
            2 => Some(CredProtect::UvOptionalWithCredentialIdList),
            3 => Some(CredProtect::UvRequired),
            _ => None,
        }
    }
}

/// The two per-credential secrets of the hmac-secret extension (CTAP 2.1 §12.5).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct CredRandom {
    /// CredRandomWithUV.
    pub with_uv: [u8; 32],
    /// CredRandomWithoutUV.
    pub without_uv: [u8; 32],
}

impl fmt::Debug for CredRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredRandom(<redacted>)")
    }
}

/// How the credential was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// authenticatorMakeCredential.
    Ctap2,
    /// U2F_REGISTER (CTAP1); usable from CTAP2 getAssertion too.
    U2f,
}

/// One credential, as the store returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The credential ID, chosen by the authenticator (random, 16..=1023 bytes).
    pub id: Vec<u8>,
    /// The relying party. For U2F credentials `id` is the hex of the application parameter.
    pub rp: RpEntity,
    /// The account. Empty `id` for U2F and for non-discoverable credentials without user info.
    pub user: UserEntity,
    /// A discoverable ("resident") credential, found without a credential ID.
    pub discoverable: bool,
    /// The credential's public key.
    pub public_key: PublicKey,
    /// The private key, in the store's own form.
    pub key: KeyBlob,
    /// The credProtect level.
    pub cred_protect: CredProtect,
    /// hmac-secret secrets, if the extension was requested at creation.
    pub cred_random: Option<CredRandom>,
    /// credBlob contents, if any (at most the authenticator's `maxCredBlobLength`).
    pub cred_blob: Option<Vec<u8>>,
    /// largeBlobKey, if the extension was requested at creation.
    pub large_blob_key: Option<Zeroizing<[u8; 32]>>,
    /// The signature counter.
    pub sign_count: u32,
    /// Creation time, seconds since the Unix epoch (informational).
    pub created_at: u64,
    /// How it was made.
    pub kind: CredentialKind,
    /// Enabled for payments initiated by a party other than its RP (the `thirdPartyPayment`
    /// extension at creation, CTAP 2.2 §12.9).
    pub third_party_payment: bool,
}

impl Credential {
    /// A credential made by authenticatorMakeCredential with no extension data: credProtect
    /// `userVerificationOptional` (the level when none is asked, CTAP 2.1 §12.1), counter 0,
    /// created at the epoch. Set what differs with struct update syntax.
    pub fn new(
        id: Vec<u8>,
        rp: RpEntity,
        user: UserEntity,
        discoverable: bool,
        public_key: PublicKey,
        key: KeyBlob,
    ) -> Self {
        Self {
            id,
            rp,
            user,
            discoverable,
            public_key,
            key,
            cred_protect: CredProtect::UvOptional,
            cred_random: None,
            cred_blob: None,
            large_blob_key: None,
            sign_count: 0,
            created_at: 0,
            kind: CredentialKind::Ctap2,
            third_party_payment: false,
        }
    }
}

/// Persistent authenticator state outside the credentials (CTAP 2.1 §6.5 and §6.11).
///
/// The PIN verifier itself is not here: it belongs to the store ([`CredentialStore::set_pin`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistentState {
    /// pinRetries: tries left before the PIN is blocked (8 after a PIN is set or reset).
    pub pin_retries: u8,
    /// Current minimum PIN length in Unicode code points (4 by default).
    pub min_pin_length: u8,
    /// forcePINChange: the PIN must be changed before it can be used.
    pub force_pin_change: bool,
    /// RP IDs allowed to read the minimum PIN length via the minPinLength extension.
    pub min_pin_length_rp_ids: Vec<String>,
    /// alwaysUv (authenticatorConfig toggleAlwaysUv).
    pub always_uv: bool,
    /// The serialized large-blob array (CTAP 2.1 §6.10), including its 16-byte hash trailer.
    pub large_blob_array: Vec<u8>,
    /// The U2F attestation certificate (DER) and its key, generated on first use.
    pub u2f_attestation: Option<(Vec<u8>, KeyBlob)>,
    /// The persistent pinUvAuthToken (CTAP 2.2 §6.5.2), made at its first issuance and
    /// forgotten when the PIN is set or changed, a PIN change is forced, or on reset.
    pub persistent_token: Option<PersistentToken>,
    /// This authenticator's identifier, shown encrypted as getInfo `encIdentifier` (CTAP 2.2
    /// §6.4); made with the first persistent token, new after a reset.
    pub identifier: Option<[u8; 16]>,
}

/// The persistent pinUvAuthToken: grants read-only credential management (`pcmr`) and survives
/// power cycles. Zeroised on drop; `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct PersistentToken(pub [u8; 32]);

impl fmt::Debug for PersistentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersistentToken(<redacted>)")
    }
}

impl Default for PersistentState {
    fn default() -> Self {
        PersistentState {
            pin_retries: 8,
            min_pin_length: 4,
            force_pin_change: false,
            min_pin_length_rp_ids: Vec::new(),
            always_uv: false,
            // The serialized empty array: CBOR 0x80 followed by LEFT(SHA-256(0x80), 16).
            large_blob_array: vec![
                0x80, 0x76, 0xbe, 0x8b, 0x52, 0x8d, 0x00, 0x75, 0xf7, 0xaa, 0xe9, 0x8d, 0x6f, 0xa5,
                0x7a, 0x6d, 0x3c,
            ],
            u2f_attestation: None,
            persistent_token: None,
            identifier: None,
        }
    }
}

/// LEFT(SHA-256(PIN), 16): what CTAP clientPIN hands the authenticator instead of the PIN.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct PinHash(pub [u8; 16]);

impl fmt::Debug for PinHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinHash(<redacted>)")
    }
}

/// A credential store with key custody and a PIN verifier.
///
/// Every mutating call is durable when it returns `Ok`: a crash afterwards must not lose it, and a
/// crash during it must leave the previous state.
pub trait CredentialStore {
    /// Generates a new key pair. The private key never leaves the store in the clear.
    fn generate_key(
        &mut self,
        alg: Algorithm,
        rng: &mut dyn Rng,
    ) -> Result<(PublicKey, KeyBlob), StoreError>;

    /// Signs `message` with a key this store made. ECDSA signatures are ASN.1 DER; EdDSA and
    /// ML-DSA raw.
    ///
    /// The message is signed as given (for ES256 and ES384, hashed with SHA-256 / SHA-384 by the
    /// signer; ML-DSA in its pure mode with an empty context).
    fn sign(
        &mut self,
        key: &KeyBlob,
        alg: Algorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, StoreError>;

    /// Stores a new credential. A discoverable credential with the same RP ID and user ID replaces
    /// the old one (CTAP 2.1 §6.1.2 step 16).
    fn insert(&mut self, credential: Credential) -> Result<(), StoreError>;

    /// The credential with this ID, if any.
    fn get(&mut self, id: &[u8]) -> Result<Option<Credential>, StoreError>;

    /// Every credential (discoverable or not) for this RP ID, oldest first.
    fn by_rp(&mut self, rp_id: &str) -> Result<Vec<Credential>, StoreError>;

    /// Every RP with at least one discoverable credential.
    fn rps(&mut self) -> Result<Vec<RpEntity>, StoreError>;

    /// Replaces a stored credential's user information and signature counter (same ID).
    fn update(&mut self, credential: &Credential) -> Result<(), StoreError>;

    /// Deletes a credential; `false` if there was none with that ID.
    fn delete(&mut self, id: &[u8]) -> Result<bool, StoreError>;

    /// Number of discoverable credentials stored, and how many more fit.
    fn discoverable_count(&mut self) -> Result<(usize, usize), StoreError>;

    /// The persistent state (defaults when nothing was saved yet).
    fn load_state(&mut self) -> Result<PersistentState, StoreError>;

    /// Saves the persistent state. A store that keeps it on disk has it there when this returns:
    /// the PIN check saves pinRetries lowered by one before it compares, and a guess must survive
    /// a crash. The one exception it may make: `state` differing from what is on disk only by
    /// pinRetries raised by one to the maximum (a right PIN's raise) may stay in memory until the
    /// store closes, as
    /// losing it costs one try, never a guess (the keystore's `Engine::save_state`).
    fn save_state(&mut self, state: &PersistentState) -> Result<(), StoreError>;

    /// Whether a PIN is set.
    fn pin_is_set(&mut self) -> Result<bool, StoreError>;

    /// Sets or changes the PIN. The caller has already checked the old PIN, if any, with
    /// [`CredentialStore::verify_pin`] in this power cycle.
    fn set_pin(&mut self, pin: &PinHash, rng: &mut dyn Rng) -> Result<(), StoreError>;

    /// Remembers the current PIN's length in Unicode code points, so that setMinPINLength can
    /// tell whether the PIN still complies (CTAP 2.1 §6.11.4). Called right after
    /// [`CredentialStore::set_pin`]. Stores that do not keep it leave this default no-op.
    fn set_pin_code_points(&mut self, _code_points: u8) -> Result<(), StoreError> {
        Ok(())
    }

    /// The length given to [`CredentialStore::set_pin_code_points`] for the current PIN, if the
    /// store keeps it. Without it, raising the minimum PIN length always forces a PIN change.
    fn pin_code_points(&mut self) -> Result<Option<u8>, StoreError> {
        Ok(None)
    }

    /// Checks a PIN. A right PIN also unlocks what a user verification unlocks, until
    /// [`CredentialStore::lock`].
    fn verify_pin(&mut self, pin: &PinHash) -> Result<bool, StoreError>;

    /// Forgets whatever the last user verification unlocked.
    fn lock(&mut self);

    /// Deletes every credential, the PIN and the persistent state (authenticatorReset).
    fn wipe(&mut self) -> Result<(), StoreError>;

    /// Whether this store can make keys of `alg` (a TPM may hold only some curves). The
    /// authenticator offers and uses only algorithms its store supports.
    fn supports(&self, _alg: Algorithm) -> bool {
        true
    }

    /// A number that changes whenever a discoverable credential is added or removed, its user
    /// information changes, or the store is wiped, for as long as this store stays open;
    /// `None` if the store does not track it. The authenticator turns it into getInfo
    /// `encCredStoreState` (CTAP 2.2 §6.4), with a value of its own that differs every time it
    /// starts, so a count that starts again from zero is never mistaken for an old one.
    fn discoverable_generation(&self) -> Option<u64> {
        None
    }
}
