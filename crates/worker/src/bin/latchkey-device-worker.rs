//! `latchkey-device-worker`: latchkeyd's security keys, sandboxed, as a child of latchkeyd.
//!
//! latchkeyd starts it with a `SOCK_SEQPACKET` socket as standard input. It applies its sandbox
//! first (no dumps, Landlock: sysfs read, `/dev` for hidraw nodes, nothing else; seccomp:
//! `latchkey_worker::device_worker::sandbox`), says `Ready`, then finds, opens and drives keys
//! for latchkeyd until latchkeyd closes the socket. Nothing from latchkeyd is read and no key is
//! opened before the sandbox is on. It is not meant to be run by hand; `--sandbox-probe PATH`
//! applies the sandbox and reports whether PATH can still be read (for tests and for checking a
//! kernel's Landlock).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use latchkey_transport::Roots;
use latchkey_worker::device_worker::sandbox::{self, DevicePolicy};
use latchkey_worker::device_worker::serve::{failed, serve, Config};
use latchkey_worker::link::Link;
use latchkey_worker::protocol::device::DeviceReply;
use latchkey_worker::protocol::{Message, PROTOCOL_VERSION};
use latchkey_worker::sandbox::LandlockOutcome;

/// The Latchkey security key worker (started by latchkeyd).
#[derive(Debug, Parser)]
#[command(name = "latchkey-device-worker", version, about)]
struct Args {
    /// The sysfs mount read for hidraw discovery.
    #[arg(long, default_value = "/sys")]
    sysfs: PathBuf,
    /// The device directory holding the hidraw nodes.
    #[arg(long, default_value = "/dev")]
    dev: PathBuf,
    /// No USB discovery: only named keys and PC/SC cards.
    #[arg(long)]
    no_usb: bool,
    /// Log filter (`error`, `warn`, `info`, `debug`, or a tracing directive).
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Apply the sandbox, then try to read PATH and say what happened (exit status 0: readable).
    #[arg(long, value_name = "PATH")]
    sandbox_probe: Option<PathBuf>,
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
    let usb = (!args.no_usb).then(|| Roots {
        sysfs: args.sysfs.clone(),
        dev: args.dev.clone(),
    });
    let policy = DevicePolicy {
        sysfs: usb.as_ref().map(|r| r.sysfs.clone()),
        dev: usb.as_ref().map(|r| r.dev.clone()),
    };
    if let Some(path) = &args.sandbox_probe {
        return probe(&policy, path);
    }
    let link = match Link::from_stdin() {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "standard input is not latchkeyd's socket");
            return ExitCode::FAILURE;
        }
    };
    let landlock =
        match latchkey_worker::sandbox::single_threaded().and_then(|()| sandbox::apply(&policy)) {
            Ok(landlock) => landlock,
            Err(e) => {
                let message = format!("cannot sandbox the security key worker: {e}");
                tracing::error!("{message}");
                let reply = failed(&latchkey_client::DeviceError::Transport(
                    latchkey_client::device::TransportError::Reported(message),
                ));
                if let Ok(bytes) = (Message {
                    seq: 0,
                    body: reply,
                })
                .encode()
                {
                    let _ = link.send(&bytes);
                }
                return ExitCode::FAILURE;
            }
        };
    match landlock {
        LandlockOutcome::Full => tracing::debug!("sandboxed: Landlock, seccomp"),
        LandlockOutcome::Partial => tracing::warn!("Landlock is only partly enforced by this kernel"),
        LandlockOutcome::Unsupported => tracing::warn!(
            "this kernel has no Landlock: the security key worker's filesystem access is not confined"
        ),
    }
    let ready = Message {
        seq: 0,
        body: DeviceReply::Ready {
            version: PROTOCOL_VERSION,
        },
    };
    let ready = match ready.encode() {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "cannot say Ready");
            return ExitCode::FAILURE;
        }
    };
    match serve(link, &ready, &Config { usb }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the link to latchkeyd failed");
            ExitCode::FAILURE
        }
    }
}

/// `--sandbox-probe`: sandboxed, opens `path` for reading and prints the outcome.
fn probe(policy: &DevicePolicy, path: &std::path::Path) -> ExitCode {
    if let Err(e) =
        latchkey_worker::sandbox::single_threaded().and_then(|()| sandbox::apply(policy))
    {
        println!("sandbox: {e}");
        return ExitCode::from(2);
    }
    let opened = if path.is_dir() {
        std::fs::read_dir(path).map(drop)
    } else {
        std::fs::File::open(path).map(drop)
    };
    match opened {
        Ok(()) => {
            println!("{}: readable", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
