//! `latchkeyd`: the per-user WebAuthn platform service on the session bus.
//!
//! Normally started by D-Bus activation or its systemd user unit; run it in the foreground for
//! development (`latchkeyd --address unix:path=… --log-level debug`).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use latchkey_daemon::keys::{KeyAccess, KeyBackend, KeySources};
use latchkey_daemon::platform::PlatformBackend;
use latchkey_daemon::policy::{Policy, PolicyDirs};
use latchkey_daemon::related::{Limits, RelatedOrigins};
use latchkey_daemon::routing::Router;
use latchkey_daemon::server::{Daemon, Settings, Timeouts};
use latchkey_transport::{DeviceSpec, Roots};
use latchkey_worker::device_worker::{DeviceWorkerConfig, DEVICE_WORKER_PROGRAM};
use latchkey_worker::{WorkerConfig, WorkerDevice};

/// The Latchkey platform service (dev.latchkey.Credentials on the session bus).
#[derive(Debug, Parser)]
#[command(name = "latchkeyd", version, about)]
struct Args {
    /// Bus address (default: $DBUS_STARTER_ADDRESS when activated, else the session bus).
    #[arg(long)]
    address: Option<String>,
    /// Packaged policy directory.
    #[arg(long, default_value = "/usr/share/latchkey/policy.d")]
    policy_system_dir: PathBuf,
    /// Administrator policy directory.
    #[arg(long, default_value = "/etc/latchkey/policy.d")]
    policy_admin_dir: PathBuf,
    /// User policy directory, which may only narrow (default: $XDG_CONFIG_HOME/latchkey/policy.d).
    #[arg(long)]
    policy_user_dir: Option<PathBuf>,
    /// Platform credential store directory (default: $XDG_DATA_HOME/latchkey).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where remembered site decisions are kept (default: $STATE_DIRECTORY under systemd, else
    /// $XDG_STATE_HOME/latchkey).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Log filter (`error`, `warn`, `info`, `debug`, or a tracing directive).
    #[arg(long, default_value = "info", env = "LATCHKEYD_LOG")]
    log_level: String,
    /// Most requests waiting for the prompt at once.
    #[arg(long, default_value_t = 64)]
    queue_capacity: usize,
    /// A security key to offer: unix:PATH or udp:HOST:PORT (a `latchkey virtual-key`),
    /// /dev/hidrawN or hidraw:N, or pcsc:READER (the card on a PC/SC reader). Repeatable; a key
    /// that is absent is waited for when needed.
    #[arg(long, value_name = "SPEC")]
    device: Vec<String>,
    /// The security key list the `latchkey` CLI reads too (`devices = ["unix:…"]`)
    /// [default: $XDG_CONFIG_HOME/latchkey/devices.toml].
    #[arg(long, value_name = "FILE")]
    devices_config: Option<PathBuf>,
    /// Do not look for USB security keys (/dev/hidraw*) nor follow them being plugged in.
    #[arg(long)]
    no_usb: bool,
    /// Do not look for NFC security keys on PC/SC readers (pcscd) nor follow cards put on them.
    /// A build without the `pcsc` feature never does.
    #[arg(long)]
    no_pcsc: bool,
}

/// Logs to the journal when systemd runs latchkeyd (`JOURNAL_STREAM` is set) and its socket
/// takes a datagram; otherwise to stderr (without timestamps under systemd, which adds its own).
fn init_logging(level: &str) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = || {
        tracing_subscriber::EnvFilter::try_new(level)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let under_systemd = std::env::var_os("JOURNAL_STREAM").is_some();
    if under_systemd {
        match tracing_journald::layer() {
            Ok(journal) => {
                tracing_subscriber::registry()
                    .with(filter())
                    .with(journal.with_syslog_identifier("latchkeyd".to_owned()))
                    .init();
                return;
            }
            Err(e) => eprintln!("latchkeyd: the journal is not reachable ({e}); logging to stderr"),
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    if under_systemd {
        builder.without_time().with_ansi(false).init();
    } else {
        builder.init();
    }
}

/// The security keys from `--device`, the config file, (unless `--no-usb`) USB discovery and
/// (unless `--no-pcsc`, in a build with the `pcsc` feature) the cards on PC/SC readers.
fn key_sources(args: &Args) -> Result<KeySources, Box<dyn std::error::Error>> {
    let devices = args
        .device
        .iter()
        .map(|s| {
            s.parse::<DeviceSpec>()
                .map_err(|e| format!("--device {s}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sources = KeySources {
        devices,
        config: args
            .devices_config
            .clone()
            .or_else(latchkey_client::devices::config_path),
        usb: (!args.no_usb).then(Roots::default),
        pcsc: !args.no_pcsc && cfg!(feature = "pcsc"),
    };
    match sources.check() {
        Ok(listed) => tracing::info!(
            named = sources.devices.len() + listed.len(),
            usb = sources.usb.is_some(),
            pcsc = sources.pcsc,
            "security keys"
        ),
        Err(e) => tracing::warn!(error = %e, "the security key list is broken; it is ignored"),
    }
    Ok(sources)
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(&args.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "latchkeyd failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let sources = key_sources(&args)?;
    let mut dirs = PolicyDirs::standard();
    dirs.system = args.policy_system_dir;
    dirs.admin = args.policy_admin_dir;
    if let Some(user) = args.policy_user_dir {
        dirs.user = Some(user);
    }
    let policy = Policy::load(&dirs)?;
    // The platform authenticator runs sandboxed in latchkey-platform-worker (next to this
    // executable), which grants presence: latchkeyd obtained consent in the prompt first.
    let mut worker = WorkerConfig::for_latchkeyd(args.data_dir.as_deref())?;
    worker.log_level = args.log_level.clone();
    let device = WorkerDevice::start(worker)?;
    tracing::info!(store = device.kind(), pid = ?device.pid(), "platform authenticator worker started");
    let platform = Arc::new(PlatformBackend::new(Box::new(device)));
    let platform_store: Arc<dyn latchkey_daemon::store::PlatformStore> = platform.clone();
    let keys_enabled = sources.enabled();
    // Security keys are opened only in latchkey-device-worker (next to this executable, started
    // at the first ceremony on keys): latchkeyd itself opens no device.
    let device_worker = DeviceWorkerConfig {
        program: std::env::current_exe()?.with_file_name(DEVICE_WORKER_PROGRAM),
        usb: sources
            .usb
            .as_ref()
            .map(|r| (r.sysfs.clone(), r.dev.clone())),
        log_level: args.log_level.clone(),
    };
    let keys = Arc::new(
        KeyBackend::new(sources, Timeouts::default()).with_access(KeyAccess::worker(device_worker)),
    );
    let backends = Router::backends(platform, keys, keys_enabled);
    let related_origins = match RelatedOrigins::with_system_roots(Limits::default()) {
        Ok(r) => Some(Arc::new(r)),
        Err(e) => {
            tracing::warn!(error = %e, "related origin requests are disabled");
            None
        }
    };
    let settings = Settings {
        policy,
        backends,
        queue_capacity: args.queue_capacity,
        timeouts: Timeouts::default(),
        uid: rustix::process::getuid().as_raw(),
        related_origins,
        state_dir: args.state_dir.or_else(latchkey_daemon::remember::state_dir),
    };
    let address = args
        .address
        .or_else(|| std::env::var("DBUS_STARTER_ADDRESS").ok());
    let daemon = Daemon::start(address.as_deref(), settings).await?;
    // The store's session ends when the screen locks or the machine suspends.
    let system = match zbus::Connection::system().await {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::info!(error = %e, "no system bus: the store's session does not end at suspend");
            None
        }
    };
    let _lock_watch =
        latchkey_daemon::lock_watch::start(daemon.connection(), system, platform_store).await;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted"),
        _ = term.recv() => tracing::info!("terminated"),
        () = daemon.closed() => tracing::info!("the bus went away"),
    }
    Ok(())
}
