//! The pinUvAuthToken state (CTAP 2.1 §6.5.2.1): permissions, the permissions RP ID, the usage
//! timer and the user-present / user-verified flags.
//!
//! The timer is observed lazily: every use first calls [`TokenState::observe`] with the current
//! time, which applies the three limits of §6.5.2.1 (initial usage time limit, user present time
//! limit, max usage time period).

use zeroize::Zeroizing;

use crate::pinproto::{Protocol, TokenMac};

/// pinUvAuthToken permission bits (CTAP 2.1 §6.5.5.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions(pub u8);

impl Permissions {
    /// mc: authenticatorMakeCredential.
    pub const MAKE_CREDENTIAL: u8 = 0x01;
    /// ga: authenticatorGetAssertion.
    pub const GET_ASSERTION: u8 = 0x02;
    /// cm: authenticatorCredentialManagement.
    pub const CREDENTIAL_MANAGEMENT: u8 = 0x04;
    /// be: authenticatorBioEnrollment (not supported; never granted).
    pub const BIO_ENROLLMENT: u8 = 0x08;
    /// lbw: authenticatorLargeBlobs write.
    pub const LARGE_BLOB_WRITE: u8 = 0x10;
    /// acfg: authenticatorConfig.
    pub const AUTHENTICATOR_CONFIG: u8 = 0x20;
    /// pcmr: read-only credential management with the persistent pinUvAuthToken (CTAP 2.2
    /// §6.5.5.7); requested alone, it gives that token instead of a new pinUvAuthToken.
    pub const PERSISTENT_CREDENTIAL_MANAGEMENT_READ_ONLY: u8 = 0x40;

    /// Whether every bit of `bits` is granted.
    pub fn has(self, bits: u8) -> bool {
        self.0 & bits == bits
    }
}

/// "initial usage time limit" for USB and internal transports (§6.5.2.1): 30 s.
pub const INITIAL_USAGE_TIME_LIMIT_MS: u64 = 30_000;
/// "user present time limit" (§6.5.2.1), the same default as the initial usage time limit.
pub const USER_PRESENT_TIME_LIMIT_MS: u64 = 30_000;
/// "max usage time period" (§6.5.2.1): 10 minutes.
pub const MAX_USAGE_TIME_PERIOD_MS: u64 = 600_000;

/// The pinUvAuthToken and its state variables. One token serves both PIN/UV auth protocols.
pub struct TokenState {
    token: Zeroizing<[u8; 32]>,
    /// The token's HMAC key, prepared with the token (every pinUvAuthParam is checked with it).
    mac: TokenMac,
    permissions: u8,
    rp_id: Option<String>,
    in_use: bool,
    used: bool,
    started_ms: u64,
    user_present: bool,
    user_verified: bool,
}

impl core::fmt::Debug for TokenState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenState")
            .field("token", &"<redacted>")
            .field("permissions", &self.permissions)
            .field("rp_id", &self.rp_id)
            .field("in_use", &self.in_use)
            .field("used", &self.used)
            .field("user_present", &self.user_present)
            .field("user_verified", &self.user_verified)
            .finish()
    }
}

/// Why a token may not be used for an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenDenied {
    /// No token is in use (never issued, expired or revoked).
    NotInUse,
    /// The token lacks a permission or is bound to another RP ID.
    Permission,
}

impl TokenState {
    /// A fresh, unused token (`resetPinUvAuthToken`: new random bytes, not in use).
    pub fn new(token: [u8; 32]) -> Self {
        TokenState {
            mac: TokenMac::new(&token),
            token: Zeroizing::new(token),
            permissions: 0,
            rp_id: None,
            in_use: false,
            used: false,
            started_ms: 0,
            user_present: false,
            user_verified: false,
        }
    }

    /// The token bytes (what the platform gets, encrypted).
    pub fn token(&self) -> &[u8; 32] {
        &self.token
    }

    /// Whether `param` is the pinUvAuthParam of `message` under this token for `protocol`
    /// (CTAP 2.1 §6.5.6 and §6.5.7 `verify`), whether or not the token is in use.
    pub fn verify(&self, protocol: Protocol, message: &[u8], param: &[u8]) -> bool {
        self.mac.verify(protocol, message, param)
    }

    /// resetPinUvAuthToken: new token bytes, and the old token stops being usable.
    pub fn reset(&mut self, token: [u8; 32]) {
        *self = TokenState::new(token);
    }

    /// beginUsingPinUvAuthToken(userIsPresent) at time `now_ms`.
    pub fn begin_using(&mut self, user_is_present: bool, now_ms: u64) {
        self.user_present = user_is_present;
        self.user_verified = true;
        self.started_ms = now_ms;
        self.in_use = true;
        self.used = false;
    }

    /// Sets the permissions and the optional permissions RP ID after issuance.
    pub fn set_permissions(&mut self, permissions: u8, rp_id: Option<String>) {
        self.permissions = permissions;
        self.rp_id = rp_id;
    }

    /// stopUsingPinUvAuthToken: clears everything but the token bytes.
    pub fn stop_using(&mut self) {
        self.in_use = false;
        self.used = false;
        self.permissions = 0;
        self.rp_id = None;
        self.user_present = false;
        self.user_verified = false;
    }

    /// pinUvAuthTokenUsageTimerObserver at `now_ms`. Returns `true` if the token stopped being in
    /// use because of this observation (so the caller can lock what the PIN unlocked).
    pub fn observe(&mut self, now_ms: u64) -> bool {
        if !self.in_use {
            return false;
        }
        let elapsed = now_ms.saturating_sub(self.started_ms);
        if elapsed >= USER_PRESENT_TIME_LIMIT_MS {
            self.user_present = false;
        }
        if (elapsed >= INITIAL_USAGE_TIME_LIMIT_MS && !self.used)
            || elapsed >= MAX_USAGE_TIME_PERIOD_MS
        {
            self.stop_using();
            return true;
        }
        false
    }

    /// Whether the token is in use (issued and neither expired nor revoked).
    pub fn in_use(&self) -> bool {
        self.in_use
    }

    /// The granted permissions.
    pub fn permissions(&self) -> Permissions {
        Permissions(self.permissions)
    }

    /// The permissions RP ID, if bound.
    pub fn rp_id(&self) -> Option<&str> {
        self.rp_id.as_deref()
    }

    /// getUserPresentFlagValue.
    pub fn user_present(&self) -> bool {
        self.in_use && self.user_present
    }

    /// getUserVerifiedFlagValue.
    pub fn user_verified(&self) -> bool {
        self.in_use && self.user_verified
    }

    /// clearUserPresentFlag.
    pub fn clear_user_present(&mut self) {
        self.user_present = false;
    }

    /// clearUserVerifiedFlag.
    pub fn clear_user_verified(&mut self) {
        self.user_verified = false;
    }

    /// clearPinUvAuthTokenPermissionsExceptLbw.
    pub fn clear_permissions_except_lbw(&mut self) {
        self.permissions &= Permissions::LARGE_BLOB_WRITE;
    }

    /// Checks that the token may be used for `permission` (and, if given, `rp_id`), binding an
    /// unbound token to `rp_id` when `bind` is set, and records the use for the usage timer.
    ///
    /// The token itself was already verified against the request's pinUvAuthParam.
    pub fn authorize(
        &mut self,
        permission: u8,
        rp_id: Option<&str>,
        bind: bool,
    ) -> Result<(), TokenDenied> {
        if !self.in_use {
            return Err(TokenDenied::NotInUse);
        }
        if !self.permissions().has(permission) {
            return Err(TokenDenied::Permission);
        }
        match (&self.rp_id, rp_id) {
            (Some(bound), Some(wanted)) if bound != wanted => return Err(TokenDenied::Permission),
            (None, Some(wanted)) if bind => self.rp_id = Some(wanted.to_owned()),
            _ => {}
        }
        self.used = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
