//! One subscription per chosen prompt to its `Cancelled` signal, shared by the requests it asks.
//!
//! A match rule per ceremony costs a call to the bus daemon (`AddMatch`, a round trip as long as
//! the request's own method call) before the ceremony may start, and a `RemoveMatch` after it.
//! The trusted prompt is kept across requests ([`super::ChosenPrompt::version`] is kept with it
//! too), so its `Cancelled` is subscribed to once, at the first ceremony that listens, and one
//! task hands each signal to the requests waiting on its request ID. The subscription ends with
//! the last clone of the chosen prompt (the task is aborted, which drops the match rule).
//!
//! As before, a ceremony hears the cancels emitted after it started listening: the subscription
//! exists before [`Cancels::waiter`] registers, and a waiter registers before the ceremony runs.
//! The proxy's destination is the prompt's unique name, so the match rule and zbus take the
//! signal from that sender only.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_lite::StreamExt as _;
use latchkey_prompt::Prompt1Proxy;
use tokio::sync::oneshot;

/// Each waiting ceremony's registration number → (its request ID, where the cancel goes).
type Waiting = Arc<Mutex<HashMap<u64, (String, oneshot::Sender<()>)>>>;

/// The `Cancelled` signals of one prompt, routed to the requests waiting for them.
pub(crate) struct Cancels {
    waiting: Waiting,
    next: AtomicU64,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Cancels {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Cancels {
    /// Subscribes to `proxy`'s `Cancelled` (one `AddMatch`) and starts routing it.
    pub(crate) async fn listen(proxy: &Prompt1Proxy<'static>) -> zbus::Result<Self> {
        let mut stream = proxy.receive_cancelled().await?;
        let waiting: Waiting = Arc::default();
        let routes = Arc::clone(&waiting);
        let task = tokio::spawn(async move {
            while let Some(signal) = stream.next().await {
                // A signal whose arguments do not read cancels nothing.
                let Ok(args) = signal.args() else { continue };
                route(&routes, &args.request_id);
            }
            // The prompt left the bus: no cancel can come any more, and the waiters wait on
            // (each is removed by its own drop).
        });
        Ok(Self::with_task(waiting, Some(task)))
    }

    fn with_task(waiting: Waiting, task: Option<tokio::task::JoinHandle<()>>) -> Self {
        Self {
            waiting,
            next: AtomicU64::new(0),
            task,
        }
    }

    /// A future that resolves when the prompt cancels `request_id` (from now on); dropping it
    /// stops waiting.
    pub(crate) fn waiter(&self, request_id: &str) -> Waiter {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.waiting).insert(number, (request_id.to_owned(), tx));
        Waiter {
            waiting: Arc::clone(&self.waiting),
            number,
            rx,
        }
    }
}

/// Wakes every waiter of `request_id` (each is woken once: its sender is taken out).
fn route(waiting: &Waiting, request_id: &str) {
    let mut waiting = lock(waiting);
    let hit: Vec<u64> = waiting
        .iter()
        .filter(|(_, (id, _))| id == request_id)
        .map(|(n, _)| *n)
        .collect();
    for n in hit {
        if let Some((_, tx)) = waiting.remove(&n) {
            let _ = tx.send(());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Resolves when its request was cancelled; never otherwise. Unregisters itself when dropped.
pub(crate) struct Waiter {
    waiting: Waiting,
    number: u64,
    rx: oneshot::Receiver<()>,
}

impl Future for Waiter {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(()),
            // The sender went without a cancel (the subscription ended): never resolves.
            Poll::Ready(Err(_)) | Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        lock(&self.waiting).remove(&self.number);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn ready(w: &mut Waiter) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        Pin::new(w).poll(&mut cx).is_ready()
    }

    #[test]
    fn a_cancel_wakes_only_the_waiters_of_its_request_once() {
        let cancels = Cancels::with_task(Waiting::default(), None);
        let mut a = cancels.waiter("req-a");
        let mut a_again = cancels.waiter("req-a");
        let mut b = cancels.waiter("req-b");
        assert!(!ready(&mut a) && !ready(&mut b));

        route(&cancels.waiting, "req-a");
        assert!(ready(&mut a));
        assert!(ready(&mut a_again));
        assert!(!ready(&mut b), "another request's cancel woke b");
        // Woken waiters are no longer registered; b still is.
        assert_eq!(lock(&cancels.waiting).len(), 1);

        // A cancel for a request nobody waits on, or one already routed, changes nothing.
        route(&cancels.waiting, "req-a");
        route(&cancels.waiting, "req-z");
        assert!(!ready(&mut b));
        route(&cancels.waiting, "req-b");
        assert!(ready(&mut b));
    }

    #[test]
    fn a_dropped_waiter_unregisters_and_a_later_one_hears_only_later_cancels() {
        let cancels = Cancels::with_task(Waiting::default(), None);
        let first = cancels.waiter("req-1");
        assert_eq!(lock(&cancels.waiting).len(), 1);
        drop(first);
        assert!(lock(&cancels.waiting).is_empty());

        // A cancel routed before a waiter registered is not kept for it.
        route(&cancels.waiting, "req-2");
        let mut second = cancels.waiter("req-2");
        assert!(!ready(&mut second));
        route(&cancels.waiting, "req-2");
        assert!(ready(&mut second));
    }

    #[test]
    fn a_waiter_whose_subscription_ended_never_resolves() {
        let cancels = Cancels::with_task(Waiting::default(), None);
        let mut w = cancels.waiter("req");
        // The sender dropped without a cancel (as if the routes were cleared).
        lock(&cancels.waiting).clear();
        assert!(!ready(&mut w));
    }
}
