//! What Latchkey's test suites, examples and benchmark share, so that none of them sets up a bus,
//! a latchkeyd, a prompt or a security key its own way. A dev-dependency only (and the
//! benchmark's): no shipped binary links it.
//!
//! - [`bins`]: the workspace's binaries (latchkeyd, its worker, the prompts, `latchkey`).
//! - [`bus`]: a private `dbus-daemon` ([`bus::TestBus`]); never the machine's bus.
//! - [`daemon`]: latchkeyd served in this process on a test bus; [`policy`] texts for it;
//!   [`platform`]: the platform authenticator over a memory store, the back-end most tests use.
//! - [`peer`]: latchkeyd served in this process over a peer-to-peer connection (a socket pair,
//!   no bus), its caller identified from the socket: for tests that only need the API.
//! - [`latchkeyd`]: the real `latchkeyd` binary on a test bus, with a chosen environment,
//!   started by the bus ([`activation`]) as clients require.
//! - [`one_key`]: a bus, a virtual key, latchkeyd using it, the scripted prompt and a client, as
//!   the security-key tests begin.
//! - [`prompt`]: the scripted prompt, as its own process or in this one.
//! - [`keys`]: virtual security keys, in this process or as `latchkey virtual-key` processes.
//! - [`pcscd`]: a private pcscd with a vsmartcard vpcd reader, for NFC cards.
//! - [`https`]: a local HTTPS `/.well-known/webauthn` server and a fetcher trusting only it.
//! - [`rp`]: the relying party side, webauthn-rs (a library we did not write).
//! - [`caller`]: another process as a caller (this test binary, re-run).
//! - [`probe`]: a probe in a child process (this test binary, re-run for one ignored test) and
//!   the `PROBE` lines it reports.
//! - [`files`]: a directory's files and bytes, to show a refused operation changed nothing.
//! - [`secret`]: whether a PIN shows in a log as a whole token.
//! - [`terminal`]: the terminal prompt in this process, its answers typed up front or held until
//!   the test types them.
//! - [`wait`]: waiting on the event that says something happened (a tick, a file written, a
//!   process's exit, a bus name released), never on a sleep.
//!
//! Set-ups either panic with what went wrong (for tests) or, where the benchmark uses them, also
//! come as `try_…` returning a [`SetupError`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test set-ups fail loudly

pub mod activation;
pub mod bins;
pub mod bus;
pub mod caller;
pub mod daemon;
pub mod files;
pub mod https;
pub mod keys;
pub mod latchkeyd;
pub mod logs;
pub mod one_key;
pub mod pcscd;
pub mod peer;
pub mod platform;
pub mod policy;
pub mod probe;
pub mod prompt;
pub mod rp;
pub mod secret;
pub mod terminal;
pub mod wait;

pub use bus::TestBus;

/// A set-up that did not work: what, and why.
#[derive(Debug)]
pub struct SetupError {
    what: String,
    why: String,
}

impl SetupError {
    /// `what` failed because of `why`.
    pub fn new(what: impl Into<String>, why: impl std::fmt::Display) -> Self {
        Self {
            what: what.into(),
            why: why.to_string(),
        }
    }

    /// What failed.
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.why)
    }
}

impl std::error::Error for SetupError {}

/// Makes `exe` one that this process's clients, and the clients it starts, take for latchkeyd
/// (`latchkey_api::latchkeyd::LATCHKEYD_ENV`): latchkeyd served by this test binary, or the
/// `latchkeyd` binary under test, neither of which an installed activation file names.
pub fn trust_as_latchkeyd(exe: &std::path::Path) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let var = latchkey_api::latchkeyd::LATCHKEYD_ENV;
    let mut paths: Vec<std::path::PathBuf> = std::env::var_os(var)
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    if paths.iter().any(|p| p == exe) {
        return;
    }
    paths.push(exe.to_path_buf());
    if let Ok(joined) = std::env::join_paths(paths) {
        std::env::set_var(var, joined);
    }
}

/// The Landlock ABI this kernel supports (`landlock_create_ruleset` version query), 0 without.
pub fn landlock_abi() -> i64 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the version query takes no ruleset attributes (NULL, size 0).
    #[allow(unsafe_code)]
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    v.max(0)
}
