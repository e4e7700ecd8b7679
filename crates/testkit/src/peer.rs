//! latchkeyd's API served in this process over a peer-to-peer D-Bus connection: a Unix socket
//! pair, no `dbus-daemon`. For tests that only need the API (malformed input, policy refusals,
//! signals, management): latchkeyd identifies its one caller from the socket's `SO_PEERCRED`
//! ([`latchkey_daemon::identity::port::PeerSocket`]) — this test process, as a test on a bus
//! is identified through the bus. Nothing reaches a prompt here (there is no bus to find one
//! on), so requests that need one are refused.
//!
//! Both ends of the pair live in this process, on the test's runtime, so a test here may also
//! run on a paused tokio clock (`#[tokio::test(start_paused = true)]`): timeouts fire as soon as
//! nothing else is left to do, without waiting them out.

use latchkey_api::CredentialsClient;
use latchkey_daemon::identity::port::PeerSocket;
use latchkey_daemon::server::{Backends, Daemon, Settings};
use zbus::names::OwnedUniqueName;

use crate::SetupError;

/// The name latchkeyd's end of the connection goes by (the sender of its `Response`s).
pub const LATCHKEYD: &str = ":p2p.latchkeyd";
/// The name the caller's end goes by (its requests' handle paths are under it).
pub const CALLER: &str = ":p2p.caller";

/// latchkeyd serving one caller over a socket pair (module doc).
pub struct PeerDaemon {
    /// The latchkeyd.
    pub daemon: Daemon,
    /// The caller's client, connected straight to it.
    pub client: CredentialsClient,
}

impl std::ops::Deref for PeerDaemon {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

fn name(n: &str) -> Result<OwnedUniqueName, SetupError> {
    OwnedUniqueName::try_from(n).map_err(|e| SetupError::new("a peer's name", e))
}

/// Serves `settings` to a client of this process over a socket pair.
pub async fn try_serve(settings: Settings) -> Result<PeerDaemon, SetupError> {
    let (ours, theirs) =
        std::os::unix::net::UnixStream::pair().map_err(|e| SetupError::new("socket pair", e))?;
    // latchkeyd's end learns its peer from the kernel, as latchkeyd would.
    let peer = PeerSocket::of(&ours, name(CALLER)?)
        .map_err(|e| SetupError::new("SO_PEERCRED of the socket pair", e))?;
    let stream = |s: std::os::unix::net::UnixStream| {
        s.set_nonblocking(true)
            .and_then(|()| tokio::net::UnixStream::from_std(s))
            .map_err(|e| SetupError::new("socket pair", e))
    };
    let (ours, theirs) = (stream(ours)?, stream(theirs)?);
    let server = zbus::connection::Builder::unix_stream(ours)
        .server(zbus::Guid::generate())
        .map_err(|e| SetupError::new("latchkeyd's end", e))?
        .p2p()
        .unique_name(LATCHKEYD)
        .map_err(|e| SetupError::new("latchkeyd's end", e))?
        .build();
    let client = zbus::connection::Builder::unix_stream(theirs)
        .p2p()
        .unique_name(CALLER)
        .map_err(|e| SetupError::new("the caller's end", e))?
        .build();
    // Both ends authenticate at once: each waits for the other.
    let (server, client) = tokio::try_join!(server, client)
        .map_err(|e| SetupError::new("peer-to-peer authentication", e))?;
    let daemon = Daemon::serve_peer(server, peer, settings)
        .await
        .map_err(|e| SetupError::new("latchkeyd over a socket pair", e))?;
    let client = CredentialsClient::on_peer(client, name(LATCHKEYD)?)
        .await
        .map_err(|e| SetupError::new("the caller's client", e))?;
    Ok(PeerDaemon { daemon, client })
}

/// [`try_serve`], panicking with what went wrong.
pub async fn serve(settings: Settings) -> PeerDaemon {
    try_serve(settings).await.unwrap_or_else(|e| panic!("{e}"))
}

/// latchkeyd with `policy` and `backends` ([`crate::daemon::settings`]) over a socket pair.
pub async fn start(policy: &str, backends: impl Into<Backends>) -> PeerDaemon {
    serve(crate::daemon::settings(policy, backends)).await
}
