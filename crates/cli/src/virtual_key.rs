//! `latchkey virtual-key`: the software authenticator as a CTAPHID device.
//!
//! Serves `latchkey_authenticator::Authenticator` over UDP (one datagram per 64-byte report,
//! as the Solo and Trezor simulators do) or a Unix `SOCK_SEQPACKET` socket, so that CTAP
//! clients — ours, python-fido2, libfido2 through a shim — can be tested without hardware; or,
//! with `--vpcd`, as a contactless card in vsmartcard's virtual reader, so that PC/SC clients
//! reach it through pcscd as they would an NFC key.
//! Credentials live in memory unless `--state DIR` names a directory, which then holds an
//! **unprotected** file store: anyone who can read it can use the keys. Test keys only.
//!
//! By default the key answers as shipped CTAP 2.1 keys do, with `packed` self attestation;
//! [`policy`] flags make it announce other getInfo policies or speak CTAP 2.0.

mod policy;

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use latchkey_authenticator::env::{Clock, Rng};
use latchkey_authenticator::memory::MemoryStore;
use latchkey_authenticator::store::CredentialStore;
use latchkey_authenticator::uv::UvScript;
use latchkey_authenticator::{Authenticator, BuiltInUv, Config};
use latchkey_keystore::{FileStore, Protection};
use latchkey_transport::virtual_key::vpcd::{self, Misbehaviour, VpcdOptions};
use latchkey_transport::virtual_key::{CtapHidApp, Signals, VirtualKey};
use latchkey_transport::SeqpacketListener;

mod presence;
use presence::Presence;

/// Options of `latchkey virtual-key`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("listen").required(true).args(["udp", "unix", "vpcd"])))]
pub struct Args {
    /// Listen for 64-byte reports as UDP datagrams on this address (e.g. 127.0.0.1:8111).
    #[arg(long, value_name = "ADDR")]
    udp: Option<SocketAddr>,
    /// Listen on a Unix SOCK_SEQPACKET socket at this path (a stale socket file is replaced).
    #[arg(long, value_name = "PATH")]
    unix: Option<PathBuf>,
    /// Be a contactless card (CTAP over NFC) in vsmartcard's virtual reader: connect to the
    /// vpcd driver of a running pcscd at HOST:PORT (its reader.conf's port, 35963 by default).
    /// Stopping this command takes the card off the reader.
    #[arg(long, value_name = "HOST:PORT")]
    vpcd: Option<String>,
    /// For testing clients: as a vpcd card, break CTAP over NFC this way on every CTAP2
    /// request but authenticatorGetInfo.
    #[arg(long, value_enum, requires = "vpcd")]
    misbehave: Option<Misbehave>,
    /// How user presence is answered: granted at once, always denied, or asked on the terminal.
    #[arg(long, value_enum, default_value_t = PresenceMode::Auto)]
    presence: PresenceMode,
    /// Seconds a terminal prompt waits for an answer before timing out.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    prompt_timeout: u64,
    /// Keep credentials and PIN state in this directory (UNPROTECTED at rest; test keys only).
    /// Without it, state lives in memory and is lost on exit.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Emulate a fingerprint reader (built-in user verification): `off` (no reader, the
    /// default), `unenrolled` (a reader with no finger enrolled), or the outcomes of successive
    /// attempts, `match` / `no-match` separated by commas, the last one repeating
    /// (`--uv match`, `--uv no-match,match`).
    #[arg(long, value_name = "SPEC", default_value = "off", value_parser = parse_uv)]
    uv: UvMode,
    /// The emulated reader's maxUvRetries: failed fingers before it blocks until a right PIN.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u8).range(1..=25))]
    uv_retries: u8,
    #[command(flatten)]
    policy: policy::Policy,
}

/// `--uv`: the emulated fingerprint reader.
#[derive(Debug, Clone)]
enum UvMode {
    /// No reader.
    Off,
    /// A reader, nobody enrolled.
    Unenrolled,
    /// An enrolled reader answering from a script.
    Script(UvScript),
}

fn parse_uv(spec: &str) -> Result<UvMode, String> {
    match spec {
        "off" => Ok(UvMode::Off),
        "unenrolled" => Ok(UvMode::Unenrolled),
        script => script
            .parse::<UvScript>()
            .map(UvMode::Script)
            .map_err(|e| e.to_string()),
    }
}

impl UvMode {
    fn built_in_uv(&self) -> BuiltInUv {
        match self {
            Self::Off => BuiltInUv::Absent,
            Self::Unenrolled => BuiltInUv::NotConfigured,
            Self::Script(_) => BuiltInUv::Configured,
        }
    }
}

/// How the virtual key answers requests for user presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PresenceMode {
    /// Presence is granted immediately.
    Auto,
    /// Presence is always refused (CTAP2_ERR_OPERATION_DENIED).
    Deny,
    /// "Touch? [y/N]" on the controlling terminal.
    Prompt,
    /// Nobody ever touches: the key waits (saying so in keepalives) until the client cancels.
    Wait,
}

/// `--misbehave`: how a vpcd card breaks the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Misbehave {
    /// Answers with one byte, shorter than a status word.
    Truncated,
    /// Answers with status word 6A80.
    WrongStatus,
    /// Announces more data (61 00) without end, sending none.
    EndlessChain,
    /// Sends 256 bytes and announces more, without end.
    Oversized,
    /// Says it is still working (9100) to every poll, for ever.
    EndlessUpdates,
    /// Never answers.
    Silent,
}

impl Misbehave {
    fn to_transport(self) -> Misbehaviour {
        match self {
            Self::Truncated => Misbehaviour::Truncated,
            Self::WrongStatus => Misbehaviour::WrongStatus,
            Self::EndlessChain => Misbehaviour::EndlessChain,
            Self::Oversized => Misbehaviour::Oversized,
            Self::EndlessUpdates => Misbehaviour::EndlessUpdates,
            Self::Silent => Misbehaviour::Silent,
        }
    }
}

/// Runs the virtual key until SIGINT/SIGTERM.
pub fn run(args: Args) -> ExitCode {
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("latchkey virtual-key: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: Args) -> Result<(), String> {
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&shutdown))
            .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
    }
    let signals = Signals::new();
    let mut presence = Presence::new(args.presence, &signals, args.prompt_timeout)?;
    if let UvMode::Script(script) = &args.uv {
        presence.fingers = Some(script.clone());
    }
    match &args.state {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let store = FileStore::open(dir, Protection::None)
                .map_err(|e| format!("cannot open the store in {}: {e:?}", dir.display()))?;
            listen(&args, store, presence, signals, shutdown)
        }
        None => listen(&args, MemoryStore::default(), presence, signals, shutdown),
    }
}

fn listen<S: CredentialStore + Send + 'static>(
    args: &Args,
    store: S,
    presence: Presence,
    signals: Signals,
    shutdown: Arc<AtomicBool>,
) -> Result<(), String> {
    let mut config = Config {
        built_in_uv: args.uv.built_in_uv(),
        max_uv_retries: args.uv_retries,
        ..Config::default()
    };
    if args.vpcd.is_some() {
        config.transports = vec!["nfc".to_owned()];
    }
    args.policy.apply(&mut config);
    let app = AuthenticatorApp {
        inner: Authenticator::new(config, store, presence, SystemClock::new(), SystemRng),
    };
    let key = VirtualKey::new(app, signals);
    if let Some(addr) = args.udp {
        let socket = UdpSocket::bind(addr).map_err(|e| format!("cannot bind udp {addr}: {e}"))?;
        let local = socket.local_addr().map_err(|e| e.to_string())?;
        announce(&format!("udp {local}"));
        key.serve_udp(socket, shutdown).map_err(|e| e.to_string())
    } else if let Some(path) = &args.unix {
        let listener = SeqpacketListener::bind(path)
            .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
        announce(&format!("unix {}", path.display()));
        key.serve_unix(listener, shutdown)
            .map_err(|e| e.to_string())
    } else if let Some(addr) = &args.vpcd {
        let target = vpcd::resolve(addr).map_err(|e| format!("--vpcd {addr}: {e}"))?;
        let stream = vpcd::connect(target, VPCD_PATIENCE)
            .map_err(|e| format!("cannot connect to vpcd at {target}: {e}"))?;
        announce(&format!("vpcd {target}"));
        let options = VpcdOptions {
            misbehave: args.misbehave.map(Misbehave::to_transport),
            ..VpcdOptions::default()
        };
        key.serve_vpcd(stream, options, shutdown)
            .map_err(|e| format!("vpcd at {target}: {e}"))
    } else {
        Err("give --udp ADDR, --unix PATH or --vpcd HOST:PORT".to_owned())
    }
}

/// How long `--vpcd` waits for vpcd to listen (pcscd loads it a moment after starting).
const VPCD_PATIENCE: Duration = Duration::from_secs(10);

/// One line on stdout once the socket is ready, so scripts can wait for it (and learn the port
/// when they asked for port 0).
fn announce(what: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "latchkey virtual-key: serving on {what}");
    let _ = out.flush();
}

/// The authenticator as a CTAPHID application.
struct AuthenticatorApp<S: CredentialStore> {
    inner: Authenticator<S, Presence, SystemClock, SystemRng>,
}

impl<S: CredentialStore + Send + 'static> CtapHidApp for AuthenticatorApp<S> {
    fn cbor(&mut self, request: &[u8]) -> Vec<u8> {
        self.inner.handle_cbor(request)
    }

    fn msg(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.inner.handle_u2f(apdu)
    }

    fn wink(&mut self) {
        eprintln!("latchkey virtual-key: *wink*");
    }

    fn power_cycle(&mut self) {
        self.inner.power_cycle();
    }
}

/// Milliseconds since the virtual key started.
#[derive(Debug, Clone, Copy)]
struct SystemClock {
    start: Instant,
}

impl SystemClock {
    fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn unix_time(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// The operating system's random number generator.
#[derive(Debug, Clone, Copy)]
struct SystemRng;

impl Rng for SystemRng {
    fn fill(&mut self, buf: &mut [u8]) {
        if aws_lc_rs::rand::fill(buf).is_err() {
            // Without randomness no key or token would be safe: stop rather than go on.
            std::process::abort();
        }
    }
}
