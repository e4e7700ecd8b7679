//! The state one latchkeyd shares between its interface objects and request tasks: its
//! [`Settings`] (policy, [`Backends`], bounds), the live requests and how each is cancelled, the
//! registered prompts, the call limits, and who the callers are (`Shared::identify`).
//! [`crate::server`] creates it; [`crate::service`] and [`crate::request`] use it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use latchkey_api::Error;
use tokio::sync::watch;
use zbus::names::{OwnedUniqueName, UniqueName};
use zbus::zvariant::OwnedObjectPath;
use zbus::Connection;

use crate::ceremony::{Ceremonies, RequestId};
use crate::identity::cache::IdentityCache;
use crate::identity::port::Callers;
use crate::identity::{self, CallerIdentity};
use crate::limits::{CallLimiter, CallLimits};
use crate::options::Timeouts;
use crate::policy::Policy;
use crate::prompt::ChosenPrompt;
use crate::queue::PromptQueue;
use crate::related::RelatedOrigins;
use crate::remember::Remembered;
use crate::store::PlatformStore;

/// The back-ends latchkeyd serves: what runs ceremonies and the platform credentials' store.
#[derive(Clone)]
pub struct Backends {
    /// Runs create and get (in latchkeyd, a [`crate::routing::Router`] in front of the platform
    /// authenticator and the security keys).
    pub ceremonies: Arc<dyn Ceremonies>,
    /// Lists, deletes and signals the platform credentials.
    pub store: Arc<dyn PlatformStore>,
    /// The security keys, managed from the Passkeys window ([`crate::key_manage`]); `None`:
    /// latchkeyd manages no keys.
    pub keys: Option<Arc<crate::keys::KeyBackend>>,
}

impl Backends {
    /// One back-end that is both (the platform authenticator alone, a test's).
    pub fn single<B: Ceremonies + PlatformStore>(backend: Arc<B>) -> Self {
        Self {
            ceremonies: backend.clone(),
            store: backend,
            keys: None,
        }
    }
}

impl<B: Ceremonies + PlatformStore> From<Arc<B>> for Backends {
    fn from(backend: Arc<B>) -> Self {
        Self::single(backend)
    }
}

/// Settings of one latchkeyd instance.
#[derive(Clone)]
pub struct Settings {
    /// Merged policy.
    pub policy: Policy,
    /// The back-ends.
    pub backends: Backends,
    /// Most requests queued for the prompt (waiting + running); one caller may hold an eighth of
    /// them, at least 4 (see [`crate::queue`] and [`crate::server::Daemon::set_queue_per_caller`]).
    pub queue_capacity: usize,
    /// Request timeout bounds.
    pub timeouts: Timeouts,
    /// This session's user (callers of other users are refused).
    pub uid: u32,
    /// Related Origin Requests fetcher; `None` disables §5.11.
    pub related_origins: Option<Arc<RelatedOrigins>>,
    /// Where remembered site decisions are kept ([`crate::remember`]); `None`: in memory only.
    pub state_dir: Option<std::path::PathBuf>,
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
    /// The back-end's half, cancelled at once too: a platform ceremony runs in place on the
    /// request's task (`platform::in_place`), where `cancel` is only seen once it returns.
    pub(crate) stop: crate::ceremony::CancelToken,
}

/// How many unique names of callers that left the bus are remembered ([`Departed`]).
pub(crate) const DEPARTED_KEPT: usize = 4096;

/// The unique names of the latest [`DEPARTED_KEPT`] callers that left the bus. A bus never gives
/// a unique name twice, so a request recorded for one of them has a caller that is gone: it may
/// have left while its request was being started (identified, queued), before the request was
/// recorded for [`Shared::sender_left`] to cancel.
#[derive(Debug, Default)]
pub(crate) struct Departed {
    order: std::collections::VecDeque<String>,
    names: std::collections::HashSet<String>,
}

impl Departed {
    /// Remembers that `name` left, forgetting the oldest beyond [`DEPARTED_KEPT`].
    pub(crate) fn remember(&mut self, name: &str) {
        if !self.names.insert(name.to_owned()) {
            return;
        }
        self.order.push_back(name.to_owned());
        while self.order.len() > DEPARTED_KEPT {
            if let Some(old) = self.order.pop_front() {
                self.names.remove(&old);
            }
        }
    }

    /// Whether `name` left the bus.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }
}

/// State shared by the interface objects and request tasks.
pub struct Shared {
    pub(crate) settings: Settings,
    pub(crate) queue: PromptQueue,
    next_id: AtomicU64,
    pub(crate) requests: Mutex<HashMap<OwnedObjectPath, LiveRequest>>,
    /// Callers that left the bus; taken after `requests` when both are held.
    pub(crate) departed: Mutex<Departed>,
    /// Registered caller-controlled prompts.
    pub(crate) agents: Mutex<Vec<Agent>>,
    /// Admission for management and signal calls.
    pub(crate) calls: CallLimiter,
    /// Identities of the connections that called (callers and the prompt), by unique name.
    pub(crate) identities: IdentityCache,
    /// Where the callers' credentials come from: the bus, or a peer-to-peer socket.
    pub(crate) callers: Arc<dyn Callers>,
    /// The trusted prompt last found owning `dev.latchkey.Prompt`, by its unique name; cleared
    /// when `NameOwnerChanged` says that name changed owner or the owner left.
    pub(crate) trusted_prompt: Mutex<Option<(OwnedUniqueName, ChosenPrompt)>>,
    /// How long a caller-controlled prompt may take to answer one question, in milliseconds
    /// ([`CALLER_PROMPT_ANSWER`]).
    pub(crate) caller_prompt_answer_ms: AtomicU64,
    /// The user's remembered site decisions.
    pub(crate) remembered: Remembered,
    /// Handles of the security keys seen, and the one key operation at a time.
    pub(crate) key_manage: crate::key_manage::KeyManageState,
}

/// How long a caller-controlled prompt (a terminal prompt a client registered) may take to answer
/// one question by default. It holds the one prompt slot while it waits, and whoever started it
/// decides whether it ever answers; a person at a terminal answers well within a minute.
pub const CALLER_PROMPT_ANSWER: std::time::Duration = std::time::Duration::from_secs(60);

/// A caller-controlled prompt that registered (`RegisterPrompt`), and the processes whose
/// requests it serves: itself and its parent, each by PID *and* start time, so that a process that
/// later gets one of those PIDs is not served by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// Its unique name.
    pub name: OwnedUniqueName,
    /// (PID, start time) of the prompt's process and, when it could be read, of its parent.
    pub serves: Vec<(u32, u64)>,
}

impl Agent {
    /// Whether this prompt answers for `caller`.
    pub fn serves(&self, caller: &CallerIdentity) -> bool {
        self.serves
            .iter()
            .any(|&(pid, start)| pid == caller.pid && start == caller.start_time)
    }
}

impl Shared {
    /// The state of a latchkeyd serving `settings` to the callers `callers` names, with no
    /// request yet.
    pub(crate) fn new(settings: Settings, callers: Arc<dyn Callers>) -> Self {
        let queue = PromptQueue::new(settings.queue_capacity);
        let remembered = match &settings.state_dir {
            Some(dir) => {
                let (remembered, error) = Remembered::in_dir(dir);
                if let Some(e) = error {
                    tracing::warn!(error = %e, "remembered site decisions are ignored");
                }
                remembered
            }
            None => Remembered::in_memory(),
        };
        Self {
            remembered,
            key_manage: crate::key_manage::KeyManageState::default(),
            settings,
            queue,
            next_id: AtomicU64::new(0),
            requests: Mutex::new(HashMap::new()),
            departed: Mutex::default(),
            agents: Mutex::new(Vec::new()),
            calls: CallLimiter::new(CallLimits::default()),
            identities: IdentityCache::default(),
            callers,
            trusted_prompt: Mutex::new(None),
            caller_prompt_answer_ms: AtomicU64::new(
                u64::try_from(CALLER_PROMPT_ANSWER.as_millis()).unwrap_or(u64::MAX),
            ),
        }
    }

    /// How long a caller-controlled prompt may take to answer one question.
    pub(crate) fn caller_prompt_answer(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.caller_prompt_answer_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn next_request_id(&self) -> RequestId {
        RequestId(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    pub(crate) fn lock_requests(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<OwnedObjectPath, LiveRequest>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn lock_agents(&self) -> std::sync::MutexGuard<'_, Vec<Agent>> {
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

    pub(crate) fn sender_left(&self, sender: &str) {
        self.identities.forget(sender);
        let mut prompt = self.lock_trusted_prompt();
        if prompt.as_ref().is_some_and(|(n, _)| n.as_str() == sender) {
            *prompt = None;
        }
        drop(prompt);
        let mut n = 0;
        let requests = self.lock_requests();
        // Under the requests' lock: a request being started for this sender is either recorded
        // already (and cancelled here) or finds the sender departed when it would be.
        self.departed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remember(sender);
        for live in requests.values() {
            if live.sender.as_str() == sender {
                live.cancel.send_replace(Some(CancelReason::Disconnected));
                live.stop.cancel();
                n += 1;
            }
        }
        drop(requests);
        self.lock_agents()
            .retain(|agent| agent.name.as_str() != sender);
        if n > 0 {
            tracing::info!(
                sender,
                requests = n,
                "caller left the bus; its requests are cancelled"
            );
        }
    }

    /// Identifies `sender` from the kernel (see [`crate::identity`]): once per connection, from
    /// the credentials [`Self::callers`] reports (the bus's `GetConnectionCredentials`, or a
    /// peer-to-peer socket's `SO_PEERCRED`); later calls on the same connection take the identity
    /// from [`crate::identity::cache`], re-checked against the kernel through the kept pidfd.
    pub(crate) async fn identify(
        &self,
        conn: &Connection,
        sender: &UniqueName<'_>,
    ) -> Result<CallerIdentity, Error> {
        if let Some(id) = self.identities.get(sender.as_str()) {
            return Ok(id);
        }
        let peer = self.callers.credentials(conn, sender).await?;
        let (id, pidfd) = identity::identify_pinned(peer, self.settings.uid)
            .map_err(|e| Error::CallerRefused(e.to_string()))?;
        self.callers.confirm(conn, sender, id.pid).await?;
        self.identities.insert(sender.as_str(), id.clone(), pidfd);
        Ok(id)
    }
}

#[cfg(test)]
mod tests;
