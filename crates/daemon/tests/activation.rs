#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! `latchkey install --user` into a temp XDG dir, a private dbus-daemon whose `<servicedir>` is
//! that dir, and a call to the bus name that starts `latchkeyd` by D-Bus activation.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use latchkey_api::CredentialsClient;
use latchkey_api::Kind;

/// `$XDG_DATA_HOME` and `$XDG_CONFIG_HOME` of the installing user.
struct UserDirs {
    data_home: PathBuf,
    config_home: PathBuf,
}

/// Runs `latchkey ARGS` as the user of `dirs`; returns the files its `PREFIX path` lines name.
fn latchkey(dirs: &UserDirs, args: &[String], prefix: &str) -> Vec<PathBuf> {
    let out = std::process::Command::new(bin("latchkey"))
        .args(args)
        .env("XDG_DATA_HOME", &dirs.data_home)
        .env("XDG_CONFIG_HOME", &dirs.config_home)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(PathBuf::from)
        .collect()
}

/// `latchkey install --user --latchkeyd LATCHKEYD -- ARGS`: the files written.
fn install_user(dirs: &UserDirs, latchkeyd: &Path, args: &[String]) -> Vec<PathBuf> {
    let mut all = vec![
        "install".to_owned(),
        "--user".to_owned(),
        format!("--latchkeyd={}", latchkeyd.display()),
        "--".to_owned(),
    ];
    all.extend_from_slice(args);
    latchkey(dirs, &all, "Wrote ")
}

/// `latchkey uninstall --user`: the files removed.
fn uninstall_user(dirs: &UserDirs) -> Vec<PathBuf> {
    latchkey(
        dirs,
        &["uninstall".to_owned(), "--user".to_owned()],
        "Removed ",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dbus_activation_after_install() {
    let home = tempfile::tempdir().unwrap();
    // A data directory with a space: install passes it to latchkeyd as a quoted --data-dir on
    // the D-Bus Exec= line, which the bus must split correctly for the store to land there.
    let dirs = UserDirs {
        data_home: home.path().join("user data"),
        config_home: home.path().join("config"),
    };
    let policy_dir = home.path().join("policy");
    std::fs::create_dir_all(&policy_dir).unwrap();
    std::fs::write(policy_dir.join("50-test.toml"), policy_privileged_self()).unwrap();
    let latchkeyd = bin("latchkeyd");
    let args = vec![
        format!("--policy-system-dir={}", policy_dir.display()),
        format!("--policy-admin-dir={}", home.path().join("none").display()),
        format!("--policy-user-dir={}", home.path().join("none").display()),
        "--log-level=debug".to_owned(),
    ];
    let files = install_user(&dirs, &latchkeyd, &args);
    // latchkeyd's D-Bus service and unit, then the prompt's D-Bus service, unit and the
    // Passkeys window's desktop file.
    let expected = [
        dirs.data_home
            .join("dbus-1/services/dev.latchkey.Credentials.service"),
        dirs.config_home.join("systemd/user/latchkeyd.service"),
        dirs.data_home
            .join("dbus-1/services/dev.latchkey.Prompt.service"),
        dirs.config_home.join("systemd/user/latchkey-ui.service"),
        dirs.data_home
            .join("applications/dev.latchkey.Passkeys.desktop"),
    ];
    assert_eq!(files, expected, "{files:?}");
    assert!(files.iter().all(|f| f.exists()));
    let store = dirs.data_home.join("latchkey");
    let store_entries = || std::fs::read_dir(&store).unwrap().count();
    assert_eq!(store_entries(), 0, "install creates the store empty");

    let bus = TestBus::start_with_services(Some(&dirs.data_home.join("dbus-1/services")));
    let dbus = bus.dbus().await;
    let name = latchkey_testkit::bus::credentials_name();
    assert!(
        !dbus.name_has_owner(name.clone()).await.unwrap(),
        "nothing runs before the first call"
    );
    let activatable = dbus.list_activatable_names().await.unwrap();
    assert!(activatable
        .iter()
        .any(|n| n.as_str() == "dev.latchkey.Credentials"));

    // The first call starts latchkeyd.
    let t = Instant::now();
    let client = CredentialsClient::on(dbus.inner().connection().clone())
        .await
        .unwrap();
    let caps = client.proxy().get_client_capabilities().await.unwrap();
    let activation_time = t.elapsed();
    assert_eq!(caps.get("passkeyPlatformAuthenticator"), Some(&true));
    let owner = dbus.get_name_owner(name.clone()).await.unwrap();
    let pid = dbus
        .get_connection_unix_process_id(owner.clone().into())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/exe")).unwrap(),
        latchkeyd
    );
    eprintln!("D-Bus activation of latchkeyd answered in {activation_time:?}");

    // The activated daemon serves a full ceremony with its real file-backed platform
    // authenticator (new PIN, then the PIN to verify).
    let _prompt = Prompt::spawn(&bus, "approve\npin 271828\n", false);
    let web = latchkey_testkit::rp::web();
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        client.call(Kind::Create, &create_options("example.com"), &web),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    assert!(
        store_entries() > 0,
        "the credential was stored in the installed --data-dir {}",
        store.display()
    );

    // Stop the daemon we caused to start, then uninstall.
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    latchkey_testkit::wait::name_released(
        dbus.inner().connection(),
        latchkey_api::BUS_NAME,
        "latchkeyd's exit on SIGTERM",
    )
    .await;
    // The activated daemon logged (its stderr is the bus's, captured in the test dir) at debug
    // level, and never the PIN.
    let log = std::fs::read_to_string(bus.dir.path().join("dbus-daemon.log")).unwrap();
    assert!(log.contains("latchkeyd serving"), "{log}");
    assert!(log.contains("request succeeded"), "{log}");
    let lines = latchkey_testkit::secret::leaks(&log, "271828");
    assert!(lines.is_empty(), "the PIN leaked into the log: {lines:?}");
    assert_eq!(uninstall_user(&dirs), files);
    assert!(files.iter().all(|f| !f.exists()));
}
