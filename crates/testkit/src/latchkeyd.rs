//! [`Latchkeyd`]: the real `latchkeyd` binary on a test bus, with `--no-usb`, a policy, a store
//! and a security key list in a temp dir, the given extra arguments and environment; killed on
//! drop. The bus starts it (D-Bus activation, [`crate::activation`]), as a session's bus would:
//! latchkeyd's clients take no latchkeyd that a process of the user started itself. It leaves
//! PC/SC readers alone (`--no-pcsc`) unless the environment names a test's pcscd
//! ([`crate::pcscd::SOCKET_ENV`]): the machine's pcscd is never used.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::activation::{self, Activated};
use crate::bus::TestBus;

/// The real `latchkeyd` on a test bus (module doc).
pub struct Latchkeyd {
    process: Activated,
    pub home: tempfile::TempDir,
}

/// The latchkeyd binary under test (with its platform worker beside it).
pub fn latchkeyd_bin() -> PathBuf {
    crate::bins::binary("latchkeyd")
}

impl Latchkeyd {
    /// Starts latchkeyd with `policy` and `extra` arguments (`--device …`), and waits until it
    /// owns its bus name.
    pub async fn start(bus: &TestBus, policy: &str, extra: &[String]) -> Self {
        Self::start_with_config(bus, policy, extra, None).await
    }

    /// [`Self::start`] with `devices_toml` as its security key list (`--devices-config`).
    pub async fn start_with_config(
        bus: &TestBus,
        policy: &str,
        extra: &[String],
        devices_toml: Option<&str>,
    ) -> Self {
        Self::start_with_env(bus, policy, extra, devices_toml, &[]).await
    }

    /// [`Self::start_with_config`] with environment variables set (`Some`) or removed (`None`);
    /// `JOURNAL_STREAM` is removed unless named, and `DBUS_SYSTEM_BUS_ADDRESS` names no bus
    /// unless named (a test's fake logind sets it to the test bus). Naming [`crate::pcscd::SOCKET_ENV`] lets it use
    /// that pcscd's readers.
    pub async fn start_with_env(
        bus: &TestBus,
        policy: &str,
        extra: &[String],
        devices_toml: Option<&str>,
        env: &[(&str, Option<&str>)],
    ) -> Self {
        let home = tempfile::tempdir().unwrap();
        let config = home.path().join("devices.toml");
        if let Some(text) = devices_toml {
            std::fs::write(&config, text).unwrap();
        }
        let policy_dir = home.path().join("policy");
        std::fs::create_dir_all(&policy_dir).unwrap();
        std::fs::write(policy_dir.join("50-test.toml"), policy).unwrap();
        let none = home.path().join("none");
        let system_bus = format!("unix:path={}/no-system-bus", home.path().display());
        // No system bus unless the test names one: never the machine's.
        let mut changes: Vec<(&str, Option<&str>)> = vec![
            ("JOURNAL_STREAM", None),
            ("DBUS_SYSTEM_BUS_ADDRESS", Some(system_bus.as_str())),
        ];
        changes.retain(|(name, _)| !env.iter().any(|(n, _)| n == name));
        changes.extend_from_slice(env);
        let pcscd = env
            .iter()
            .any(|(name, value)| *name == crate::pcscd::SOCKET_ENV && value.is_some());
        let mut args: Vec<OsString> = Vec::new();
        if !pcscd {
            args.push("--no-pcsc".into());
        }
        for a in [
            format!("--address={}", bus.address),
            format!("--policy-system-dir={}", policy_dir.display()),
            format!("--policy-admin-dir={}", none.display()),
            format!("--policy-user-dir={}", none.display()),
            format!("--data-dir={}", home.path().join("store").display()),
            format!("--state-dir={}", home.path().join("state").display()),
            format!("--devices-config={}", config.display()),
            "--no-usb".to_owned(),
            "--log-level=debug".to_owned(),
        ] {
            args.push(a.into());
        }
        args.extend(extra.iter().map(OsString::from));
        let log = home.path().join("latchkeyd.log");
        std::fs::File::create(&log).unwrap();
        activation::write_latchkeyd_service(
            &bus.services(),
            &latchkeyd_bin(),
            &args,
            &activation::environment_with(&changes),
            &log,
        )
        .unwrap();
        let dbus = bus.dbus().await;
        let process = match Activated::start_latchkeyd(&dbus).await {
            Ok(p) => p,
            Err(e) => panic!(
                "latchkeyd did not start: {e}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        };
        Self { process, home }
    }

    /// What latchkeyd logged so far, terminal colours removed.
    pub fn log(&self) -> String {
        let raw =
            std::fs::read_to_string(self.home.path().join("latchkeyd.log")).unwrap_or_default();
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw.as_str();
        while let Some(i) = rest.find('\x1b') {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            rest = rest.find('m').map_or("", |m| &rest[m + 1..]);
        }
        out.push_str(rest);
        out
    }

    /// Waits until `done` holds, looking again each time latchkeyd (or its bus) writes its log.
    pub async fn until_logged(&self, what: &str, done: impl FnMut() -> bool) {
        crate::wait::file_until(&self.home.path().join("latchkeyd.log"), what, done).await;
    }

    /// Its credential store directory (`--data-dir`).
    pub fn store(&self) -> PathBuf {
        self.home.path().join("store")
    }

    /// Its state directory (`--state-dir`: remembered site decisions).
    pub fn state(&self) -> PathBuf {
        self.home.path().join("state")
    }

    /// latchkeyd's children: (PID, executable name, `/proc/PID/status`).
    pub fn children(&self) -> Vec<(u32, String, String)> {
        let mut out = Vec::new();
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.process.pid)).unwrap();
        for task in tasks {
            let children = std::fs::read_to_string(task.unwrap().path().join("children"));
            for pid in children.unwrap_or_default().split_whitespace() {
                let pid: u32 = pid.parse().unwrap();
                let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
                let name = exe.file_name().unwrap().to_string_lossy().into_owned();
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
                out.push((pid, name, status));
            }
        }
        out
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        self.process.running()
    }

    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.process.pid
    }
}

impl Drop for Latchkeyd {
    fn drop(&mut self) {
        self.process.kill();
    }
}
