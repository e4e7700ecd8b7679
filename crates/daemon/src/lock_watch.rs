//! Ending the platform store's session when the user leaves: the screen locks or the machine is
//! about to suspend (keystore SECURITY.md, "Sessions"). Until then the file store keeps its master
//! key in memory for up to its idle time after the last PIN, so that later PINs cost an HMAC
//! instead of an Argon2id; a locked screen or a suspended laptop is when that key should go.
//!
//! latchkeyd listens for:
//!
//! - logind's `PrepareForSleep(true)` on the system bus (`org.freedesktop.login1.Manager`), holding
//!   a `delay` sleep inhibitor meanwhile so that the session is over before the machine sleeps
//!   (taken again on `PrepareForSleep(false)`, after the resume);
//! - logind's `Lock` on a session object (`org.freedesktop.login1.Session`), of any session:
//!   latchkeyd runs as a user service, which belongs to no session, and another session's lock
//!   ending this store's session early costs only one Argon2id at the next PIN;
//! - `ActiveChanged(true)` of `org.freedesktop.ScreenSaver` and `org.gnome.ScreenSaver` on the
//!   session bus, which desktops emit when the screen locks. Any process on the session bus can
//!   send that signal; all it can do is make the next PIN slow.
//!
//! Each of these ends the session through [`PlatformStore::end_session`] on a blocking thread (it
//! waits for a ceremony holding the authenticator) and logs it. A bus that is missing (no system
//! bus in a container) disables only its part.

use std::sync::Arc;

use futures_lite::StreamExt as _;
use zbus::message::Type;
use zbus::{Connection, MatchRule, Message, MessageStream};

use crate::store::PlatformStore;

const LOGIND: &str = "org.freedesktop.login1";
const LOGIND_PATH: &str = "/org/freedesktop/login1";
const LOGIND_MANAGER: &str = "org.freedesktop.login1.Manager";
const LOGIND_SESSION: &str = "org.freedesktop.login1.Session";
const SCREENSAVERS: [&str; 2] = ["org.freedesktop.ScreenSaver", "org.gnome.ScreenSaver"];

/// Why the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// logind announced a suspend or hibernation.
    Suspend,
    /// logind asked the session to lock.
    SessionLock,
    /// The screen saver turned on (the screen locked).
    ScreenSaver,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Suspend => "suspend",
            Self::SessionLock => "session lock",
            Self::ScreenSaver => "screen saver",
        }
    }
}

/// The watchers; they stop when dropped.
pub struct LockWatch {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for LockWatch {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn rule(interface: &'static str, member: &'static str) -> zbus::Result<MatchRule<'static>> {
    Ok(MatchRule::builder()
        .msg_type(Type::Signal)
        .interface(interface)?
        .member(member)?
        .build())
}

async fn stream(
    conn: &Connection,
    interface: &'static str,
    member: &'static str,
) -> zbus::Result<MessageStream> {
    MessageStream::for_match_rule(rule(interface, member)?, conn, None).await
}

/// Ends the store's session for `reason`, off the runtime.
async fn end(store: &Arc<dyn PlatformStore>, reason: Reason) {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || store.end_session()).await {
        Ok(Ok(ended)) => tracing::info!(
            reason = reason.as_str(),
            ended,
            "the platform store's session is over"
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, reason = reason.as_str(), "cannot end the platform store's session")
        }
        Err(e) => tracing::warn!(error = %e, "the thread ending the store's session failed"),
    }
}

/// The first argument of a signal, if it is a boolean.
fn flag(m: &Message) -> Option<bool> {
    m.body().deserialize::<(bool,)>().ok().map(|(b,)| b)
}

/// Whether `m` comes from the current owner of logind's name (a signal's sender is always a
/// unique name; the match rule cannot name logind's without a race at its restart).
async fn from_logind(dbus: &zbus::fdo::DBusProxy<'_>, m: &Message) -> bool {
    let Some(sender) = m.header().sender().map(|s| s.to_string()) else {
        return false;
    };
    let Ok(name) = zbus::names::BusName::try_from(LOGIND) else {
        return false;
    };
    dbus.get_name_owner(name)
        .await
        .is_ok_and(|owner| owner.as_str() == sender)
}

/// A `delay` sleep inhibitor: logind waits (up to its `InhibitDelayMaxSec`) until it is closed.
async fn inhibit(system: &Connection) -> Option<zbus::zvariant::OwnedFd> {
    let reply = system
        .call_method(
            Some(LOGIND),
            LOGIND_PATH,
            Some(LOGIND_MANAGER),
            "Inhibit",
            &(
                "sleep",
                "latchkeyd",
                "End the passkey store's session before sleeping",
                "delay",
            ),
        )
        .await;
    match reply.and_then(|r| r.body().deserialize::<zbus::zvariant::OwnedFd>()) {
        Ok(fd) => Some(fd),
        Err(e) => {
            tracing::debug!(error = %e, "no sleep inhibitor: the session ends when the signal comes");
            None
        }
    }
}

/// Serves logind's signals until the system bus goes.
async fn watch_logind(
    system: Connection,
    mut signals: impl futures_lite::Stream<Item = zbus::Result<Message>> + Unpin,
    store: Arc<dyn PlatformStore>,
) -> zbus::Result<()> {
    let dbus = zbus::fdo::DBusProxy::new(&system).await?;
    let mut inhibitor = inhibit(&system).await;
    while let Some(m) = signals.next().await {
        let Ok(m) = m else { continue };
        if !from_logind(&dbus, &m).await {
            continue;
        }
        let member = m.header().member().map(|n| n.to_string());
        match member.as_deref() {
            Some("PrepareForSleep") => match flag(&m) {
                Some(true) => {
                    end(&store, Reason::Suspend).await;
                    // Closing the inhibitor lets the machine sleep.
                    inhibitor = None;
                }
                Some(false) if inhibitor.is_none() => inhibitor = inhibit(&system).await,
                _ => {}
            },
            Some("Lock") => end(&store, Reason::SessionLock).await,
            _ => {}
        }
    }
    drop(inhibitor);
    Ok(())
}

/// Serves the screen savers' signals until the session bus goes.
async fn watch_screensaver(
    mut signals: impl futures_lite::Stream<Item = zbus::Result<Message>> + Unpin,
    store: Arc<dyn PlatformStore>,
) {
    while let Some(m) = signals.next().await {
        let Ok(m) = m else { continue };
        if flag(&m) == Some(true) {
            end(&store, Reason::ScreenSaver).await;
        }
    }
}

/// Watches `session` (latchkeyd's bus) and `system` (when there is one) for the user leaving, and
/// ends `store`'s session then (module doc). The match rules are on the buses when this returns,
/// so no signal sent afterwards is missed.
pub async fn start(
    session: &Connection,
    system: Option<Connection>,
    store: Arc<dyn PlatformStore>,
) -> LockWatch {
    let mut tasks = Vec::new();
    let screensaver = async {
        let freedesktop = stream(session, SCREENSAVERS[0], "ActiveChanged").await?;
        let gnome = stream(session, SCREENSAVERS[1], "ActiveChanged").await?;
        Ok::<_, zbus::Error>(freedesktop.or(gnome))
    };
    match screensaver.await {
        Ok(signals) => tasks.push(tokio::spawn(watch_screensaver(signals, store.clone()))),
        Err(e) => tracing::warn!(
            error = %e,
            "not watching the screen saver: the store's session ends only when idle"
        ),
    }
    if let Some(system) = system {
        let logind = async {
            let sleep = stream(&system, LOGIND_MANAGER, "PrepareForSleep").await?;
            let lock = stream(&system, LOGIND_SESSION, "Lock").await?;
            Ok::<_, zbus::Error>(sleep.or(lock))
        };
        match logind.await {
            Ok(signals) => tasks.push(tokio::spawn(async move {
                if let Err(e) = watch_logind(system, signals, store).await {
                    tracing::warn!(error = %e, "stopped watching logind");
                }
            })),
            Err(e) => tracing::warn!(
                error = %e,
                "not watching logind: the store's session does not end at suspend or lock"
            ),
        }
    }
    LockWatch { tasks }
}
