//! latchkeyd's API served in this process over a peer-to-peer D-Bus connection: a Unix socket
//! pair, no `dbus-daemon`. For tests that only need the API (malformed input, policy refusals,
//! signals, management): latchkeyd identifies its one caller from the socket's `SO_PEERCRED`
//! (`latchkey_daemon::identity::port::PeerSocket`, made by [`Daemon::serve_peer`] from the socket) — this test process, as a test on a bus
//! is identified through the bus. latchkeyd asks its peer for the prompt: with [`serve`] nothing
//! answers, so requests that need one are refused; with [`serve_prompting`] this process serves
//! the scripted prompt on its end, trusted when policy names this executable.
//!
//! Both ends of the pair live in this process, on the test's runtime, so a test here may also
//! run on a paused tokio clock (`#[tokio::test(start_paused = true)]`): timeouts fire as soon as
//! nothing else is left to do, without waiting them out.
//!
//! Every wait here is bounded by [`LIMIT`], so a regression fails instead of hanging: the set-up,
//! each method call on the caller's connection (its `method_timeout`), and whatever a test awaits
//! through [`within`]. On a paused clock the bound is virtual time too: it fires only after every
//! shorter timer (a request's timeout, the prompt's) had its turn.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use latchkey_api::CredentialsClient;
use latchkey_daemon::server::{Backends, Daemon, Settings};
use latchkey_prompt::{scripted, PROMPT_PATH};
use zbus::names::OwnedUniqueName;

use crate::prompt::Record;
use crate::SetupError;

/// The name latchkeyd's end of the connection goes by (the sender of its `Response`s).
pub const LATCHKEYD: &str = ":p2p.latchkeyd";
/// The name the caller's end goes by (its requests' handle paths are under it).
pub const CALLER: &str = ":p2p.caller";

/// How long any one wait of a peer test may take: the set-up, a method call, or what [`within`]
/// awaits. Everything here answers in milliseconds; the request timeouts tests use are shorter.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Awaits `fut`, or panics saying that `what` did not happen within [`LIMIT`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(LIMIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: nothing within {LIMIT:?} over the socket pair"),
    }
}

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
    try_serve_with(settings, None).await
}

/// [`try_serve`], the caller's end also serving the scripted prompt `script` (recording nothing):
/// latchkeyd over a peer-to-peer connection asks its peer, which it trusts as the prompt only when
/// policy names this executable as the trusted prompt ([`crate::policy::trusted_prompt_at`]).
pub async fn try_serve_prompting(
    settings: Settings,
    script: &str,
) -> Result<PeerDaemon, SetupError> {
    try_serve_prompting_to(settings, script, None).await
}

/// [`try_serve_prompting`], the prompt recording what it was shown into `record` (JSON lines, as
/// [`crate::prompt::read_record`] reads them) when given.
pub async fn try_serve_prompting_to(
    settings: Settings,
    script: &str,
    record: Option<&Path>,
) -> Result<PeerDaemon, SetupError> {
    let steps = scripted::parse_script(script).map_err(|e| SetupError::new("prompt script", e))?;
    let prompt = scripted::ScriptedPrompt::new(steps, record)
        .map_err(|e| SetupError::new("prompt record", e))?;
    try_serve_with(settings, Some(prompt)).await
}

async fn try_serve_with(
    settings: Settings,
    prompt: Option<scripted::ScriptedPrompt>,
) -> Result<PeerDaemon, SetupError> {
    let (ours, theirs) =
        std::os::unix::net::UnixStream::pair().map_err(|e| SetupError::new("socket pair", e))?;
    let theirs = theirs
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixStream::from_std(theirs))
        .map_err(|e| SetupError::new("socket pair", e))?;
    // latchkeyd's end learns its peer from the kernel, as latchkeyd would.
    let server = Daemon::serve_peer(ours, name(LATCHKEYD)?, name(CALLER)?, settings);
    let mut client = zbus::connection::Builder::unix_stream(theirs)
        .p2p()
        .method_timeout(LIMIT);
    // Served from the start, as latchkeyd's service is (`Daemon::serve_peer`).
    client = match prompt {
        Some(p) if p.script_version() == 1 => {
            client.serve_at(PROMPT_PATH, scripted::ScriptedPromptV1(p))
        }
        Some(p) => client.serve_at(PROMPT_PATH, p),
        None => Ok(client),
    }
    .map_err(|e| SetupError::new("the prompt on the caller's end", e))?;
    let client = client.build();
    // Both ends authenticate at once: each waits for the other.
    let (daemon, client) = tokio::join!(server, client);
    let daemon = daemon.map_err(|e| SetupError::new("latchkeyd over a socket pair", e))?;
    let client = client.map_err(|e| SetupError::new("the caller's end", e))?;
    // zbus gives a client's end of a peer-to-peer connection no unique name (the builder's is
    // for the server's end): without one its requests' handle paths cannot be predicted.
    client
        .set_unique_name(CALLER)
        .map_err(|e| SetupError::new("the caller's name", e))?;
    let client = CredentialsClient::on_peer(client, name(LATCHKEYD)?)
        .await
        .map_err(|e| SetupError::new("the caller's client", e))?;
    Ok(PeerDaemon { daemon, client })
}

/// [`try_serve`] within [`LIMIT`], panicking with what went wrong.
pub async fn serve(settings: Settings) -> PeerDaemon {
    within("latchkeyd over a socket pair", try_serve(settings))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// [`try_serve_prompting`] within [`LIMIT`], panicking with what went wrong.
pub async fn serve_prompting(settings: Settings, script: &str) -> PeerDaemon {
    within(
        "latchkeyd over a socket pair, with the prompt",
        try_serve_prompting(settings, script),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// [`try_serve_prompting_to`] within [`LIMIT`], panicking with what went wrong.
pub async fn serve_prompting_to(settings: Settings, script: &str, record: &Path) -> PeerDaemon {
    within(
        "latchkeyd over a socket pair, with the prompt recording",
        try_serve_prompting_to(settings, script, Some(record)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// latchkeyd with `policy` and `backends` ([`crate::daemon::settings`]) over a socket pair, this
/// process's end serving the scripted prompt `script`: `policy` names this executable as the
/// trusted prompt ([`crate::policy::self_prompting`]).
pub async fn start_prompting(
    policy: &str,
    backends: impl Into<Backends>,
    script: &str,
) -> PeerDaemon {
    serve_prompting(crate::daemon::settings(policy, backends), script).await
}

/// [`serve_prompting`], the prompt recording what it was shown in a [`Record`] of its own.
pub async fn serve_recorded(settings: Settings, script: &str) -> (PeerDaemon, Record) {
    let record = Record::temporary().unwrap_or_else(|e| panic!("{e}"));
    let d = serve_prompting_to(settings, script, record.path()).await;
    (d, record)
}

/// [`serve_recorded`], the caller's end registered (`RegisterPrompt`) as the caller-controlled
/// prompt of its own requests: what a terminal prompt is, when policy does not name this
/// executable as the trusted prompt ([`crate::policy::privileged_self_alone`]).
pub async fn serve_registered(settings: Settings, script: &str) -> (PeerDaemon, Record) {
    let (d, record) = serve_recorded(settings, script).await;
    within(
        "registering the caller's prompt",
        d.client.proxy().register_prompt(),
    )
    .await
    .unwrap_or_else(|e| panic!("registering the caller's prompt: {e}"));
    (d, record)
}

/// latchkeyd with `policy` and `backends` ([`crate::daemon::settings`]) over a socket pair, this
/// process's end serving the scripted prompt `script` and recording what it was shown
/// ([`start_prompting`]).
pub async fn start_recorded(
    policy: &str,
    backends: impl Into<Backends>,
    script: &str,
) -> (PeerDaemon, Record) {
    serve_recorded(crate::daemon::settings(policy, backends), script).await
}

/// latchkeyd with `policy` and `backends` ([`crate::daemon::settings`]) over a socket pair.
pub async fn start(policy: &str, backends: impl Into<Backends>) -> PeerDaemon {
    serve(crate::daemon::settings(policy, backends)).await
}
