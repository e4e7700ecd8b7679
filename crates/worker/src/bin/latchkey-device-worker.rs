//! `latchkey-device-worker`: latchkeyd's security keys, sandboxed, as a child of latchkeyd.
//!
//! latchkeyd starts it with a `SOCK_SEQPACKET` socket as standard input. It applies its sandbox
//! first (a namespace whose root keeps sysfs, `/dev` and the `--socket`s only; no dumps;
//! Landlock: sysfs read, `/dev` for hidraw nodes, nothing else; seccomp:
//! `latchkey_worker::device_worker::sandbox`), says `Ready`, then finds, opens and drives keys
//! for latchkeyd until latchkeyd closes the socket. Nothing from latchkeyd is read and no key is
//! opened before the sandbox is on. It is not meant to be run by hand; `--sandbox-probe PATH`
//! applies the sandbox and reports whether PATH can still be read, or for a socket connected to
//! (for tests and for checking a kernel's Landlock and user namespaces).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use latchkey_transport::Roots;
use std::sync::Arc;

use latchkey_worker::device_worker::broker::BrokerClient;
use latchkey_worker::device_worker::namespace::Outcome;
use latchkey_worker::device_worker::sandbox::{self, Applied, DevicePolicy, DeviceSandboxError};
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
    /// A socket the worker connects to itself (pcscd's): kept in its filesystem, where no
    /// other socket is (latchkeyd connects `unix:` keys for it). Repeatable.
    #[arg(long = "socket", value_name = "PATH")]
    sockets: Vec<PathBuf>,
    /// Stay in the session's network namespace (for `udp:` keys): abstract Unix sockets and
    /// the network stay reachable.
    #[arg(long)]
    host_network: bool,
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
        sockets: args.sockets.clone(),
        host_network: args.host_network,
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
    // latchkeyd connects `unix:` keys for the worker, whose namespace holds none of the user's
    // sockets (taken before the sandbox: nothing from latchkeyd is read before it).
    let unix = BrokerClient::from_stdout()
        .map(|b| Arc::new(b) as Arc<dyn latchkey_client::hid::UnixConnector>);
    let applied = match sandboxed(&policy) {
        Ok(applied) => applied,
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
    report(&applied);
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
    let inotify = applied.namespace.own_network();
    match serve(link, &ready, &Config { usb, unix, inotify }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the link to latchkeyd failed");
            ExitCode::FAILURE
        }
    }
}

/// Checks that no thread runs, then applies the sandbox.
fn sandboxed(policy: &DevicePolicy) -> Result<Applied, DeviceSandboxError> {
    latchkey_worker::sandbox::single_threaded()?;
    sandbox::apply(policy)
}

/// Logs what the sandbox could not do on this system.
fn report(applied: &Applied) {
    match &applied.namespace {
        Outcome::Entered {
            sockets,
            own_network,
        } => tracing::info!(
            ?sockets,
            own_network,
            "in namespaces of its own, keeping these sockets"
        ),
        Outcome::Unavailable { step, error, .. } => tracing::warn!(
            step,
            %error,
            "its namespaces are not whole ({step}: {error}): the security key worker can connect to any of the user's named sockets"
        ),
    }
    match applied.landlock {
        LandlockOutcome::Full => tracing::debug!("sandboxed: Landlock, seccomp"),
        LandlockOutcome::Partial => tracing::warn!("Landlock is only partly enforced by this kernel"),
        LandlockOutcome::Unsupported => tracing::warn!(
            "this kernel has no Landlock: the security key worker's filesystem access is not confined"
        ),
    }
}

/// `--sandbox-probe`: sandboxed, opens `path` for reading (a socket: connects to it) and prints
/// the outcome, after a first line saying whether the namespace was made.
fn probe(policy: &DevicePolicy, path: &std::path::Path) -> ExitCode {
    match sandboxed(policy) {
        Ok(applied) => match applied.namespace {
            Outcome::Entered { .. } => println!("namespace: entered"),
            Outcome::Unavailable {
                step,
                error,
                own_network,
            } => println!(
                "namespace: none ({step}: {error}); own network namespace: {}",
                if own_network { "yes" } else { "no" }
            ),
        },
        Err(e) => {
            println!("sandbox: {e}");
            return ExitCode::from(2);
        }
    }
    use std::os::unix::fs::FileTypeExt as _;
    // `@NAME`: an abstract socket.
    if let Some(name) = path.to_str().and_then(|p| p.strip_prefix('@')) {
        use std::os::linux::net::SocketAddrExt as _;
        use std::os::unix::net::{SocketAddr, UnixStream};
        let reached =
            SocketAddr::from_abstract_name(name).and_then(|addr| UnixStream::connect_addr(&addr));
        return said(path, reached.map(drop));
    }
    let opened = match std::fs::metadata(path) {
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => std::fs::read_dir(path).map(drop),
        Ok(m) if m.file_type().is_socket() => std::os::unix::net::UnixStream::connect(path)
            .map(drop)
            .or_else(|_| connect_seqpacket(path)),
        Ok(_) => std::fs::File::open(path).map(drop),
    };
    said(path, opened)
}

/// Prints what the probe of `path` found; exit status 0 if it was reached.
fn said(path: &std::path::Path, reached: std::io::Result<()>) -> ExitCode {
    match reached {
        Ok(()) => {
            println!("{}: reachable", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

/// Connects a `SOCK_SEQPACKET` socket (a virtual key's kind) to `path`.
fn connect_seqpacket(path: &std::path::Path) -> std::io::Result<()> {
    let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::SEQPACKET, None)?;
    socket.connect(&socket2::SockAddr::unix(path)?)
}
