//! A desktop for the prompt's tests, started by the test itself and private to it: an `Xvfb`
//! display, a `dbus-daemon` as the session bus (never the machine's), the accessibility bus
//! (`at-spi-bus-launcher --launch-immediately` on that bus), and an AT-SPI driver
//! (`atspi_driver.py`, Debian's python3-pyatspi) that reads and presses what a screen reader
//! would. Screenshots of the prompt's windows go to `target/ui-screenshots/`.
#![allow(dead_code)] // each test file uses part of it

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

pub mod caller;
pub mod latchkeyd;
pub mod session;

/// The prompt binary under test.
pub const UI_BIN: &str = env!("CARGO_BIN_EXE_latchkey-ui");

/// Light or dark style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// The default.
    Light,
    /// `ADW_DEBUG_COLOR_SCHEME=prefer-dark`.
    Dark,
}

impl Scheme {
    /// The name in screenshot file names.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Light => "light",
            Scheme::Dark => "dark",
        }
    }
}

/// A private desktop: display, session bus, accessibility bus.
pub struct Desktop {
    pub dir: tempfile::TempDir,
    pub display: String,
    pub bus_address: String,
    env: Vec<(String, String)>,
    children: Vec<Child>,
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Desktop {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            // The launcher leads its process group (see `start_with`); the others lead none, and
            // `kill -- -PID` of a non-leader finds no group and does nothing.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", c.id())])
                .stderr(Stdio::null())
                .status();
            kill(c);
        }
    }
}

/// A session bus configuration; `services` is a directory of activatable services.
fn bus_config(dir: &Path, services: Option<&Path>) -> String {
    let servicedir = std::iter::once(dir.join("services"))
        .chain(services.map(Path::to_path_buf))
        .map(|s| format!("<servicedir>{}</servicedir>", s.display()))
        .collect::<String>();
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
  <limit name="service_start_timeout">120000</limit>
</busconfig>
"#,
        dir = dir.display()
    )
}

fn first_line(child: &mut Child, what: &str) -> String {
    let out = child
        .stdout
        .take()
        .unwrap_or_else(|| panic!("{what}: no stdout"));
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    let line = line.trim().to_owned();
    assert!(!line.is_empty(), "{what} printed nothing");
    line
}

impl Desktop {
    /// Starts a desktop; `services`, if given, is the session bus's service directory.
    pub fn start(services: Option<&Path>) -> Self {
        Self::start_with(services, &[])
    }

    /// [`Self::start`] with extra environment for everything started on it (activated services
    /// included).
    pub fn start_with(services: Option<&Path>, extra_env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let home = dir.path().join("home");
        for d in [&run, &home] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let mut children = Vec::new();

        let mut xvfb = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x1024x24",
                "-nolisten",
                "tcp",
                "-noreset",
            ])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("xvfb.log")).unwrap())
            .spawn()
            .expect("Xvfb must be installed (apt-get install xvfb)");
        let display = format!(":{}", first_line(&mut xvfb, "Xvfb"));
        children.push(xvfb);

        let mut env: Vec<(String, String)> = vec![
            ("DISPLAY".into(), display.clone()),
            ("XDG_RUNTIME_DIR".into(), run.display().to_string()),
            ("HOME".into(), home.display().to_string()),
            (
                "XDG_CONFIG_HOME".into(),
                home.join(".config").display().to_string(),
            ),
            (
                "XDG_DATA_HOME".into(),
                home.join(".local/share").display().to_string(),
            ),
            (
                "XDG_CACHE_HOME".into(),
                home.join(".cache").display().to_string(),
            ),
            ("GSETTINGS_BACKEND".into(), "memory".into()),
            ("GDK_BACKEND".into(), "x11".into()),
            ("GTK_A11Y".into(), "atspi".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("LC_ALL".into(), "C.UTF-8".into()),
            ("NO_AT_BRIDGE".into(), "0".into()),
        ];
        // The prompt answers only the process it verifies as latchkeyd: in the dialog tests this
        // test binary plays latchkeyd (owning its name); the latchkeyd binary is added when one
        // is started (`latchkeyd::Latchkeyd`).
        env.push((
            latchkey_api::latchkeyd::LATCHKEYD_ENV.into(),
            std::env::current_exe().unwrap().display().to_string(),
        ));
        for (k, v) in extra_env {
            env.push(((*k).into(), (*v).into()));
        }

        let conf = dir.path().join("bus.conf");
        std::fs::create_dir_all(dir.path().join("services")).unwrap();
        std::fs::write(&conf, bus_config(dir.path(), services)).unwrap();
        let mut bus = Command::new("dbus-daemon");
        // What it activates stays its child (latchkeyd's clients require a latchkeyd the bus
        // started; `latchkey_testkit::activation`).
        latchkey_testkit::activation::as_subreaper(&mut bus);
        bus.arg(format!("--config-file={}", conf.display()))
            .args(["--print-address", "--nofork"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("dbus.log")).unwrap());
        clean_env(&mut bus, &env);
        let mut bus = bus.spawn().expect("dbus-daemon must be installed");
        let bus_address = first_line(&mut bus, "dbus-daemon");
        children.push(bus);
        env.push(("DBUS_SESSION_BUS_ADDRESS".into(), bus_address.clone()));

        let mut a11y = Command::new("/usr/libexec/at-spi-bus-launcher");
        // Its own process group: the accessibility bus it starts is killed with it.
        std::os::unix::process::CommandExt::process_group(&mut a11y, 0);
        a11y.arg("--launch-immediately")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("at-spi.log")).unwrap());
        clean_env(&mut a11y, &env);
        children.push(a11y.spawn().expect("at-spi2-core must be installed"));

        let desktop = Self {
            dir,
            display,
            bus_address,
            env,
            children,
        };
        desktop.wait_for_name("org.a11y.Bus");
        desktop.start_registry();
        desktop
    }

    /// Starts the AT-SPI registry on the accessibility bus before any application: GTK 4.8
    /// embeds its windows in the registry when they appear and does not start it itself.
    fn start_registry(&self) {
        let out = self
            .command("dbus-send")
            .args([
                "--session",
                "--print-reply=literal",
                "--dest=org.a11y.Bus",
                "/org/a11y/bus",
                "org.a11y.Bus.GetAddress",
            ])
            .output()
            .unwrap();
        let address = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            address.starts_with("unix:"),
            "no accessibility bus: {address:?}"
        );
        let status = self
            .command("dbus-send")
            .arg(format!("--bus={address}"))
            .args([
                "--print-reply",
                "--dest=org.a11y.atspi.Registry",
                "/org/a11y/atspi/registry",
                "org.freedesktop.DBus.Peer.Ping",
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "the AT-SPI registry did not start");
    }

    /// The environment every process on this desktop gets.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// A command with this desktop's environment (and nothing of the machine's session).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        clean_env(&mut c, &self.env);
        c
    }

    /// Waits until `name` has an owner on the session bus.
    pub fn wait_for_name(&self, name: &str) {
        for _ in 0..400 {
            let out = self
                .command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                ])
                .arg(format!("string:{name}"))
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("{name} never appeared on the test bus");
    }

    /// Starts `latchkey-ui` (serving the prompt) with `scheme` and extra arguments.
    pub fn start_ui(&self, scheme: Scheme, args: &[&str]) -> UiProcess {
        let mut c = self.command(UI_BIN);
        c.args(args)
            .env("LATCHKEY_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(
                    self.dir
                        .path()
                        .join(format!("ui-{}.log", std::process::id())),
                )
                .unwrap(),
            );
        if scheme == Scheme::Dark {
            c.env("ADW_DEBUG_COLOR_SCHEME", "prefer-dark");
        }
        UiProcess {
            child: c.spawn().unwrap(),
        }
    }

    /// The AT-SPI driver on this desktop.
    pub fn driver(&self) -> Driver {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gui/atspi_driver.py");
        let mut child = self
            .command("/usr/bin/python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3-pyatspi must be installed");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Driver {
            child,
            stdin,
            stdout,
            app: None,
        }
    }

    /// Saves a screenshot of the showing window of `latchkey-ui` whose title is `title` (the
    /// first one if `None`) as `target/ui-screenshots/NAME.png`.
    pub fn screenshot(&self, title: Option<&str>, name: &str) -> PathBuf {
        self.camera().screenshot(title, name)
    }

    /// [`Self::screenshot`] of a window of the program named `program`.
    pub fn screenshot_of(&self, program: &str, title: Option<&str>, name: &str) -> PathBuf {
        self.camera().screenshot_of(program, title, name)
    }

    /// Takes screenshots of this desktop from another thread (a person's, while the test's own
    /// waits for a call).
    pub fn camera(&self) -> Camera {
        Camera {
            env: self.env.clone(),
        }
    }
}

/// Takes screenshots of a desktop's windows (see [`Desktop::camera`]).
#[derive(Debug, Clone)]
pub struct Camera {
    env: Vec<(String, String)>,
}

impl Camera {
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        clean_env(&mut c, &self.env);
        c
    }

    /// See [`Desktop::screenshot`].
    pub fn screenshot(&self, title: Option<&str>, name: &str) -> PathBuf {
        self.screenshot_of("latchkey-ui", title, name)
    }

    /// The X window ID (`0x…`) of the viewable window of the program named `program` whose title
    /// is `title` (the first one if `None`).
    pub fn window(&self, program: &str, title: Option<&str>) -> String {
        let tree = self
            .command("xwininfo")
            .args(["-root", "-tree"])
            .output()
            .unwrap();
        let tree = String::from_utf8_lossy(&tree.stdout);
        tree.lines()
            .filter(|l| l.contains(&format!("(\"{program}\"")))
            .filter(|l| title.is_none_or(|t| l.contains(&format!("\"{t}\""))))
            .filter_map(|l| l.split_whitespace().next())
            .find(|id| {
                let info = self.command("xwininfo").args(["-id", id]).output().unwrap();
                String::from_utf8_lossy(&info.stdout).contains("Map State: IsViewable")
            })
            .unwrap_or_else(|| panic!("no window {title:?} of {program}:\n{tree}"))
            .to_owned()
    }

    /// The window `WM_TRANSIENT_FOR` of the window `id` names, if it names one (`xprop`).
    pub fn transient_for(&self, id: &str) -> Option<u32> {
        let out = self
            .command("xprop")
            .args(["-id", id, "WM_TRANSIENT_FOR"])
            .output()
            .unwrap();
        // "WM_TRANSIENT_FOR(WINDOW): window id # 0x200001"
        let text = String::from_utf8_lossy(&out.stdout);
        let hex = text.rsplit_once("# 0x")?.1.trim();
        u32::from_str_radix(hex, 16).ok()
    }

    /// See [`Desktop::screenshot_of`].
    pub fn screenshot_of(&self, program: &str, title: Option<&str>, name: &str) -> PathBuf {
        let id = self.window(program, title);
        let out = screenshot_dir().join(format!("{name}.png"));
        let status = self
            .command("import")
            .args(["-window", &id])
            .arg(&out)
            .status()
            .expect("imagemagick must be installed");
        assert!(status.success(), "import failed");
        assert!(
            std::fs::metadata(&out).unwrap().len() > 1000,
            "empty screenshot"
        );
        out
    }
}

fn clean_env(c: &mut Command, env: &[(String, String)]) {
    c.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        c.env("PATH", path);
    }
    for (k, v) in env {
        c.env(k, v);
    }
}

/// Where screenshots go: `target/ui-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `latchkey-ui`; killed on drop.
pub struct UiProcess {
    pub child: Child,
}

impl Drop for UiProcess {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// The AT-SPI driver (see `atspi_driver.py`).
pub struct Driver {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    app: Option<String>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

impl Driver {
    /// Sends one command; returns the answer, panicking with the driver's error.
    pub fn call(&mut self, cmd: Value) -> Value {
        let answer = self.try_call(cmd.clone());
        if answer["ok"] != json!(true) {
            let tree = self.tree();
            panic!("AT-SPI {cmd}: {answer}\nthe window now:\n{tree}");
        }
        answer
    }

    /// This driver, reading and pressing in the windows of the program named `app` (the
    /// Passkeys window's `latchkey-passkeys`) instead of the prompt's `latchkey-ui`.
    pub fn for_app(mut self, app: &str) -> Self {
        self.app = Some(app.to_owned());
        self
    }

    /// Sends one command; returns the answer as it is.
    pub fn try_call(&mut self, mut cmd: Value) -> Value {
        if let (Some(app), Some(map)) = (&self.app, cmd.as_object_mut()) {
            map.entry("app").or_insert_with(|| json!(app));
        }
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("driver said {line:?}: {e}"))
    }

    /// Waits for a prompt window; returns its title.
    pub fn wait_window(&mut self) -> String {
        let v = self.call(json!({"op": "wait_window"}));
        v["title"].as_str().unwrap_or_default().to_owned()
    }

    /// Waits until a label with exactly `text` shows.
    pub fn wait_text(&mut self, text: &str) {
        self.call(json!({"op": "wait_text", "text": text}));
    }

    /// The labels and button names of the showing window's page (without the title bar's
    /// "Close", which every window has first).
    pub fn texts(&mut self) -> (Vec<String>, Vec<String>) {
        let (texts, mut buttons) = self.all_texts();
        if buttons.first().map(String::as_str) == Some("Close") {
            buttons.remove(0);
        }
        (texts, buttons)
    }

    /// [`Self::texts`], or nothing while no window shows.
    pub fn try_texts(&mut self) -> (Vec<String>, Vec<String>) {
        let v = self.try_call(json!({"op": "texts"}));
        let list = |k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        (list("texts"), list("buttons"))
    }

    /// The labels and button names of the showing window, title bar included.
    pub fn all_texts(&mut self) -> (Vec<String>, Vec<String>) {
        let v = self.call(json!({"op": "texts"}));
        let list = |k: &str| {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        (list("texts"), list("buttons"))
    }

    /// Types `text` into the field named `name`.
    pub fn set_text(&mut self, name: &str, text: &str) {
        self.call(json!({"op": "set_text", "name": name, "text": text}));
    }

    /// Presses the button named `name` (once it is sensitive).
    pub fn press(&mut self, name: &str) {
        self.call(json!({"op": "press", "name": name}));
    }

    /// Presses and releases the key `keysym` (X keysym, e.g. 0xff1b for Escape).
    pub fn key(&mut self, keysym: u32) {
        self.call(json!({"op": "key", "keysym": keysym}));
    }

    /// Waits until no prompt window shows.
    pub fn wait_gone(&mut self) {
        self.call(json!({"op": "wait_gone"}));
    }

    /// The accessible tree of the showing window, for failure messages.
    pub fn tree(&mut self) -> String {
        self.try_call(json!({"op": "tree"}))["tree"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}
