//! Virtual security keys.
//!
//! - [`TestKey`]: a virtual security key served in this process by `latchkey-transport`'s
//!   CTAPHID server over a Unix seqpacket socket: the software CTAP 2.1 authenticator with the
//!   AAGUID [`KEY_AAGUID`], and a presence answer the test controls ([`Presence`]); it records
//!   the touches it asked for and how many waits for a touch the host cancelled (CTAPHID_CANCEL).
//! - [`KeyProcess`]: `latchkey virtual-key` as its own process, over UDP or a Unix socket, as a
//!   user runs it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey_authenticator::env::{PresenceDenied, PresencePurpose, UserPresence, UvMatch};
use latchkey_authenticator::memory::MemoryStore;
use latchkey_authenticator::uv::UvScript;
use latchkey_authenticator::BuiltInUv;
use latchkey_authenticator::{Authenticator, Config};
use latchkey_client::platform::{SystemClock, SystemRng};
use latchkey_transport::virtual_key::{CtapHidApp, Signals, VirtualKey};
use latchkey_transport::SeqpacketListener;

use crate::wait::Changes;

/// The AAGUID of every [`TestKey`] (the platform authenticator's is all zeros).
pub const KEY_AAGUID: [u8; 16] = *b"latchkey-testkey";

/// How a [`TestKey`] answers a request for user presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Presence {
    /// Touched at once.
    Touch = 0,
    /// Waits (UPNEEDED keepalives) until the host cancels or [`TestKey::touch`] is called.
    Wait = 1,
    /// Refused at once.
    Refuse = 2,
}

#[derive(Default)]
struct Record {
    touches: AtomicUsize,
    cancels: AtomicUsize,
    waiting: AtomicBool,
    /// Ticks at each change of the above.
    changes: Changes,
}

struct KeyPresence {
    fingers: Option<UvScript>,
    shutdown: Arc<AtomicBool>,
    mode: Arc<AtomicU8>,
    grant: Arc<AtomicBool>,
    record: Arc<Record>,
    signals: Signals,
}

impl UserPresence for KeyPresence {
    fn verify_user(&mut self, _: PresencePurpose<'_>) -> Result<UvMatch, PresenceDenied> {
        Ok(self
            .fingers
            .as_mut()
            .map_or(UvMatch::NoMatch, UvScript::next_outcome))
    }

    fn request_presence(&mut self, _: PresencePurpose<'_>) -> Result<(), PresenceDenied> {
        self.record.touches.fetch_add(1, Ordering::SeqCst);
        self.record.changes.tick();
        match self.mode.load(Ordering::SeqCst) {
            0 => Ok(()),
            2 => Err(PresenceDenied::Denied),
            _ => {
                self.signals.set_up_needed(true);
                self.record.waiting.store(true, Ordering::SeqCst);
                self.record.changes.tick();
                let start = Instant::now();
                let result = loop {
                    if self.signals.is_cancelled() {
                        self.record.cancels.fetch_add(1, Ordering::SeqCst);
                        break Err(PresenceDenied::Cancelled);
                    }
                    if self.grant.swap(false, Ordering::SeqCst) {
                        break Ok(());
                    }
                    if self.shutdown.load(Ordering::SeqCst) {
                        // Unplugged while waiting: the host must see the connection end, not an
                        // answer, so outlast the server's shutdown before giving up.
                        std::thread::sleep(Duration::from_secs(3));
                        break Err(PresenceDenied::Timeout);
                    }
                    if start.elapsed() > Duration::from_secs(30) {
                        break Err(PresenceDenied::Timeout);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                };
                self.record.waiting.store(false, Ordering::SeqCst);
                self.signals.set_up_needed(false);
                self.record.changes.tick();
                result
            }
        }
    }
}

/// A software authenticator over a memory store, with the system clock and RNG.
pub type Core<P> = Authenticator<MemoryStore, P, SystemClock, SystemRng>;

/// The authenticator core as a CTAPHID application.
struct App<P: UserPresence>(Core<P>);

impl<P: UserPresence + Send + 'static> CtapHidApp for App<P> {
    fn cbor(&mut self, request: &[u8]) -> Vec<u8> {
        self.0.handle_cbor(request)
    }
    fn msg(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.0.handle_u2f(apdu)
    }
    fn power_cycle(&mut self) {
        self.0.power_cycle();
    }
}

/// An authenticator core served as a virtual key over CTAPHID on a Unix seqpacket socket, by
/// `latchkey-transport`'s server in a thread of this process; stops on drop.
pub struct ServedKey {
    /// The socket.
    pub path: PathBuf,
    shutdown: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServedKey {
    /// Serves `core` at `path`; `signals` are the ones its presence check watches (cancel,
    /// keepalive status).
    pub fn serve<P: UserPresence + Send + 'static>(
        core: Core<P>,
        signals: Signals,
        path: &Path,
    ) -> std::io::Result<Self> {
        let listener = SeqpacketListener::bind(path)?;
        let shutdown = Arc::new(AtomicBool::new(false));
        let stop = shutdown.clone();
        let thread = std::thread::spawn(move || {
            let _ = VirtualKey::new(App(core), signals).serve_unix(listener, stop);
        });
        Ok(Self {
            path: path.to_owned(),
            shutdown,
            thread: Some(thread),
        })
    }

    /// Stops serving: hosts see their connection end and the socket file goes away.
    pub fn stop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServedKey {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A virtual security key on a Unix socket (module doc).
pub struct TestKey {
    pub path: PathBuf,
    mode: Arc<AtomicU8>,
    grant: Arc<AtomicBool>,
    record: Arc<Record>,
    served: ServedKey,
    /// Tells the presence check the key is being unplugged.
    unplugged: Arc<AtomicBool>,
}

impl TestKey {
    /// Serves a fresh key (no PIN, no credentials) at `path`.
    pub fn start(path: &Path, presence: Presence) -> Self {
        Self::start_with_fingers(path, presence, None)
    }

    /// [`Self::start`] with a fingerprint reader answering `fingers` (`"no-match,match"`).
    pub fn start_with_fingers(path: &Path, presence: Presence, fingers: Option<&str>) -> Self {
        Self::start_with(path, presence, fingers, Config::default().reset_window_ms)
    }

    /// [`Self::start`] for a key that accepts authenticatorReset (CTAP 2.1 §6.6) only within
    /// `window` of being plugged in (a real key: 10 seconds; zero: never).
    pub fn start_with_reset_window(path: &Path, presence: Presence, window: Duration) -> Self {
        let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        Self::start_with(path, presence, None, ms)
    }

    fn start_with(
        path: &Path,
        presence: Presence,
        fingers: Option<&str>,
        reset_window_ms: u64,
    ) -> Self {
        let signals = Signals::new();
        let mode = Arc::new(AtomicU8::new(presence as u8));
        let grant = Arc::new(AtomicBool::new(false));
        let record = Arc::new(Record::default());
        // The presence check outlasts an unplug it sees through the server's own stop flag.
        let shutdown = Arc::new(AtomicBool::new(false));
        let core = Authenticator::new(
            Config {
                aaguid: KEY_AAGUID,
                reset_window_ms,
                built_in_uv: if fingers.is_some() {
                    BuiltInUv::Configured
                } else {
                    Config::default().built_in_uv
                },
                ..Config::default()
            },
            MemoryStore::default(),
            KeyPresence {
                fingers: fingers.map(|f| f.parse().unwrap()),
                shutdown: shutdown.clone(),
                mode: mode.clone(),
                grant: grant.clone(),
                record: record.clone(),
                signals: signals.clone(),
            },
            SystemClock::default(),
            SystemRng,
        );
        let served = ServedKey::serve(core, signals, path).unwrap();
        Self {
            path: path.to_owned(),
            mode,
            grant,
            record,
            served,
            unplugged: shutdown,
        }
    }

    /// `--device` argument naming this key.
    pub fn spec(&self) -> String {
        format!("unix:{}", self.path.display())
    }

    /// Changes how presence is answered.
    pub fn set_presence(&self, presence: Presence) {
        self.mode.store(presence as u8, Ordering::SeqCst);
    }

    /// Answers the touch the key is waiting for.
    pub fn touch(&self) {
        self.grant.store(true, Ordering::SeqCst);
    }

    /// Sets the key's PIN (clientPIN setPIN, through the client).
    pub fn set_pin(&self, pin: &str) {
        let mut dev = latchkey_client::hid::open_unix(&self.path).unwrap();
        let mut ui = latchkey_client::ScriptedUi::with_pins([pin]);
        latchkey_client::manage::set_pin(&mut dev, &mut ui).unwrap();
    }

    /// Touches the key asked for so far.
    pub fn touches(&self) -> usize {
        self.record.touches.load(Ordering::SeqCst)
    }

    /// Waits for a touch the host cancelled (CTAPHID_CANCEL), so far.
    pub fn cancels(&self) -> usize {
        self.record.cancels.load(Ordering::SeqCst)
    }

    /// Whether the key waits for a touch now.
    pub fn waiting(&self) -> bool {
        self.record.waiting.load(Ordering::SeqCst)
    }

    /// Waits until the key waits for a touch.
    pub async fn until_waiting(&self) {
        self.until("a touch asked of the key", || self.waiting())
            .await;
    }

    /// Waits until `done` holds, looking again each time the key's record (touches, cancels,
    /// waiting) changes.
    pub async fn until(&self, what: &str, done: impl FnMut() -> bool) {
        self.record.changes.until(what, done).await;
    }

    /// Stops serving: hosts see their connection end and the socket file goes away.
    pub fn stop(&mut self) {
        self.unplugged.store(true, Ordering::SeqCst);
        self.served.stop();
    }
}

impl Drop for TestKey {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `latchkey virtual-key` as its own process (module doc), killed on drop.
pub struct KeyProcess {
    child: std::process::Child,
    /// The `--device` spec naming it (`udp:127.0.0.1:PORT`, `unix:PATH`).
    pub spec: String,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl KeyProcess {
    /// A key on a free UDP port of 127.0.0.1 answering presence with `presence` (`--presence`).
    pub fn udp(presence: &str) -> Self {
        Self::start(&["--udp", "127.0.0.1:0", "--presence", presence], None)
    }

    /// A key on a Unix socket, with `extra` arguments (`--uv …`).
    pub fn unix(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
        let sock = dir.path().join("key.sock");
        let mut args = vec!["--unix".to_owned(), sock.display().to_string()];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Self::start(&args, Some(dir))
    }

    /// A key as a contactless card in vpcd's slot at `addr` (`--vpcd`), with `extra` arguments;
    /// its spec is `pcsc:READER`, `reader` being the reader that slot is to pcscd. The card is on
    /// the reader until the process ends (dropped: pulled).
    pub fn vpcd(addr: &str, reader: &str, extra: &[&str]) -> Self {
        let mut args = vec!["--vpcd", addr];
        args.extend_from_slice(extra);
        let mut key = Self::start(&args, None);
        key.spec = format!("pcsc:{reader}");
        key
    }

    fn start(args: &[&str], dir: Option<tempfile::TempDir>) -> Self {
        use std::io::BufRead as _;
        let dir = match dir {
            Some(d) => d,
            None => tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}")),
        };
        let stderr = dir.path().join("stderr");
        let log = std::fs::File::create(&stderr).unwrap_or_else(|e| panic!("key log: {e}"));
        let mut child = std::process::Command::new(crate::bins::binary("latchkey"))
            .arg("virtual-key")
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("latchkey virtual-key: {e}"));
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        // "latchkey virtual-key: serving on udp 127.0.0.1:PORT" / "… serving on unix PATH"
        let Some((_, rest)) = line.trim().split_once("serving on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("latchkey virtual-key said {line:?}");
        };
        let (kind, addr) = rest.split_once(' ').unwrap_or((rest, ""));
        Self {
            child,
            spec: format!("{kind}:{addr}"),
            stderr,
            _dir: dir,
        }
    }

    /// What the key logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for KeyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
