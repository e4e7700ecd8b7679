//! `latchkey virtual-key`: the software authenticator as a CTAPHID device.
//!
//! Serves `latchkey_authenticator::Authenticator` over UDP (one datagram per 64-byte report,
//! as the Solo and Trezor simulators do) or a Unix `SOCK_SEQPACKET` socket, so that CTAP
//! clients — ours, python-fido2, libfido2 through a shim — can be tested without hardware.
//! Credentials live in memory unless `--state DIR` names a directory, which then holds an
//! **unprotected** file store: anyone who can read it can use the keys. Test keys only.
//!
//! By default the key answers as shipped CTAP 2.1 keys do, with `packed` self attestation;
//! [`policy`] flags make it announce other getInfo policies or speak CTAP 2.0.

mod policy;

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use latchkey_authenticator::env::{
    Clock, PresenceDenied, PresencePurpose, Rng, UserPresence, UvMatch,
};
use latchkey_authenticator::memory::MemoryStore;
use latchkey_authenticator::store::CredentialStore;
use latchkey_authenticator::uv::UvScript;
use latchkey_authenticator::{Authenticator, BuiltInUv, Config};
use latchkey_keystore::{FileStore, Protection};
use latchkey_transport::virtual_key::{CtapHidApp, Signals, VirtualKey};
use latchkey_transport::SeqpacketListener;

/// Options of `latchkey virtual-key`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("listen").required(true).args(["udp", "unix"])))]
pub struct Args {
    /// Listen for 64-byte reports as UDP datagrams on this address (e.g. 127.0.0.1:8111).
    #[arg(long, value_name = "ADDR")]
    udp: Option<SocketAddr>,
    /// Listen on a Unix SOCK_SEQPACKET socket at this path (a stale socket file is replaced).
    #[arg(long, value_name = "PATH")]
    unix: Option<PathBuf>,
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
    } else {
        Err("give --udp ADDR or --unix PATH".to_owned())
    }
}

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

/// How often a waiting prompt looks at the CANCEL flag.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// The user-presence answer for `--presence`.
struct Presence {
    mode: PresenceMode,
    signals: Signals,
    timeout: Duration,
    /// For `prompt`: the terminal to write to and the lines read from it.
    tty: Option<(File, Receiver<String>)>,
    /// `--uv`: what the emulated fingerprint reader answers.
    fingers: Option<UvScript>,
}

impl Presence {
    fn new(mode: PresenceMode, signals: &Signals, timeout_secs: u64) -> Result<Self, String> {
        let tty = if mode == PresenceMode::Prompt {
            let write = File::options()
                .write(true)
                .open("/dev/tty")
                .map_err(|e| format!("--presence prompt needs a controlling terminal: {e}"))?;
            let read = File::open("/dev/tty").map_err(|e| format!("cannot read /dev/tty: {e}"))?;
            let (tx, rx) = mpsc::channel();
            // One reader for the whole run: a prompt that was cancelled must not leave a
            // second reader competing for the next answer.
            thread::Builder::new()
                .name("presence-tty".into())
                .spawn(move || {
                    for line in BufReader::new(read).lines() {
                        let Ok(line) = line else { break };
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| format!("cannot start the prompt reader: {e}"))?;
            Some((write, rx))
        } else {
            None
        };
        Ok(Self {
            mode,
            signals: signals.clone(),
            timeout: Duration::from_secs(timeout_secs),
            tty,
            fingers: None,
        })
    }

    fn prompt(&mut self, purpose: &PresencePurpose<'_>) -> Result<(), PresenceDenied> {
        let Some((tty, lines)) = self.tty.as_mut() else {
            return Err(PresenceDenied::Denied);
        };
        // Answers typed before this question do not count.
        while lines.try_recv().is_ok() {}
        let _ = write!(tty, "\n{} Touch? [y/N] ", describe(purpose));
        let _ = tty.flush();
        let deadline = Instant::now() + self.timeout;
        loop {
            if self.signals.is_cancelled() {
                let _ = writeln!(tty, "(cancelled by the client)");
                return Err(PresenceDenied::Cancelled);
            }
            if Instant::now() >= deadline {
                let _ = writeln!(tty, "(timed out)");
                return Err(PresenceDenied::Timeout);
            }
            match lines.recv_timeout(CANCEL_POLL) {
                Ok(answer) => {
                    let yes = matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES");
                    return if yes {
                        Ok(())
                    } else {
                        Err(PresenceDenied::Denied)
                    };
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err(PresenceDenied::Denied),
            }
        }
    }
}

impl UserPresence for Presence {
    fn request_presence(&mut self, purpose: PresencePurpose<'_>) -> Result<(), PresenceDenied> {
        if self.signals.is_cancelled() {
            return Err(PresenceDenied::Cancelled);
        }
        match self.mode {
            PresenceMode::Auto => Ok(()),
            PresenceMode::Deny => Err(PresenceDenied::Denied),
            PresenceMode::Prompt => {
                self.signals.set_up_needed(true);
                let answer = self.prompt(&purpose);
                self.signals.set_up_needed(false);
                answer
            }
        }
    }

    fn verify_user(&mut self, _purpose: PresencePurpose<'_>) -> Result<UvMatch, PresenceDenied> {
        if self.signals.is_cancelled() {
            return Err(PresenceDenied::Cancelled);
        }
        let outcome = self
            .fingers
            .as_mut()
            .map_or(UvMatch::NoMatch, UvScript::next_outcome);
        eprintln!(
            "latchkey virtual-key: fingerprint {}",
            match outcome {
                UvMatch::Matched => "recognised",
                UvMatch::NoMatch => "not recognised",
            }
        );
        Ok(outcome)
    }
}

/// One line saying what the touch is for.
fn describe(purpose: &PresencePurpose<'_>) -> String {
    match purpose {
        PresencePurpose::MakeCredential { rp_id, user_name } => match user_name {
            Some(user) => format!("Register a passkey for {user} on {rp_id}?"),
            None => format!("Register a passkey on {rp_id}?"),
        },
        PresencePurpose::GetAssertion { rp_id } => format!("Sign in to {rp_id}?"),
        PresencePurpose::Selection => "Select this security key?".to_owned(),
        PresencePurpose::Reset => "RESET this key, deleting every credential?".to_owned(),
        PresencePurpose::U2f => "Confirm a U2F request?".to_owned(),
        PresencePurpose::Other => "Confirm a request to this key?".to_owned(),
    }
}
