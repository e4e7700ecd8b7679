//! What the authenticator needs from its surroundings: time, randomness and the user.

/// Milliseconds on a monotonic clock that starts at the authenticator's power-up.
///
/// Injected so that token lifetimes, the reset window and timeouts are testable without sleeping.
pub trait Clock {
    /// Milliseconds since this authenticator was powered up (monotonic, never goes back).
    fn now_ms(&self) -> u64;
    /// Seconds since the Unix epoch, for creation timestamps only (never for security decisions).
    fn unix_time(&self) -> u64;
}

/// A cryptographically secure random number generator.
pub trait Rng {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);

    /// Fills `buf` with random bytes that will be published, never kept secret (credential
    /// IDs, which every relying party and client sees). A generator may serve these from a
    /// buffer it refills in bulk; secrets (keys, tokens, nonces) always come from
    /// [`Rng::fill`]. By default the same as [`Rng::fill`], so an injected generator's sequence
    /// is unchanged.
    fn fill_public(&mut self, buf: &mut [u8]) {
        self.fill(buf);
    }

    /// Whether this is the operating system's generator, which aws-lc also draws from. Software
    /// ECDSA keys are then made by aws-lc's own key generation (one base-point multiplication)
    /// instead of from a scalar drawn here (two: aws-lc computes the public key and tests the
    /// pair); an injected generator (`false`, the default) keeps keys reproducible in tests.
    /// See `softkey`.
    fn is_system(&self) -> bool {
        false
    }
}

/// Why the user did not confirm presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceDenied {
    /// The user refused (CTAP2_ERR_OPERATION_DENIED).
    Denied,
    /// Nobody answered in time (CTAP2_ERR_USER_ACTION_TIMEOUT).
    Timeout,
    /// The client cancelled the request (CTAP2_ERR_KEEPALIVE_CANCEL).
    Cancelled,
}

/// What the user is asked to confirm, shown by prompts that can display it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresencePurpose<'a> {
    /// Registering a credential for this RP.
    MakeCredential {
        rp_id: &'a str,
        user_name: Option<&'a str>,
    },
    /// Signing in to this RP.
    GetAssertion { rp_id: &'a str },
    /// authenticatorSelection: "touch the key you want to use".
    Selection,
    /// authenticatorReset: wipes every credential.
    Reset,
    /// A U2F register or authenticate.
    U2f,
    /// Any other command that needs a touch (credential management, config, large blobs).
    Other,
}

/// What a built-in user verification attempt found (CTAP 2.1 `performBuiltInUv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UvMatch {
    /// The enrolled user was recognised.
    Matched,
    /// Someone tried and was not recognised (costs one of the uvRetries).
    NoMatch,
}

/// Asks the user to prove presence (a touch, a click).
///
/// Implementations may block; a transport driver that must keep answering (CTAPHID keepalives,
/// CANCEL) runs the authenticator on its own thread and makes `cancelled` visible here.
pub trait UserPresence {
    /// Asks for presence; returns when the user answered, the request was cancelled, or it timed out.
    fn request_presence(&mut self, purpose: PresencePurpose<'_>) -> Result<(), PresenceDenied>;

    /// One attempt of the built-in user verification method (a finger on the reader), asked
    /// only when [`crate::config::Config::built_in_uv`] is configured. A match is also evidence
    /// of the user's presence. Without a sensor nothing ever matches.
    fn verify_user(&mut self, purpose: PresencePurpose<'_>) -> Result<UvMatch, PresenceDenied> {
        let _ = purpose;
        Ok(UvMatch::NoMatch)
    }
}
