//! The PIN retry rules of CTAP 2.1 §6.5.5: 8 tries in total, kept across power cycles, and at
//! most 3 consecutive mismatches per power cycle.
//!
//! The persistent counter (`pinRetries`) lives in [`crate::store::PersistentState`]; the per-boot
//! mismatch counter lives here and is cleared by a power cycle.

use crate::status::Status;

/// pinRetries after a PIN is set, or after a right PIN.
pub const MAX_PIN_RETRIES: u8 = 8;
/// Consecutive mismatches after which the PIN is blocked until the next power cycle.
pub const MAX_CONSECUTIVE_MISMATCHES: u8 = 3;

/// The volatile half of the retry rules.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RetryGate {
    consecutive_mismatches: u8,
}

impl RetryGate {
    /// Whether a PIN may be tried at all, given the persistent `pin_retries`.
    ///
    /// `PIN_BLOCKED` when no tries are left; `PIN_AUTH_BLOCKED` after 3 consecutive mismatches in
    /// this power cycle.
    pub fn check(&self, pin_retries: u8) -> Result<(), Status> {
        if pin_retries == 0 {
            return Err(Status::PinBlocked);
        }
        if self.consecutive_mismatches >= MAX_CONSECUTIVE_MISMATCHES {
            return Err(Status::PinAuthBlocked);
        }
        Ok(())
    }

    /// Records a mismatch; `pin_retries_left` is the persistent counter after its decrement.
    /// Returns the status the command fails with.
    pub fn mismatch(&mut self, pin_retries_left: u8) -> Status {
        if pin_retries_left == 0 {
            return Status::PinBlocked;
        }
        self.consecutive_mismatches = self.consecutive_mismatches.saturating_add(1);
        if self.consecutive_mismatches >= MAX_CONSECUTIVE_MISMATCHES {
            Status::PinAuthBlocked
        } else {
            Status::PinInvalid
        }
    }

    /// Records a right PIN.
    pub fn matched(&mut self) {
        self.consecutive_mismatches = 0;
    }

    /// Whether a power cycle is needed before the next try (getPINRetries' powerCycleState).
    pub fn power_cycle_needed(&self) -> bool {
        self.consecutive_mismatches >= MAX_CONSECUTIVE_MISMATCHES
    }
}

#[cfg(test)]
mod tests;
