//! One prompt at a time: a bounded FIFO of requests waiting for the user, with a share per caller.
//!
//! `tokio::sync::Semaphore` is fair (first come, first served), so waiting requests get the prompt
//! in arrival order. The bound counts waiting and running requests together; a request beyond it
//! is refused at once (`NotAllowedError`) rather than queued.
//!
//! No caller may hold more than its share of the queue ([`default_per_caller`]: an eighth of it,
//! at least 4), so one app flooding latchkeyd cannot keep everyone else from the prompt: its
//! excess requests are refused at once while other callers still get in. A caller is a
//! [`CallerKey`] ([`caller_key`]): a sandboxed app (all its processes), else the systemd user unit
//! it runs in when that names an app, else its executable — never something the caller names
//! itself, and nothing it can multiply by forking. A browser's requests count per page as well
//! ([`request_key`]): the share is per (browser, top-level origin). Unsandboxed callers that policy
//! does not name share one share among them all ([`queue_key`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use latchkey_webauthn::origin::Origin;

use crate::identity::CallerIdentity;

/// Who a request counts against, from the kernel-backed identity (see [`caller_key`]).
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

#[derive(Debug)]
struct Counts {
    total: usize,
    by_caller: HashMap<CallerKey, usize>,
    /// `total`, for whoever watches it change ([`PromptQueue::watch_len`]).
    watched: watch::Sender<usize>,
}

impl Default for Counts {
    fn default() -> Self {
        Self {
            total: 0,
            by_caller: HashMap::new(),
            watched: watch::Sender::new(0),
        }
    }
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
pub struct Ticket {
    slot: Arc<Semaphore>,
    counts: Arc<Mutex<Counts>>,
    caller: CallerKey,
    /// The place in the semaphore's FIFO, taken when the ticket was issued (so the order is the
    /// order of [`PromptQueue::enter`], not of whichever request task runs first).
    place: Mutex<Option<Place>>,
}

type Place = Pin<Box<dyn Future<Output = Option<OwnedSemaphorePermit>> + Send>>;

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}

/// Queues for `slot` now: the returned future is polled once here, which puts it in the
/// semaphore's waiter list (or takes the permit) in call order.
fn take_place(slot: &Arc<Semaphore>) -> Place {
    let slot = slot.clone();
    let mut place: Place = Box::pin(async move { slot.acquire_owned().await.ok() });
    let mut cx = Context::from_waker(Waker::noop());
    match place.as_mut().poll(&mut cx) {
        Poll::Ready(permit) => Box::pin(std::future::ready(permit)),
        Poll::Pending => place,
    }
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
        counts.watched.send_replace(counts.total);
        Ok(Ticket {
            slot: self.slot.clone(),
            counts: self.counts.clone(),
            caller,
            place: Mutex::new(Some(take_place(&self.slot))),
        })
    }

    /// Requests in the queue (waiting + running).
    pub fn len(&self) -> usize {
        self.lock().total
    }

    /// [`Self::len`] as it changes (for tests waiting on the queue).
    pub fn watch_len(&self) -> watch::Receiver<usize> {
        self.lock().watched.subscribe()
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
        let place = self
            .place
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let permit = match place {
            Some(place) => place.await,
            // A second turn on the same ticket queues at the back.
            None => self.slot.clone().acquire_owned().await.ok(),
        };
        permit.map(|p| Turn { _permit: p })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        let total = counts.total;
        counts.watched.send_replace(total);
        if let Some(n) = counts.by_caller.get_mut(&self.caller) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.by_caller.remove(&self.caller);
            }
        }
    }
}

/// Who `caller` (a process of user `uid`) counts against, in the prompt queue and for management
/// and signal calls:
///
/// * a sandboxed app as a whole (its app ID is the kernel's and the sandbox's word);
/// * else the systemd user unit it runs in, when that names an app (`app-*.scope`, or a
///   `*.service`, under `user@UID.service`; `/proc/PID/cgroup` as read when the caller was
///   identified, [`CallerIdentity::cgroup_path`]): every process an app launch starts, however
///   many it forks;
/// * else its executable (path, for user `uid`): forking or re-running the same program does not
///   make another caller. A process whose executable is unknown counts as itself alone.
pub fn caller_key(caller: &CallerIdentity, uid: u32) -> CallerKey {
    if let Some(id) = &caller.flatpak_app_id {
        return CallerKey::new(format!("flatpak:{id}"));
    }
    if let Some(name) = &caller.snap_name {
        return CallerKey::new(format!("snap:{name}"));
    }
    if let Some(unit) = caller.cgroup_path.as_deref().and_then(|c| app_unit(c, uid)) {
        return CallerKey::new(format!("unit:{uid}:{unit}"));
    }
    match &caller.executable {
        Some(exe) => CallerKey::new(format!("exe:{uid}:{}", exe.display())),
        None => CallerKey::new(format!("pid:{}:{}", caller.pid, caller.start_time)),
    }
}

/// Who a request counts against in the prompt queue: an unsandboxed caller that policy names
/// nowhere (`named` false) shares one key with every other such caller of user `uid` — copying a
/// binary to eight paths or running it in eight `systemd-run` units buys no more of the queue
/// than one — and any other caller has its own [`caller_key`].
pub fn queue_key(caller: &CallerIdentity, named: bool, uid: u32) -> CallerKey {
    if named || caller.sandboxed() {
        caller_key(caller, uid)
    } else {
        CallerKey::new(format!("unnamed:{uid}"))
    }
}

/// What a request counts against in the prompt queue: its caller's key ([`caller_key`]) and, for
/// a privileged caller (a browser, which vouches for web origins), the page it asks for: the
/// top-level origin, else the origin. A browser is one caller with many pages, and one page (with
/// all the frames it embeds) must not take the share every other page of that browser needs. The
/// origins are the browser's word, which policy already trusts; any other caller naming origins
/// gets no more than its own share. An origin that does not parse adds nothing (the request fails
/// its origin check anyway).
pub fn request_key(
    caller: CallerKey,
    privileged: bool,
    origin: Option<&str>,
    top_origin: Option<&str>,
) -> CallerKey {
    let page = top_origin
        .or(origin)
        .and_then(|o| Origin::parse(o).ok())
        .map(|o| o.serialize());
    match page {
        Some(page) if privileged => CallerKey::new(format!("{}|page:{page}", caller.as_str())),
        _ => caller,
    }
}

/// The outermost unit below `user@UID.service` in `cgroup_path` that names an app: an
/// `app-*.scope` or a `*.service`. Other scopes (a terminal's `vte-spawn-*.scope`, a session's
/// `session-N.scope`, the manager's `init.scope`) name no app.
pub fn app_unit(cgroup_path: &str, uid: u32) -> Option<&str> {
    let manager = format!("user@{uid}.service");
    let mut elements = cgroup_path.split('/');
    elements.find(|e| *e == manager)?;
    elements.find(|e| {
        let app_scope = e.starts_with("app-") && e.ends_with(".scope") && e.len() > 10;
        let service = e.ends_with(".service") && e.len() > ".service".len();
        app_scope || service
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_privileged_caller_counts_per_top_level_origin_and_others_per_caller() {
        let browser = || CallerKey::new("exe:1000:/usr/lib/chromium/chromium");
        let key = |privileged, origin, top| request_key(browser(), privileged, origin, top);
        let page = key(true, Some("https://example.com"), None);
        assert_eq!(
            page.as_str(),
            "exe:1000:/usr/lib/chromium/chromium|page:https://example.com"
        );
        // A frame counts against the page that embeds it, however its own origin is written.
        assert_eq!(
            key(
                true,
                Some("https://login.example.net"),
                Some("HTTPS://Example.com:443")
            ),
            page
        );
        assert_ne!(key(true, Some("https://example.org"), None), page);
        // Not privileged, or nothing usable named: the caller's own key.
        assert_eq!(key(false, Some("https://example.com"), None), browser());
        assert_eq!(key(true, None, None), browser());
        assert_eq!(key(true, Some("not an origin"), None), browser());
    }

    #[test]
    fn app_units_come_from_the_user_manager_only() {
        let base = "/user.slice/user-1000.slice/user@1000.service";
        assert_eq!(
            app_unit(
                &format!("{base}/app.slice/app-gnome-firefox-4242.scope"),
                1000
            ),
            Some("app-gnome-firefox-4242.scope")
        );
        assert_eq!(
            app_unit(
                &format!("{base}/app.slice/app-flatpak-org.x.Y-1.scope/sub"),
                1000
            ),
            Some("app-flatpak-org.x.Y-1.scope")
        );
        assert_eq!(
            app_unit(&format!("{base}/app.slice/syncthing.service"), 1000),
            Some("syncthing.service")
        );
        // The outermost unit names the app, not a cgroup it delegated to itself.
        assert_eq!(
            app_unit(&format!("{base}/app.slice/foo.service/bar.service"), 1000),
            Some("foo.service")
        );
        // Terminals, sessions and the manager itself name no app; nor does another user's
        // manager, or a system service.
        for path in [
            format!("{base}/app.slice/app-org.gnome.Terminal.slice/vte-spawn-1.scope"),
            format!("{base}/init.scope"),
            "/user.slice/user-1000.slice/session-2.scope".to_owned(),
            "/user.slice/user-1001.slice/user@1001.service/app.slice/a-b.service".to_owned(),
            "/system.slice/sshd.service".to_owned(),
            "/".to_owned(),
            String::new(),
        ] {
            assert_eq!(app_unit(&path, 1000), None, "{path}");
        }
    }

    #[test]
    fn callers_policy_does_not_name_share_one_key_unless_sandboxed() {
        let tool = CallerIdentity {
            pid: std::process::id(),
            ppid: 1,
            start_time: 0,
            executable: Some("/home/u/bin/tool".into()),
            executable_file: None,
            same_mount_namespace: true,
            flatpak_app_id: None,
            snap_name: None,
            systemd_unit: None,
            cgroup_path: None,
        };
        let copy = CallerIdentity {
            executable: Some("/home/u/bin/tool-copy-7".into()),
            ..tool.clone()
        };
        assert_eq!(queue_key(&tool, false, 1000), queue_key(&copy, false, 1000));
        assert_eq!(queue_key(&tool, false, 1000).as_str(), "unnamed:1000");
        // Named by policy: its own key, by executable.
        assert_ne!(queue_key(&tool, true, 1000), queue_key(&copy, true, 1000));
        // A sandboxed app is its app ID, named or not.
        let flatpak = CallerIdentity {
            flatpak_app_id: Some("org.x.Y".into()),
            ..tool
        };
        assert_eq!(queue_key(&flatpak, false, 1000).as_str(), "flatpak:org.x.Y");
    }

    #[test]
    fn unsandboxed_callers_are_keyed_by_executable_not_process() {
        let me = CallerIdentity {
            pid: std::process::id(),
            ppid: 1,
            start_time: 0, // not this process's: its cgroup is not read
            executable: Some("/usr/bin/app".into()),
            executable_file: None,
            same_mount_namespace: true,
            flatpak_app_id: None,
            snap_name: None,
            systemd_unit: None,
            cgroup_path: None,
        };
        let forked = CallerIdentity {
            pid: me.pid + 1,
            start_time: 7,
            ..me.clone()
        };
        assert_eq!(caller_key(&me, 1000), caller_key(&forked, 1000));
        assert_eq!(caller_key(&me, 1000).as_str(), "exe:1000:/usr/bin/app");
        let other = CallerIdentity {
            executable: Some("/usr/bin/other".into()),
            ..me.clone()
        };
        assert_ne!(caller_key(&me, 1000), caller_key(&other, 1000));
        let unknown = CallerIdentity {
            executable: None,
            ..me.clone()
        };
        assert_eq!(
            caller_key(&unknown, 1000).as_str(),
            format!("pid:{}:0", me.pid)
        );
        let flatpak = CallerIdentity {
            flatpak_app_id: Some("org.x.Y".into()),
            ..me
        };
        assert_eq!(caller_key(&flatpak, 1000).as_str(), "flatpak:org.x.Y");
    }

    #[test]
    fn an_app_unit_from_the_identified_cgroup_keys_every_process_of_the_app() {
        let base = "/user.slice/user-1000.slice/user@1000.service/app.slice";
        let launched = CallerIdentity {
            pid: 4242,
            ppid: 1,
            start_time: 9,
            executable: Some("/usr/bin/editor".into()),
            executable_file: None,
            same_mount_namespace: true,
            flatpak_app_id: None,
            snap_name: None,
            systemd_unit: Some("app-editor-7.scope".into()),
            cgroup_path: Some(format!("{base}/app-editor-7.scope")),
        };
        // A helper of the same launch runs another program: same unit, same key.
        let helper = CallerIdentity {
            pid: 4243,
            executable: Some("/usr/libexec/editor-helper".into()),
            ..launched.clone()
        };
        assert_eq!(
            caller_key(&launched, 1000).as_str(),
            "unit:1000:app-editor-7.scope"
        );
        assert_eq!(caller_key(&launched, 1000), caller_key(&helper, 1000));
        // Under another user's manager the unit names no app of this user: the executable counts.
        assert_eq!(
            caller_key(&launched, 1001).as_str(),
            "exe:1001:/usr/bin/editor"
        );
    }

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
