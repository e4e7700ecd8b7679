//! [`CancelToken`]: one request's cancellation, shared by latchkeyd (which cancels it when the
//! caller closes the request, leaves the bus or times out) and the back-end running the
//! ceremony. A back-end that drives a device links the device's [`CancelHandle`] for as long as
//! the ceremony holds the device ([`CancelToken::link`]); an async one awaits
//! [`CancelToken::cancelled`]. This is the one place that knows which ceremony a device's cancel
//! belongs to: a link ends when its guard drops, so a late cancel never reaches the next
//! ceremony on the same device.

use std::sync::{Arc, Mutex, PoisonError};

use latchkey_client::CancelHandle;
use tokio::sync::watch;

/// A callback run once, when the request is cancelled.
type Hook = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Links {
    cancelled: bool,
    next: u64,
    handles: Vec<(u64, CancelHandle)>,
    hooks: Vec<Hook>,
}

/// One request's cancellation (module doc). Clones share it.
#[derive(Clone)]
pub struct CancelToken {
    links: Arc<Mutex<Links>>,
    signal: Arc<watch::Sender<bool>>,
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl CancelToken {
    /// A token not cancelled yet.
    pub fn new() -> Self {
        Self {
            links: Arc::default(),
            signal: Arc::new(watch::channel(false).0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Links> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Cancels the request: every linked device handle now, and whoever awaits
    /// [`Self::cancelled`]. Later calls do nothing more.
    pub fn cancel(&self) {
        let mut links = self.lock();
        if links.cancelled {
            return;
        }
        links.cancelled = true;
        for (_, handle) in &links.handles {
            handle.cancel();
        }
        let hooks = std::mem::take(&mut links.hooks);
        drop(links);
        for hook in hooks {
            hook();
        }
        self.signal.send_replace(true);
    }

    /// Runs `hook` when the request is cancelled (at once if it is already).
    pub fn on_cancel(&self, hook: impl FnOnce() + Send + 'static) {
        let mut links = self.lock();
        if links.cancelled {
            drop(links);
            hook();
        } else {
            links.hooks.push(Box::new(hook));
        }
    }

    /// Whether [`Self::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.lock().cancelled
    }

    /// Resolves once the request is cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.signal.subscribe();
        // The sender lives as long as this token, so the wait ends only by cancellation.
        let _ = rx.wait_for(|cancelled| *cancelled).await;
    }

    /// Lets this request's cancellation cancel `handle` until the returned guard drops (at
    /// once if the request is cancelled already).
    pub fn link(&self, handle: &CancelHandle) -> Link {
        let mut links = self.lock();
        if links.cancelled {
            handle.cancel();
        }
        let id = links.next;
        links.next += 1;
        links.handles.push((id, handle.clone()));
        Link {
            token: self.clone(),
            id,
        }
    }
}

/// A device's cancel handle linked to a request ([`CancelToken::link`]); unlinked on drop.
#[must_use = "the link ends when this guard drops"]
pub struct Link {
    token: CancelToken,
    id: u64,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.token.lock().handles.retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests;
