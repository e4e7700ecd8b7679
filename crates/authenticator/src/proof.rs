//! User presence and user verification as proofs (DESIGN "Security gates are types"): the UP and
//! UV flags of an authenticatorData that is signed come from [`UserFlags`], which is made only of
//! [`UserPresent`] and [`UserVerified`], and those are minted only here, by the checks that
//! establish them:
//!
//! - [`UserPresent`]: the user answered a presence request in this command
//!   (`ceremony_presence`, `u2f_presence`), a built-in UV match (which is also the user's
//!   presence, CTAP 2.1 §6.5.2.2), or a pinUvAuthToken whose `userPresent` flag is still set
//!   (`token_proofs`, §6.5.2.1).
//! - [`UserVerified`]: a pinUvAuthParam verified over this request with a token whose
//!   `userVerified` flag is set (`token_proofs`, §6.1.2 step 11, §6.2.2 step 6), or a built-in UV
//!   match in this command (`ceremony_built_in_uv`, §6.1.2 step 11.2, §6.2.2 step 6.2).
//!
//! A built-in UV match gives both proofs; a PIN-made token gives [`UserVerified`] only, and the
//! ceremony then asks for presence (§6.5.5.7: the PIN is not a touch). Neither proof has a
//! public constructor, `Default` or `Clone`:
//!
//! ```compile_fail
//! // Outside this module a presence proof cannot be written down...
//! let forged = latchkey_authenticator::proof::UserPresent { _checked: () };
//! ```
//!
//! ```compile_fail
//! // ...nor a verification proof...
//! let forged: latchkey_authenticator::proof::UserVerified = Default::default();
//! ```
//!
//! ```compile_fail
//! // ...so the flags of a new credential's authenticatorData, which always claim UP (the only
//! // flags `wire::attested_auth_data` takes), cannot be made without the proof that the user
//! // was present.
//! let flags = latchkey_authenticator::proof::AttestedFlags::new(None, None);
//! ```
//!
//! ```compile_fail
//! // An assertion's flags are the proofs', never a byte or a bool.
//! let auth_data = latchkey_authenticator::wire::auth_data(&[0; 32], 0x05, 0, 0, None);
//! ```
//!
//! ```
//! // What a silent assertion may claim is nothing, and that needs no proof.
//! let auth_data = latchkey_authenticator::wire::auth_data(
//!     &[0; 32],
//!     &latchkey_authenticator::proof::UserFlags::silent(),
//!     0,
//!     0,
//!     None,
//! );
//! assert_eq!(auth_data[32], 0);
//! ```

use crate::authenticator::{flags, Authenticator};
use crate::env::{Clock, PresenceDenied, PresencePurpose, Rng, UserPresence};
use crate::status::Status;
use crate::store::CredentialStore;
use crate::uv::UvFailure;

/// Proof that the user was present for the command under way (the UP flag).
#[derive(Debug, PartialEq, Eq)]
pub struct UserPresent {
    _checked: (),
}

/// Proof that the user was verified for the command under way (the UV flag).
#[derive(Debug, PartialEq, Eq)]
pub struct UserVerified {
    _checked: (),
}

/// What an assertion may claim about the user: the only source of the UP and UV flags of its
/// authenticatorData. Kept from getAssertion for getNextAssertion (CTAP 2.1 §6.3: the later
/// assertions carry the first one's flags), which has no proofs of its own.
#[derive(Debug, PartialEq, Eq)]
pub struct UserFlags {
    present: Option<UserPresent>,
    verified: Option<UserVerified>,
}

impl UserFlags {
    /// Neither UP nor UV: a silent (`up: false`) assertion without verification.
    pub fn silent() -> Self {
        Self {
            present: None,
            verified: None,
        }
    }

    /// The flags these proofs allow.
    pub fn new(present: Option<UserPresent>, verified: Option<UserVerified>) -> Self {
        Self { present, verified }
    }

    /// Whether the user was present (UP).
    pub fn present(&self) -> bool {
        self.present.is_some()
    }

    /// Whether the user was verified (UV).
    pub fn verified(&self) -> bool {
        self.verified.is_some()
    }

    /// The UP and UV bits of authenticatorData's flags (WebAuthn L3 §6.1).
    pub fn bits(&self) -> u8 {
        let up = if self.present() { flags::UP } else { 0 };
        let uv = if self.verified() { flags::UV } else { 0 };
        up | uv
    }
}

/// The flags a new credential's authenticatorData carries: UP always, UV with its proof.
#[derive(Debug, PartialEq, Eq)]
pub struct AttestedFlags {
    present: UserPresent,
    verified: Option<UserVerified>,
}

impl AttestedFlags {
    /// makeCredential's flags: it needs the user's presence (§6.1.2 step 14).
    pub fn new(present: UserPresent, verified: Option<UserVerified>) -> Self {
        Self { present, verified }
    }

    /// Whether the user was verified (UV).
    pub fn verified(&self) -> bool {
        self.verified.is_some()
    }

    /// The UP and UV bits.
    pub fn bits(&self) -> u8 {
        let Self {
            present: UserPresent { _checked: () },
            verified,
        } = self;
        flags::UP | if verified.is_some() { flags::UV } else { 0 }
    }
}

impl<S: CredentialStore, U: UserPresence, C: Clock, R: Rng> Authenticator<S, U, C, R> {
    /// User presence inside makeCredential/getAssertion: declining or timing out is
    /// OPERATION_DENIED (CTAP 2.1 §6.1.2 step 14, §6.2.2 step 9); a cancel stays KEEPALIVE_CANCEL.
    pub(crate) fn ceremony_presence(
        &mut self,
        purpose: PresencePurpose<'_>,
    ) -> Result<UserPresent, Status> {
        match self.presence.request_presence(purpose) {
            Ok(()) => Ok(UserPresent { _checked: () }),
            Err(PresenceDenied::Cancelled) => Err(Status::KeepaliveCancel),
            Err(_) => Err(Status::OperationDenied),
        }
    }

    /// User presence for a U2F register or an enforcing authenticate (U2F raw messages §4.1,
    /// §5.1); any failure is the caller's "conditions not satisfied".
    pub(crate) fn u2f_presence(&mut self) -> Option<UserPresent> {
        self.presence
            .request_presence(PresencePurpose::U2f)
            .ok()
            .map(|()| UserPresent { _checked: () })
    }

    /// Verifies a ceremony's pinUvAuthParam over `client_data_hash` against the current token
    /// (its `permission`, binding it to `rp_id`), which must carry `userVerified`: the proofs it
    /// gives — verification, and presence while the token's `userPresent` is set. Then the
    /// ceremony uses them up (§6.1.2 step 14.2, §6.2.2 step 9.2): the token keeps only lbw.
    pub(crate) fn token_proofs(
        &mut self,
        protocol: Option<u64>,
        param: &[u8],
        client_data_hash: &[u8],
        permission: u8,
        rp_id: &str,
    ) -> Result<(UserVerified, Option<UserPresent>), Status> {
        self.check_token(
            protocol,
            param,
            client_data_hash,
            permission,
            Some(rp_id),
            true,
        )?;
        if !self.token.user_verified() {
            return Err(Status::PinAuthInvalid);
        }
        let present = self
            .token
            .user_present()
            .then_some(UserPresent { _checked: () });
        Ok((UserVerified { _checked: () }, present))
    }

    /// Uses up the token's user-present and user-verified flags and its permissions but lbw, as
    /// a ceremony that collected presence does (§6.1.2 step 14.2, §6.2.2 step 9.2).
    pub(crate) fn spend_token(&mut self) {
        self.token.clear_user_present();
        self.token.clear_user_verified();
        self.token.clear_permissions_except_lbw();
    }

    /// Built-in UV inside makeCredential/getAssertion with `uv: true` (§6.1.2 step 11.2,
    /// §6.2.2 step 6.2): internal retries allowed; a match verifies the user and is their
    /// presence too. On failure PUAT_REQUIRED when a PIN can take over, PIN_BLOCKED when the
    /// retries are spent, else OPERATION_DENIED.
    pub(crate) fn ceremony_built_in_uv(
        &mut self,
        purpose: PresencePurpose<'_>,
    ) -> Result<(UserVerified, UserPresent), Status> {
        if self.built_in_uv_blocked()? {
            return Err(self.uv_failure_status()?);
        }
        match self.perform_built_in_uv(true, purpose) {
            Ok(()) => Ok((UserVerified { _checked: () }, UserPresent { _checked: () })),
            Err(UvFailure::Timeout) => Err(Status::UserActionTimeout),
            Err(UvFailure::Cancelled) => Err(Status::KeepaliveCancel),
            Err(UvFailure::NoMatch) => Err(self.uv_failure_status()?),
        }
    }
}

/// The presence proof's bit in a U2F authentication (U2F raw messages §5.4: 1 = present).
pub(crate) fn u2f_presence_byte(present: Option<&UserPresent>) -> u8 {
    if present.is_some() {
        latchkey_ctap::u2f::USER_PRESENCE_FLAG
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_come_from_the_proofs() {
        let up = || UserPresent { _checked: () };
        let uv = || UserVerified { _checked: () };
        assert_eq!(UserFlags::silent().bits(), 0);
        assert_eq!(UserFlags::new(Some(up()), None).bits(), 0x01);
        assert_eq!(UserFlags::new(None, Some(uv())).bits(), 0x04);
        assert_eq!(UserFlags::new(Some(up()), Some(uv())).bits(), 0x05);
        assert_eq!(AttestedFlags::new(up(), None).bits(), 0x01);
        assert_eq!(AttestedFlags::new(up(), Some(uv())).bits(), 0x05);
        assert_eq!(u2f_presence_byte(Some(&up())), 1);
        assert_eq!(u2f_presence_byte(None), 0);
    }
}
