//! The device worker's own view of the system: a user, mount, IPC and (unless it must reach
//! `udp:` keys) network namespace whose root holds only what the worker needs, so that connecting
//! to the user's other Unix sockets — the session bus (from which `systemd --user` starts any
//! process), the display, agents — is impossible, not just unmediated. Landlock cannot refuse
//! `connect(2)` on a named socket (and scopes abstract ones only from Linux 6.12), and seccomp
//! cannot read the address a `connect` names; a socket that is not in the worker's filesystem, or
//! in its network namespace (abstract sockets belong to one), cannot be named at all.
//!
//! The root is an empty, read-only tmpfs holding, each at its own path and read-only:
//! - sysfs's `class` and `devices` (hidraw enumeration: `class/hidraw` and the report descriptors
//!   and uevents behind its links), not the rest of sysfs (no cgroup files, no `/sys/fs`);
//! - the `/dev` root, recursively (hidraw nodes come and go with hot-plug, so the whole devtmpfs
//!   stays; device nodes open for writing on a read-only mount, as the user's permissions
//!   allow), with its `pts`, `shm`, `mqueue` and `hugepages` mounts covered by empty read-only
//!   tmpfs: no terminal of the user's, no other process's shared memory;
//! - each socket latchkeyd names (`--socket`: pcscd's), bound one file each, never its
//!   directory. A bound socket is the inode that was there when the worker started; latchkeyd
//!   starts a new worker when it is another one by now ([`super::DeviceWorker::reaches`]).
//!   `unix:` virtual keys are not bound: latchkeyd connects them for the worker
//!   ([`super::broker`]).
//!
//! A new IPC namespace goes with it (no System V shared memory of the session's, X11's MIT-SHM
//! among them), and a new network namespace, empty (no abstract socket of the session's: X11's
//! `@/tmp/.X11-unix/X0`, a `dbus-launch` bus; no network at all), unless latchkeyd names `udp:`
//! keys (`--host-network`). The kernel sends hot-plug uevents only to network namespaces of the
//! initial user namespace, so in its own the worker follows USB keys with inotify on `/dev`.
//!
//! Built the way unprivileged sandboxes build it (bubblewrap's way, in our own words): unshare
//! the namespaces, map the worker's own user and group to themselves, make every mount private,
//! mount a tmpfs on a staging directory, bind what stays under it, then `pivot_root` into it and
//! detach the old root. Finally every capability the new user namespace gave is dropped, on this
//! path and on every failure after the `unshare`. The worker must be single-threaded (the kernel
//! refuses a new user namespace to a threaded process).
//!
//! Where the kernel, a security module or a seccomp filter refuses a step (Debian 12 allows
//! unprivileged user namespaces; Ubuntu 24.04's AppArmor restricts them; a unit's
//! `RestrictNamespaces=` or `SystemCallFilter=` may forbid them) the worker cannot make this view:
//! [`enter`] says so with [`Outcome::Unavailable`], its filesystem view the session's (in
//! namespaces of its own if the `unshare` went through, its capabilities in them given up where
//! `capset` is allowed, and its network then its own too, so hot-plug still goes through
//! inotify), and the worker runs with Landlock and seccomp only, logging a warning.

use std::ffi::CStr;
use std::io;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Component, Path, PathBuf};

use rustix::mount::{
    mount, mount_bind, mount_bind_recursive, mount_change, mount_remount, unmount, MountFlags,
    MountPropagationFlags, UnmountFlags,
};
use rustix::thread::{CapabilitySet, CapabilitySets, UnshareFlags};

/// Directories, one of which carries the new root while it is built: the first that exists and
/// is neither inside nor above anything kept. Whatever it hid in this mount namespace is gone
/// with the old root.
const STAGING: &[&str] = &["/mnt", "/media", "/srv", "/opt", "/proc"];

/// The mounts under `/dev` that are covered: the user's terminals, POSIX shared memory and
/// message queues, huge pages.
const DEV_COVERED: &[&str] = &["pts", "shm", "mqueue", "hugepages"];

/// tmpfs options: nothing to write, nothing to run.
const TMPFS: MountFlags = MountFlags::NOSUID
    .union(MountFlags::NODEV)
    .union(MountFlags::NOEXEC);

/// The directories of sysfs kept: hidraw's class and the devices its links lead to.
const SYSFS_KEPT: &[&str] = &["class", "devices"];

/// What the worker's namespaces keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// The sysfs root (its `class` and `devices` are kept).
    pub sysfs: Option<PathBuf>,
    /// The `/dev` root (recursively, its terminals and shared memory covered).
    pub dev: Option<PathBuf>,
    /// Sockets, each bound alone; those that do not exist (or are no sockets) when the worker
    /// starts are left out.
    pub sockets: Vec<PathBuf>,
    /// Stay in the session's network namespace (`udp:` keys need it).
    pub host_network: bool,
}

/// What [`enter`] did.
#[derive(Debug)]
pub enum Outcome {
    /// The worker runs in its own namespaces, its root holding what the [`View`] keeps; the
    /// sockets that were bound.
    Entered {
        /// The sockets in the new root.
        sockets: Vec<PathBuf>,
        /// Whether the network namespace is the worker's own (hot-plug then uses inotify).
        own_network: bool,
    },
    /// The namespaces could not be made whole; the filesystem view is the session's (in
    /// namespaces of its own if the `unshare` went through).
    Unavailable {
        /// The step that failed.
        step: &'static str,
        /// Why.
        error: io::Error,
        /// Whether the network namespace is the worker's own all the same (the `unshare` went
        /// through): hot-plug then needs inotify.
        own_network: bool,
    },
}

impl Outcome {
    /// Whether the worker is in a network namespace of its own (no uevents reach it).
    pub fn own_network(&self) -> bool {
        match self {
            Self::Entered { own_network, .. } | Self::Unavailable { own_network, .. } => {
                *own_network
            }
        }
    }
}

/// A failure after which the process is neither as it was nor confined: the worker must stop.
#[derive(Debug, thiserror::Error)]
#[error("cannot leave the old root behind ({step}): {error}")]
pub struct NamespaceError {
    step: &'static str,
    #[source]
    error: io::Error,
}

fn at(step: &'static str) -> impl FnOnce(io::Error) -> (&'static str, io::Error) {
    move |error| (step, error)
}

fn unavailable((step, error): (&'static str, io::Error)) -> Outcome {
    Outcome::Unavailable {
        step,
        error,
        own_network: false,
    }
}

/// Moves this (single-threaded) process into a user, mount, IPC and (unless `view` keeps the
/// host's) network namespace of its own whose root keeps only `view` (module docs).
pub fn enter(view: &View) -> Result<Outcome, NamespaceError> {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let sockets: Vec<PathBuf> = view
        .sockets
        .iter()
        .filter(|s| s.is_absolute() && is_socket(s))
        .cloned()
        .collect();
    let mut kept: Vec<&Path> = sockets.iter().map(PathBuf::as_path).collect();
    kept.extend(view.sysfs.as_deref());
    kept.extend(view.dev.as_deref());
    let Some(staging) = staging(&kept) else {
        return Ok(unavailable((
            "staging directory",
            io::Error::other("every staging directory holds something the worker keeps"),
        )));
    };
    // SAFETY: `unshare` without CLONE_FILES (or CLONE_FS, CLONE_SIGHAND…) changes no state that
    // Rust code in this process relies on; the worker runs one thread here (checked by the caller,
    // and the kernel refuses CLONE_NEWUSER to a threaded process anyway).
    let mut flags = UnshareFlags::NEWUSER | UnshareFlags::NEWNS | UnshareFlags::NEWIPC;
    if !view.host_network {
        flags |= UnshareFlags::NEWNET;
    }
    #[allow(unsafe_code)]
    let unshared = unsafe { rustix::thread::unshare_unsafe(flags) };
    if let Err(e) = unshared {
        return Ok(unavailable(("unshare", e.into())));
    }
    // From here on the process is in namespaces of its own; until the pivot, a failure leaves
    // its filesystem view as it was (the staging mount is taken away again) and gives up the
    // capabilities the new user namespace gave (best effort: a filter that refused the step may
    // refuse `capset` too, and seccomp then keeps the worker from every call they would serve).
    let own_network = !view.host_network;
    let given_up = |(step, error): (&'static str, io::Error)| -> Result<Outcome, NamespaceError> {
        let _ = drop_capabilities();
        Ok(Outcome::Unavailable {
            step,
            error,
            own_network,
        })
    };
    if let Err(e) = map_ids(uid, gid) {
        return given_up(e);
    }
    if let Err(e) = build(view, &sockets, staging) {
        let _ = unmount(staging, UnmountFlags::DETACH);
        return given_up(e);
    }
    if let Err(e) = rustix::process::chdir(staging) {
        let _ = unmount(staging, UnmountFlags::DETACH);
        return given_up(("chdir", e.into()));
    }
    // pivot_root(".", "."): the new root goes on top of the old one, both at "/"; detaching
    // what is now under "." takes the old root (and every mount in it) away.
    if let Err(e) = rustix::process::pivot_root(".", ".") {
        let _ = rustix::process::chdir("/");
        let _ = unmount(staging, UnmountFlags::DETACH);
        return given_up(("pivot_root", e.into()));
    }
    let fatal = |step| {
        move |e: rustix::io::Errno| NamespaceError {
            step,
            error: e.into(),
        }
    };
    unmount(".", UnmountFlags::DETACH).map_err(fatal("detach the old root"))?;
    rustix::process::chdir("/").map_err(fatal("chdir /"))?;
    mount_remount("/", MountFlags::BIND | MountFlags::RDONLY | TMPFS, c"")
        .map_err(fatal("read-only root"))?;
    drop_capabilities().map_err(fatal("drop capabilities"))?;
    Ok(Outcome::Entered {
        sockets,
        own_network,
    })
}

/// Gives up every capability: the new user namespace gave them all, and none is needed.
fn drop_capabilities() -> rustix::io::Result<()> {
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: CapabilitySet::empty(),
            permitted: CapabilitySet::empty(),
            inheritable: CapabilitySet::empty(),
        },
    )
}

fn is_socket(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// The first staging directory that exists and neither holds nor lies within a kept path.
fn staging(kept: &[&Path]) -> Option<&'static Path> {
    STAGING
        .iter()
        .map(Path::new)
        .find(|s| s.is_dir() && kept.iter().all(|k| !k.starts_with(s) && !s.starts_with(k)))
}

/// The worker's user and group, mapped to themselves (`setgroups` denied first, as an
/// unprivileged process must).
fn map_ids(uid: u32, gid: u32) -> Result<(), (&'static str, io::Error)> {
    std::fs::write("/proc/self/setgroups", "deny").map_err(at("setgroups"))?;
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1\n")).map_err(at("uid_map"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1\n")).map_err(at("gid_map"))
}

/// `path` under `root`, as it reads (`..` and `.` components refused: kept paths are absolute
/// and plain).
fn under(root: &Path, path: &Path) -> Result<PathBuf, (&'static str, io::Error)> {
    let mut out = root.to_path_buf();
    for c in path.components() {
        match c {
            Component::RootDir => {}
            Component::Normal(part) => out.push(part),
            _ => {
                return Err((
                    "kept path",
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{} is not a plain absolute path", path.display()),
                    ),
                ))
            }
        }
    }
    Ok(out)
}

fn tmpfs(target: &Path, options: &CStr) -> rustix::io::Result<()> {
    mount("tmpfs", target, "tmpfs", TMPFS, options)
}

/// Mounts the new root's tmpfs on `staging` and binds what the view keeps under it.
fn build(
    view: &View,
    sockets: &[PathBuf],
    staging: &Path,
) -> Result<(), (&'static str, io::Error)> {
    let io = |step| move |e: rustix::io::Errno| (step, io::Error::from(e));
    // Nothing done here may reach the mounts of the session's namespace.
    mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(io("private mounts"))?;
    tmpfs(staging, c"mode=0755,size=1m").map_err(io("root tmpfs"))?;
    let read_only = |target: &Path| read_only(target).map_err(io("read-only bind"));
    if let Some(sysfs) = &view.sysfs {
        // Plain binds: these hold no mount of their own (sysfs's cgroup, security, debug and
        // tracing mounts are all elsewhere), so nothing else of sysfs comes along.
        for kept in SYSFS_KEPT {
            let source = sysfs.join(kept);
            if !source.is_dir() {
                continue;
            }
            let target = under(staging, &source)?;
            std::fs::create_dir_all(&target).map_err(at("mount point"))?;
            mount_bind(&source, &target).map_err(io("bind sysfs"))?;
            read_only(&target)?;
        }
    }
    if let Some(dev) = &view.dev {
        let target = under(staging, dev)?;
        std::fs::create_dir_all(&target).map_err(at("mount point"))?;
        // Recursive: devtmpfs's own submounts are locked to it in a user namespace, and a plain
        // bind of it is refused. They are covered below.
        mount_bind_recursive(dev, &target).map_err(io("bind /dev"))?;
        read_only(&target)?;
        let dev = target;
        for covered in DEV_COVERED {
            let target = dev.join(covered);
            if target.is_dir() {
                tmpfs(&target, c"mode=0755,size=4k").map_err(io("cover /dev"))?;
                mount_remount(&target, MountFlags::RDONLY | TMPFS, c"")
                    .map_err(io("cover /dev read-only"))?;
            }
        }
    }
    for socket in sockets {
        let target = under(staging, socket)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(at("socket mount point"))?;
        }
        std::fs::File::create(&target).map_err(at("socket mount point"))?;
        mount_bind(socket, &target).map_err(io("bind a socket"))?;
        read_only(&target)?;
    }
    Ok(())
}

/// Makes the bind mount at `target` read-only. Its other flags are kept as they are: in a user
/// namespace the kernel locks `nosuid`, `nodev`, `noexec` and the atime flags of the mounts it
/// copied, and refuses a remount that would clear one.
fn read_only(target: &Path) -> rustix::io::Result<()> {
    use rustix::fs::StatVfsMountFlags as St;
    let now = rustix::fs::statvfs(target)?.f_flag;
    let mut flags = MountFlags::BIND | MountFlags::RDONLY;
    for (st, ms) in [
        (St::NOSUID, MountFlags::NOSUID),
        (St::NODEV, MountFlags::NODEV),
        (St::NOEXEC, MountFlags::NOEXEC),
        (St::NOATIME, MountFlags::NOATIME),
        (St::NODIRATIME, MountFlags::NODIRATIME),
        (St::RELATIME, MountFlags::RELATIME),
    ] {
        if now.contains(st) {
            flags |= ms;
        }
    }
    mount_remount(target, flags, c"")
}

/// The device and inode of the socket at `path` now, to tell whether the one a worker bound is
/// still the one there.
pub fn socket_identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.file_type().is_socket())
        .map(|m| (m.dev(), m.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_staging_directory_neither_holds_nor_lies_within_a_kept_path() {
        let first = STAGING
            .iter()
            .map(Path::new)
            .find(|s| s.is_dir())
            .expect("a staging directory exists");
        assert_eq!(staging(&[Path::new("/dev")]), Some(first));
        let inside = first.join("k.sock");
        assert_ne!(staging(&[inside.as_path()]), Some(first));
        assert_ne!(staging(&[Path::new("/")]), Some(first));
        assert_eq!(staging(&[Path::new("/")]), None);
    }

    #[test]
    fn kept_paths_are_placed_under_the_new_root_as_they_read() {
        let root = Path::new("/stage");
        assert_eq!(
            under(root, Path::new("/run/pcscd/pcscd.comm")).unwrap(),
            Path::new("/stage/run/pcscd/pcscd.comm")
        );
        assert!(under(root, Path::new("/tmp/../run/user/1/bus")).is_err());
    }
}
