//! authenticatorClientPIN (CTAP 2.1 §6.5.5; the `pcmr` permission of CTAP 2.2 §6.5.5.7).

use crate::authenticator::Authenticator;
use crate::env::{Clock, Rng, UserPresence};
use crate::persistent::forget_persistent_token;
use crate::pinproto::SharedSecret;
use crate::request::{ClientPinRequest, ClientPinResponse, PlatformKey};
use crate::retries::MAX_PIN_RETRIES;
use crate::status::Status;
use crate::store::{CredentialStore, PinHash, StoreError};
use crate::token::Permissions;

/// clientPIN subcommands (CTAP 2.1 §6.5.5.1).
pub mod sub {
    /// getPINRetries.
    pub const GET_PIN_RETRIES: u64 = 0x01;
    /// getKeyAgreement.
    pub const GET_KEY_AGREEMENT: u64 = 0x02;
    /// setPIN.
    pub const SET_PIN: u64 = 0x03;
    /// changePIN.
    pub const CHANGE_PIN: u64 = 0x04;
    /// getPinToken.
    pub const GET_PIN_TOKEN: u64 = 0x05;
    /// getPinUvAuthTokenUsingUvWithPermissions.
    pub const GET_TOKEN_USING_UV: u64 = 0x06;
    /// getUVRetries.
    pub const GET_UV_RETRIES: u64 = 0x07;
    /// getPinUvAuthTokenUsingPinWithPermissions.
    pub const GET_TOKEN_USING_PIN: u64 = 0x09;
}

/// Longest PIN in UTF-8 bytes (§6.5.1): it must fit the 64-byte padded block with a NUL.
pub const MAX_PIN_BYTES: usize = 63;

fn required<T: Clone>(v: &Option<T>) -> Result<T, Status> {
    v.clone().ok_or(Status::MissingParameter)
}

impl<S: CredentialStore, U: UserPresence, C: Clock, R: Rng> Authenticator<S, U, C, R> {
    /// authenticatorClientPIN on a parsed request.
    pub fn client_pin(&mut self, req: &ClientPinRequest) -> Result<ClientPinResponse, Status> {
        self.observe_token();
        match req.sub_command {
            sub::GET_PIN_RETRIES => {
                // What shipped keys answer with no PIN set: there is nothing to retry.
                if !self.pin_is_set()? {
                    return Err(Status::PinNotSet);
                }
                let state = self.state()?;
                Ok(ClientPinResponse {
                    retries: Some(u64::from(state.pin_retries)),
                    power_cycle_state: Some(self.retry_gate.power_cycle_needed()),
                    ..ClientPinResponse::default()
                })
            }
            sub::GET_KEY_AGREEMENT => {
                crate::pinproto::parse_protocol(req.protocol)?;
                Ok(ClientPinResponse {
                    key_agreement: Some(self.key_agreement.public()?),
                    ..ClientPinResponse::default()
                })
            }
            sub::SET_PIN => self.set_pin(req).map(|()| ClientPinResponse::default()),
            sub::CHANGE_PIN => self.change_pin(req).map(|()| ClientPinResponse::default()),
            sub::GET_PIN_TOKEN => {
                if req.permissions.is_some() || req.rp_id.is_some() {
                    return Err(Status::InvalidParameter);
                }
                // §6.5.5.7.1 step 14: the default permissions, mc and ga, unless
                // noMcGaPermissionsWithClientPin withholds them from PIN tokens.
                let perms = if self.config.no_mc_ga_permissions_with_client_pin {
                    0
                } else {
                    Permissions::MAKE_CREDENTIAL | Permissions::GET_ASSERTION
                };
                self.issue_token(req, perms, None, Status::PinInvalid)
            }
            sub::GET_TOKEN_USING_PIN => {
                let permissions = required(&req.permissions)?;
                if permissions == 0 {
                    return Err(Status::InvalidParameter);
                }
                let Ok(permissions) = u8::try_from(permissions) else {
                    return Err(Status::UnauthorizedPermission);
                };
                // bio enrollment is not supported; unknown bits neither; pcmr only alone
                // (CTAP 2.2 §6.5.5.7).
                let pcmr = Permissions::PERSISTENT_CREDENTIAL_MANAGEMENT_READ_ONLY;
                if permissions & (Permissions::BIO_ENROLLMENT | 0x80) != 0
                    || (permissions & pcmr != 0 && permissions != pcmr)
                {
                    return Err(Status::UnauthorizedPermission);
                }
                let needs_rp = Permissions::MAKE_CREDENTIAL | Permissions::GET_ASSERTION;
                // Step 4: with noMcGaPermissionsWithClientPin, mc and ga come from built-in UV.
                if permissions & needs_rp != 0 && self.config.no_mc_ga_permissions_with_client_pin {
                    return Err(Status::UnauthorizedPermission);
                }
                if permissions & needs_rp != 0 && req.rp_id.is_none() {
                    return Err(Status::MissingParameter);
                }
                if permissions == pcmr {
                    let shared = self.verify_pin_for_token(req, Status::PinPolicyViolation)?;
                    return self.issue_persistent_token(&shared);
                }
                self.issue_token(
                    req,
                    permissions,
                    req.rp_id.clone(),
                    Status::PinPolicyViolation,
                )
            }
            sub::GET_TOKEN_USING_UV => self.token_using_uv(req),
            sub::GET_UV_RETRIES => self.get_uv_retries(),
            _ => Err(Status::InvalidSubcommand),
        }
    }

    fn shared_secret(&mut self, req: &ClientPinRequest) -> Result<SharedSecret, Status> {
        let protocol = crate::pinproto::parse_protocol(req.protocol)?;
        let key: PlatformKey = required(&req.key_agreement)?;
        self.key_agreement.shared_secret(protocol, &key)
    }

    /// Decrypts and checks a new PIN (§6.5.5.5 step "paddedNewPin").
    fn new_pin(
        &mut self,
        shared: &SharedSecret,
        new_pin_enc: &[u8],
    ) -> Result<(PinHash, u8), Status> {
        // A newPinEnc that does not decrypt is PIN_AUTH_INVALID (§6.5.5.5); a padded PIN that is
        // not 64 bytes breaks the PIN policy.
        let padded = shared
            .decrypt(new_pin_enc)
            .map_err(|_| Status::PinAuthInvalid)?;
        if padded.len() != latchkey_ctap::pin::PADDED_PIN_LEN {
            return Err(Status::PinPolicyViolation);
        }
        let len = padded.iter().position(|&b| b == 0).unwrap_or(padded.len());
        if len > MAX_PIN_BYTES {
            return Err(Status::PinPolicyViolation);
        }
        let pin = padded.get(..len).ok_or(Status::Other)?;
        let text = core::str::from_utf8(pin).map_err(|_| Status::PinPolicyViolation)?;
        let state = self.state()?;
        let code_points = text.chars().count();
        if code_points < usize::from(state.min_pin_length) {
            return Err(Status::PinPolicyViolation);
        }
        // At most 63 bytes, so at most 63 code points.
        let code_points = u8::try_from(code_points).map_err(|_| Status::PinPolicyViolation)?;
        Ok((PinHash(latchkey_ctap::pin::pin_hash(pin)), code_points))
    }

    fn set_pin(&mut self, req: &ClientPinRequest) -> Result<(), Status> {
        let param = required(&req.pin_uv_auth_param)?;
        let new_pin_enc = required(&req.new_pin_enc)?;
        crate::pinproto::parse_protocol(req.protocol)?;
        required(&req.key_agreement)?;
        // §6.5.5.5: "If a PIN has already been set, authenticator returns
        // CTAP2_ERR_PIN_AUTH_INVALID error."
        if self.pin_is_set()? {
            return Err(Status::PinAuthInvalid);
        }
        let shared = self.shared_secret(req)?;
        if !shared.verify(&new_pin_enc, &param) {
            return Err(Status::PinAuthInvalid);
        }
        let (hash, code_points) = self.new_pin(&shared, &new_pin_enc)?;
        self.store.set_pin(&hash, &mut self.rng)?;
        self.store.set_pin_code_points(code_points)?;
        let mut state = self.state()?;
        state.pin_retries = MAX_PIN_RETRIES;
        state.force_pin_change = false;
        forget_persistent_token(&mut state);
        self.save_state(&state)?;
        self.store.lock();
        Ok(())
    }

    /// Decrypts pinHashEnc and checks it, applying the retry rules (§6.5.5.5 "pinHashEnc"); on a
    /// match, the PIN hash it held (the current PIN's).
    fn check_pin_hash(
        &mut self,
        shared: &SharedSecret,
        pin_hash_enc: &[u8],
    ) -> Result<PinHash, Status> {
        let mut state = self.state()?;
        self.retry_gate.check(state.pin_retries)?;
        state.pin_retries = state.pin_retries.saturating_sub(1);
        // Durable before the comparison (`CredentialStore::save_state`).
        self.save_state(&state)?;
        // "If an error results, or a mismatch is detected": a pinHashEnc that does not decrypt
        // to 16 bytes counts as a mismatch, after the retry was spent.
        let given = match shared.decrypt(pin_hash_enc) {
            Ok(plain) if plain.len() == 16 => {
                let mut hash = PinHash([0; 16]);
                hash.0.copy_from_slice(&plain);
                Some(hash)
            }
            _ => None,
        };
        let matched = match &given {
            Some(hash) => match self.store.verify_pin(hash) {
                Ok(matched) => matched,
                Err(StoreError::TpmLockout) => {
                    // The TPM refused before looking at the PIN (dictionary-attack lockout,
                    // TPM 2.0 Part 1 §19.8): nothing was compared, so no try is spent. The
                    // raise is one above what is on disk, so a crash before it is written
                    // costs a try, never a guess.
                    state.pin_retries = state.pin_retries.saturating_add(1);
                    self.save_state(&state)?;
                    return Err(Status::from(StoreError::TpmLockout));
                }
                Err(e) => return Err(Status::from(e)),
            },
            None => false,
        };
        let Some(given) = given.filter(|_| matched) else {
            self.key_agreement = crate::pinproto::KeyAgreementKey::generate(&mut self.rng);
            return Err(self.retry_gate.mismatch(state.pin_retries));
        };
        self.retry_gate.matched();
        // A right PIN also restores the built-in UV attempts (§6.5.2.2), and is the PIN entry
        // uvCountSinceLastPinEntry counts from (CTAP 2.2 §6.4).
        self.uv_retries = self.max_uv_retries();
        self.uv_count_since_pin = 0;
        state.pin_retries = MAX_PIN_RETRIES;
        if let Err(e) = self.save_state(&state) {
            self.relock_unless_token_in_use();
            return Err(e);
        }
        Ok(given)
    }

    fn change_pin(&mut self, req: &ClientPinRequest) -> Result<(), Status> {
        let param = required(&req.pin_uv_auth_param)?;
        let new_pin_enc = required(&req.new_pin_enc)?;
        let pin_hash_enc = required(&req.pin_hash_enc)?;
        crate::pinproto::parse_protocol(req.protocol)?;
        required(&req.key_agreement)?;
        if !self.pin_is_set()? {
            return Err(Status::PinNotSet);
        }
        let state = self.state()?;
        self.retry_gate.check(state.pin_retries)?;
        let shared = self.shared_secret(req)?;
        let message = latchkey_ctap::pin::change_pin_message(&new_pin_enc, &pin_hash_enc);
        if !shared.verify(&message, &param) {
            return Err(Status::PinAuthInvalid);
        }
        let current = self.check_pin_hash(&shared, &pin_hash_enc)?;
        let changed = self.replace_pin(&shared, &new_pin_enc, &current, state.force_pin_change);
        if changed.is_err() {
            // The old PIN matched and unlocked the store, but no new PIN came of it.
            self.relock_unless_token_in_use();
        }
        changed
    }

    /// changePIN once the current PIN (`current`) matched: checks and sets the new one. With
    /// forcePINChange set, the new PIN must differ from the current one; that is compared with
    /// the hash just checked, not asked of the store again (a TPM would count the new PIN as a
    /// wrong one against its dictionary-attack lockout).
    fn replace_pin(
        &mut self,
        shared: &SharedSecret,
        new_pin_enc: &[u8],
        current: &PinHash,
        forced: bool,
    ) -> Result<(), Status> {
        let (hash, code_points) = self.new_pin(shared, new_pin_enc)?;
        if forced && aws_lc_rs::constant_time::verify_slices_are_equal(&hash.0, &current.0).is_ok()
        {
            return Err(Status::PinPolicyViolation);
        }
        self.store.set_pin(&hash, &mut self.rng)?;
        self.store.set_pin_code_points(code_points)?;
        let mut state = self.state()?;
        state.force_pin_change = false;
        state.pin_retries = MAX_PIN_RETRIES;
        forget_persistent_token(&mut state);
        self.save_state(&state)?;
        self.revoke_token();
        Ok(())
    }

    /// The PIN check of the token-issuing subcommands (§6.5.5.7.1 steps 1-9): the shared secret
    /// once `pinHashEnc` holds the right PIN. With forcePINChange set, a right PIN still
    /// restores the retries but no token is issued: `forced_change` is the answer then, which
    /// CTAP 2.2 gives differently per subcommand (ARCHITECTURE.md, "CTAP 2.2 where keys
    /// differ").
    fn verify_pin_for_token(
        &mut self,
        req: &ClientPinRequest,
        forced_change: Status,
    ) -> Result<SharedSecret, Status> {
        let pin_hash_enc = required(&req.pin_hash_enc)?;
        crate::pinproto::parse_protocol(req.protocol)?;
        required(&req.key_agreement)?;
        if !self.pin_is_set()? {
            return Err(Status::PinNotSet);
        }
        let state = self.state()?;
        self.retry_gate.check(state.pin_retries)?;
        let shared = self.shared_secret(req)?;
        self.check_pin_hash(&shared, &pin_hash_enc)?;
        match self.state().map(|state| state.force_pin_change) {
            Ok(false) => Ok(shared),
            // The right PIN unlocked the store, but no token comes of it.
            refused => {
                self.relock_unless_token_in_use();
                Err(refused.err().unwrap_or(forced_change))
            }
        }
    }

    /// Checks the PIN and issues a token with `permissions` (see
    /// [`Self::verify_pin_for_token`] for `forced_change`).
    fn issue_token(
        &mut self,
        req: &ClientPinRequest,
        permissions: u8,
        rp_id: Option<String>,
        forced_change: Status,
    ) -> Result<ClientPinResponse, Status> {
        let shared = self.verify_pin_for_token(req, forced_change)?;
        let token = self.random32();
        self.token.reset(token);
        let now = self.now();
        self.token.begin_using(false, now);
        self.token.set_permissions(permissions, rp_id);
        let encrypted = shared.encrypt(&mut self.rng, self.token.token().as_slice())?;
        Ok(ClientPinResponse {
            pin_uv_auth_token: Some(encrypted),
            ..ClientPinResponse::default()
        })
    }
}
