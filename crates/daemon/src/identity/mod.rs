//! Who is calling, from the kernel — never from what the caller says.
//!
//! The bus gives a `ProcessFD` (dbus-broker, dbus-daemon ≥ 1.15.x with `SO_PEERPIDFD`) or only a
//! `ProcessID` (Debian 12's dbus-daemon 1.14). Either way we hold a pidfd for the whole reading:
//!
//! 1. pidfd from the bus, or `pidfd_open(ProcessID)`; if both are given they must name the same
//!    process ([`IdentityError::Contradiction`]);
//! 2. read `/proc/PID/stat` (start time), `exe`, `root/.flatpak-info`, `cgroup`, the AppArmor
//!    label (`attr/apparmor/current`, else `attr/current`);
//! 3. confirm the pidfd still names a live process with that PID and the start time is unchanged,
//!    so the PID was not reused while we read ([`IdentityError::Gone`]).
//!
//! The D-Bus layer additionally re-asks the bus for the connection's PID afterwards, so the unique
//! name still owns the process we read.

pub mod cache;
pub mod parse;
pub mod port;

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Credentials the bus reported for a connection (`GetConnectionCredentials`).
#[derive(Debug, Default)]
pub struct PeerCredentials {
    /// `ProcessID`.
    pub pid: Option<u32>,
    /// `ProcessFD`.
    pub pidfd: Option<OwnedFd>,
    /// `UnixUserID`.
    pub uid: Option<u32>,
}

/// Why a caller could not be identified.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// The bus gave neither a PID nor a pidfd.
    #[error("the bus did not report the caller's process")]
    NoProcess,
    /// `ProcessFD` and `ProcessID` name different processes.
    #[error("the caller's pidfd names PID {pidfd_pid:?} but the bus reported PID {pid}")]
    Contradiction {
        /// The bus's `ProcessID`.
        pid: u32,
        /// The PID behind the pidfd (`None`: it already exited).
        pidfd_pid: Option<u32>,
    },
    /// The process exited (or its PID was reused) while it was being identified.
    #[error("the caller's process went away while it was identified")]
    Gone,
    /// The caller runs as another user.
    #[error("the caller runs as uid {0}, not as this session's user")]
    OtherUser(u32),
    /// `/proc` could not be read.
    #[error("reading /proc for the caller failed: {0}")]
    Proc(String),
    /// The caller's mount namespace cannot be read: the kernel hides a process that made itself
    /// non-dumpable (`PR_SET_DUMPABLE` 0) from the user's other processes, and such a caller
    /// could be a sandboxed app hiding its sandbox. latchkeyd serves no caller it cannot place.
    #[error("the caller's process cannot be examined ({0}); a process that is not dumpable hides what it is, and latchkeyd serves no caller it cannot identify")]
    Hidden(String),
}

/// The identity of a process, read from the kernel while pinned by a pidfd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The process ID (in our PID namespace).
    pub pid: u32,
    /// Its parent's PID.
    pub ppid: u32,
    /// Start time in clock ticks since boot.
    pub start_time: u64,
    /// `/proc/PID/exe`, as the process's own mount namespace names it.
    pub executable: Option<PathBuf>,
    /// Device and inode of the executable, as opened through `/proc/PID/exe`.
    pub executable_file: Option<(u64, u64)>,
    /// Whether the process shares our mount namespace (so `executable` means the same file here).
    pub same_mount_namespace: bool,
    /// Flatpak application ID from `/.flatpak-info`.
    pub flatpak_app_id: Option<String>,
    /// Snap name from the process's enforced AppArmor label (`snap.NAME.*`), in a separate mount
    /// namespace.
    pub snap_name: Option<String>,
    /// The systemd unit (scope/service) the process runs in; informative only.
    pub systemd_unit: Option<String>,
    /// The process's cgroup v2 path, read with the rest of this identity while the process was
    /// pinned; what [`crate::queue::caller_key`] keys an app unit by (ARCHITECTURE.md, "Who is
    /// calling, on a connection's later calls").
    pub cgroup_path: Option<String>,
}

impl CallerIdentity {
    /// Whether the process runs in a Flatpak or Snap sandbox.
    pub fn sandboxed(&self) -> bool {
        self.flatpak_app_id.is_some() || self.snap_name.is_some()
    }

    /// The application ID used for `app:<id>` origins (`[A-Za-z0-9._-]`): the Flatpak ID,
    /// `snap.<name>`, else the executable's file name (unverified: any program can be named so).
    pub fn app_id(&self) -> String {
        if let Some(id) = &self.flatpak_app_id {
            return id.clone();
        }
        if let Some(s) = &self.snap_name {
            return format!("snap.{s}");
        }
        let name = self
            .executable
            .as_deref()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .take(200)
            .collect();
        if clean.is_empty() {
            format!("pid-{}", self.pid)
        } else {
            clean
        }
    }

    /// A name to show the user.
    pub fn display_name(&self) -> String {
        if let Some(id) = &self.flatpak_app_id {
            return format!("{id} (Flatpak)");
        }
        if let Some(s) = &self.snap_name {
            return format!("{s} (Snap)");
        }
        match &self.executable {
            Some(p) => p.display().to_string(),
            None => format!("pid {}", self.pid),
        }
    }

    /// Whether the process runs exactly the file at `path` (same path, same device and inode,
    /// same mount namespace — a bind mount in a private namespace does not pass).
    pub fn executable_is(&self, path: &Path) -> bool {
        if !self.same_mount_namespace || self.executable.as_deref() != Some(path) {
            return false;
        }
        match (self.executable_file, fs::metadata(path)) {
            (Some(file), Ok(m)) => file == (m.dev(), m.ino()),
            _ => false,
        }
    }
}

/// Identifies the process behind `creds`; `expected_uid` is this session's user.
pub fn identify(
    creds: PeerCredentials,
    expected_uid: u32,
) -> Result<CallerIdentity, IdentityError> {
    identify_pinned(creds, expected_uid).map(|(id, _)| id)
}

/// [`identify`], also returning the pidfd that pinned the process while it was read (for
/// [`ProcDir::open`]).
pub fn identify_pinned(
    creds: PeerCredentials,
    expected_uid: u32,
) -> Result<(CallerIdentity, OwnedFd), IdentityError> {
    if let Some(uid) = creds.uid {
        if uid != expected_uid {
            return Err(IdentityError::OtherUser(uid));
        }
    }
    let (pidfd, pid) = match (creds.pidfd, creds.pid) {
        (Some(fd), reported) => {
            let pidfd_pid = pidfd_pid(&fd)?;
            let Some(pid) = pidfd_pid else {
                return match reported {
                    Some(pid) => Err(IdentityError::Contradiction { pid, pidfd_pid }),
                    None => Err(IdentityError::Gone),
                };
            };
            if let Some(reported) = reported {
                if reported != pid {
                    return Err(IdentityError::Contradiction {
                        pid: reported,
                        pidfd_pid,
                    });
                }
            }
            (fd, pid)
        }
        (None, Some(pid)) => (open_pidfd(pid)?, pid),
        (None, None) => return Err(IdentityError::NoProcess),
    };
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let stat_before = read_stat(&proc_dir)?;
    let identity = read_identity(&proc_dir, pid, stat_before)?;
    // The pidfd still names a live process with this PID, and it is the one that started at the
    // same time: nothing we read came from a recycled PID.
    if pidfd_pid(&pidfd)? != Some(pid) || read_stat(&proc_dir)? != stat_before {
        return Err(IdentityError::Gone);
    }
    Ok((identity, pidfd))
}

/// A process's `/proc/PID` directory and its `stat` file, opened while a pidfd pinned the
/// process. The kernel ties both to that process, not to its number: reads through them name that
/// process or fail once it is gone, and a later process given the same PID has files of its own.
/// So a check through them needs no pidfd around it (see [`still_same`]).
///
/// `stat` stays open because a check is made at every request of a remembered caller and at
/// every use of the prompt: opening and closing it each time was most of the check's cost (about
/// 20 µs of kernel work per check in a `perf` profile of `daemon_get`, two checks per get), while
/// a read from offset 0 of the open file makes the kernel write the line afresh. Two descriptors
/// per remembered process ([`cache::MAX_ENTRIES`] bounds them).
#[derive(Debug)]
pub struct ProcDir {
    dir: OwnedFd,
    stat: OwnedFd,
}

impl ProcDir {
    /// Opens `/proc/PID` and its `stat` for the process `pidfd` pins: `pidfd` names a live `pid`
    /// after both opens, so the number was not reused before them ([`IdentityError::Gone`]
    /// otherwise).
    pub fn open(pidfd: &OwnedFd, pid: u32) -> Result<Self, IdentityError> {
        use rustix::fs::{Mode, OFlags};
        let dir = rustix::fs::open(
            format!("/proc/{pid}"),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|_| IdentityError::Gone)?;
        let stat = rustix::fs::openat(
            &dir,
            "stat",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|_| IdentityError::Gone)?;
        if pidfd_pid(pidfd)? != Some(pid) {
            return Err(IdentityError::Gone);
        }
        Ok(Self { dir, stat })
    }

    /// Device and inode of the file the process runs (`exe`, followed).
    fn executable_file(&self) -> Option<(u64, u64)> {
        use rustix::fs::{AtFlags, StatxFlags};
        let x = rustix::fs::statx(&self.dir, "exe", AtFlags::empty(), StatxFlags::INO).ok()?;
        Some((
            rustix::fs::makedev(x.stx_dev_major, x.stx_dev_minor),
            x.stx_ino,
        ))
    }

    /// `stat`, read afresh from the open file into a buffer on the stack: one `pread` when the
    /// line comes whole, as it does (it ends with a newline).
    fn stat(&self) -> Option<parse::ProcStat> {
        // The line is at most 52 numbers and a 16-byte name (escaped, at most 64 bytes): well
        // under the buffer, which a full read would mean we cut it short.
        let mut buf = [0u8; 2048];
        let mut len = 0;
        while len < buf.len() && !buf[..len].ends_with(b"\n") {
            match rustix::io::pread(&self.stat, &mut buf[len..], len as u64) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return None,
            }
        }
        if len == buf.len() {
            return None;
        }
        parse::proc_stat(std::str::from_utf8(&buf[..len]).ok()?)
    }
}

/// Whether `identity`, read earlier while its process was pinned, still describes that process,
/// looked at through the `/proc/PID` directory `dir` opened then ([`ProcDir`]: no reading here can
/// come from another process, and none succeeds once the process exited): its start time and
/// parent are unchanged (no reparenting) and its executable is the same file (no `exec` since).
/// One `statx` and one `pread` of the open `stat`.
pub fn still_same(dir: &ProcDir, identity: &CallerIdentity) -> bool {
    dir.executable_file() == identity.executable_file
        && dir
            .stat()
            .is_some_and(|s| s.start_time == identity.start_time && s.ppid == identity.ppid)
}

/// Identifies `child`'s parent process (for a native messaging host: the browser that started it).
///
/// Pins the parent with a pidfd while reading it like any caller, then confirms that the parent
/// is still the same live process and that `child` (same PID, same start time) still has it as
/// its parent — so neither a reparenting nor a recycled PID can lend the child another parent.
pub fn identify_parent(child: &CallerIdentity) -> Result<CallerIdentity, IdentityError> {
    let ppid = child.ppid;
    if ppid == 0 {
        return Err(IdentityError::Gone);
    }
    let pidfd = open_pidfd(ppid)?;
    let proc_dir = PathBuf::from(format!("/proc/{ppid}"));
    let stat_before = read_stat(&proc_dir)?;
    let parent = read_identity(&proc_dir, ppid, stat_before)?;
    if pidfd_pid(&pidfd)? != Some(ppid) || read_stat(&proc_dir)? != stat_before {
        return Err(IdentityError::Gone);
    }
    let child_now = read_stat(Path::new(&format!("/proc/{}", child.pid)))?;
    if child_now.ppid != ppid || child_now.start_time != child.start_time {
        return Err(IdentityError::Gone);
    }
    Ok(parent)
}

/// Where snapd keeps each snap's mount namespace (root's, bind mounts of `nsfs`).
const SNAPD_NAMESPACES: &str = "/run/snapd/ns";

fn read_identity(
    proc_dir: &Path,
    pid: u32,
    stat: parse::ProcStat,
) -> Result<CallerIdentity, IdentityError> {
    read_identity_in(proc_dir, pid, stat, Path::new(SNAPD_NAMESPACES))
}

/// Whether the mount namespace `ns` (the caller's `ns/mnt`) is one snapd made for the snap
/// `name`: the namespace snap-confine preserved for it under `snapd_ns` (`NAME.mnt`, or the
/// per-user `NAME.UID.mnt`). Those are root's bind mounts of the namespace itself, and
/// joining a namespace of the initial user namespace takes `CAP_SYS_ADMIN` there, so no process
/// of the user can be in one that snapd did not put it in.
fn in_snap_namespace(ns: &Path, name: &str, snapd_ns: &Path) -> bool {
    let Ok(ns) = fs::metadata(ns) else {
        return false;
    };
    let uid = rustix::process::getuid().as_raw();
    [format!("{name}.mnt"), format!("{name}.{uid}.mnt")]
        .iter()
        .filter_map(|file| fs::metadata(snapd_ns.join(file)).ok())
        .any(|preserved| (preserved.dev(), preserved.ino()) == (ns.dev(), ns.ino()))
}

fn read_identity_in(
    proc_dir: &Path,
    pid: u32,
    stat: parse::ProcStat,
    snapd_ns: &Path,
) -> Result<CallerIdentity, IdentityError> {
    let exe_link = proc_dir.join("exe");
    let executable = fs::read_link(&exe_link).ok();
    let executable_file = fs::metadata(&exe_link).ok().map(|m| (m.dev(), m.ino()));
    // Fails closed: a caller whose namespace cannot be read is refused, never taken for one in
    // ours (nor for one in no sandbox). The process is pinned and alive here (its exit is caught
    // by the caller's re-check of `stat`), so a failure is the kernel's ptrace access check: the
    // caller is not dumpable and latchkeyd holds no `CAP_SYS_PTRACE` over it (a Snap app, which
    // runs in the initial user namespace, can make itself so).
    let theirs = fs::metadata(proc_dir.join("ns/mnt"))
        .map_err(|e| IdentityError::Hidden(format!("its mount namespace: {e}")))?;
    let ours = fs::metadata("/proc/self/ns/mnt")
        .map_err(|e| IdentityError::Proc(format!("latchkeyd's own mount namespace: {e}")))?;
    let same_mount_namespace = theirs.ino() == ours.ino() && theirs.dev() == ours.dev();
    let root = proc_dir.join("root");
    let flatpak_app_id = if same_mount_namespace {
        // Our own root has no .flatpak-info worth trusting; only a separate mount namespace (the
        // sandbox) can carry one.
        None
    } else {
        read_flatpak_info(&root).and_then(|k| parse::flatpak_app_id(&k))
    };
    let cgroup = read_small(&proc_dir.join("cgroup")).unwrap_or_default();
    let cgroup_path = parse::cgroup_v2_path(&cgroup);
    // A Snap is what snapd confines: an enforced AppArmor profile `snap.NAME.*` in the mount
    // namespace snap-confine made for that snap. The label alone is no evidence: only root loads
    // profiles, but an unconfined process may change into any loaded one (AppArmor's
    // change_profile), and any process of the user may enter a mount namespace of its own. The
    // namespace is: it must be the one snapd preserved for NAME ([`in_snap_namespace`]). A
    // cgroup or scope named `snap.NAME.*` is no evidence either (any process of the user can run
    // in one: `systemd-run --user --scope --unit=snap.chromium.x.scope`), nor is a
    // `meta/snap.yaml` under its root.
    let snap_name = if same_mount_namespace {
        None
    } else {
        read_small(&proc_dir.join("attr/apparmor/current"))
            .or_else(|| read_small(&proc_dir.join("attr/current")))
            .and_then(|label| parse::snap_name_from_apparmor_label(&label))
            .filter(|name| in_snap_namespace(&proc_dir.join("ns/mnt"), name, snapd_ns))
    };
    let systemd_unit = cgroup_path.and_then(parse::systemd_unit).map(str::to_owned);
    let cgroup_path = cgroup_path.map(str::to_owned);
    Ok(CallerIdentity {
        pid,
        ppid: stat.ppid,
        start_time: stat.start_time,
        executable,
        executable_file,
        same_mount_namespace,
        flatpak_app_id,
        snap_name,
        systemd_unit,
        cgroup_path,
    })
}

/// Reads `.flatpak-info` at the top of the caller's own filesystem (`root`, its `/proc/PID/root`):
/// resolved inside that root (`RESOLVE_IN_ROOT`: an absolute symlink there names a file of the
/// caller's view, never one of latchkeyd's, so it cannot make latchkeyd open its own devices or
/// files), opened without blocking and read only if it is a regular file (a FIFO or a device
/// there would hold latchkeyd's thread). At most 64 KiB; `None` otherwise.
fn read_flatpak_info(root: &Path) -> Option<String> {
    use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
    use std::io::Read as _;
    let dir = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let fd = rustix::fs::openat2(
        &dir,
        ".flatpak-info",
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .ok()?;
    let stat = rustix::fs::fstat(&fd).ok()?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return None;
    }
    let mut s = String::new();
    fs::File::from(fd)
        .take(64 * 1024)
        .read_to_string(&mut s)
        .ok()?;
    Some(s)
}

/// Reads at most 64 KiB of a text file; `None` if absent or unreadable.
fn read_small(path: &Path) -> Option<String> {
    use std::io::Read as _;
    let f = fs::File::open(path).ok()?;
    let mut s = String::new();
    f.take(64 * 1024).read_to_string(&mut s).ok()?;
    Some(s)
}

fn read_stat(proc_dir: &Path) -> Result<parse::ProcStat, IdentityError> {
    let s = read_small(&proc_dir.join("stat")).ok_or(IdentityError::Gone)?;
    parse::proc_stat(&s).ok_or_else(|| IdentityError::Proc("unparseable stat".into()))
}

/// Opens a pidfd for `pid`.
pub fn open_pidfd(pid: u32) -> Result<OwnedFd, IdentityError> {
    let raw = i32::try_from(pid).map_err(|_| IdentityError::Gone)?;
    let pid = rustix::process::Pid::from_raw(raw).ok_or(IdentityError::Gone)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).map_err(|e| {
        if e == rustix::io::Errno::SRCH {
            IdentityError::Gone
        } else {
            IdentityError::Proc(format!("pidfd_open: {e}"))
        }
    })
}

/// The PID a pidfd names (`None` once the process exited), from `/proc/self/fdinfo`.
pub fn pidfd_pid(fd: &OwnedFd) -> Result<Option<u32>, IdentityError> {
    let info = read_small(Path::new(&format!("/proc/self/fdinfo/{}", fd.as_raw_fd())))
        .ok_or_else(|| IdentityError::Proc("fdinfo unreadable".into()))?;
    if !info.lines().any(|l| l.starts_with("Pid:")) {
        return Err(IdentityError::Proc("not a pidfd".into()));
    }
    Ok(parse::pidfd_fdinfo_pid(&info))
}

#[cfg(test)]
mod tests;
