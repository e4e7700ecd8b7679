//! One prompt at a time: a bounded FIFO of requests waiting for the user.
//!
//! `tokio::sync::Semaphore` is fair (first come, first served), so waiting requests get the prompt
//! in arrival order. The bound counts waiting and running requests together; a request beyond it
//! is refused at once (`NotAllowedError`) rather than queued.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The prompt queue.
#[derive(Debug, Clone)]
pub struct PromptQueue {
    slot: Arc<Semaphore>,
    inside: Arc<AtomicUsize>,
    capacity: usize,
}

/// A place in the queue; leaving (drop) frees it.
#[derive(Debug)]
pub struct Ticket {
    slot: Arc<Semaphore>,
    inside: Arc<AtomicUsize>,
}

/// The prompt is this request's until dropped.
#[derive(Debug)]
pub struct Turn {
    _permit: OwnedSemaphorePermit,
}

/// The queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many requests are waiting for the prompt")]
pub struct QueueFull;

impl PromptQueue {
    /// A queue holding at most `capacity` requests (waiting + running).
    pub fn new(capacity: usize) -> Self {
        Self {
            slot: Arc::new(Semaphore::new(1)),
            inside: Arc::new(AtomicUsize::new(0)),
            capacity,
        }
    }

    /// Joins the queue, or fails at once when it is full.
    pub fn enter(&self) -> Result<Ticket, QueueFull> {
        let cap = self.capacity;
        self.inside
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            })
            .map_err(|_| QueueFull)?;
        Ok(Ticket {
            slot: self.slot.clone(),
            inside: self.inside.clone(),
        })
    }

    /// Requests in the queue (waiting + running).
    pub fn len(&self) -> usize {
        self.inside.load(Ordering::Acquire)
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
        self.inside.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_fifo() {
        let q = PromptQueue::new(3);
        let a = q.enter().unwrap();
        let b = q.enter().unwrap();
        let c = q.enter().unwrap();
        assert_eq!(q.enter().unwrap_err(), QueueFull);
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
        assert!(q.enter().is_ok());
    }
}
