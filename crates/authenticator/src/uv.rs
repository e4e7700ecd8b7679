//! Built-in user verification (CTAP 2.1 §6.5.2.2, §6.5.5.3, §6.5.5.7.3): `performBuiltInUv`,
//! the uvRetries counter, getUVRetries and getPinUvAuthTokenUsingUvWithPermissions.
//!
//! <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-errata-20220621.html#getPinUvAuthTokenUsingUvWithPermissions>
//!
//! The sensor is [`crate::env::UserPresence::verify_user`]; whether one exists and is enrolled
//! is [`crate::config::Config::built_in_uv`]. The uvRetries counter starts at
//! `max_uv_retries`, loses one per attempt, is restored by a match or a right PIN (§6.5.2.2),
//! and survives power cycles (not the process: it is not in the store).

use crate::authenticator::Authenticator;
use crate::config::BuiltInUv;
use crate::env::{Clock, PresenceDenied, PresencePurpose, Rng, UserPresence, UvMatch};
use crate::request::{ClientPinRequest, ClientPinResponse};
use crate::status::Status;
use crate::store::CredentialStore;
use crate::token::Permissions;

/// Attempts one `performBuiltInUv(internalRetry = true)` makes at most before giving up.
pub const MAX_INTERNAL_UV_ATTEMPTS: u8 = 3;

/// Why `performBuiltInUv` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UvFailure {
    /// Nobody answered in time (CTAP2_ERR_USER_ACTION_TIMEOUT).
    Timeout,
    /// The host cancelled (CTAP2_ERR_KEEPALIVE_CANCEL).
    Cancelled,
    /// Not recognised (the uvRetries counter says whether it is now blocked).
    NoMatch,
}

impl<S: CredentialStore, U: UserPresence, C: Clock, R: Rng> Authenticator<S, U, C, R> {
    /// Whether a configured built-in method can be used at all: it is blocked when its own
    /// retries are spent, and when the PIN is blocked (§6.5.2.2).
    pub(crate) fn built_in_uv_blocked(&mut self) -> Result<bool, Status> {
        if self.uv_retries == 0 {
            return Ok(true);
        }
        Ok(self.pin_is_set()? && self.state()?.pin_retries == 0)
    }

    /// `performBuiltInUv(internalRetry)`: one attempt, or with `internal_retry` up to
    /// [`MAX_INTERNAL_UV_ATTEMPTS`], each costing one of the uvRetries.
    pub(crate) fn perform_built_in_uv(
        &mut self,
        internal_retry: bool,
        purpose: PresencePurpose<'_>,
    ) -> Result<(), UvFailure> {
        let attempts = if internal_retry {
            MAX_INTERNAL_UV_ATTEMPTS
        } else {
            1
        };
        for _ in 0..attempts {
            if self.uv_retries == 0 {
                break;
            }
            self.uv_retries -= 1;
            match self.presence.verify_user(purpose.clone()) {
                Ok(UvMatch::Matched) => {
                    self.uv_retries = self.max_uv_retries();
                    self.uv_count_since_pin = self.uv_count_since_pin.saturating_add(1);
                    return Ok(());
                }
                Ok(UvMatch::NoMatch) | Err(PresenceDenied::Denied) => {}
                Err(PresenceDenied::Timeout) => {
                    // Nobody tried: the attempt is given back.
                    self.uv_retries += 1;
                    return Err(UvFailure::Timeout);
                }
                Err(PresenceDenied::Cancelled) => {
                    self.uv_retries += 1;
                    return Err(UvFailure::Cancelled);
                }
            }
        }
        Err(UvFailure::NoMatch)
    }

    /// maxUvRetries, clamped to the 1..=25 of §6.5.2.2.
    pub(crate) fn max_uv_retries(&self) -> u8 {
        self.config.max_uv_retries.clamp(1, 25)
    }

    /// The uvRetries counter (getUVRetries).
    pub fn uv_retries(&self) -> u8 {
        self.uv_retries
    }

    pub(crate) fn uv_failure_status(&mut self) -> Result<Status, Status> {
        if self.pin_is_set()? {
            Ok(Status::PuatRequired)
        } else if self.uv_retries == 0 {
            Ok(Status::PinBlocked)
        } else {
            Ok(Status::OperationDenied)
        }
    }

    /// clientPIN getUVRetries (§6.5.5.3).
    pub(crate) fn get_uv_retries(&mut self) -> Result<ClientPinResponse, Status> {
        if self.config.built_in_uv == BuiltInUv::Absent {
            return Err(Status::InvalidSubcommand);
        }
        Ok(ClientPinResponse {
            uv_retries: Some(u64::from(self.uv_retries)),
            ..ClientPinResponse::default()
        })
    }

    /// clientPIN getPinUvAuthTokenUsingUvWithPermissions (§6.5.5.7.3).
    pub(crate) fn token_using_uv(
        &mut self,
        req: &ClientPinRequest,
    ) -> Result<ClientPinResponse, Status> {
        if self.config.built_in_uv == BuiltInUv::Absent {
            return Err(Status::InvalidSubcommand);
        }
        // 1. Mandatory parameters.
        let (Some(_), Some(key), Some(permissions)) =
            (req.protocol, req.key_agreement.clone(), req.permissions)
        else {
            return Err(Status::MissingParameter);
        };
        // 2. A protocol we speak.
        let protocol = crate::pinproto::parse_protocol(req.protocol)?;
        // 3. No permissions at all.
        if permissions == 0 {
            return Err(Status::InvalidParameter);
        }
        // Undefined permission bits are ignored (step 14).
        let pcmr = Permissions::PERSISTENT_CREDENTIAL_MANAGEMENT_READ_ONLY;
        let defined = Permissions::MAKE_CREDENTIAL
            | Permissions::GET_ASSERTION
            | Permissions::CREDENTIAL_MANAGEMENT
            | Permissions::BIO_ENROLLMENT
            | Permissions::LARGE_BLOB_WRITE
            | Permissions::AUTHENTICATOR_CONFIG
            | pcmr;
        let permissions = u8::try_from(permissions & u64::from(defined)).unwrap_or(0);
        // 4. be needs uvBioEnroll and acfg needs uvAcfg: this authenticator has neither (cm,
        //    lbw and pcmr are allowed: credMgmt, largeBlobs and perCredMgmtRO are true); pcmr
        //    only alone (CTAP 2.2 §6.5.5.7).
        if permissions & (Permissions::BIO_ENROLLMENT | Permissions::AUTHENTICATOR_CONFIG) != 0
            || (permissions & pcmr != 0 && permissions != pcmr)
        {
            return Err(Status::UnauthorizedPermission);
        }
        // 5. A sensor with nobody enrolled.
        if self.config.built_in_uv == BuiltInUv::NotConfigured {
            return Err(Status::NotAllowed);
        }
        // 6.-7. One attempt per call when the platform retries; blocked when nothing is left.
        let internal_retry = self.config.preferred_platform_uv_attempts <= 1;
        if self.built_in_uv_blocked()? {
            return Err(Status::UvBlocked);
        }
        // The shared secret before the finger: a bad key must not cost an attempt.
        let shared = self.key_agreement.shared_secret(protocol, &key)?;
        // 9.-10. performBuiltInUv.
        match self.perform_built_in_uv(internal_retry, PresencePurpose::Other) {
            Ok(()) => {}
            Err(UvFailure::Timeout) => return Err(Status::UserActionTimeout),
            Err(UvFailure::Cancelled) => return Err(Status::KeepaliveCancel),
            Err(UvFailure::NoMatch) if self.uv_retries == 0 => return Err(Status::UvBlocked),
            Err(UvFailure::NoMatch) => return Err(Status::UvInvalid),
        }
        // pcmr: the persistent token, the ordinary one untouched (CTAP 2.2 §6.5.5.7).
        if permissions == pcmr {
            return self.issue_persistent_token(&shared);
        }
        // 12.-15. A new token, in use with the user present (a finger is a touch), with the
        // permissions and the RP ID asked for.
        let token = self.random32();
        self.token.reset(token);
        let now = self.now();
        self.token.begin_using(true, now);
        self.token.set_permissions(permissions, req.rp_id.clone());
        // 16. encrypt(shared secret, pinUvAuthToken).
        let encrypted = shared.encrypt(&mut self.rng, self.token.token().as_slice())?;
        Ok(ClientPinResponse {
            pin_uv_auth_token: Some(encrypted),
            ..ClientPinResponse::default()
        })
    }
}

/// An emulated fingerprint reader's answers to successive attempts: each is taken in order and
/// the last one repeats (an empty script never matches). `"match"`, `"no-match,no-match,match"`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UvScript {
    queue: std::collections::VecDeque<UvMatch>,
    last: Option<UvMatch>,
}

/// A script word that is neither `match` nor `no-match`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a fingerprint outcome: use match or no-match, separated by commas")]
pub struct UvScriptError(pub String);

impl UvScript {
    /// A reader answering `outcomes` in order, then the last one forever.
    pub fn new(outcomes: impl IntoIterator<Item = UvMatch>) -> Self {
        Self {
            queue: outcomes.into_iter().collect(),
            last: None,
        }
    }

    /// The next attempt's outcome.
    pub fn next_outcome(&mut self) -> UvMatch {
        if let Some(next) = self.queue.pop_front() {
            self.last = Some(next);
        }
        self.last.unwrap_or(UvMatch::NoMatch)
    }
}

impl std::str::FromStr for UvScript {
    type Err = UvScriptError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let outcomes = s
            .split(',')
            .map(str::trim)
            .map(|word| match word {
                "match" => Ok(UvMatch::Matched),
                "no-match" => Ok(UvMatch::NoMatch),
                other => Err(UvScriptError(other.to_owned())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(outcomes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_is_read_in_order_and_its_last_outcome_repeats() {
        let mut s: UvScript = "no-match, no-match,match".parse().unwrap();
        let got: Vec<UvMatch> = (0..5).map(|_| s.next_outcome()).collect();
        use UvMatch::{Matched, NoMatch};
        assert_eq!(got, [NoMatch, NoMatch, Matched, Matched, Matched]);
        assert_eq!(UvScript::default().next_outcome(), NoMatch);
        let err = "match,maybe".parse::<UvScript>().unwrap_err();
        assert_eq!(err, UvScriptError("maybe".into()));
    }
}
