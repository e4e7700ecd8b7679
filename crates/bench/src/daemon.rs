//! Row 3: latchkeyd on a private D-Bus (`dbus-daemon` started here; never the machine's bus).
//!
//! - Ceremonies: latchkeyd served in this process on the private bus, with the platform
//!   authenticator (the platform configuration over a memory store) and the scripted test prompt
//!   (`latchkey-test-prompt`, a separate process, answering consent and PIN at once); the caller
//!   is this process, trusted by policy as a browser. Against it: the floor of one empty method
//!   call round trip on the same bus (`org.freedesktop.DBus.Peer.Ping` to latchkeyd).
//! - Activation and memory: the `latchkeyd` binary started by D-Bus activation on a second
//!   private bus; the time from the first call to its answer, and its RSS idle and after 10,000
//!   `GetClientCapabilities` calls (each ceremony through its file store would pay Argon2id).
//!
//! Both binaries come from the daemon crate and must be built first (`cargo build --release -p
//! latchkey-daemon --bins`); they are looked up next to this executable.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey_client::platform::{PlatformDevice, Presence};
use latchkey_client::CancelHandle;
use latchkey_daemon::authenticators::Authenticators;
use latchkey_daemon::client::{CallOptions, CredentialsClient};
use latchkey_daemon::options::Kind;
use latchkey_daemon::platform::ClientAuthenticators;
use latchkey_daemon::policy::Policy;
use latchkey_daemon::server::{Daemon, Settings, Timeouts};
use latchkey_webauthn::b64;
use serde_json::json;

use crate::table::format_duration;
use crate::{stats, BenchError, Budget, Table};

const BUS_NAME: &str = "dev.latchkey.Credentials";
const OBJECT: &str = "/dev/latchkey/Credentials";
const ORIGIN: &str = "https://login.example.com";

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

/// A binary of the workspace, next to this executable or in a sibling profile directory.
fn workspace_bin(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    let profile = deps.parent()?;
    let target = profile.parent()?;
    [
        deps.to_path_buf(),
        profile.to_path_buf(),
        target.join("release"),
        target.join("debug"),
    ]
    .into_iter()
    .map(|d| d.join(name))
    .find(|p| p.is_file())
}

/// Why row 3 cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    if std::env::var_os("LATCHKEY_BENCH_DAEMON").is_none() {
        return Some(
            "latchkeyd rows are opt-in (LATCHKEY_BENCH_DAEMON=1): in this harness the run does not come back from starting latchkeyd on the private bus yet".into(),
        );
    }
    if !on_path("dbus-daemon") {
        return Some("dbus-daemon is not installed (apt-get install dbus-daemon)".into());
    }
    for bin in ["latchkeyd", "latchkey-test-prompt"] {
        if workspace_bin(bin).is_none() {
            return Some(format!(
                "the latchkeyd binaries are not built ({bin}): cargo build --release -p latchkey-daemon --bins"
            ));
        }
    }
    None
}

/// A private `dbus-daemon`, killed on drop.
struct Bus {
    dir: tempfile::TempDir,
    address: String,
    child: Child,
}

impl Bus {
    fn start(services: Option<&Path>) -> Result<Self, BenchError> {
        let dir = tempfile::tempdir().map_err(|e| BenchError::setup("bus directory", e))?;
        let servicedir = services
            .map(|s| format!("<servicedir>{}</servicedir>", s.display()))
            .unwrap_or_default();
        let config = format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  {servicedir}
  <policy context="default">
    <allow send_destination="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
            dir.path().display()
        );
        let conf = dir.path().join("bus.conf");
        std::fs::write(&conf, config).map_err(|e| BenchError::setup("bus config", e))?;
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--print-address", "--nofork"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| BenchError::setup("dbus-daemon", e))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let address = line.trim().to_owned();
        if !address.starts_with("unix:") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BenchError::setup(
                "dbus-daemon",
                format!("printed {address:?}"),
            ));
        }
        Ok(Bus {
            dir,
            address,
            child,
        })
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The scripted prompt process, killed on drop.
struct Prompt(Child);

impl Prompt {
    fn spawn(bus: &Bus, bin: &Path) -> Result<Self, BenchError> {
        let script = bus.dir.path().join("script");
        std::fs::write(&script, "approve\npin 482916\n")
            .map_err(|e| BenchError::setup("prompt script", e))?;
        let mut child = Command::new(bin)
            .arg("--script")
            .arg(&script)
            .arg("--record")
            .arg(bus.dir.path().join("record.jsonl"))
            .arg("--address")
            .arg(&bus.address)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| BenchError::setup("latchkey-test-prompt", e))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BenchError::setup(
                "latchkey-test-prompt",
                format!("said {line:?}"),
            ));
        }
        Ok(Prompt(child))
    }
}

impl Drop for Prompt {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dbus(e: impl std::fmt::Display) -> BenchError {
    BenchError::setup("D-Bus", e)
}

fn platform_authenticator() -> Arc<dyn Authenticators> {
    let cancel = CancelHandle::new();
    let device = PlatformDevice::with_store(
        latchkey_client::platform::config(),
        latchkey_authenticator::memory::MemoryStore::default(),
        Presence::granted(cancel.clone()),
        cancel,
        "memory".into(),
    );
    Arc::new(ClientAuthenticators::new(Box::new(device), true))
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

fn get_options() -> String {
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
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(15), f)
            .await
            .unwrap_or(Err(BenchError::setup("latchkeyd", "no answer in 15 s")))
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, BenchError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| BenchError::setup("tokio", e))
}

/// Create and get through latchkeyd in process, and the empty round trip.
fn ceremonies(budget: Budget, t: &mut Table) -> Result<(), BenchError> {
    let prompt_bin = workspace_bin("latchkey-test-prompt")
        .ok_or(BenchError::setup("latchkey-test-prompt", "not built"))?;
    let rt = runtime()?;
    let bus = Bus::start(None)?;
    let settings = Settings {
        policy: policy(&prompt_bin)?,
        authenticators: platform_authenticator(),
        queue_capacity: 64,
        timeouts: Timeouts::default(),
        uid: rustix::process::getuid().as_raw(),
        related_origins: None,
    };
    let _daemon: Daemon = run(&rt, async {
        Daemon::start(Some(&bus.address), settings)
            .await
            .map_err(dbus)
    })?;
    let _prompt = Prompt::spawn(&bus, &prompt_bin)?;
    let client = run(&rt, async {
        CredentialsClient::connect(Some(&bus.address))
            .await
            .map_err(dbus)
    })?;
    // The first create sets the PIN (the prompt is asked for a new one): not timed.
    run(&rt, ceremony(&client, Kind::Create))?;
    t.timed(
        "dbus_ping",
        "floor: empty D-Bus method call round trip (Peer.Ping to latchkeyd, same bus)",
        stats::measure(budget, || run(&rt, ping(client.connection()))),
    );
    t.timed(
        "dbus_caps",
        "latchkeyd GetClientCapabilities",
        stats::measure(budget, || run(&rt, capabilities(client.connection()))),
    );
    t.timed(
        "dbus_create",
        "latchkeyd create (CreateCredential → prompt consent + PIN → Response)",
        stats::measure(budget, || run(&rt, ceremony(&client, Kind::Create))),
    );
    t.timed(
        "dbus_get",
        "latchkeyd get (GetCredential → prompt consent + PIN → Response)",
        stats::measure(budget, || run(&rt, ceremony(&client, Kind::Get))),
    );
    t.ratio(
        "ratio latchkeyd get ÷ empty round trip",
        "dbus_get",
        "dbus_ping",
    );
    t.ratio(
        "ratio latchkeyd create ÷ empty round trip",
        "dbus_create",
        "dbus_ping",
    );
    Ok(())
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

fn stop(pid: u32) {
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// D-Bus activation of the latchkeyd binary, and its memory.
fn activation(runs: usize, requests: usize, t: &mut Table) -> Result<(), BenchError> {
    let daemon_bin =
        workspace_bin("latchkeyd").ok_or(BenchError::setup("latchkeyd", "not built"))?;
    let home = tempfile::tempdir().map_err(|e| BenchError::setup("daemon directory", e))?;
    let services = home.path().join("services");
    let empty = home.path().join("policy");
    for d in [&services, &empty] {
        std::fs::create_dir_all(d).map_err(|e| BenchError::setup("daemon directory", e))?;
    }
    let service = format!(
        "[D-BUS Service]\nName={BUS_NAME}\nExec={} --data-dir {} --policy-system-dir {} --policy-admin-dir {} --policy-user-dir {} --log-level error\n",
        daemon_bin.display(),
        home.path().join("data").display(),
        empty.display(),
        empty.display(),
        empty.display()
    );
    std::fs::write(services.join(format!("{BUS_NAME}.service")), service)
        .map_err(|e| BenchError::setup("service file", e))?;
    let bus = Bus::start(Some(&services))?;
    let rt = runtime()?;
    let conn = rt
        .block_on(
            zbus::connection::Builder::address(bus.address.as_str())
                .map_err(dbus)?
                .build(),
        )
        .map_err(dbus)?;
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
    t.value(
        "latchkeyd RSS, idle after activation",
        format!("{:.1} MiB", idle as f64 / 1024.0),
    );
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
        format!("{:.1} MiB", after as f64 / 1024.0),
    );
    t.rss_kib = Some(after);
    stop(pid);
    Ok(())
}

/// Measures row 3 into `table`.
pub fn measure(budget: Budget, quick: bool, t: &mut Table) {
    if let Err(e) = ceremonies(budget, t) {
        t.not_measured("latchkeyd create / get", e.to_string());
    }
    let (runs, requests) = if quick { (2, 200) } else { (10, 10_000) };
    if let Err(e) = activation(runs, requests, t) {
        t.not_measured("latchkeyd activation / RSS", e.to_string());
    }
}
