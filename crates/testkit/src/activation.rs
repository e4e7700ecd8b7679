//! latchkeyd started as a session would start it: by D-Bus activation. latchkeyd's clients take
//! only a latchkeyd the bus (or `systemd --user`) started (`latchkey_api::started`), so a test
//! that runs latchkeyd out of process has its private bus start it: an activation file for
//! `dev.latchkey.Credentials` in the bus's service directory runs a script written here, which
//! `exec`s the program with the arguments and exactly the environment the test chose, its output
//! in a log file. The bus runs as a child subreaper ([`as_subreaper`]): dbus-daemon 1.14 lets
//! its activation helper exit once the service owns its name, and the service, orphaned, stays
//! the bus's child instead of going to PID 1 (as a service `systemd --user` starts stays its
//! child).

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// The script the activation file names, in the bus's service directory.
pub const LATCHKEYD_SCRIPT: &str = "latchkeyd-start";

/// Makes the process `cmd` starts a child subreaper (module documentation).
pub fn as_subreaper(cmd: &mut std::process::Command) {
    // SAFETY: between fork and exec the child makes one prctl call, which allocates nothing; the
    // flag survives the exec.
    #[allow(unsafe_code)]
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, || {
            // PR_SET_CHILD_SUBREAPER takes an integer flag.
            let r = libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
            if r == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// `s` quoted for the POSIX shell.
fn quote(s: &OsStr) -> Vec<u8> {
    let mut out = vec![b'\''];
    for &b in s.as_bytes() {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

/// This process's environment with `changes` applied (`Some`: set, `None`: removed).
pub fn environment_with(changes: &[(&str, Option<&str>)]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !changes.iter().any(|(name, _)| k == *name))
        .collect();
    for (name, value) in changes {
        if let Some(v) = value {
            env.push((name.into(), v.into()));
        }
    }
    env
}

/// Writes `services/dev.latchkey.Credentials.service` and its [`LATCHKEYD_SCRIPT`], which runs
/// `program args` with exactly `env`, its standard output and error appended to `log`. The
/// activation file stays the same when a test starts another latchkeyd on the bus (dbus-daemon
/// caches activation files): only the script changes.
pub fn write_latchkeyd_service(
    services: &Path,
    program: &Path,
    args: &[OsString],
    env: &[(OsString, OsString)],
    log: &Path,
) -> std::io::Result<()> {
    std::fs::create_dir_all(services)?;
    let script = services.join(LATCHKEYD_SCRIPT);
    let mut text = b"#!/bin/sh\nexec env -i".to_vec();
    for (k, v) in env {
        let mut pair = k.clone();
        pair.push("=");
        pair.push(v);
        text.push(b' ');
        text.extend(quote(&pair));
    }
    text.push(b' ');
    text.extend(quote(program.as_os_str()));
    for a in args {
        text.push(b' ');
        text.extend(quote(a));
    }
    text.extend_from_slice(b" </dev/null >>");
    text.extend(quote(log.as_os_str()));
    text.extend_from_slice(b" 2>&1\n");
    let partial = services.join(".latchkeyd-start.partial");
    std::fs::write(&partial, text)?;
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&partial, &script)?;
    let service = services.join(format!("{}.service", latchkey_api::BUS_NAME));
    if !service.exists() {
        std::fs::write(
            service,
            format!(
                "[D-BUS Service]\nName={}\nExec={}\n",
                latchkey_api::BUS_NAME,
                script.display()
            ),
        )?;
    }
    Ok(())
}

/// A process the bus activated: its PID, pinned by a pidfd.
pub struct Activated {
    /// Its PID.
    pub pid: u32,
    pidfd: OwnedFd,
}

impl Activated {
    /// Asks the bus behind `dbus` to start latchkeyd and waits until it owns its name (the bus
    /// waits up to its `service_start_timeout`); the process that owns it.
    pub async fn start_latchkeyd(dbus: &zbus::fdo::DBusProxy<'_>) -> Result<Self, String> {
        let name = zbus::names::WellKnownName::try_from(latchkey_api::BUS_NAME)
            .map_err(|e| e.to_string())?;
        dbus.start_service_by_name(name, 0)
            .await
            .map_err(|e| format!("StartServiceByName: {e}"))?;
        let owner = dbus
            .get_name_owner(crate::bus::credentials_name())
            .await
            .map_err(|e| format!("GetNameOwner: {e}"))?;
        let pid = dbus
            .get_connection_unix_process_id(owner.into())
            .await
            .map_err(|e| format!("GetConnectionUnixProcessID: {e}"))?;
        let raw = i32::try_from(pid).map_err(|e| e.to_string())?;
        let process = rustix::process::Pid::from_raw(raw).ok_or("PID 0")?;
        let pidfd = rustix::process::pidfd_open(process, rustix::process::PidfdFlags::empty())
            .map_err(|e| format!("pidfd_open({pid}): {e}"))?;
        Ok(Self { pid, pidfd })
    }

    /// Whether it still runs: its pidfd turns readable when it exits (a zombie has exited; the
    /// bus does not reap the services it adopted).
    pub fn running(&self) -> bool {
        let mut fds = [rustix::event::PollFd::new(
            &self.pidfd,
            rustix::event::PollFlags::IN,
        )];
        let zero = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(0))
    }

    /// Kills it and waits (10 s at most) until it has exited.
    pub fn kill(&self) {
        let _ = rustix::process::pidfd_send_signal(&self.pidfd, rustix::process::Signal::KILL);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
