//! Bounds on the calls that run on blocking threads outside the prompt queue (management and
//! signals): how many at once, how many per caller, how long one may wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use latchkey_api::Error;

use crate::queue::CallerKey;

/// Bounds on management and signal calls (`ListCredentials`, `DeleteCredential`, `Signal*`).
/// Each runs on a blocking thread that may wait for the platform authenticator, which a ceremony
/// can hold for minutes (waiting for a PIN): without a bound a flooding caller could take every
/// blocking thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Such calls running at once, all callers together.
    pub total: usize,
    /// Such calls running at once for one caller ([`crate::queue::caller_key`]); more are
    /// refused at once.
    pub per_caller: usize,
    /// How long a call may wait (for its turn, then for the authenticator) before it fails as
    /// busy. A call that timed out keeps its place until its thread finishes.
    pub wait: Duration,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self {
            total: 4,
            per_caller: 2,
            wait: Duration::from_secs(5),
        }
    }
}

/// Why a management or signal call did not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// The caller already has its share of calls running.
    #[error("latchkeyd is busy: this caller already has {0} such calls running; retry later")]
    CallerShare(usize),
    /// The call did not finish within the bounded wait.
    #[error(
        "latchkeyd is busy: the authenticator did not become free within {} ms (a ceremony may be waiting for the user); retry later",
        .0.as_millis()
    )]
    Timeout(Duration),
}

/// Admission for management and signal calls (see [`CallLimits`]).
pub(crate) struct CallLimiter {
    state: Mutex<(CallLimits, Arc<tokio::sync::Semaphore>)>,
    by_caller: Arc<Mutex<HashMap<CallerKey, usize>>>,
}

/// A running management or signal call; dropping it frees its place.
pub(crate) struct CallPermit {
    _slot: tokio::sync::OwnedSemaphorePermit,
    _share: CallShare,
}

struct CallShare {
    by_caller: Arc<Mutex<HashMap<CallerKey, usize>>>,
    caller: CallerKey,
}

impl Drop for CallShare {
    fn drop(&mut self) {
        let mut map = self
            .by_caller
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.caller) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.caller);
            }
        }
    }
}

impl CallLimiter {
    pub(crate) fn new(limits: CallLimits) -> Self {
        Self {
            state: Mutex::new((limits, Arc::new(tokio::sync::Semaphore::new(limits.total)))),
            by_caller: Arc::default(),
        }
    }

    pub(crate) fn set(&self, limits: CallLimits) {
        let limits = CallLimits {
            total: limits.total.max(1),
            per_caller: limits.per_caller.max(1),
            wait: limits.wait,
        };
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) =
            (limits, Arc::new(tokio::sync::Semaphore::new(limits.total)));
    }

    /// Runs `work` on a blocking thread for `caller` within the limits: refused at once beyond the
    /// caller's share, [`Busy::Timeout`] when it does not finish within the wait (the thread then
    /// keeps its place until it is done).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        caller: CallerKey,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Result<T, tokio::task::JoinError>, Busy> {
        let (limits, slots) = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let share = {
            let mut map = self
                .by_caller
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let mine = map.entry(caller.clone()).or_insert(0);
            if *mine >= limits.per_caller {
                return Err(Busy::CallerShare(limits.per_caller));
            }
            *mine += 1;
            CallShare {
                by_caller: self.by_caller.clone(),
                caller,
            }
        };
        let deadline = tokio::time::Instant::now() + limits.wait;
        let slot = match tokio::time::timeout_at(deadline, slots.acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            // The semaphore is never closed; a replaced one still admits.
            Ok(Err(_)) | Err(_) => return Err(Busy::Timeout(limits.wait)),
        };
        let permit = CallPermit {
            _slot: slot,
            _share: share,
        };
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        });
        tokio::time::timeout_at(deadline, task)
            .await
            .map_err(|_| Busy::Timeout(limits.wait))
    }

    /// [`Self::run`] for a D-Bus method: a call that did not run is `…Error.Busy`, one whose
    /// thread failed (`work` panicked) is `…Error.Failed`, naming the thread by `what`.
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        caller: CallerKey,
        what: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        match self.run(caller, work).await {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(e)) => Err(Error::Failed(format!("the {what} thread failed: {e}"))),
            Err(busy) => Err(Error::Busy(busy.to_string())),
        }
    }
}

#[cfg(test)]
mod tests;
