//! The authenticator: state that outlives a command, and the helpers every command shares.

use std::collections::VecDeque;

use aws_lc_rs::digest;

use crate::config::{Config, SignCountMode};
use crate::env::{Clock, PresencePurpose, Rng, UserPresence};
use crate::pinproto::{KeyAgreementKey, SharedSecret};
use crate::retries::RetryGate;
use crate::status::Status;
use crate::store::{CredentialStore, PersistentState, Recorded};
use crate::token::{TokenDenied, TokenState};

/// authenticatorData flags (WebAuthn L3 §6.1). UP and UV are set only from proofs
/// ([`crate::proof`]); AT and ED by the encoder.
pub(crate) mod flags {
    /// UP.
    pub const UP: u8 = 0x01;
    /// UV.
    pub const UV: u8 = 0x04;
    /// BE.
    pub const BE: u8 = 0x08;
    /// BS.
    pub const BS: u8 = 0x10;
}

/// How long getNextAssertion stays possible after the last getAssertion/getNextAssertion.
pub const NEXT_ASSERTION_TIMEOUT_MS: u64 = 30_000;

/// What getNextAssertion needs to continue a getAssertion (CTAP 2.1 §6.3).
pub(crate) struct PendingAssertions {
    /// Remaining credential IDs, in the order they will be returned.
    pub remaining: VecDeque<Vec<u8>>,
    pub rp_id: String,
    pub client_data_hash: Vec<u8>,
    /// What the first assertion proved about the user; the later ones claim the same.
    pub user: crate::proof::UserFlags,
    pub cred_blob: bool,
    pub large_blob_key: bool,
    pub third_party_payment: bool,
    pub hmac_secret: Option<(SharedSecret, zeroize::Zeroizing<Vec<u8>>)>,
    pub last_ms: u64,
}

/// Where a credential-management enumeration stands (CTAP 2.1 §6.8).
pub(crate) enum Enumeration {
    Rps {
        remaining: VecDeque<crate::store::RpEntity>,
    },
    Credentials {
        remaining: VecDeque<Vec<u8>>,
        /// Begun under the persistent token (read-only: no largeBlobKey).
        persistent: bool,
    },
}

/// A software CTAP 2.1 authenticator over a credential store `S`, a user-presence prompt `U`, a
/// clock `C` and a random number generator `R`.
pub struct Authenticator<S, U, C, R> {
    pub(crate) config: Config,
    pub(crate) store: Recorded<S>,
    pub(crate) presence: U,
    pub(crate) clock: C,
    pub(crate) rng: R,
    pub(crate) retry_gate: RetryGate,
    pub(crate) token: TokenState,
    pub(crate) key_agreement: KeyAgreementKey,
    pub(crate) next_assertion: Option<PendingAssertions>,
    pub(crate) enumeration: Option<Enumeration>,
    pub(crate) large_blob_write: Option<crate::large_blobs::PendingWrite>,
    pub(crate) next_credential_ids: VecDeque<Vec<u8>>,
    pub(crate) power_up_ms: u64,
    /// uvRetries of the built-in UV method (CTAP 2.1 §6.5.2.2); kept across power cycles.
    pub(crate) uv_retries: u8,
    /// getInfo uvCountSinceLastPinEntry (CTAP 2.2 §6.4): built-in verifications since the last
    /// right PIN.
    pub(crate) uv_count_since_pin: u64,
    /// Drawn when first needed, mixed into `encCredStoreState` (see [`crate::persistent`]).
    pub(crate) store_state_nonce: Option<[u8; 16]>,
}

impl<S, U, C, R> core::fmt::Debug for Authenticator<S, U, C, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.config)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl<S: CredentialStore, U: UserPresence, C: Clock, R: Rng> Authenticator<S, U, C, R> {
    /// A powered-up authenticator.
    pub fn new(config: Config, store: S, presence: U, clock: C, mut rng: R) -> Self {
        let mut token = [0u8; 32];
        rng.fill(&mut token);
        let key_agreement = KeyAgreementKey::generate(&mut rng);
        let power_up_ms = clock.now_ms();
        let uv_retries = config.max_uv_retries.clamp(1, 25);
        let mut this = Authenticator {
            config,
            store: Recorded::new(store),
            presence,
            clock,
            rng,
            retry_gate: RetryGate::default(),
            token: TokenState::new(token),
            key_agreement,
            next_assertion: None,
            enumeration: None,
            large_blob_write: None,
            next_credential_ids: VecDeque::new(),
            power_up_ms,
            uv_retries,
            uv_count_since_pin: 0,
            store_state_nonce: None,
        };
        let token = this.random32();
        this.token.reset(token);
        this.apply_default_always_uv();
        this
    }

    /// Writes `always_uv_default` into a fresh store's state (the default state), so that the
    /// option then lives on like any toggled value.
    pub(crate) fn apply_default_always_uv(&mut self) {
        if !self.config.always_uv_default {
            return;
        }
        if let Ok(mut state) = self.store.load_state() {
            if state == PersistentState::default() {
                state.always_uv = true;
                // A store that cannot save starts without alwaysUv; getInfo reports the truth.
                let _ = self.store.save_state(&state);
            }
        }
    }

    /// Clears all volatile state, as a power cycle does: PIN tokens, the key agreement key, the
    /// per-boot PIN mismatch counter, pending getNextAssertion / enumeration / large-blob state;
    /// the reset window restarts now.
    pub fn power_cycle(&mut self) {
        let token = self.random32();
        self.token.reset(token);
        self.key_agreement = KeyAgreementKey::generate(&mut self.rng);
        self.retry_gate = RetryGate::default();
        self.next_assertion = None;
        self.enumeration = None;
        self.large_blob_write = None;
        self.power_up_ms = self.clock.now_ms();
        self.store.lock();
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The configuration, mutably: limits and flags take effect from the next command.
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// The credential store.
    pub fn store(&self) -> &S {
        self.store.inner()
    }

    /// The credential store, mutably (e.g. to inject a test key).
    pub fn store_mut(&mut self) -> &mut S {
        self.store.inner_mut()
    }

    /// The store's last failure since the last take (or the start of the last command), with
    /// its causes: what a CTAP status byte such as `CTAP1_ERR_OTHER` hides, for the host to log
    /// and to tell its own caller.
    pub fn take_store_failure(&mut self) -> Option<crate::store::StoreError> {
        self.store.take_failure()
    }

    /// Uses `id` as the next new credential's ID instead of random bytes (queued; for test
    /// vectors). IDs longer than 1023 bytes are refused by makeCredential with `CTAP1_ERR_OTHER`.
    pub fn push_credential_id(&mut self, id: Vec<u8>) {
        self.next_credential_ids.push_back(id);
    }

    pub(crate) fn random32(&mut self) -> [u8; 32] {
        let mut b = [0u8; 32];
        self.rng.fill(&mut b);
        b
    }

    pub(crate) fn new_credential_id(&mut self) -> Vec<u8> {
        if let Some(id) = self.next_credential_ids.pop_front() {
            return id;
        }
        let mut id = vec![0u8; self.config.credential_id_length.clamp(16, 1023)];
        // A credential ID is published to the RP at once: public randomness.
        self.rng.fill_public(&mut id);
        id
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    pub(crate) fn state(&mut self) -> Result<PersistentState, Status> {
        self.store.load_state().map_err(Status::from)
    }

    pub(crate) fn save_state(&mut self, state: &PersistentState) -> Result<(), Status> {
        self.store.save_state(state).map_err(Status::from)
    }

    pub(crate) fn pin_is_set(&mut self) -> Result<bool, Status> {
        self.store.pin_is_set().map_err(Status::from)
    }

    /// Runs the token usage timer; locks the store when the token stops being in use.
    pub(crate) fn observe_token(&mut self) {
        let now = self.now();
        if self.token.observe(now) {
            self.store.lock();
        }
    }

    /// Locks the store again after a PIN check that unlocked it but ended in no new token (a
    /// request refused while a PIN change is forced, a changePIN that failed after the old PIN
    /// matched), unless a token still in use needs it: what a PIN unlocks lasts only as long as
    /// the token it was checked for (keystore SECURITY.md, "How long a verification lasts").
    pub(crate) fn relock_unless_token_in_use(&mut self) {
        self.observe_token();
        if !self.token.in_use() {
            self.store.lock();
        }
    }

    /// Revokes the current token (resetPinUvAuthToken) and locks the store.
    pub(crate) fn revoke_token(&mut self) {
        let token = self.random32();
        self.token.reset(token);
        self.store.lock();
    }

    pub(crate) fn ask_presence(&mut self, purpose: PresencePurpose<'_>) -> Result<(), Status> {
        self.presence
            .request_presence(purpose)
            .map_err(Status::from)
    }

    /// The zero-length pinUvAuthParam probe (CTAP 2.1 §6.1.2 step 1, §6.2.2 step 1).
    pub(crate) fn probe(&mut self, purpose: PresencePurpose<'_>) -> Status {
        if let Err(e) = self.ask_presence(purpose) {
            return e;
        }
        match self.pin_is_set() {
            Ok(true) => Status::PinInvalid,
            Ok(false) => Status::PinNotSet,
            Err(e) => e,
        }
    }

    /// Checks a pinUvAuthParam over `message` against the current token, then its permission and
    /// RP ID (binding an unbound token to `rp_id` if `bind`). Every failure is PIN_AUTH_INVALID
    /// (CTAP 2.1 §6.5.5.7, "verify").
    pub(crate) fn check_token(
        &mut self,
        protocol: Option<u64>,
        param: &[u8],
        message: &[u8],
        permission: u8,
        rp_id: Option<&str>,
        bind: bool,
    ) -> Result<(), Status> {
        let protocol = crate::pinproto::parse_protocol(protocol)?;
        self.observe_token();
        if !self.token.in_use() {
            return Err(Status::PinAuthInvalid);
        }
        if !self.token.verify(protocol, message, param) {
            return Err(Status::PinAuthInvalid);
        }
        self.token
            .authorize(permission, rp_id, bind)
            .map_err(|e| match e {
                TokenDenied::NotInUse | TokenDenied::Permission => Status::PinAuthInvalid,
            })
    }

    /// The signature counter for a new signature by a credential whose counter is `current`.
    pub(crate) fn next_sign_count(&self, current: u32) -> u32 {
        match self.config.sign_count {
            SignCountMode::PerCredential => current.saturating_add(1),
            SignCountMode::AlwaysZero => 0,
        }
    }

    pub(crate) fn backup_flags(&self) -> u8 {
        if self.config.backup_eligible {
            if self.config.backup_state {
                flags::BE | flags::BS
            } else {
                flags::BE
            }
        } else {
            0
        }
    }
}

/// SHA-256.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}
