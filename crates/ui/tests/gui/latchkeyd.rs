//! latchkeyd (the real binary, with its platform worker and file store) on a test desktop whose
//! bus starts latchkey-ui by D-Bus activation, and a person answering the prompt through AT-SPI
//! on a thread of its own.

use std::ffi::OsString;
use std::path::PathBuf;

use latchkey_testkit::activation::{self, Activated};

use super::{Desktop, Driver};

/// The workspace's binaries (latchkeyd and its platform worker), built by the test kit.
pub fn workspace_binary(name: &str) -> PathBuf {
    latchkey_testkit::bins::binary(name)
}

/// latchkeyd on the desktop's bus, started by it (D-Bus activation, as latchkeyd's clients
/// require), trusting the prompt under test; killed on drop.
pub struct Latchkeyd {
    process: Activated,
    /// Its policy, store, state and log.
    pub dir: tempfile::TempDir,
}

impl Drop for Latchkeyd {
    fn drop(&mut self) {
        self.process.kill();
    }
}

impl Latchkeyd {
    /// `privileged`: policy names this test as a browser; otherwise it is an unknown caller.
    pub fn start(desktop: &Desktop, privileged: bool) -> Self {
        let policy = if privileged {
            test_browser()
        } else {
            String::new()
        };
        Self::start_with(desktop, &policy, &[])
    }

    /// [`Self::start`] with the security keys `devices` (`unix:PATH` virtual keys) in its
    /// devices.toml.
    pub fn start_with_keys(desktop: &Desktop, privileged: bool, devices: &[String]) -> Self {
        let policy = if privileged {
            test_browser()
        } else {
            String::new()
        };
        Self::start_in(desktop, &policy, &[], devices)
    }

    /// latchkeyd trusting the prompt under test, with `policy` added to its policy file (TOML
    /// tables) and `args` to its command line (`--device=…`).
    pub fn start_with(desktop: &Desktop, policy: &str, args: &[String]) -> Self {
        Self::start_in(desktop, policy, args, &[])
    }

    fn start_in(desktop: &Desktop, policy: &str, extra: &[String], devices: &[String]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        if !devices.is_empty() {
            let list: Vec<String> = devices.iter().map(|d| format!("{d:?}")).collect();
            std::fs::write(
                dir.path().join("devices.toml"),
                format!("devices = [{}]\n", list.join(", ")),
            )
            .unwrap();
        }
        let policy_dir = dir.path().join("policy");
        let none = dir.path().join("none");
        std::fs::create_dir_all(&policy_dir).unwrap();
        let text = format!(
            "unknown_callers = \"prompt\"\n[[trusted_prompt]]\nname = \"Latchkey prompt\"\nexecutable = \"{}\"\n{policy}",
            super::UI_BIN
        );
        std::fs::write(policy_dir.join("50-test.toml"), text).unwrap();
        let mut args: Vec<OsString> = [
            format!("--address={}", desktop.bus_address),
            format!("--policy-system-dir={}", policy_dir.display()),
            format!("--policy-admin-dir={}", none.display()),
            format!("--policy-user-dir={}", none.display()),
            format!("--data-dir={}", dir.path().join("store").display()),
            format!("--state-dir={}", dir.path().join("state").display()),
            format!(
                "--devices-config={}",
                dir.path().join("devices.toml").display()
            ),
            "--no-usb".to_owned(),
            "--log-level=debug".to_owned(),
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        args.extend(extra.iter().map(OsString::from));
        let _ = workspace_binary("latchkey-platform-worker");
        let log = dir.path().join("latchkeyd.log");
        // The desktop's environment, as `Desktop::command` gives it.
        let env: Vec<(OsString, OsString)> = std::env::var_os("PATH")
            .map(|p| (OsString::from("PATH"), p))
            .into_iter()
            .chain(desktop.env().iter().map(|(k, v)| (k.into(), v.into())))
            .collect();
        activation::write_latchkeyd_service(
            &desktop.dir.path().join("services"),
            &workspace_binary("latchkeyd"),
            &args,
            &env,
            &log,
        )
        .unwrap();
        // The prompt, activated by the bus later, takes this binary for latchkeyd (and this test
        // binary still, for the tests that call it as latchkeyd too).
        let trusted = std::env::join_paths([
            std::env::current_exe().unwrap(),
            workspace_binary("latchkeyd"),
        ])
        .unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let process = rt
            .block_on(async {
                let conn = zbus::connection::Builder::address(desktop.bus_address.as_str())?
                    .build()
                    .await?;
                let dbus = zbus::fdo::DBusProxy::new(&conn).await?;
                let trusted = trusted.to_string_lossy();
                dbus.update_activation_environment(std::collections::HashMap::from([(
                    latchkey_api::latchkeyd::LATCHKEYD_ENV,
                    trusted.as_ref(),
                )]))
                .await?;
                Ok::<_, zbus::Error>(Activated::start_latchkeyd(&dbus).await)
            })
            .unwrap()
            .unwrap_or_else(|e| {
                panic!(
                    "latchkeyd did not start: {e}\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        Self { process, dir }
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("latchkeyd.log")).unwrap_or_default()
    }
}

/// The policy table naming this test's executable a privileged client ("Test Browser").
pub fn test_browser() -> String {
    format!(
        "[[privileged]]\nname = \"Test Browser\"\nexecutable = \"{}\"\n",
        std::env::current_exe().unwrap().display()
    )
}

/// A desktop whose bus starts latchkey-ui on demand.
pub fn desktop() -> (Desktop, tempfile::TempDir) {
    let services = tempfile::tempdir().unwrap();
    std::fs::write(
        services.path().join("dev.latchkey.Prompt.service"),
        format!(
            "[D-BUS Service]\nName=dev.latchkey.Prompt\nExec={}\n",
            super::UI_BIN
        ),
    )
    .unwrap();
    (Desktop::start(Some(services.path())), services)
}

/// Runs `script` against the prompt on its own thread (it blocks on AT-SPI), returning the driver.
pub fn person(
    mut at: Driver,
    script: impl FnOnce(&mut Driver) + Send + 'static,
) -> std::thread::JoinHandle<Driver> {
    std::thread::spawn(move || {
        script(&mut at);
        at
    })
}
