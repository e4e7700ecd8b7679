//! [`TestBus`]: a private `dbus-daemon` with its socket and configuration in a temporary
//! directory, killed on drop. Never the machine's bus: every test and the benchmark start their
//! own. It is a child subreaper, so the services it activates stay its children
//! ([`crate::activation`]), and its own `services` directory is always a service directory
//! ([`TestBus::services`]: where [`crate::latchkeyd`] puts latchkeyd's activation file).

use std::io::{BufRead as _, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::SetupError;

/// How long `dbus-daemon` may take to print its address.
const START_LIMIT: Duration = Duration::from_secs(30);

/// A private `dbus-daemon` (module doc).
pub struct TestBus {
    /// Its directory: the socket, `bus.conf`, `dbus-daemon.log` (the standard error of the bus and
    /// of the services it activates), and whatever a test puts there.
    pub dir: tempfile::TempDir,
    /// Its address (`unix:path=…`).
    pub address: String,
    child: Child,
}

/// The bus configuration: a session bus on a socket in `dir`, everything allowed, limits raised
/// for tests that open many connections or keep many calls in flight (and a latchkeyd that starts
/// slowly on a loaded machine), and `dir/services` and `services` as `<servicedir>`s for D-Bus
/// activation.
fn config(dir: &Path, services: Option<&Path>) -> String {
    let servicedir = std::iter::once(dir.join("services"))
        .chain(services.map(Path::to_path_buf))
        .map(|s| format!("<servicedir>{}</servicedir>", s.display()))
        .collect::<String>();
    // `<allow eavesdrop="true"/>` is the rule that lets every connection receive: with only the
    // send and own rules, dbus-daemon delivers no reply and the first call never returns.
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:dir={dir}</listen>
  {servicedir}
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  <limit name="max_connections_per_user">2000</limit>
  <limit name="max_match_rules_per_connection">5000</limit>
  <limit name="max_replies_per_connection">50000</limit>
  <limit name="service_start_timeout">120000</limit>
</busconfig>
"#,
        dir = dir.display()
    )
}

/// The first line `out` prints, waiting at most `limit` (a thread reads it; the pipe closes when
/// the caller kills the child).
pub fn first_line(out: impl Read + Send + 'static, limit: Duration) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(limit).ok()
}

impl TestBus {
    /// Starts a bus without activatable services.
    pub fn start() -> Self {
        Self::try_start(None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a bus whose `<servicedir>` is `services` (for activation tests).
    pub fn start_with_services(services: Option<&Path>) -> Self {
        Self::try_start(services).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A bus as dbus-daemon 1.14 runs without systemd: not a subreaper, so a service it
    /// activates is orphaned (reparented to PID 1 or a subreaper above the test) once it owns its
    /// name.
    pub fn start_orphaning(services: Option<&Path>) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("bus directory: {e}"));
        Self::start_at(dir, services, false).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a bus, or says why it could not.
    pub fn try_start(services: Option<&Path>) -> Result<Self, SetupError> {
        let dir = tempfile::tempdir().map_err(|e| SetupError::new("bus directory", e))?;
        Self::start_at(dir, services, true)
    }

    /// [`Self::try_start`] with the bus's directory made under `parent`.
    pub fn try_start_in(parent: &Path, services: Option<&Path>) -> Result<Self, SetupError> {
        let dir = tempfile::Builder::new()
            .prefix("bus")
            .tempdir_in(parent)
            .map_err(|e| SetupError::new("bus directory", e))?;
        Self::start_at(dir, services, true)
    }

    fn start_at(
        dir: tempfile::TempDir,
        services: Option<&Path>,
        subreaper: bool,
    ) -> Result<Self, SetupError> {
        std::fs::create_dir_all(dir.path().join("services"))
            .map_err(|e| SetupError::new("bus service directory", e))?;
        let conf = dir.path().join("bus.conf");
        std::fs::write(&conf, config(dir.path(), services))
            .map_err(|e| SetupError::new("bus config", e))?;
        let log = std::fs::File::create(dir.path().join("dbus-daemon.log"))
            .map_err(|e| SetupError::new("bus log", e))?;
        let mut cmd = Command::new("dbus-daemon");
        if subreaper {
            crate::activation::as_subreaper(&mut cmd);
        }
        let mut child = cmd
            // Services it activates (latchkeyd) find no system bus: never the machine's.
            .env(
                "DBUS_SYSTEM_BUS_ADDRESS",
                format!("unix:path={}/no-system-bus", dir.path().display()),
            )
            .arg(format!("--config-file={}", conf.display()))
            .args(["--print-address", "--nofork"])
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| SetupError::new("dbus-daemon (apt-get install dbus-daemon)", e))?;
        let line = child
            .stdout
            .take()
            .and_then(|out| first_line(out, START_LIMIT))
            .unwrap_or_default();
        let address = line.trim().to_owned();
        if !address.starts_with("unix:") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SetupError::new(
                "dbus-daemon",
                format!("printed {address:?}"),
            ));
        }
        Ok(Self {
            dir,
            address,
            child,
        })
    }

    /// Its own service directory (`dir/services`).
    pub fn services(&self) -> std::path::PathBuf {
        self.dir.path().join("services")
    }

    /// A new connection to this bus.
    pub async fn connect(&self) -> zbus::Connection {
        zbus::connection::Builder::address(self.address.as_str())
            .unwrap_or_else(|e| panic!("bus address {}: {e}", self.address))
            .build()
            .await
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.address))
    }

    /// The bus daemon's own interface (`org.freedesktop.DBus`) on a new connection.
    pub async fn dbus(&self) -> zbus::fdo::DBusProxy<'static> {
        zbus::fdo::DBusProxy::new(&self.connect().await)
            .await
            .unwrap_or_else(|e| panic!("org.freedesktop.DBus on {}: {e}", self.address))
    }

    /// Whether latchkeyd (`dev.latchkey.Credentials`) has an owner on this bus.
    pub async fn latchkeyd_running(&self, dbus: &zbus::fdo::DBusProxy<'_>) -> bool {
        dbus.name_has_owner(credentials_name())
            .await
            .unwrap_or_else(|e| panic!("NameHasOwner: {e}"))
    }

    /// What the bus and the services it started wrote to their standard error.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dbus-daemon.log")).unwrap_or_default()
    }
}

impl Drop for TestBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// latchkeyd's bus name.
pub fn credentials_name() -> zbus::names::BusName<'static> {
    zbus::names::BusName::from_static_str(latchkey_api::BUS_NAME)
        .unwrap_or_else(|e| panic!("{}: {e}", latchkey_api::BUS_NAME))
}
