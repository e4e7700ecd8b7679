//! `latchkey-platform-worker`: the platform authenticator, sandboxed, as a child of latchkeyd.
//!
//! latchkeyd starts it with a `SOCK_SEQPACKET` socket as standard input and `--store DIR`. It
//! creates the store directory if needed, applies its sandbox (no dumps, Landlock, seccomp:
//! `latchkey_daemon::worker::sandbox`), opens the store, and then serves requests until
//! latchkeyd closes the socket. It is not meant to be run by hand.
#![forbid(unsafe_code)]

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use latchkey_daemon::worker::link::Link;
use latchkey_daemon::worker::protocol::{ErrorCode, ErrorReply, Ready, Reply};
use latchkey_daemon::worker::sandbox::{self, LandlockOutcome};
use latchkey_daemon::worker::serve::serve;

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
        let reply = Reply::Error(ErrorReply::new(ErrorCode::Unavailable, message));
        let _ = link.send(&reply.encode(0));
        ExitCode::FAILURE
    };
    // The store directory must exist before Landlock can name it; creating it (and syncing its
    // parent) needs access outside it, so it happens first.
    if let Err(e) = create_store_dir(&args.store) {
        return refuse(format!("cannot create {}: {e}", args.store.display()));
    }
    if let Some(tcti) = ["TPM2TOOLS_TCTI", "TCTI"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|t| t.starts_with("swtpm") || t.starts_with("mssim"))
    {
        // The sandbox lets the worker create no socket: only the kernel's TPM device is reachable.
        tracing::warn!(%tcti, "a network TPM interface cannot be reached from the sandbox");
    }
    let policy = sandbox::Policy::platform_worker(&args.store);
    match sandbox::apply(&policy) {
        Ok(status) => match status.landlock {
            LandlockOutcome::Full => tracing::debug!("sandboxed: Landlock, seccomp"),
            LandlockOutcome::Partial => {
                tracing::warn!("Landlock is only partly enforced by this kernel")
            }
            LandlockOutcome::Unsupported => tracing::warn!(
                "this kernel has no Landlock: the worker's filesystem access is not confined"
            ),
        },
        Err(e) => return refuse(format!("cannot sandbox the platform authenticator: {e}")),
    }
    // Presence is the consent latchkeyd obtained in its prompt before sending any request.
    let device = match latchkey_client::PlatformAuthenticator::open(Some(&args.store), |_| true) {
        Ok(d) => d,
        Err(e) => return refuse(e.to_string()),
    };
    let ready = Ready {
        kind: device.kind().to_owned(),
        path: args.store.display().to_string(),
    };
    match serve(link, device, ready) {
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
