//! Where latchkeyd learns who sent a call: the [`Callers`] port. Whatever fills it answers from
//! the kernel, never from what the caller says:
//!
//! - [`BusCallers`] (latchkeyd on a bus): the sender is the unique name the bus stamped on the
//!   message; its credentials are the bus's `GetConnectionCredentials` (a `ProcessFD` or
//!   `ProcessID` and `UnixUserID`, which the bus took from the socket when the caller connected),
//!   and after the process was read the bus is asked again that the name still is that process.
//! - [`PeerSocket`] (latchkeyd serving one peer over a peer-to-peer D-Bus connection, no bus): one
//!   caller, the process at the other end of the socket; its credentials are the socket's
//!   `SO_PEERCRED`, read when the connection was made and pinned by a pidfd opened at once. The
//!   peer names nothing: its requests are filed under the name latchkeyd gave the connection, and
//!   a message claiming another sender is refused.
//!
//! Either way `crate::state::Shared::identify` reads the process through
//! [`super::identify_pinned`] and keeps it in [`super::cache`]. No implementation takes an
//! identity as given: a test that wants another caller runs another process.

use std::os::fd::{AsFd, OwnedFd};

use async_trait::async_trait;
use latchkey_api::Error;
use latchkey_prompt::PROMPT_BUS_NAME;
use zbus::message::Header;
use zbus::names::{OwnedUniqueName, UniqueName};
use zbus::Connection;

use super::PeerCredentials;

/// Who sent a call (module doc).
#[async_trait]
pub trait Callers: Send + Sync {
    /// The name the sender of `hdr` goes by here: its requests' handle paths, its prompt
    /// registration and the identity cache are keyed by it.
    fn sender(&self, hdr: &Header<'_>) -> Result<OwnedUniqueName, Error>;

    /// The kernel's credentials of the process behind `sender` on `conn`.
    async fn credentials(
        &self,
        conn: &Connection,
        sender: &UniqueName<'_>,
    ) -> Result<PeerCredentials, Error>;

    /// After the process was read as `pid`: that `sender` still is that process.
    async fn confirm(
        &self,
        conn: &Connection,
        sender: &UniqueName<'_>,
        pid: u32,
    ) -> Result<(), Error>;

    /// The connection that may serve the trusted prompt, if any: it is trusted only when policy
    /// trusts the process the kernel reports behind it.
    async fn prompt_owner(&self, conn: &Connection) -> Option<OwnedUniqueName>;

    /// Whether the process `pid` (started at `start_time`) was started by the bus's activation.
    async fn started_by_the_bus(&self, conn: &Connection, pid: u32, start_time: u64) -> bool;
}

/// The callers of a latchkeyd on a bus (module doc).
#[derive(Debug, Default, Clone, Copy)]
pub struct BusCallers;

#[async_trait]
impl Callers for BusCallers {
    fn sender(&self, hdr: &Header<'_>) -> Result<OwnedUniqueName, Error> {
        hdr.sender()
            .map(|s| OwnedUniqueName::from(s.to_owned()))
            .ok_or_else(|| Error::InvalidArgument("no sender".into()))
    }

    async fn credentials(
        &self,
        conn: &Connection,
        sender: &UniqueName<'_>,
    ) -> Result<PeerCredentials, Error> {
        let dbus = zbus::fdo::DBusProxy::new(conn).await?;
        let creds = dbus
            .get_connection_credentials(sender.clone().into())
            .await
            .map_err(|e| {
                Error::CallerRefused(format!("the bus has no credentials for the caller: {e}"))
            })?;
        let pidfd = match creds.process_fd() {
            Some(fd) => Some(
                fd.as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| Error::Failed(format!("dup pidfd: {e}")))?,
            ),
            None => None,
        };
        Ok(PeerCredentials {
            pid: creds.process_id(),
            pidfd,
            uid: creds.unix_user_id(),
        })
    }

    async fn confirm(
        &self,
        conn: &Connection,
        sender: &UniqueName<'_>,
        pid: u32,
    ) -> Result<(), Error> {
        // The unique name must still belong to the process we read (it could have left and the
        // PID been reused only if the name were gone; a name is never reassigned).
        let dbus = zbus::fdo::DBusProxy::new(conn).await?;
        let again = dbus
            .get_connection_credentials(sender.clone().into())
            .await
            .map_err(|_| Error::CallerRefused("the caller left while it was identified".into()))?;
        if again.process_id().is_some_and(|p| p != pid) {
            return Err(Error::CallerRefused(
                "the caller's process changed while it was identified".into(),
            ));
        }
        Ok(())
    }

    /// The owner of `dev.latchkey.Prompt`, started by the bus's activation if none owns it.
    async fn prompt_owner(&self, conn: &Connection) -> Option<OwnedUniqueName> {
        let dbus = zbus::fdo::DBusProxy::new(conn).await.ok()?;
        let name = zbus::names::BusName::try_from(PROMPT_BUS_NAME).ok()?;
        if let Ok(owner) = dbus.get_name_owner(name.clone()).await {
            return Some(owner);
        }
        let activatable = dbus.list_activatable_names().await.unwrap_or_default();
        if !activatable.iter().any(|n| n.as_str() == PROMPT_BUS_NAME) {
            return None;
        }
        let wk = zbus::names::WellKnownName::try_from(PROMPT_BUS_NAME).ok()?;
        let _ = dbus.start_service_by_name(wk, 0).await;
        dbus.get_name_owner(name).await.ok()
    }

    async fn started_by_the_bus(&self, conn: &Connection, pid: u32, start_time: u64) -> bool {
        match zbus::fdo::DBusProxy::new(conn).await {
            Ok(dbus) => latchkey_api::started::started_by_the_bus(&dbus, pid, start_time).await,
            Err(_) => false,
        }
    }
}

/// The one caller of a peer-to-peer connection: the process at the other end of its socket
/// (module doc). Only [`PeerSocket::of`] makes one, from the socket itself.
#[derive(Debug)]
pub struct PeerSocket {
    name: OwnedUniqueName,
    pid: u32,
    uid: u32,
    /// Pins the peer's process from the moment the connection was made.
    pidfd: OwnedFd,
}

impl PeerSocket {
    /// The peer of the connected Unix socket `socket` (`SO_PEERCRED`: the process that made the
    /// connection, or the socket pair), whose requests go by `name`.
    pub fn of(socket: impl AsFd, name: OwnedUniqueName) -> std::io::Result<Self> {
        let cred = rustix::net::sockopt::socket_peercred(&socket)?;
        let pidfd = rustix::process::pidfd_open(cred.pid, rustix::process::PidfdFlags::empty())?;
        Ok(Self {
            name,
            pid: cred.pid.as_raw_nonzero().get().unsigned_abs(),
            uid: cred.uid.as_raw(),
            pidfd,
        })
    }

    /// The name its requests go by.
    pub fn name(&self) -> &OwnedUniqueName {
        &self.name
    }

    fn is_the_peer(&self, sender: &UniqueName<'_>) -> Result<(), Error> {
        if sender.as_str() == self.name.as_str() {
            Ok(())
        } else {
            Err(Error::CallerRefused(format!(
                "{sender} is not this connection's peer"
            )))
        }
    }
}

#[async_trait]
impl Callers for PeerSocket {
    fn sender(&self, hdr: &Header<'_>) -> Result<OwnedUniqueName, Error> {
        // The peer writes its own sender field, if any: it may only repeat its name.
        match hdr.sender() {
            Some(claimed) if claimed.as_str() != self.name.as_str() => Err(Error::CallerRefused(
                format!("the peer claims to be {claimed}"),
            )),
            _ => Ok(self.name.clone()),
        }
    }

    async fn credentials(
        &self,
        _conn: &Connection,
        sender: &UniqueName<'_>,
    ) -> Result<PeerCredentials, Error> {
        self.is_the_peer(sender)?;
        let pidfd = self
            .pidfd
            .try_clone()
            .map_err(|e| Error::Failed(format!("dup pidfd: {e}")))?;
        Ok(PeerCredentials {
            pid: Some(self.pid),
            pidfd: Some(pidfd),
            uid: Some(self.uid),
        })
    }

    async fn confirm(
        &self,
        _conn: &Connection,
        sender: &UniqueName<'_>,
        pid: u32,
    ) -> Result<(), Error> {
        // The socket's peer is fixed for the connection's life, and the pidfd pinned it while it
        // was read.
        self.is_the_peer(sender)?;
        if pid == self.pid {
            Ok(())
        } else {
            Err(Error::CallerRefused(
                "the caller's process changed while it was identified".into(),
            ))
        }
    }

    /// The peer itself: the only other end there is (a test serving the scripted prompt on its
    /// own end, trusted only when policy trusts its executable). No bus call is made: on a
    /// connection with no bus, nothing would answer one.
    async fn prompt_owner(&self, _conn: &Connection) -> Option<OwnedUniqueName> {
        Some(self.name.clone())
    }

    /// No bus started anything here.
    async fn started_by_the_bus(&self, _conn: &Connection, _pid: u32, _start_time: u64) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
