//! `latchkey-platform-worker`: the platform authenticator, sandboxed, as a child of latchkeyd.
//!
//! latchkeyd starts it with a `SOCK_SEQPACKET` socket as standard input and `--store DIR`. It
//! creates the store directory if needed, opens the store (a TPM's when one is reachable: its
//! TCTI connects or opens the device and loads its library now; either store takes the
//! directory's exclusive lock, held until the worker exits, and is refused while another process
//! holds it), applies its sandbox (no dumps,
//! Landlock, seccomp: `latchkey_worker::sandbox`, with what the TCTI still needs, and the
//! platform worker's seccomp profile; without Landlock it runs, logged, unless the TPM is reached
//! over TCP, which needs Landlock's network rules), and then serves requests until latchkeyd closes the socket. Nothing from latchkeyd is read before
//! the sandbox is on. It is not meant to be run by hand.
#![forbid(unsafe_code)]

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use latchkey_worker::link::Link;
use latchkey_worker::sandbox::{self, LandlockOutcome};
use latchkey_worker::serve::serve;
use latchkey_worker::session::server::Server;

/// The Latchkey platform authenticator worker (started by latchkeyd).
#[derive(Debug, Parser)]
#[command(name = "latchkey-platform-worker", version, about)]
struct Args {
    /// The credential store directory.
    #[arg(long)]
    store: PathBuf,
    /// Log filter (`error`, `warn`, `info`, `debug`, or a tracing directive).
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_ansi(false)
        .init();
    let link = match Link::from_stdin() {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "standard input is not latchkeyd's socket");
            return ExitCode::FAILURE;
        }
    };
    let refuse = |message: String| {
        tracing::error!("{message}");
        let _ = link.send(&Server::unavailable(message));
        ExitCode::FAILURE
    };
    // The store directory must exist before Landlock can name it; creating it (and syncing its
    // parent) needs access outside it, so it happens first.
    if let Err(e) = create_store_dir(&args.store) {
        return refuse(format!("cannot create {}: {e}", args.store.display()));
    }
    // Opened before the sandbox: a TPM's TCTI loads its library and opens its device or
    // connects here, and nothing from latchkeyd has been read yet. Neither store starts a thread
    // (checked below: one running now would escape the sandbox). Presence is the consent
    // latchkeyd obtained in its prompt before sending any request.
    let device = match latchkey_client::PlatformAuthenticator::open(Some(&args.store), |_| true) {
        Ok(d) => d,
        Err(e) => return refuse(e.to_string()),
    };
    let mut policy = sandbox::Policy::platform_worker(&args.store);
    if device.kind() == "tpm" {
        if let Some(conf) = latchkey_client::store::configured_tcti() {
            policy = match policy.with_tcti(&conf) {
                Ok(p) => p,
                Err(e) => return refuse(format!("cannot sandbox the platform authenticator: {e}")),
            };
        }
    }
    let applied = sandbox::single_threaded()
        .and_then(|()| sandbox::profile::platform_worker(&policy))
        .and_then(|profile| sandbox::apply(&policy, &profile));
    let landlock = match applied {
        Ok(status) => status.landlock,
        Err(e) => return refuse(format!("cannot sandbox the platform authenticator: {e}")),
    };
    match landlock {
        LandlockOutcome::Full => tracing::debug!("sandboxed: Landlock, seccomp"),
        LandlockOutcome::Partial => {
            tracing::warn!("Landlock is only partly enforced by this kernel")
        }
        // Still run: seccomp keeps the worker from sockets and exec (sandbox::landlock).
        LandlockOutcome::Unsupported => tracing::warn!(
            "this kernel has no Landlock: the worker's filesystem access is not confined (taken \
             over, it could write any of the user's files)"
        ),
    }
    // With TCP allowed, `apply` has refused already unless Landlock's network rules confine it.
    if !policy.tcp_connect.is_empty() {
        tracing::info!(
            ports = ?policy.tcp_connect,
            "the TPM is reached over TCP: the worker may connect to these ports"
        );
    }
    let ready = Server::ready(device.kind(), &args.store.display().to_string());
    match serve(link, device, &ready) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the link to latchkeyd failed");
            ExitCode::FAILURE
        }
    }
}

fn create_store_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}
