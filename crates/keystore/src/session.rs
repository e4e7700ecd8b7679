//! Session unlock: one Argon2id per session, the PIN still checked at every verification.
//!
//! A keyring's model (SECURITY.md, "Sessions"): the first right PIN pays the slow unwrap of the
//! master key; the key then stays in memory, with a verifier of the PIN, until the session ends.
//! Each later `verify_pin` compares the PIN against that verifier (one HMAC-SHA-256) instead of
//! running Argon2id again, and unlocks the same key. The session ends after `idle` without a
//! successful verification (measured on the boot clock, which keeps counting while the machine
//! is suspended), at the first wrong PIN, when the PIN changes or the store is wiped, on
//! [`Sessions::end`] (screen lock, suspend), and when the store is dropped. The authenticator
//! core's `lock()` is not an end: it locks the store (nothing signs until the next right PIN)
//! and leaves the session alone.

use std::time::Duration;

use aws_lc_rs::{constant_time, hmac};
use latchkey_authenticator::store::PinHash;
use zeroize::Zeroizing;

use crate::crypto::MasterKey;

/// Domain separation for the verifier: no other MAC under the master key has this prefix.
const VERIFIER_LABEL: &[u8] = b"latchkey-keystore/session-pin/v1";

/// How long a session lasts without a successful verification, by default.
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(5 * 60);

/// A monotonic clock that counts time spent suspended.
pub(crate) type Clock = fn() -> Duration;

/// `CLOCK_BOOTTIME`: unlike `CLOCK_MONOTONIC` (what `std::time::Instant` reads), it keeps
/// counting through suspend, so a laptop closed for longer than the idle time wakes up locked.
pub(crate) fn boot_clock() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// What a live session says about a PIN.
pub(crate) enum Check {
    /// No live session: the slow path decides.
    NoSession,
    /// The session's PIN: its master key.
    Right(MasterKey),
    /// Not the session's PIN (the session has ended).
    Wrong,
}

struct Session {
    key: MasterKey,
    /// HMAC-SHA-256(master key, label ‖ PinHash).
    verifier: Zeroizing<[u8; 32]>,
    last_verified: Duration,
}

fn verifier(key: &MasterKey, pin: &PinHash) -> Zeroizing<[u8; 32]> {
    let mac_key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    let mut ctx = hmac::Context::with_key(&mac_key);
    ctx.update(VERIFIER_LABEL);
    ctx.update(&pin.0);
    let tag = ctx.sign();
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(tag.as_ref());
    out
}

/// The store's session, if sessions are enabled.
pub(crate) struct Sessions {
    /// `None`: no sessions, every verification pays the slow path.
    idle: Option<Duration>,
    pub(crate) clock: Clock,
    current: Option<Session>,
}

impl Sessions {
    pub(crate) fn new(idle: Option<Duration>) -> Self {
        Sessions {
            idle,
            clock: boot_clock,
            current: None,
        }
    }

    /// Ends the session if it has been idle too long; `true` if one was live before and is not
    /// now.
    pub(crate) fn expire(&mut self) -> bool {
        let (Some(idle), Some(s)) = (self.idle, &self.current) else {
            return false;
        };
        if (self.clock)().saturating_sub(s.last_verified) >= idle {
            self.current = None;
            return true;
        }
        false
    }

    /// Checks `pin` against the live session. A right PIN renews it; a wrong one ends it, so the
    /// next attempt pays the slow path again.
    pub(crate) fn check(&mut self, pin: &PinHash) -> Check {
        self.expire();
        let Some(s) = &mut self.current else {
            return Check::NoSession;
        };
        let candidate = verifier(&s.key, pin);
        if constant_time::verify_slices_are_equal(candidate.as_slice(), s.verifier.as_slice())
            .is_ok()
        {
            s.last_verified = (self.clock)();
            Check::Right(s.key.clone())
        } else {
            self.current = None;
            Check::Wrong
        }
    }

    /// Starts a session after the slow path accepted `pin` (no-op when sessions are off).
    pub(crate) fn start(&mut self, key: &MasterKey, pin: &PinHash) {
        if self.idle.is_none() {
            return;
        }
        self.current = Some(Session {
            key: key.clone(),
            verifier: verifier(key, pin),
            last_verified: (self.clock)(),
        });
    }

    /// Ends the session now (its key and verifier are zeroised on drop).
    pub(crate) fn end(&mut self) {
        self.current = None;
    }

    /// How long the live session has left before it is idle too long (zero when it is due);
    /// `None` without a live session or without sessions.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        let (Some(idle), Some(s)) = (self.idle, &self.current) else {
            return None;
        };
        let idle_for = (self.clock)().saturating_sub(s.last_verified);
        Some(idle.saturating_sub(idle_for))
    }

    /// Whether a session is live (it may still have to expire).
    pub(crate) fn is_live(&self) -> bool {
        self.current.is_some()
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
