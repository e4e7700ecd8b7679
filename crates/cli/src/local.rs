//! The platform authenticator in this process (`--local`, `--store`), and what the command says
//! when another process holds its store.
//!
//! A store has one owner at a time (`crates/keystore/SECURITY.md`): while latchkeyd runs, its
//! platform worker holds the store, and opening it here is refused rather than racing the worker
//! (a credential deleted here would stay usable through latchkeyd, counters could go back). The
//! lock is the guarantee; the holder's process ID it records, and whether latchkeyd owns its bus
//! name, only choose the words.

use std::path::Path;

use latchkey_authenticator::store::StoreError;
use latchkey_client::platform::StoreOpenError;
use latchkey_client::PlatformAuthenticator;
use latchkey_webauthn::WebAuthnError;

/// The platform worker's name as the kernel keeps it (`/proc/PID/comm`: the executable's file
/// name, cut to 15 bytes).
const WORKER_COMM: &str = "latchkey-platfo";

/// Opens the platform authenticator over the store in `dir` (default `$XDG_DATA_HOME/latchkey`).
pub fn open(dir: Option<&Path>) -> Result<PlatformAuthenticator, WebAuthnError> {
    PlatformAuthenticator::open(dir, |_| true).map_err(|e| open_error(e, crate::daemon::running))
}

/// The error for a store that did not open; `daemon_running` is asked only when the holder of a
/// store in use cannot be told from its process ID.
pub fn open_error(e: StoreOpenError, daemon_running: impl FnOnce() -> bool) -> WebAuthnError {
    match e {
        StoreOpenError::Store {
            dir,
            source: StoreError::InUse { holder },
        } => {
            let dir = dir.display();
            let holder = holder.map(|pid| (pid, comm(pid)));
            WebAuthnError::not_allowed(match holder {
                Some((pid, Some(name))) if name == WORKER_COMM => format!(
                    "latchkeyd holds the credential store at {dir} (its platform authenticator is \
                     process {pid}); run without --local and --store to go through latchkeyd"
                ),
                Some((pid, Some(name))) => format!(
                    "the credential store at {dir} is in use by process {pid} ({name}); try again \
                     when it has finished"
                ),
                _ if daemon_running() => format!(
                    "latchkeyd holds the credential store at {dir}; run without --local and \
                     --store to go through latchkeyd"
                ),
                _ => format!(
                    "the credential store at {dir} is in use by another process; try again when \
                     it has finished"
                ),
            })
        }
        other => WebAuthnError::not_allowed(other.to_string()),
    }
}

/// The process's command name, if it still runs and can be read.
fn comm(pid: u32) -> Option<String> {
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    // Any process can name itself: no terminal escapes reach the user's terminal.
    Some(
        name.trim_end_matches('\n')
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect(),
    )
}

#[cfg(test)]
#[path = "local_tests.rs"]
mod tests;
