//! One subscription per connection for every request's `Response`.
//!
//! A match rule per request costs two calls to the bus daemon (`AddMatch` before the request,
//! `RemoveMatch` after it), each a round trip as long as the request's own method call. Instead,
//! the first request on a connection subscribes once to `Response` under the connection's own
//! handle prefix (`/dev/latchkey/Credentials/request/SENDER`, `path_namespace`), and one task
//! hands each signal to the request waiting on its path. A request registers its predicted path
//! *before* calling, so no `Response` can arrive unclaimed. Only a `Response` whose sender is the
//! verified latchkeyd ([`crate::latchkeyd`]) is taken: any peer can emit a signal with any path,
//! and one that watched the request go by could otherwise answer it first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures_lite::StreamExt as _;
use tokio::sync::oneshot;
use zbus::message::Message;
use zbus::names::OwnedUniqueName;
use zbus::zvariant::OwnedObjectPath;
use zbus::{Connection, MatchRule, MessageStream};

use super::ClientError;

/// Each waiting request's path → (its registration number, where its `Response` goes).
type Waiting = Arc<Mutex<HashMap<OwnedObjectPath, (u64, oneshot::Sender<Message>)>>>;

/// Routes `Response` signals on one connection to the requests waiting for them.
pub(super) struct Responses {
    waiting: Waiting,
    next: std::sync::atomic::AtomicU64,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Responses {
    fn drop(&mut self) {
        // Ends the subscription with the last clone of the client.
        self.task.abort();
    }
}

impl Responses {
    /// Subscribes to `Response` under `prefix` (the connection's own handle prefix), from
    /// whichever unique name `latchkeyd` holds when a signal arrives.
    pub(super) async fn subscribe(
        conn: &Connection,
        prefix: &str,
        latchkeyd: Arc<Mutex<Option<OwnedUniqueName>>>,
    ) -> Result<Self, ClientError> {
        let rule = MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface(crate::names::REQUEST_INTERFACE)?
            .member("Response")?
            .path_namespace(prefix.to_owned())?
            .build();
        // Queue room for many requests in flight at once; the task drains it promptly.
        let mut stream = MessageStream::for_match_rule(rule, conn, Some(256)).await?;
        let waiting: Waiting = Arc::default();
        let routes = Arc::clone(&waiting);
        let task = tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                // One unreadable message is that message's loss, not every request's.
                let Ok(msg) = item else { continue };
                let from_latchkeyd = {
                    let owner = latchkeyd.lock().unwrap_or_else(PoisonError::into_inner);
                    match (owner.as_ref(), msg.header().sender()) {
                        (Some(owner), Some(sender)) => owner.as_str() == sender.as_str(),
                        _ => false,
                    }
                };
                if !from_latchkeyd {
                    // Another peer's signal: a forgery, or a latchkeyd that has been replaced.
                    continue;
                }
                let Some(path) = msg
                    .header()
                    .path()
                    .map(|p| OwnedObjectPath::from(p.clone()))
                else {
                    continue;
                };
                let waiter = routes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&path);
                if let Some((_, tx)) = waiter {
                    // The request may have been dropped meanwhile; nothing is waiting then.
                    let _ = tx.send(msg);
                }
            }
            // The connection is gone: every waiting request learns it has no response.
            routes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        });
        Ok(Responses {
            waiting,
            next: std::sync::atomic::AtomicU64::new(0),
            task,
        })
    }

    /// Registers `path`, before the call that creates it; the receiver gets its `Response`.
    pub(super) fn expect(&self, path: OwnedObjectPath) -> Result<Waiter, ClientError> {
        let (tx, rx) = oneshot::channel();
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        if self.task.is_finished() {
            return Err(ClientError::NoResponse);
        }
        if waiting.contains_key(&path) {
            return Err(ClientError::Method {
                name: "dev.latchkey.Credentials1.Error.HandleInUse".into(),
                message: format!("a request with handle {} is already waiting", path.as_str()),
            });
        }
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        waiting.insert(path.clone(), (id, tx));
        Ok(Waiter {
            rx,
            id,
            path,
            waiting: Arc::clone(&self.waiting),
        })
    }
}

/// One request's claim on its `Response`; dropping it withdraws the claim.
pub(super) struct Waiter {
    rx: oneshot::Receiver<Message>,
    id: u64,
    path: OwnedObjectPath,
    waiting: Waiting,
}

impl Waiter {
    /// Waits for the `Response`.
    pub(super) async fn response(&mut self) -> Result<Message, ClientError> {
        (&mut self.rx).await.map_err(|_| ClientError::NoResponse)
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        // Only this request's own claim: a later request may reuse the handle token.
        if waiting
            .get(&self.path)
            .is_some_and(|(id, _)| *id == self.id)
        {
            waiting.remove(&self.path);
        }
    }
}
