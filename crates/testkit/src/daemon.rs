//! latchkeyd served in this process on a test bus: its D-Bus service, policy, queue and prompt
//! broker as the binary runs them, with a back-end the test chooses (often
//! [`crate::platform::memory_platform`]) and short request timeouts.

use std::sync::Arc;
use std::time::Duration;

use latchkey_daemon::policy::Policy;
use latchkey_daemon::related::RelatedOrigins;
pub use latchkey_daemon::server::{Backends, Daemon, Settings, Timeouts};

use crate::bus::TestBus;
use crate::SetupError;

/// Timeouts for tests: a request may ask for as little as 200 ms.
pub fn test_timeouts() -> Timeouts {
    Timeouts {
        min: Duration::from_millis(200),
        max: Duration::from_secs(60),
        default: Duration::from_secs(30),
    }
}

/// This process's user, the only one latchkeyd serves.
pub fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// The settings of an in-process latchkeyd: `policy` (which must parse without warnings),
/// `backends`, a queue of 64 and [`test_timeouts`], no Related Origin Requests.
pub fn settings(policy: &str, backends: impl Into<Backends>) -> Settings {
    try_settings(policy, backends).unwrap_or_else(|e| panic!("{e}"))
}

/// [`settings`], or why the policy does not do.
pub fn try_settings(policy: &str, backends: impl Into<Backends>) -> Result<Settings, SetupError> {
    let policy = Policy::from_toml(policy).map_err(|e| SetupError::new("policy", e))?;
    if !policy.warnings.is_empty() {
        return Err(SetupError::new("policy", format!("{:?}", policy.warnings)));
    }
    Ok(Settings {
        policy,
        backends: backends.into(),
        queue_capacity: 64,
        timeouts: test_timeouts(),
        uid: uid(),
        related_origins: None,
        state_dir: None,
    })
}

/// Serves `settings` on `bus`.
pub async fn start_with_settings(bus: &TestBus, settings: Settings) -> Daemon {
    // The callers this process starts (the CLI, the native host, a caller process) meet
    // latchkeyd in this test binary.
    if let Ok(me) = std::env::current_exe() {
        crate::trust_as_latchkeyd(&me);
    }
    wait_for_the_name_to_be_free(bus).await;
    Daemon::start(Some(&bus.address), settings)
        .await
        .unwrap_or_else(|e| panic!("latchkeyd did not start on {}: {e}", bus.address))
}

/// Waits until no latchkeyd owns its name on `bus` (`NameOwnerChanged`): a test that drops one
/// latchkeyd and starts the next on the same bus would otherwise meet the first one's connection
/// still closing, and latchkeyd does not queue for its name.
async fn wait_for_the_name_to_be_free(bus: &TestBus) {
    let conn = bus.connect().await;
    crate::wait::name_released(&conn, latchkey_api::BUS_NAME, "the last latchkeyd's name").await;
}

/// latchkeyd on `bus` with `policy` and `auth`.
pub async fn start_daemon(bus: &TestBus, policy: &str, auth: impl Into<Backends>) -> Daemon {
    start_with_settings(bus, settings(policy, auth)).await
}

/// [`settings`] with a queue of `queue_capacity` and `timeouts`.
pub fn settings_with(
    policy: &str,
    auth: impl Into<Backends>,
    queue_capacity: usize,
    timeouts: Timeouts,
) -> Settings {
    let mut s = settings(policy, auth);
    s.queue_capacity = queue_capacity;
    s.timeouts = timeouts;
    s
}

/// [`start_daemon`] with a queue of `queue_capacity` and `timeouts`.
pub async fn start_daemon_with(
    bus: &TestBus,
    policy: &str,
    auth: impl Into<Backends>,
    queue_capacity: usize,
    timeouts: Timeouts,
) -> Daemon {
    start_with_settings(bus, settings_with(policy, auth, queue_capacity, timeouts)).await
}

/// [`settings`] with a queue of `queue_capacity` and Related Origin Requests through `related`.
pub fn settings_related(
    policy: &str,
    auth: impl Into<Backends>,
    queue_capacity: usize,
    related: Arc<RelatedOrigins>,
) -> Settings {
    let mut s = settings(policy, auth);
    s.queue_capacity = queue_capacity;
    s.related_origins = Some(related);
    s
}

/// [`start_daemon`] with a queue of `queue_capacity` and Related Origin Requests through
/// `related`.
pub async fn start_daemon_related(
    bus: &TestBus,
    policy: &str,
    auth: impl Into<Backends>,
    queue_capacity: usize,
    related: Arc<RelatedOrigins>,
) -> Daemon {
    start_with_settings(bus, settings_related(policy, auth, queue_capacity, related)).await
}
