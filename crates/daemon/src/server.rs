//! Starting latchkeyd on a bus: the shared state, the `dev.latchkey.Credentials` name, and the
//! watcher that cancels the requests of callers who leave the bus (`NameOwnerChanged`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_lite::StreamExt as _;
use tokio::sync::watch;
use zbus::names::OwnedUniqueName;
use zbus::zvariant::OwnedObjectPath;
use zbus::Connection;

use crate::authenticators::{Authenticators, RequestId};
use crate::identity::cache::IdentityCache;
use crate::policy::Policy;
use crate::prompt::ChosenPrompt;
use crate::queue::{CallerKey, PromptQueue};
use crate::related::RelatedOrigins;
use crate::service::CredentialsService;

pub use latchkey_api::{API_VERSION, BUS_NAME, OBJECT_PATH};

/// Bounds for a request's `timeout` (WebAuthn L3 §15.1 recommends 5–10 minutes for UV).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Shortest allowed.
    pub min: Duration,
    /// Longest allowed.
    pub max: Duration,
    /// When the options give none.
    pub default: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            min: Duration::from_secs(30),
            max: Duration::from_secs(600),
            default: Duration::from_secs(300),
        }
    }
}

impl Timeouts {
    /// The timeout for a request whose options asked for `ms` milliseconds.
    pub fn clamp(&self, ms: Option<u64>) -> Duration {
        ms.map_or(self.default, |ms| {
            Duration::from_millis(ms).clamp(self.min, self.max)
        })
    }
}

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
        "latchkeyd is busy: the authenticator did not become free within {} ms (a ceremony may          be waiting for the user); retry later",
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
    fn new(limits: CallLimits) -> Self {
        Self {
            state: Mutex::new((limits, Arc::new(tokio::sync::Semaphore::new(limits.total)))),
            by_caller: Arc::default(),
        }
    }

    fn set(&self, limits: CallLimits) {
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
}

/// Settings of one latchkeyd instance.
#[derive(Clone)]
pub struct Settings {
    /// Merged policy.
    pub policy: Policy,
    /// The authenticator back-ends.
    pub authenticators: Arc<dyn Authenticators>,
    /// Most requests queued for the prompt (waiting + running); one caller may hold an eighth of
    /// them, at least 4 (see [`crate::queue`] and [`Daemon::set_queue_per_caller`]).
    pub queue_capacity: usize,
    /// Request timeout bounds.
    pub timeouts: Timeouts,
    /// This session's user (callers of other users are refused).
    pub uid: u32,
    /// Related Origin Requests fetcher; `None` disables §5.11.
    pub related_origins: Option<Arc<RelatedOrigins>>,
}

/// Why a request was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// The caller called `Close()`.
    Closed,
    /// The caller left the bus.
    Disconnected,
}

pub(crate) struct LiveRequest {
    pub(crate) sender: OwnedUniqueName,
    pub(crate) cancel: watch::Sender<Option<CancelReason>>,
}

/// State shared by the interface objects and request tasks.
pub struct Shared {
    pub(crate) settings: Settings,
    pub(crate) queue: PromptQueue,
    next_id: AtomicU64,
    pub(crate) requests: Mutex<HashMap<OwnedObjectPath, LiveRequest>>,
    /// Registered caller-controlled prompts: unique name → the PIDs whose requests they serve.
    pub(crate) agents: Mutex<Vec<(OwnedUniqueName, u32, u32)>>,
    /// Admission for management and signal calls.
    pub(crate) calls: CallLimiter,
    /// Identities of the connections that called (callers and the prompt), by unique name.
    pub(crate) identities: IdentityCache,
    /// The trusted prompt last found owning `dev.latchkey.Prompt`, by its unique name; cleared
    /// when `NameOwnerChanged` says that name changed owner or the owner left.
    pub(crate) trusted_prompt: Mutex<Option<(OwnedUniqueName, ChosenPrompt)>>,
}

impl Shared {
    pub(crate) fn next_request_id(&self) -> RequestId {
        RequestId(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    pub(crate) fn lock_requests(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<OwnedObjectPath, LiveRequest>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn lock_agents(
        &self,
    ) -> std::sync::MutexGuard<'_, Vec<(OwnedUniqueName, u32, u32)>> {
        self.agents.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Cancels every request `sender` made and forgets its prompt registration.
    pub(crate) fn lock_trusted_prompt(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<(OwnedUniqueName, ChosenPrompt)>> {
        self.trusted_prompt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn sender_left(&self, sender: &str) {
        self.identities.forget(sender);
        let mut prompt = self.lock_trusted_prompt();
        if prompt.as_ref().is_some_and(|(n, _)| n.as_str() == sender) {
            *prompt = None;
        }
        drop(prompt);
        let mut n = 0;
        for live in self.lock_requests().values() {
            if live.sender.as_str() == sender {
                live.cancel.send_replace(Some(CancelReason::Disconnected));
                n += 1;
            }
        }
        self.lock_agents()
            .retain(|(name, _, _)| name.as_str() != sender);
        if n > 0 {
            tracing::info!(
                sender,
                requests = n,
                "caller left the bus; its requests are cancelled"
            );
        }
    }
}

/// A running latchkeyd.
pub struct Daemon {
    conn: Connection,
    shared: Arc<Shared>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Daemon {
    /// Serves the API on the bus at `address` (the session bus when `None`) and takes the name.
    pub async fn start(address: Option<&str>, settings: Settings) -> zbus::Result<Self> {
        let builder = match address {
            Some(a) => zbus::connection::Builder::address(a)?,
            None => zbus::connection::Builder::session()?,
        };
        let conn = builder.build().await?;
        Self::start_on(conn, settings).await
    }

    /// Serves the API on an existing connection and takes the name.
    pub async fn start_on(conn: Connection, settings: Settings) -> zbus::Result<Self> {
        for w in &settings.policy.warnings {
            tracing::warn!(warning = %w, "policy");
        }
        let queue = PromptQueue::new(settings.queue_capacity);
        let shared = Arc::new(Shared {
            settings,
            queue,
            next_id: AtomicU64::new(0),
            requests: Mutex::new(HashMap::new()),
            agents: Mutex::new(Vec::new()),
            calls: CallLimiter::new(CallLimits::default()),
            identities: IdentityCache::default(),
            trusted_prompt: Mutex::new(None),
        });
        // Watch callers leaving before serving, so no request can miss its sender's departure.
        let dbus = zbus::fdo::DBusProxy::new(&conn).await?;
        let mut changes = dbus.receive_name_owner_changed().await?;
        let weak = Arc::downgrade(&shared);
        let watcher = tokio::spawn(async move {
            while let Some(signal) = changes.next().await {
                let Ok(args) = signal.args() else { continue };
                if args.name().as_str() == latchkey_prompt::PROMPT_BUS_NAME {
                    match weak.upgrade() {
                        Some(shared) => *shared.lock_trusted_prompt() = None,
                        None => break,
                    }
                }
                if args.new_owner().is_none() && args.name().as_str().starts_with(':') {
                    match weak.upgrade() {
                        Some(shared) => shared.sender_left(args.name().as_str()),
                        None => break,
                    }
                }
            }
        });
        conn.object_server()
            .at(OBJECT_PATH, CredentialsService::new(shared.clone()))
            .await?;
        conn.request_name(BUS_NAME).await?;
        tracing::info!(name = BUS_NAME, unique = ?conn.unique_name(), "latchkeyd serving");
        Ok(Self {
            conn,
            shared,
            watcher,
        })
    }

    /// Resolves when the bus connection is gone.
    pub async fn closed(&self) {
        let dbus = match zbus::fdo::DBusProxy::new(&self.conn).await {
            Ok(d) => d,
            Err(_) => return,
        };
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            if dbus.get_id().await.is_err() {
                return;
            }
        }
    }

    /// The bus connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Requests queued for the prompt (waiting + running).
    pub fn queued(&self) -> usize {
        self.shared.queue.len()
    }

    /// Sets the most requests one caller may have queued for the prompt (default
    /// [`crate::queue::default_per_caller`] of `queue_capacity`).
    pub fn set_queue_per_caller(&self, limit: usize) {
        self.shared.queue.set_per_caller(limit);
    }

    /// Sets the bounds on management and signal calls (default [`CallLimits::default`]); calls
    /// already running keep the places they hold.
    pub fn set_call_limits(&self, limits: CallLimits) {
        self.shared.calls.set(limits);
    }

    /// Requests alive (exported request objects).
    pub fn live_requests(&self) -> usize {
        self.shared.lock_requests().len()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}
