//! Row 7: the graphical prompt (`latchkey-ui`) under Xvfb. This process plays latchkeyd: it owns
//! `dev.latchkey.Credentials` on a private bus (the prompt answers only that name's owner) and
//! calls `dev.latchkey.Prompt1.Consent` as latchkeyd does; the time is from just before the call
//! to the dialog's window mapped, which the prompt reports itself: the bench starts it with
//! `LATCHKEY_UI_TRACE` (see `latchkey_ui::trace`), and it appends the `CLOCK_MONOTONIC` time of
//! the window's `map` signal, and of its first frame drawn, to that file. Then `Dismiss` takes the
//! dialog down and the next call is made.
//!
//! - **Running**: the prompt is already up (started by the first call), as it stays for a minute
//!   after a request.
//! - **Activated**: nobody owns `dev.latchkey.Prompt`; the call makes the bus start the prompt
//!   from its activation file, so the time includes starting GTK. The prompt is stopped (SIGTERM)
//!   before each such run.
//! - The prompt's resident memory (`VmRSS` of `/proc/PID/status`) after the running calls.
//!
//! The desktop is the tests' (`crates/ui/tests/gui/`): `Xvfb`, a private `dbus-daemon`, and the
//! accessibility bus with its registry when at-spi2-core is installed, as on a desktop where a
//! screen reader may be used. The bench never links GTK: it runs the `latchkey-ui` binary built
//! beside it (or in `LATCHKEY_BIN_DIR`), and skips the row, saying why, when that binary,
//! `Xvfb` or `dbus-daemon` is missing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use latchkey_testkit::bins;
use zbus::zvariant::Value;

use crate::{BenchError, Samples, Table};

mod desktop;
use desktop::{runtime, Desktop};

/// How a skipped row's reason starts: the run does not fail for it.
pub const SKIPPED: &str = "skipped: ";

const PROMPT_NAME: &str = "dev.latchkey.Prompt";
const PROMPT_PATH: &str = "/dev/latchkey/Prompt";
const PROMPT_IFACE: &str = "dev.latchkey.Prompt1";
/// How long one dialog may take to appear before the row fails.
const LIMIT: Duration = Duration::from_secs(20);

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

/// The `latchkey-ui` binary: in `LATCHKEY_BIN_DIR`, else beside this executable's profile
/// (`target/release/latchkey-ui` under `cargo bench`). Never built here: it needs GTK.
pub fn binary() -> Option<PathBuf> {
    let dir = match std::env::var_os(bins::BIN_DIR_ENV) {
        Some(d) => PathBuf::from(d),
        None => std::env::current_exe()
            .ok()?
            .parent()?
            .parent()?
            .to_path_buf(),
    };
    Some(dir.join("latchkey-ui")).filter(|p| p.is_file())
}

/// Why row 7 cannot run here, if it cannot (a line starting with [`SKIPPED`]).
pub fn unavailable() -> Option<String> {
    if !on_path("Xvfb") {
        return Some(format!("{SKIPPED}no Xvfb (apt-get install xvfb)"));
    }
    if !on_path("dbus-daemon") {
        return Some(format!(
            "{SKIPPED}no dbus-daemon (apt-get install dbus-daemon)"
        ));
    }
    if binary().is_none() {
        return Some(format!(
            "{SKIPPED}latchkey-ui is not built (cargo build --release -p latchkey-ui; it needs libgtk-4-dev and libadwaita-1-dev)"
        ));
    }
    None
}

fn setup(what: &'static str) -> impl Fn(std::io::Error) -> BenchError {
    move |e| BenchError::setup(what, e)
}

fn dbus(e: impl std::fmt::Display) -> BenchError {
    BenchError::setup("D-Bus", e)
}

/// `CLOCK_MONOTONIC` in microseconds, the clock of `g_get_monotonic_time`.
fn monotonic_us() -> i64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec * 1_000_000 + t.tv_nsec / 1_000
}

/// latchkeyd's side: owns `dev.latchkey.Credentials` and asks for consent.
struct Latchkeyd {
    conn: zbus::Connection,
    dbus: zbus::fdo::DBusProxy<'static>,
    next: u32,
}

impl Latchkeyd {
    async fn start(d: &Desktop) -> Result<Self, BenchError> {
        let conn = zbus::connection::Builder::address(d.bus.address.as_str())
            .map_err(dbus)?
            .name("dev.latchkey.Credentials")
            .map_err(dbus)?
            .build()
            .await
            .map_err(dbus)?;
        let dbus = zbus::fdo::DBusProxy::new(&conn).await.map_err(dbus)?;
        Ok(Self {
            conn,
            dbus,
            next: 0,
        })
    }

    /// The prompt's process ID, if it runs.
    async fn prompt_pid(&self) -> Option<u32> {
        let name = zbus::names::BusName::try_from(PROMPT_NAME).ok()?;
        self.dbus.get_connection_unix_process_id(name).await.ok()
    }

    /// Stops the prompt if it runs, and waits for its name to be free.
    async fn stop_prompt(&self) -> Result<(), BenchError> {
        let Some(pid) = self.prompt_pid().await else {
            return Ok(());
        };
        let pid = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .ok_or_else(|| BenchError::setup("latchkey-ui", "no process ID"))?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .map_err(|e| BenchError::setup("latchkey-ui", e))?;
        let started = Instant::now();
        while self.prompt_pid().await.is_some() {
            if started.elapsed() > LIMIT {
                return Err(BenchError::setup("latchkey-ui", "did not stop"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// One `Consent`: from the call to the dialog mapped, and to its first frame drawn; then
    /// `Dismiss`, and the call's answer.
    async fn consent(&mut self, d: &Desktop) -> Result<(Duration, Duration), BenchError> {
        self.next += 1;
        let id = format!("bench{}", self.next);
        let details: HashMap<&str, Value<'_>> = HashMap::from([
            ("kind", Value::from("get")),
            ("rp_id", Value::from("example.com")),
            ("origin", Value::from("https://example.com")),
            ("caller", Value::from("Bench Browser")),
            ("app_id", Value::from("bench")),
            ("caller_verified", Value::from(true)),
            ("caller_class", Value::from("privileged")),
        ]);
        let conn = self.conn.clone();
        let asked = id.clone();
        let start = monotonic_us();
        let call = tokio::spawn(async move {
            conn.call_method(
                Some(PROMPT_NAME),
                PROMPT_PATH,
                Some(PROMPT_IFACE),
                "Consent",
                &(asked.as_str(), details),
            )
            .await
        });
        let mapped = d.traced("map", &id).await;
        let painted = match &mapped {
            Ok(_) => d.traced("paint", &id).await,
            Err(_) => Ok(0),
        };
        let dismissed = self
            .conn
            .call_method(
                Some(PROMPT_NAME),
                PROMPT_PATH,
                Some(PROMPT_IFACE),
                "Dismiss",
                &(id.as_str(),),
            )
            .await;
        let answer = tokio::time::timeout(LIMIT, call).await;
        let (mapped, painted) = (mapped?, painted?);
        dismissed.map_err(dbus)?;
        match answer {
            Ok(Ok(Ok(_))) => {}
            Ok(Ok(Err(e))) => return Err(dbus(e)),
            Ok(Err(e)) => return Err(BenchError::setup("the Consent call", e)),
            Err(_) => return Err(BenchError::setup("the Consent call", "no answer")),
        }
        let since = |t: i64| Duration::from_micros(u64::try_from(t - start).unwrap_or(0));
        Ok((since(mapped), since(painted)))
    }
}

/// Measured times: (mapped, first frame) per call.
#[derive(Default)]
struct Runs {
    mapped: Vec<Duration>,
    painted: Vec<Duration>,
}

impl Runs {
    fn push(&mut self, (mapped, painted): (Duration, Duration)) {
        self.mapped.push(mapped);
        self.painted.push(painted);
    }
}

/// What one run of the row measured.
struct Measured {
    running: Runs,
    activated: Runs,
    rss_kib: Option<u64>,
}

async fn measure_on(d: &Desktop, running: usize, activated: usize) -> Result<Measured, BenchError> {
    let mut lk = Latchkeyd::start(d).await?;
    let mut out = Measured {
        running: Runs::default(),
        activated: Runs::default(),
        rss_kib: None,
    };
    for _ in 0..activated.max(1) {
        lk.stop_prompt().await?;
        out.activated.push(lk.consent(d).await?);
    }
    // The first call after a start settles caches (fonts, icons, styles): not counted.
    lk.consent(d).await?;
    for _ in 0..running {
        out.running.push(lk.consent(d).await?);
    }
    if let Some(pid) = lk.prompt_pid().await {
        out.rss_kib = rss_kib(pid);
    }
    lk.stop_prompt().await?;
    Ok(out)
}

/// `VmRSS` of `/proc/PID/status`, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Row 7's rows into `t`: `running` calls to the running prompt, `activated` calls that start it.
pub fn measure(running: usize, activated: usize, t: &mut Table) {
    let names = [
        "Consent → dialog mapped, latchkey-ui running",
        "Consent → dialog mapped, latchkey-ui started by D-Bus activation",
    ];
    let Some(ui) = binary() else {
        for n in names {
            t.not_measured(n, unavailable().unwrap_or_default());
        }
        return;
    };
    let measured = Desktop::start(&ui).and_then(|d| {
        let rt = runtime()?;
        let m = rt.block_on(measure_on(&d, running, activated));
        drop(d);
        m
    });
    let m = match measured {
        Ok(m) => m,
        Err(e) => {
            for n in names {
                t.not_measured(n, e.to_string());
            }
            return;
        }
    };
    let samples = |v: Vec<Duration>| {
        Samples::from_durations(v).ok_or_else(|| BenchError::setup("latchkey-ui", "no samples"))
    };
    t.timed("ui_running", names[0], samples(m.running.mapped));
    t.timed(
        "ui_running_paint",
        "Consent → first frame drawn, latchkey-ui running",
        samples(m.running.painted),
    );
    t.timed("ui_activated", names[1], samples(m.activated.mapped));
    t.timed(
        "ui_activated_paint",
        "Consent → first frame drawn, latchkey-ui started by D-Bus activation",
        samples(m.activated.painted),
    );
    match m.rss_kib {
        Some(k) => t.value(
            "latchkey-ui RSS, after the calls",
            format!("{:.1} MiB", k as f64 / 1024.0),
        ),
        None => t.not_measured("latchkey-ui RSS", "its /proc/PID/status was not readable"),
    }
}

/// The targets of row 7 (issue 12): a dialog mapped within 100 ms of the call with the prompt
/// running, within 500 ms when activation starts it.
pub fn targets(t: &Table) -> Vec<String> {
    let ms = |key: &str| t.samples(key).map(|s| s.median().as_secs_f64() * 1e3);
    let line = |what: &str, v: Option<f64>, limit: f64| match v {
        Some(v) => format!(
            "- {what} ≤ {limit:.0} ms: {v:.2} ms — {}",
            if v <= limit { "met" } else { "MISSED" }
        ),
        None => format!("- {what} ≤ {limit:.0} ms: not measured"),
    };
    vec![
        line(
            "latchkey-ui running: Consent → dialog mapped",
            ms("ui_running"),
            100.0,
        ),
        line(
            "latchkey-ui started by D-Bus activation: Consent → dialog mapped",
            ms("ui_activated"),
            500.0,
        ),
    ]
}
