//! Row 7's desktop: `Xvfb`, a private session bus whose activation file starts `latchkey-ui`
//! (with the trace on, see `latchkey_ui::trace`), and the accessibility bus with its registry
//! when at-spi2-core is installed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use latchkey_testkit::TestBus;

use super::{dbus, setup, LIMIT, PROMPT_NAME};
use crate::BenchError;

/// Xvfb, a private session bus that activates the prompt, and the accessibility bus.
pub(super) struct Desktop {
    _dir: tempfile::TempDir,
    xvfb: Child,
    a11y: Option<Child>,
    pub(super) bus: TestBus,
    trace: PathBuf,
}

impl Drop for Desktop {
    fn drop(&mut self) {
        if let Some(a) = &mut self.a11y {
            // It leads its own process group, with the accessibility bus it started.
            if let Ok(pid) = i32::try_from(a.id()) {
                if let Some(group) = rustix::process::Pid::from_raw(pid) {
                    let _ =
                        rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                }
            }
            let _ = a.wait();
        }
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}

impl Desktop {
    pub(super) fn start(ui: &Path) -> Result<Self, BenchError> {
        let dir = tempfile::tempdir().map_err(setup("directory"))?;
        let (run, home, services) = (
            dir.path().join("run"),
            dir.path().join("home"),
            dir.path().join("services"),
        );
        for d in [&run, &home, &services] {
            std::fs::create_dir_all(d).map_err(setup("directory"))?;
        }
        std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(setup("directory"))?;
        std::fs::write(
            services.join(format!("{PROMPT_NAME}.service")),
            format!(
                "[D-BUS Service]\nName={PROMPT_NAME}\nExec={}\n",
                ui.display()
            ),
        )
        .map_err(setup("activation file"))?;

        let mut xvfb = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1280x1024x24"])
            .args(["-nolisten", "tcp", "-noreset"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(setup("Xvfb"))?;
        let number = xvfb
            .stdout
            .take()
            .and_then(|out| latchkey_testkit::bus::first_line(out, LIMIT))
            .unwrap_or_default();
        let number = number.trim().to_owned();
        if number.is_empty() {
            let _ = xvfb.kill();
            let _ = xvfb.wait();
            return Err(BenchError::setup("Xvfb", "printed no display number"));
        }
        let trace = dir.path().join("trace");
        let bus = TestBus::try_start_in(dir.path(), Some(&services))
            .map_err(|e| BenchError::setup("dbus-daemon", e))?;
        let env: Vec<(&str, String)> = vec![
            ("DISPLAY", format!(":{number}")),
            ("XDG_RUNTIME_DIR", run.display().to_string()),
            ("HOME", home.display().to_string()),
            ("GSETTINGS_BACKEND", "memory".into()),
            ("GDK_BACKEND", "x11".into()),
            ("LANG", "C.UTF-8".into()),
            ("LC_ALL", "C.UTF-8".into()),
            ("DBUS_SESSION_BUS_ADDRESS", bus.address.clone()),
            ("LATCHKEY_UI_TRACE", trace.display().to_string()),
        ];
        let launcher = Path::new("/usr/libexec/at-spi-bus-launcher");
        let a11y = if launcher.is_file() {
            let mut c = Command::new(launcher);
            c.arg("--launch-immediately")
                .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            std::os::unix::process::CommandExt::process_group(&mut c, 0);
            Some(c.spawn().map_err(setup("at-spi-bus-launcher"))?)
        } else {
            None
        };
        let desktop = Desktop {
            _dir: dir,
            xvfb,
            a11y,
            bus,
            trace,
        };
        desktop.activation_env(&env)?;
        Ok(desktop)
    }

    /// What the bus gives the prompt it starts; the accessibility registry started first when
    /// there is an accessibility bus (GTK 4.8 does not start it).
    fn activation_env(&self, env: &[(&str, String)]) -> Result<(), BenchError> {
        let rt = runtime()?;
        rt.block_on(async {
            let conn = self.connect().await?;
            let bus = zbus::fdo::DBusProxy::new(&conn).await.map_err(dbus)?;
            let vars: HashMap<&str, &str> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            bus.update_activation_environment(vars)
                .await
                .map_err(dbus)?;
            if self.a11y.is_some() {
                let name = zbus::names::BusName::try_from("org.a11y.Bus").map_err(dbus)?;
                let started = Instant::now();
                while !bus.name_has_owner(name.clone()).await.map_err(dbus)? {
                    if started.elapsed() > LIMIT {
                        return Err(BenchError::setup("at-spi-bus-launcher", "no org.a11y.Bus"));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                start_registry(&conn).await?;
            }
            Ok(())
        })
    }

    async fn connect(&self) -> Result<zbus::Connection, BenchError> {
        zbus::connection::Builder::address(self.bus.address.as_str())
            .map_err(dbus)?
            .build()
            .await
            .map_err(dbus)
    }

    /// The trace's line `EVENT ID MICROSECONDS` for request `id`, once the prompt wrote it.
    pub(super) async fn traced(&self, event: &str, id: &str) -> Result<i64, BenchError> {
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&self.trace).unwrap_or_default();
            let found = text.lines().find_map(|l| {
                let mut f = l.split(' ');
                (f.next() == Some(event) && f.next() == Some(id))
                    .then(|| f.next().and_then(|t| t.parse::<i64>().ok()))
                    .flatten()
            });
            if let Some(t) = found {
                return Ok(t);
            }
            if started.elapsed() > LIMIT {
                return Err(BenchError::setup(
                    "latchkey-ui",
                    format!(
                        "no {event} of request {id} within {LIMIT:?}: {}",
                        self.log()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn log(&self) -> String {
        let log = self.bus.log();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
    }
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, BenchError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(setup("tokio"))
}

async fn start_registry(conn: &zbus::Connection) -> Result<(), BenchError> {
    let reply = conn
        .call_method(
            Some("org.a11y.Bus"),
            "/org/a11y/bus",
            Some("org.a11y.Bus"),
            "GetAddress",
            &(),
        )
        .await
        .map_err(dbus)?;
    let address: String = reply.body().deserialize().map_err(dbus)?;
    let a11y = zbus::connection::Builder::address(address.as_str())
        .map_err(dbus)?
        .build()
        .await
        .map_err(dbus)?;
    a11y.call_method(
        Some("org.a11y.atspi.Registry"),
        "/org/a11y/atspi/registry",
        Some("org.freedesktop.DBus.Peer"),
        "Ping",
        &(),
    )
    .await
    .map_err(dbus)?;
    Ok(())
}
