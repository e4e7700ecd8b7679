//! Starting latchkeyd on a bus: the shared state ([`crate::state`]), the
//! `dev.latchkey.Credentials` name, and the watcher that cancels the requests of callers who
//! leave the bus (`NameOwnerChanged`).

use std::sync::Arc;
use std::time::Duration;

use futures_lite::StreamExt as _;
use zbus::names::OwnedUniqueName;
use zbus::Connection;

use crate::identity::port::{BusCallers, PeerSocket};
use crate::service::CredentialsService;
use crate::state::Shared;

pub use crate::limits::{Busy, CallLimits};
pub use crate::options::Timeouts;
pub use crate::state::{Backends, CancelReason, Settings};
pub use latchkey_api::{API_VERSION, BUS_NAME, OBJECT_PATH};

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
        let shared = Arc::new(Shared::new(settings, Arc::new(BusCallers)));
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
        // Never wait in the name's queue: a latchkeyd that does not own the name serves nobody,
        // and a client must not meet a queued one later in place of the running one.
        let flags = zbus::fdo::RequestNameFlags::DoNotQueue.into();
        match conn.request_name_with_flags(BUS_NAME, flags).await {
            Ok(
                zbus::fdo::RequestNameReply::PrimaryOwner
                | zbus::fdo::RequestNameReply::AlreadyOwner,
            ) => {}
            Ok(_) | Err(zbus::Error::NameTaken) => {
                let owner = zbus::fdo::DBusProxy::new(&conn)
                    .await?
                    .get_name_owner(BUS_NAME.try_into()?)
                    .await
                    .map_or_else(|_| "another process".to_owned(), |o| o.to_string());
                return Err(zbus::Error::Failure(format!(
                    "{BUS_NAME} is already owned by {owner}; is latchkeyd already running?"
                )));
            }
            Err(e) => return Err(e),
        }
        tracing::info!(name = BUS_NAME, unique = ?conn.unique_name(), "latchkeyd serving");
        Ok(Self {
            conn,
            shared,
            watcher,
        })
    }

    /// Serves the API to the one peer of the connected Unix socket `socket`, as a peer-to-peer
    /// D-Bus connection (no bus): latchkeyd's end goes by `latchkeyd`, and its caller is the
    /// process at the other end of `socket` as the kernel reports it (`SO_PEERCRED`, read here
    /// from this very socket: [`PeerSocket::of`]), whose requests go by `caller`. The peer's
    /// requests are cancelled when the connection closes. Nothing here reaches a prompt (there
    /// is no bus to find one on): requests that need one are refused. Resolves once both ends
    /// authenticated, so the peer must be connecting at the same time.
    pub async fn serve_peer(
        socket: std::os::unix::net::UnixStream,
        latchkeyd: OwnedUniqueName,
        caller: OwnedUniqueName,
        settings: Settings,
    ) -> zbus::Result<Self> {
        for w in &settings.policy.warnings {
            tracing::warn!(warning = %w, "policy");
        }
        let peer = PeerSocket::of(&socket, caller)?;
        socket.set_nonblocking(true)?;
        let stream = tokio::net::UnixStream::from_std(socket)?;
        let name = peer.name().to_string();
        let shared = Arc::new(Shared::new(settings, Arc::new(peer)));
        // The service is registered before the connection reads its first message. Registered
        // on the built connection instead, zbus would start the object server's subscription to
        // method calls in a task of its own, and a call arriving before that task ran would be
        // dropped unanswered: the peer would wait for its reply forever.
        let conn = zbus::connection::Builder::unix_stream(stream)
            .server(zbus::Guid::generate())?
            .p2p()
            .unique_name(latchkeyd)?
            .serve_at(OBJECT_PATH, CredentialsService::new(shared.clone()))?
            .build()
            .await?;
        // The peer leaves when the connection ends: the stream of its messages ends then.
        let mut messages = zbus::MessageStream::from(&conn);
        let weak = Arc::downgrade(&shared);
        let peer_name = name.clone();
        let watcher = tokio::spawn(async move {
            while messages.next().await.is_some() {}
            if let Some(shared) = weak.upgrade() {
                shared.sender_left(&peer_name);
            }
        });
        tracing::info!(peer = %name, "latchkeyd serving a peer");
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

    /// [`Self::queued`] as it changes, for a test waiting on the queue.
    pub fn watch_queued(&self) -> tokio::sync::watch::Receiver<usize> {
        self.shared.queue.watch_len()
    }

    /// Sets the most requests one caller may have queued for the prompt (default
    /// [`crate::queue::default_per_caller`] of `queue_capacity`).
    pub fn set_queue_per_caller(&self, limit: usize) {
        self.shared.queue.set_per_caller(limit);
    }

    /// Sets how long a caller-controlled prompt may take to answer one question (default
    /// [`crate::state::CALLER_PROMPT_ANSWER`]); past it the request fails with `NotAllowedError`
    /// and frees the prompt.
    pub fn set_caller_prompt_answer(&self, limit: Duration) {
        self.shared.caller_prompt_answer_ms.store(
            u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
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
        // Stop serving and give the name up now: the object server holds the service, which can
        // hold proxies on this connection, so the connection itself may outlive this value.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let conn = self.conn.clone();
            rt.spawn(async move {
                let _ = conn
                    .object_server()
                    .remove::<CredentialsService, _>(OBJECT_PATH)
                    .await;
                let _ = conn.release_name(BUS_NAME).await;
            });
        }
    }
}
