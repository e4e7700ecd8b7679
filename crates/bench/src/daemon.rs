//! Row 3: latchkeyd on a private D-Bus (`dbus-daemon` started here; never the machine's bus).
//!
//! - Ceremonies: latchkeyd served in this process on the private bus, with its back-ends as the
//!   binary builds them (the router in front of the platform authenticator and the security
//!   keys, none configured), the platform authenticator over a memory store (so no ceremony pays
//!   the file store's Argon2id: that cost has its own row in row 4), and the scripted test prompt
//!   (`latchkey-test-prompt`, a separate process, answering consent and PIN at once); the caller
//!   is this process, trusted by policy as a browser. Against it: the floor of one empty method
//!   call round trip on the same bus (`org.freedesktop.DBus.Peer.Ping` to latchkeyd).
//! - Activation and memory: the `latchkeyd` binary started by D-Bus activation on a second
//!   private bus; the time from the first call to its answer, and its RSS idle and after 10,000
//!   `GetClientCapabilities` calls; then ceremonies through the binary as shipped (its worker
//!   process and file store): the first get after the screen locked, which pays the Argon2id of
//!   a fresh PIN verification, then gets in the session it opened, and the load test.
//!
//! The binaries come from the daemon, prompt and worker crates: [`binaries`] has the test kit run
//! `cargo build --bins` for them (`--release` when this executable is a release build, as under
//! `cargo bench`) before the row, so the row always measures the current source;
//! `LATCHKEY_BIN_DIR` names a directory of prebuilt binaries instead.
//!
//! Every wait here is bounded (the bus's address line, the prompt's `ready`, each call), so a
//! broken setup fails the row instead of hanging the run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey_api::{CallOptions, CredentialsClient, Kind};
use latchkey_daemon::keys::{KeyBackend, KeySources};
use latchkey_daemon::policy::Policy;
use latchkey_daemon::routing::Router;
use latchkey_daemon::server::{Daemon, Settings, Timeouts};
use latchkey_daemon::state::Backends;
use latchkey_testkit::prompt::Prompt;
use latchkey_testkit::{bins, platform, SetupError, TestBus};
use latchkey_webauthn::b64;
use serde_json::json;

use crate::table::format_duration;
use crate::{prompt_time, stats, BenchError, Budget, Samples, Table};

const BUS_NAME: &str = "dev.latchkey.Credentials";
const OBJECT: &str = "/dev/latchkey/Credentials";
const ORIGIN: &str = "https://login.example.com";

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

/// Why row 3 cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    if on_path("dbus-daemon") {
        None
    } else {
        Some("skipped: no dbus-daemon (apt-get install dbus-daemon)".into())
    }
}

/// The daemon crate's binaries this row runs.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `latchkeyd`.
    pub latchkeyd: PathBuf,
    /// `latchkey-test-prompt`.
    pub prompt: PathBuf,
}

/// The binaries this row runs, built by the test kit with this executable's profile (a no-op
/// when they are current), or taken from `LATCHKEY_BIN_DIR`.
pub fn binaries() -> Result<Binaries, BenchError> {
    let find = |name: &'static str| bins::try_binary(name).map_err(setup);
    Ok(Binaries {
        latchkeyd: find("latchkeyd")?,
        prompt: find("latchkey-test-prompt")?,
    })
}

fn setup(e: SetupError) -> BenchError {
    BenchError::setup("set-up", e)
}

/// The PIN the scripted prompt gives.
pub fn prompt_pin() -> &'static str {
    "482916"
}

/// The scripted prompt, answering consent and PIN at once and recording nothing (a JSON line per
/// prompt call would be written inside the timed path).
fn prompt(bus: &TestBus, bin: &Path) -> Result<Prompt, BenchError> {
    let script = format!("approve\npin {}\n", prompt_pin());
    Prompt::spawn_with(bin, bus, &script, false, false).map_err(setup)
}

fn dbus(e: impl std::fmt::Display) -> BenchError {
    BenchError::setup("D-Bus", e)
}

fn challenge() -> String {
    let mut c = [0u8; 32];
    let _ = aws_lc_rs::rand::fill(&mut c);
    b64::encode(&c)
}

fn create_options() -> String {
    json!({
        "rp": {"id": "example.com", "name": "Example"},
        "user": {"id": b64::encode(b"bench-user"), "name": "bench", "displayName": "Bench"},
        "challenge": challenge(),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "authenticatorSelection": {"residentKey": "required", "userVerification": "required"},
        "attestation": "none",
    })
    .to_string()
}

/// A get's options: a fresh challenge, RP ID `example.com`, user verification required.
pub fn get_options() -> String {
    json!({
        "challenge": challenge(),
        "rpId": "example.com",
        "userVerification": "required",
    })
    .to_string()
}

async fn ceremony(client: &CredentialsClient, kind: Kind) -> Result<(), BenchError> {
    let opts = CallOptions {
        origin: Some(ORIGIN.into()),
        ..CallOptions::default()
    };
    let options = match kind {
        Kind::Create => create_options(),
        Kind::Get => get_options(),
    };
    let out = client
        .call(kind, &options, &opts)
        .await
        .map_err(|e| BenchError::Ceremony(e.to_string()))?;
    if out.code == 0 {
        Ok(())
    } else {
        Err(BenchError::Ceremony(format!(
            "latchkeyd answered {}: {:?} {:?}",
            out.code,
            out.error_name(),
            out.message()
        )))
    }
}

/// A get whose RP ID the origin may not claim: latchkeyd must answer `SecurityError`.
async fn refused_get(client: &CredentialsClient) -> Result<(), BenchError> {
    let opts = CallOptions {
        origin: Some("https://example.org".into()),
        ..CallOptions::default()
    };
    let out = client
        .call(Kind::Get, &get_options(), &opts)
        .await
        .map_err(|e| BenchError::Ceremony(e.to_string()))?;
    match out.error_name().as_deref() {
        Some("SecurityError") => Ok(()),
        other => Err(BenchError::Ceremony(format!(
            "latchkeyd answered {} {other:?} to a get for another site's RP ID",
            out.code
        ))),
    }
}

async fn ping(conn: &zbus::Connection) -> Result<(), BenchError> {
    conn.call_method(
        Some(BUS_NAME),
        OBJECT,
        Some("org.freedesktop.DBus.Peer"),
        "Ping",
        &(),
    )
    .await
    .map(drop)
    .map_err(dbus)
}

async fn capabilities(conn: &zbus::Connection) -> Result<(), BenchError> {
    let reply = conn
        .call_method(
            Some(BUS_NAME),
            OBJECT,
            Some("dev.latchkey.Credentials1"),
            "GetClientCapabilities",
            &(),
        )
        .await
        .map_err(dbus)?;
    let caps: HashMap<String, bool> = reply.body().deserialize().map_err(dbus)?;
    if caps.is_empty() {
        Err(BenchError::setup("GetClientCapabilities", "empty answer"))
    } else {
        Ok(())
    }
}

fn policy(prompt: &Path) -> Result<Policy, BenchError> {
    let me = std::env::current_exe().map_err(|e| BenchError::setup("current executable", e))?;
    let text = format!(
        "[[privileged]]\nname = \"benchmark\"\nexecutable = \"{}\"\n[[trusted_prompt]]\nexecutable = \"{}\"\n",
        me.display(),
        prompt.display()
    );
    Policy::from_toml(&text).map_err(|e| BenchError::setup("policy", e))
}

/// Runs `f` on `rt`, failing after 15 s rather than hanging the benchmark.
fn run<T>(
    rt: &tokio::runtime::Runtime,
    f: impl std::future::Future<Output = Result<T, BenchError>>,
) -> Result<T, BenchError> {
    run_within(rt, Duration::from_secs(15), f)
}

/// Runs `f` on `rt`, failing after `limit`.
fn run_within<T>(
    rt: &tokio::runtime::Runtime,
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, BenchError>>,
) -> Result<T, BenchError> {
    rt.block_on(async {
        tokio::time::timeout(limit, f).await.unwrap_or_else(|_| {
            Err(BenchError::setup(
                "latchkeyd",
                format!("no answer in {} s", limit.as_secs()),
            ))
        })
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, BenchError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| BenchError::setup("tokio", e))
}

/// latchkeyd served in this process on a private bus, with the memory platform authenticator and
/// the scripted prompt, and a client of it; the PIN is set (by a first, untimed create).
pub struct InProcess {
    // All taken apart in `Drop`: the client and latchkeyd while the runtime still runs, then the
    // prompt and the bus, then the runtime.
    rt: Option<tokio::runtime::Runtime>,
    client: Option<CredentialsClient>,
    daemon: Option<Daemon>,
    prompt: Option<Prompt>,
    bus: Option<TestBus>,
}

impl InProcess {
    /// Starts it all, with latchkeyd's back-ends as the `latchkeyd` binary builds them: the
    /// [`Router`] in front of the platform authenticator (over a memory store here) and the
    /// security keys, none configured (`--no-usb --no-pcsc`, none named), so every get goes to
    /// the platform without a look in its store or a question where.
    pub fn start(bins: &Binaries) -> Result<Self, BenchError> {
        let platform = platform::memory_platform();
        let keys = Arc::new(KeyBackend::new(KeySources::default(), Timeouts::default()));
        Self::start_with(bins, Router::backends(platform, keys, false))
    }

    /// The same over `backends`.
    pub fn start_with(bins: &Binaries, backends: Backends) -> Result<Self, BenchError> {
        let rt = runtime()?;
        let bus = TestBus::try_start(None).map_err(setup)?;
        let settings = Settings {
            policy: policy(&bins.prompt)?,
            backends,
            queue_capacity: 64,
            timeouts: Timeouts::default(),
            uid: rustix::process::getuid().as_raw(),
            related_origins: None,
            state_dir: None,
        };
        let daemon: Daemon = run(&rt, async {
            Daemon::start(Some(&bus.address), settings)
                .await
                .map_err(dbus)
        })?;
        let prompt = prompt(&bus, &bins.prompt)?;
        let client = run(&rt, async {
            CredentialsClient::connect(Some(&bus.address))
                .await
                .map_err(dbus)
        })?;
        let me = Self {
            rt: Some(rt),
            client: Some(client),
            daemon: Some(daemon),
            prompt: Some(prompt),
            bus: Some(bus),
        };
        // The first create sets the platform's PIN (the prompt is asked for a new one), or makes
        // the security key's first credential.
        me.ceremony(Kind::Create)?;
        Ok(me)
    }

    fn parts(&self) -> Result<(&tokio::runtime::Runtime, &CredentialsClient), BenchError> {
        match (&self.rt, &self.client) {
            (Some(rt), Some(client)) => Ok((rt, client)),
            _ => Err(BenchError::setup("latchkeyd", "stopped")),
        }
    }

    /// One create or get through latchkeyd, answered.
    pub fn ceremony(&self, kind: Kind) -> Result<(), BenchError> {
        let (rt, client) = self.parts()?;
        run(rt, ceremony(client, kind))
    }

    /// One empty round trip to latchkeyd (`Peer.Ping`).
    pub fn ping(&self) -> Result<(), BenchError> {
        let (rt, client) = self.parts()?;
        run(rt, ping(client.connection()))
    }

    /// One `GetClientCapabilities`.
    pub fn capabilities(&self) -> Result<(), BenchError> {
        let (rt, client) = self.parts()?;
        run(rt, capabilities(client.connection()))
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let client = self.client.take();
        let daemon = self.daemon.take();
        if let Some(rt) = self.rt.take() {
            // The connections go while the runtime that drives them still runs.
            rt.block_on(async move {
                drop(client);
                drop(daemon);
            });
            drop(self.prompt.take());
            drop(self.bus.take());
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

/// Create and get through latchkeyd in process, and the empty round trip.
fn ceremonies(budget: Budget, bins: &Binaries, t: &mut Table) -> Result<(), BenchError> {
    let prompt_timed = prompt_time::install();
    let lk = InProcess::start(bins)?;
    t.timed(
        "dbus_caps",
        "latchkeyd GetClientCapabilities",
        stats::measure(budget, || lk.capabilities()),
    );
    // Each run also reports how long latchkeyd waited on the prompt (its Consent and RequestPin
    // calls): a person answers those, at human speed.
    let timed = || {
        if prompt_timed {
            Ok(())
        } else {
            Err(BenchError::setup(
                "prompt timing",
                "another tracing subscriber was installed first",
            ))
        }
    };
    let run = |kind: Kind| {
        prompt_time::take();
        lk.ceremony(kind)?;
        Ok(prompt_time::take())
    };
    let (create, create_own) =
        split_rows(timed().and_then(|()| stats::measure_excluding(budget, || run(Kind::Create))));
    prompt_time::take_phases();
    // The gets alternate with the empty round trip, so that the floor and the get are timed side
    // by side on this bus and the ratio of each pair is of runs taken under the same load. The
    // floor also runs in loops of its own, in stretches spread between the gets: back to back,
    // round trips have measured faster than round trips each beside a get in some runs and
    // slower in others, and the targets hold the get to both floors.
    let beside = timed()
        .and_then(|()| stats::measure_excluding_beside(budget, || lk.ping(), || run(Kind::Get)));
    let phases = prompt_time::take_phases();
    // Each row of the measurement, or its error again.
    let row = |pick: fn(&stats::Beside) -> &Samples| match &beside {
        Ok(b) => Ok(pick(b).clone()),
        Err(e) => Err(BenchError::Ceremony(e.to_string())),
    };
    let (ping, ping_alone, get, get_own) = (
        row(|b| &b.floor),
        row(|b| &b.alone),
        row(|b| &b.whole),
        row(|b| &b.net),
    );
    let paired = beside.map(|b| b.ratios);
    t.timed(
        "dbus_ping",
        "floor: empty D-Bus method call round trip (Peer.Ping to latchkeyd, same bus, each beside a get)",
        ping,
    );
    t.timed(
        "dbus_ping_alone",
        format!(
            "empty D-Bus method call round trip in loops of their own (Peer.Ping to latchkeyd, same bus, {n} back to back before every {n}th get)",
            n = stats::STRETCH
        ),
        ping_alone,
    );
    t.timed(
        "dbus_create",
        "latchkeyd create (CreateCredential → prompt consent + PIN → Response), in process, memory store",
        create,
    );
    t.timed(
        "dbus_create_own",
        "latchkeyd create, less its waits on the prompt (Consent, RequestPin: human interaction)",
        create_own,
    );
    t.timed(
        "dbus_get",
        "latchkeyd get (GetCredential → prompt consent + PIN → Response), in process, memory store",
        get,
    );
    t.timed(
        "dbus_get_own",
        "latchkeyd get, less its waits on the prompt (Consent, RequestPin: human interaction)",
        get_own,
    );
    t.ratio(
        "ratio latchkeyd get ÷ empty round trip",
        "dbus_get",
        "dbus_ping",
    );
    t.ratio(
        "ratio latchkeyd get, less its waits on the prompt ÷ empty round trip",
        "dbus_get_own",
        "dbus_ping",
    );
    t.ratio(
        "ratio latchkeyd get, less its waits on the prompt ÷ the round trips in loops of their own",
        "dbus_get_own",
        "dbus_ping_alone",
    );
    t.paired_ratios(
        PAIRED_GET_PING,
        "ratio latchkeyd get, less its waits on the prompt ÷ the empty round trip beside it, run by run",
        paired,
    );
    if !phases.is_empty() {
        let mean = |name: &str| {
            phases
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, count, us)| *us as f64 / (*count).max(1) as f64)
        };
        let shown: Vec<String> = phases
            .iter()
            .filter_map(|(name, _, _)| Some(format!("{name} {:.0}", mean(name)?)))
            .collect();
        t.value(
            "latchkeyd get: where its time goes, mean µs per phase as latchkeyd logs them (ceremony includes pin)",
            shown.join(", "),
        );
    }
    t.ratio(
        "ratio latchkeyd create ÷ empty round trip",
        "dbus_create",
        "dbus_ping",
    );
    drop(lk);
    Ok(())
}

/// The key of the paired row: a get less its prompt waits over the round trip beside it.
pub const PAIRED_GET_PING: &str = "paired_get_ping";

/// One measurement's two sample sets as two rows' results.
pub(crate) fn split_rows(
    r: Result<(Samples, Samples), BenchError>,
) -> (Result<Samples, BenchError>, Result<Samples, BenchError>) {
    match r {
        Ok((whole, own)) => (Ok(whole), Ok(own)),
        Err(e) => {
            let again = BenchError::Ceremony(e.to_string());
            (Err(e), Err(again))
        }
    }
}

fn rss_kib(pid: u32) -> Result<u64, BenchError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| BenchError::setup("/proc status", e))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or(BenchError::setup("/proc status", "no VmRSS"))
}

/// The PIDs of `pid`'s child processes (latchkeyd's platform worker).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

async fn owner_pid(conn: &zbus::Connection) -> Result<u32, BenchError> {
    let reply = conn
        .call_method(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            Some("org.freedesktop.DBus"),
            "GetConnectionUnixProcessID",
            &(BUS_NAME,),
        )
        .await
        .map_err(dbus)?;
    reply.body().deserialize().map_err(dbus)
}

/// Less than any production Argon2id (128 MiB, t=4: a third of a second on this class of
/// machine), more than any get that skips it.
const SURELY_ARGON2ID: Duration = Duration::from_millis(100);

/// Says on the bus that the screen locked, as a desktop's screen saver does (latchkeyd's
/// `lock_watch` ends the platform store's session on it).
async fn lock_screen(conn: &zbus::Connection) -> Result<(), BenchError> {
    conn.emit_signal(
        None::<()>,
        "/org/freedesktop/ScreenSaver",
        "org.freedesktop.ScreenSaver",
        "ActiveChanged",
        &(true,),
    )
    .await
    .map_err(dbus)
}

fn stop(pid: u32) {
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// D-Bus activation of the latchkeyd binary, its memory, and ceremonies through it as shipped.
/// `load`: the load test's callers and gets each.
fn activation(
    runs: usize,
    requests: usize,
    gets: Budget,
    load: (usize, usize),
    bins: &Binaries,
    t: &mut Table,
) -> Result<(), BenchError> {
    let home = tempfile::tempdir().map_err(|e| BenchError::setup("daemon directory", e))?;
    let services = home.path().join("services");
    let policy_dir = home.path().join("policy");
    let empty = home.path().join("empty");
    for d in [&services, &policy_dir, &empty] {
        std::fs::create_dir_all(d).map_err(|e| BenchError::setup("daemon directory", e))?;
    }
    let me = std::env::current_exe().map_err(|e| BenchError::setup("current executable", e))?;
    std::fs::write(
        policy_dir.join("50-bench.toml"),
        format!(
            "[[privileged]]\nname = \"benchmark\"\nexecutable = \"{}\"\n[[trusted_prompt]]\nexecutable = \"{}\"\n",
            me.display(),
            bins.prompt.display()
        ),
    )
    .map_err(|e| BenchError::setup("policy file", e))?;
    let service = format!(
        "[D-BUS Service]\nName={BUS_NAME}\nExec={} --data-dir {} --policy-system-dir {} --policy-admin-dir {} --policy-user-dir {} --no-usb --no-pcsc --log-level error\n",
        bins.latchkeyd.display(),
        home.path().join("data").display(),
        policy_dir.display(),
        empty.display(),
        empty.display()
    );
    std::fs::write(services.join(format!("{BUS_NAME}.service")), service)
        .map_err(|e| BenchError::setup("service file", e))?;
    let bus = TestBus::try_start(Some(&services)).map_err(setup)?;
    let rt = runtime()?;
    let address = bus.address.clone();
    let conn = run(&rt, async move {
        zbus::connection::Builder::address(address.as_str())
            .map_err(dbus)?
            .build()
            .await
            .map_err(dbus)
    })?;
    let mut times = Vec::new();
    let mut pid = 0;
    for i in 0..runs {
        let start = Instant::now();
        run(&rt, capabilities(&conn))?;
        times.push(start.elapsed());
        pid = run(&rt, owner_pid(&conn))?;
        if i + 1 < runs {
            stop(pid);
        }
    }
    t.timed(
        "dbus_activation",
        "latchkeyd D-Bus activation → first answered request (GetClientCapabilities)",
        crate::Samples::from_durations(times).ok_or(BenchError::setup("activation", "no run")),
    );
    std::thread::sleep(Duration::from_millis(200));
    let idle = rss_kib(pid)?;
    let workers = || -> u64 {
        children(pid)
            .into_iter()
            .filter_map(|c| rss_kib(c).ok())
            .sum()
    };
    t.value("latchkeyd RSS, idle after activation", mib(idle));
    let start = Instant::now();
    for _ in 0..requests {
        run(&rt, capabilities(&conn))?;
    }
    let spent = start.elapsed();
    let after = rss_kib(pid)?;
    t.value(
        format!(
            "latchkeyd RSS after {requests} GetClientCapabilities requests ({} total)",
            format_duration(spent)
        ),
        mib(after),
    );
    // Then as many ceremony requests, each with its own request object, identification, options
    // parsing and origin check, refused there (an RP ID the origin may not claim) so that no
    // prompt or PIN is involved and nothing else bounds how many run.
    let refuser = run(&rt, async {
        CredentialsClient::on(conn.clone()).await.map_err(dbus)
    })?;
    let start = Instant::now();
    for _ in 0..requests {
        run(&rt, refused_get(&refuser))?;
    }
    let spent = start.elapsed();
    let after = rss_kib(pid)?;
    t.value(
        format!(
            "latchkeyd RSS after {requests} more GetCredential requests, refused at the origin check ({} total)",
            format_duration(spent)
        ),
        mib(after),
    );
    t.rss_kib = Some(after);
    drop(refuser);

    // Ceremonies through the binary as shipped: its platform worker and file store. The first
    // create sets the PIN; once the screen locked, the first get pays the Argon2id at production
    // cost and starts a session, in which every later get checks the PIN against the in-memory
    // verifier (keystore SECURITY.md, "Sessions").
    let _prompt = prompt(&bus, &bins.prompt)?;
    let client = run(&rt, async {
        CredentialsClient::on(conn.clone()).await.map_err(dbus)
    })?;
    let minute = Duration::from_secs(60);
    run_within(&rt, minute, ceremony(&client, Kind::Create))?;
    // Setting the PIN opened a session (the new PIN's key unwrapped the store): the screen locks,
    // as a desktop says with the screen saver's `ActiveChanged(true)`, and latchkeyd ends it, so
    // that the next get pays the Argon2id. latchkeyd answers no call for that (it ends the
    // session on a blocking thread once the signal arrives), so the wait is a fixed one.
    run(&rt, lock_screen(&conn))?;
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    run_within(&rt, minute, ceremony(&client, Kind::Get))?;
    let first = start.elapsed();
    t.timed(
        "dbus_bin_get_first",
        "latchkeyd binary get, first of a session (worker + file store; PIN → Argon2id)",
        if first < SURELY_ARGON2ID {
            Err(BenchError::setup(
                "session end",
                format!(
                    "the get took {} after the screen locked: it did not pay the Argon2id, so the session did not end",
                    format_duration(first)
                ),
            ))
        } else {
            crate::Samples::from_durations(vec![first])
                .ok_or(BenchError::setup("binary get", "no run"))
        },
    );
    t.timed(
        "dbus_bin_get",
        "latchkeyd binary get in a session (worker + file store; PIN checked against the verifier)",
        stats::measure(gets, || {
            run_within(&rt, minute, ceremony(&client, Kind::Get))
        }),
    );
    // Then many callers at once, each a process of its own asking for a page of its own.
    let (callers, each) = load;
    match crate::load::run(&me, &bus.address, callers, each) {
        Ok(r) => load_rows(&r, t),
        Err(e) => t.not_measured("latchkeyd load test", e.to_string()),
    }
    let worker_rss = workers();
    t.value(
        "latchkeyd RSS after the binary ceremonies (platform worker process separately)",
        format!("{} (worker {})", mib(rss_kib(pid)?), mib(worker_rss)),
    );
    rt.block_on(async move {
        drop(client);
        drop(conn);
    });
    stop(pid);
    rt.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

fn load_rows(r: &crate::load::LoadReport, t: &mut Table) {
    let total = r.callers * r.gets;
    t.value(
        format!(
            "load: {} callers (processes) × {} gets through the binary at once: answered / refused / lost / hung",
            r.callers, r.gets
        ),
        format!(
            "{} / {} / {} / {} of {total}{}",
            r.answered,
            r.refused.len(),
            r.lost,
            r.hung,
            if r.refused.is_empty() {
                String::new()
            } else {
                format!(" (refused: {})", r.refused.join(", "))
            }
        ),
    );
    let ok = |s: &Option<Samples>| {
        s.clone()
            .ok_or(BenchError::Ceremony("no get was answered".into()))
    };
    t.timed(
        "load_latency",
        "load: a get's latency, sent → answered",
        ok(&r.latency),
    );
    t.timed(
        "load_service",
        "load: a get's service time (latchkeyd busy with it; ceremonies are serialised by the prompt)",
        ok(&r.service),
    );
    t.timed(
        "load_wait",
        "load: a get's queue wait (behind other callers' ceremonies)",
        ok(&r.wait),
    );
    t.value(
        "load: throughput (answered gets per second, first sent → last answered)",
        format!("{:.0}/s", r.throughput),
    );
    t.load = Some((r.answered, total));
}

/// Measures row 3 into `table`: `budget` for the calls through latchkeyd, the gets through the
/// shipped binary included (only the first of a session pays Argon2id: it is timed once).
pub fn measure(budget: Budget, quick: bool, t: &mut Table) {
    let bins = match binaries() {
        Ok(b) => b,
        Err(e) => {
            t.not_measured("latchkeyd create / get / activation / RSS", e.to_string());
            return;
        }
    };
    if let Err(e) = ceremonies(budget, &bins, t) {
        t.not_measured("latchkeyd create / get", e.to_string());
    }
    let (runs, requests) = if quick { (2, 200) } else { (10, 10_000) };
    let load = if quick { (8, 3) } else { (64, 20) };
    if let Err(e) = activation(runs, requests, budget, load, &bins, t) {
        t.not_measured("latchkeyd activation / RSS", e.to_string());
    }
}
