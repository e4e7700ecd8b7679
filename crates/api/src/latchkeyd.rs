//! Is the owner of `dev.latchkey.Credentials` latchkeyd? Clients ask the kernel, as latchkeyd
//! asks about its callers.
//!
//! Owning a bus name proves nothing: any process of the user may take it while latchkeyd is not
//! running, and any peer may emit a `Response` with any path. So a client resolves the name's
//! owner (activating latchkeyd if nobody owns it), reads the owner's process from `/proc` while a
//! pidfd pins it, and accepts it only if it runs as this user, in this mount namespace, the same
//! file (device and inode) as one of:
//!
//! - the `Exec=` of an installed D-Bus activation file for the name
//!   (`$XDG_DATA_HOME`/`$XDG_DATA_DIRS` `dbus-1/services/dev.latchkey.Credentials.service`),
//! - a `latchkeyd` next to this client's own executable (an installation, or a build directory),
//! - an absolute path in [`LATCHKEYD_ENV`] (`:`-separated; test harnesses and unusual
//!   installations: whoever sets a client's environment controls the client anyway),
//!
//! or it is this very process (latchkeyd served in process, in tests and the benchmark). Then it
//! checks that the pidfd still names that process, unchanged (PID and start time), and that the
//! bus still gives the name's owner that PID. A latchkeyd by executable must also have been
//! started by the bus or `systemd --user` ([`crate::started`]), as the Electron bridge asks: a
//! same-user process that runs the real latchkeyd binary itself (with a policy of its choosing)
//! before the session's latchkeyd starts is refused. The one other way is a latchkeyd that is an
//! ancestor of this client ([`crate::started::is_ancestor`]: it started the client, so it chose
//! the client's executable and environment anyway; the real latchkeyd starts no clients, test
//! binaries that serve latchkeyd in process do). Every `Response` the client takes must come from
//! that unique name ([`super::client`]).

use std::fs;
use std::os::fd::{AsFd as _, AsRawFd as _, OwnedFd};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use zbus::fdo::DBusProxy;
use zbus::names::{BusName, OwnedUniqueName};
use zbus::Connection;

use crate::client::ClientError;
use crate::names::BUS_NAME;

/// Extra executables taken for latchkeyd (absolute paths, `:`-separated).
pub const LATCHKEYD_ENV: &str = "LATCHKEY_TEST_LATCHKEYD";

/// The executables a client takes for latchkeyd, from the environment and the installation.
pub fn candidates() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::env::var_os(LATCHKEYD_ENV)
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| p.is_absolute())
                .collect()
        })
        .unwrap_or_default();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push(dir.join("latchkeyd"));
    }
    for dir in service_dirs() {
        let Ok(text) = read_small(&dir.join(format!("{BUS_NAME}.service"))) else {
            continue;
        };
        if let Some(exec) = activation_exec(&text) {
            out.push(exec);
        }
    }
    out
}

/// The session bus's service directories: `$XDG_DATA_HOME` (else `~/.local/share`), then
/// `$XDG_DATA_DIRS` (else `/usr/local/share:/usr/share`), each with `dbus-1/services`.
fn service_dirs() -> Vec<PathBuf> {
    let abs = |v: Option<std::ffi::OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    let home = abs(std::env::var_os("XDG_DATA_HOME"))
        .or_else(|| abs(std::env::var_os("HOME")).map(|h| h.join(".local/share")));
    let mut data: Vec<PathBuf> = std::env::var_os("XDG_DATA_DIRS")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| p.is_absolute())
                .collect()
        })
        .unwrap_or_default();
    if data.is_empty() {
        data = vec!["/usr/local/share".into(), "/usr/share".into()];
    }
    home.into_iter()
        .chain(data)
        .map(|d| d.join("dbus-1/services"))
        .collect()
}

/// The absolute `Exec=` program of a `[D-BUS Service]` file for [`BUS_NAME`].
pub fn activation_exec(text: &str) -> Option<PathBuf> {
    let (mut in_group, mut name, mut exec) = (false, None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_group = line == "[D-BUS Service]";
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if in_group {
            match key.trim() {
                "Name" => name = Some(value.trim().to_owned()),
                "Exec" => exec = value.split_whitespace().next().map(PathBuf::from),
                _ => {}
            }
        }
    }
    exec.filter(|e| name.as_deref() == Some(BUS_NAME) && e.is_absolute())
}

fn refused(message: String) -> ClientError {
    ClientError::Method {
        name: "dev.latchkey.Credentials1.Error.Security".into(),
        message,
    }
}

/// Resolves the owner of [`BUS_NAME`] (starting latchkeyd if nobody owns it) and returns its
/// unique name if it is latchkeyd (see the module documentation).
pub async fn verified_owner(conn: &Connection) -> Result<OwnedUniqueName, ClientError> {
    let dbus = DBusProxy::new(conn).await?;
    let name = BusName::try_from(BUS_NAME).map_err(zbus::Error::from)?;
    let owner = match dbus.get_name_owner(name.clone()).await {
        Ok(o) => o,
        Err(zbus::fdo::Error::NameHasNoOwner(_)) => {
            let well_known =
                zbus::names::WellKnownName::try_from(BUS_NAME).map_err(zbus::Error::from)?;
            dbus.start_service_by_name(well_known, 0).await?;
            dbus.get_name_owner(name).await?
        }
        Err(e) => return Err(e.into()),
    };
    let creds = dbus
        .get_connection_credentials(owner.as_ref().into())
        .await?;
    if let Some(uid) = creds.unix_user_id() {
        let me = rustix::process::getuid().as_raw();
        if uid != me {
            return Err(refused(format!(
                "{owner} owns {BUS_NAME} but runs as uid {uid}, not as this user"
            )));
        }
    }
    let (pidfd, pid) = match (creds.process_fd(), creds.process_id()) {
        (Some(fd), reported) => {
            let fd = fd.as_fd().try_clone_to_owned().map_err(io)?;
            let pid = pidfd_pid(&fd).ok_or_else(|| gone(&owner))?;
            if reported.is_some_and(|r| r != pid) {
                return Err(gone(&owner));
            }
            (fd, pid)
        }
        (None, Some(pid)) => (open_pidfd(pid).ok_or_else(|| gone(&owner))?, pid),
        (None, None) => {
            return Err(refused(format!(
                "the bus did not say which process owns {BUS_NAME}"
            )))
        }
    };
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let before = start_time(&proc_dir).ok_or_else(|| gone(&owner))?;
    let exe = fs::read_link(proc_dir.join("exe")).ok();
    let file = fs::metadata(proc_dir.join("exe"))
        .ok()
        .map(|m| (m.dev(), m.ino()));
    let same_ns = match (
        fs::metadata(proc_dir.join("ns/mnt")),
        fs::metadata("/proc/self/ns/mnt"),
    ) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    };
    if pidfd_pid(&pidfd) != Some(pid) || start_time(&proc_dir) != Some(before) {
        return Err(gone(&owner));
    }
    let again = dbus
        .get_connection_credentials(owner.as_ref().into())
        .await?;
    if again.process_id().is_some_and(|p| p != pid) {
        return Err(gone(&owner));
    }
    if pid == std::process::id() {
        return Ok(owner);
    }
    let accepted = same_ns
        && file.is_some()
        && candidates().iter().any(|c| {
            fs::metadata(c)
                .ok()
                .is_some_and(|m| Some((m.dev(), m.ino())) == file)
        });
    if !accepted {
        let exe = exe.map_or_else(
            || "an unreadable executable".into(),
            |e| e.display().to_string(),
        );
        return Err(refused(format!(
            "{owner} owns {BUS_NAME} but is not latchkeyd: PID {pid} runs {exe}"
        )));
    }
    if !crate::started::started_by_the_bus(&dbus, pid, before).await
        && !crate::started::is_ancestor(pid, before)
    {
        return Err(refused(format!(
            "{owner} runs latchkeyd (PID {pid}) but was not started by the bus or systemd --user"
        )));
    }
    Ok(owner)
}

fn io(e: std::io::Error) -> ClientError {
    ClientError::Bus(zbus::Error::InputOutput(std::sync::Arc::new(e)))
}

fn gone(owner: &OwnedUniqueName) -> ClientError {
    refused(format!(
        "the process owning {BUS_NAME} ({owner}) went away while it was checked"
    ))
}

pub(crate) fn read_small(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut s = String::new();
    fs::File::open(path)?
        .take(64 * 1024)
        .read_to_string(&mut s)?;
    Ok(s)
}

/// Field 22 of `/proc/PID/stat` (start time).
fn start_time(proc_dir: &Path) -> Option<u64> {
    let stat = read_small(&proc_dir.join("stat")).ok()?;
    crate::started::proc_stat(&stat).map(|s| s.start_time)
}

pub(crate) fn open_pidfd(pid: u32) -> Option<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
}

/// The live PID a pidfd names (`/proc/self/fdinfo`: `Pid:` is -1 once it exited).
pub(crate) fn pidfd_pid(fd: &OwnedFd) -> Option<u32> {
    let info = read_small(Path::new(&format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|p| *p > 0)
        .and_then(|p| u32::try_from(p).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_files_name_latchkeyd() {
        let f = "# comment\n[D-BUS Service]\nName=dev.latchkey.Credentials\nExec=/usr/libexec/latchkeyd --flag\nSystemdService=latchkeyd.service\n";
        assert_eq!(
            activation_exec(f),
            Some(PathBuf::from("/usr/libexec/latchkeyd"))
        );
        for bad in [
            "[D-BUS Service]\nName=org.other.Name\nExec=/usr/bin/evil\n",
            "[D-BUS Service]\nName=dev.latchkey.Credentials\nExec=relative/latchkeyd\n",
            "[Other]\nName=dev.latchkey.Credentials\nExec=/usr/bin/evil\n",
            "",
        ] {
            assert_eq!(activation_exec(bad), None, "{bad}");
        }
    }

    #[test]
    fn own_process_start_time_and_pidfd() {
        let me = std::process::id();
        let fd = open_pidfd(me).unwrap();
        assert_eq!(pidfd_pid(&fd), Some(me));
        assert!(start_time(Path::new("/proc/self")).is_some());
    }
}
