//! One prompt at a time: a bounded FIFO of requests waiting for the user, with a share per caller.
//!
//! `tokio::sync::Semaphore` is fair (first come, first served), so waiting requests get the prompt
//! in arrival order. The bound counts waiting and running requests together; a request beyond it
//! is refused at once (`NotAllowedError`) rather than queued.
//!
//! No caller may hold more than its share of the queue ([`default_per_caller`]: an eighth of it,
//! at least 4), so one app flooding latchkeyd cannot keep everyone else from the prompt: its
//! excess requests are refused at once while other callers still get in. A caller is a
//! [`CallerKey`]: a sandboxed app (all its processes), else one process (all its bus
//! connections) — never something the caller names itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Who a request counts against, from the kernel-backed identity (see `request::caller_key`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallerKey(String);

impl CallerKey {
    /// A key; equal keys share one share of the queue.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }
    /// The key text (for logs).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The share of a queue of `capacity` one caller may hold: `max(4, capacity / 8)`, never more
/// than the capacity itself.
pub fn default_per_caller(capacity: usize) -> usize {
    (capacity / 8).max(4).min(capacity)
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_caller: HashMap<CallerKey, usize>,
}

/// The prompt queue.
#[derive(Debug, Clone)]
pub struct PromptQueue {
    slot: Arc<Semaphore>,
    counts: Arc<Mutex<Counts>>,
    capacity: usize,
    per_caller: Arc<AtomicUsize>,
}

/// A place in the queue; leaving (drop) frees it.
#[derive(Debug)]
pub struct Ticket {
    slot: Arc<Semaphore>,
    counts: Arc<Mutex<Counts>>,
    caller: CallerKey,
}

/// The prompt is this request's until dropped.
#[derive(Debug)]
pub struct Turn {
    _permit: OwnedSemaphorePermit,
}

/// Why a request was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueueRefused {
    /// The queue is full.
    #[error("too many requests are waiting for the prompt")]
    Full,
    /// This caller already holds its share of the queue.
    #[error(
        "this caller already has {0} requests waiting for the prompt, the most one caller may \
         have; let them finish (or close them) first"
    )]
    CallerShare(usize),
}

impl PromptQueue {
    /// A queue holding at most `capacity` requests (waiting + running), at most
    /// [`default_per_caller`] of them from one caller.
    pub fn new(capacity: usize) -> Self {
        Self {
            slot: Arc::new(Semaphore::new(1)),
            counts: Arc::default(),
            capacity,
            per_caller: Arc::new(AtomicUsize::new(default_per_caller(capacity))),
        }
    }

    /// Sets the most requests one caller may have queued (at least 1).
    pub fn set_per_caller(&self, limit: usize) {
        self.per_caller.store(limit.max(1), Ordering::Release);
    }

    /// The most requests one caller may have queued.
    pub fn per_caller(&self) -> usize {
        self.per_caller.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins the queue for `caller`, or fails at once when the queue is full or the caller holds
    /// its share.
    pub fn enter(&self, caller: CallerKey) -> Result<Ticket, QueueRefused> {
        let share = self.per_caller();
        let mut counts = self.lock();
        if counts.total >= self.capacity {
            return Err(QueueRefused::Full);
        }
        let mine = counts.by_caller.entry(caller.clone()).or_insert(0);
        if *mine >= share {
            return Err(QueueRefused::CallerShare(share));
        }
        *mine += 1;
        counts.total += 1;
        Ok(Ticket {
            slot: self.slot.clone(),
            counts: self.counts.clone(),
            caller,
        })
    }

    /// Requests in the queue (waiting + running).
    pub fn len(&self) -> usize {
        self.lock().total
    }

    /// Requests `caller` has in the queue.
    pub fn len_of(&self, caller: &CallerKey) -> usize {
        self.lock().by_caller.get(caller).copied().unwrap_or(0)
    }

    /// Whether no request is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Ticket {
    /// Waits until the prompt is free for this request.
    pub async fn turn(&self) -> Option<Turn> {
        self.slot
            .clone()
            .acquire_owned()
            .await
            .ok()
            .map(|p| Turn { _permit: p })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.by_caller.get_mut(&self.caller) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.by_caller.remove(&self.caller);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> CallerKey {
        CallerKey::new(s)
    }

    #[tokio::test]
    async fn bounded_fifo() {
        let q = PromptQueue::new(3);
        q.set_per_caller(3);
        let a = q.enter(key("a")).unwrap();
        let b = q.enter(key("a")).unwrap();
        let c = q.enter(key("b")).unwrap();
        assert_eq!(q.enter(key("c")).unwrap_err(), QueueRefused::Full);
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let ta = a.turn().await.unwrap();
        let mut handles = Vec::new();
        for (name, t) in [("b", b), ("c", c)] {
            let order = order.clone();
            handles.push(tokio::spawn(async move {
                let _turn = t.turn().await.unwrap();
                order.lock().unwrap().push(name);
            }));
            tokio::task::yield_now().await;
        }
        assert!(order.lock().unwrap().is_empty());
        drop(ta);
        drop(a);
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec!["b", "c"]);
        assert!(q.is_empty());
        assert!(q.enter(key("a")).is_ok());
    }

    #[test]
    fn default_share_is_an_eighth_but_at_least_four() {
        assert_eq!(default_per_caller(64), 8);
        assert_eq!(default_per_caller(16), 4);
        assert_eq!(default_per_caller(100), 12);
        assert_eq!(default_per_caller(2), 2);
        assert_eq!(PromptQueue::new(64).per_caller(), 8);
    }

    #[test]
    fn one_caller_cannot_take_more_than_its_share() {
        let q = PromptQueue::new(16);
        let mut flood: Vec<Ticket> = (0..4).map(|_| q.enter(key("flood")).unwrap()).collect();
        assert_eq!(
            q.enter(key("flood")).unwrap_err(),
            QueueRefused::CallerShare(4)
        );
        assert!(QueueRefused::CallerShare(4)
            .to_string()
            .contains("4 requests"));
        // Others still get in, and the flooder gets a place back as soon as one of its leaves.
        let other = q.enter(key("other")).unwrap();
        assert_eq!(q.len(), 5);
        assert_eq!(q.len_of(&key("flood")), 4);
        drop(flood.pop());
        assert_eq!(q.len_of(&key("flood")), 3);
        let again = q.enter(key("flood")).unwrap();
        drop((other, again, flood));
        assert_eq!(q.len_of(&key("other")), 0);
        q.set_per_caller(0);
        assert_eq!(q.per_caller(), 1);
    }
}
