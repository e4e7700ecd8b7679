//! Did the session bus, or the user's `systemd --user`, start a process? Asked of latchkeyd by
//! its clients ([`crate::latchkeyd::verified_owner`]) and of the graphical prompt by latchkeyd
//! (a trusted prompt entry with `bus_started = true`): a process of the user that merely runs the
//! right executable — started by hand with arguments of its choosing, driven, or one that exec'd
//! it after connecting — is not the one the bus activated.
//!
//! Started by the bus means its parent (read while a pidfd pins it, and checked afterwards to
//! still be its parent) is
//!
//! - the bus daemon itself (the process `org.freedesktop.DBus` reports; a bus that is a child
//!   subreaper keeps the services it activated as its children),
//! - dbus-daemon's activation helper, a fork of the bus daemon running the bus's executable whose
//!   parent is the bus (while the activation is under way), or
//! - `systemd --user` (its executable, in its unit's `init.scope`), which starts a D-Bus service
//!   in a `*.service` unit of its own; a process orphaned to it (`systemd --user` is a subreaper)
//!   stays in its old scope and does not count.
//!
//! dbus-daemon 1.14 without systemd lets its helper exit once the service owns its name: the
//! service is then an orphan, reparented to PID 1 or the nearest subreaper, and not taken for
//! started by the bus (the session buses of desktops with systemd activate through
//! `systemd --user`).
//!
//! Also the parsers both sides share for what `/proc` says of a process.

use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use zbus::fdo::DBusProxy;
use zbus::names::BusName;

use crate::latchkeyd::{open_pidfd, pidfd_pid, read_small};

/// Fields of `/proc/PID/stat` that pin a process: parent PID and start time (clock ticks since
/// boot; field 22 of proc_pid_stat(5)). The command name may hold spaces and parentheses, so
/// parsing starts after the last `)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 4.
    pub ppid: u32,
    /// Field 22.
    pub start_time: u64,
}

/// Parses `/proc/PID/stat`.
pub fn proc_stat(stat: &str) -> Option<ProcStat> {
    let mut fields = stat[stat.rfind(')')? + 1..].split_ascii_whitespace();
    // After ')' come field 3 (state), 4 (ppid), ... 22 (starttime): indices 1 and 19. Read in
    // passing, without collecting the line's fifty fields (this runs at every request).
    let ppid = fields.nth(1)?.parse().ok()?;
    let start_time = fields.nth(17)?.parse().ok()?;
    Some(ProcStat { ppid, start_time })
}

/// The cgroup v2 path from `/proc/PID/cgroup` (the `0::` line), if any.
pub fn cgroup_v2_path(cgroup: &str) -> Option<&str> {
    cgroup.lines().find_map(|l| l.strip_prefix("0::"))
}

/// The last element of a cgroup path that names a systemd unit (`*.scope` or `*.service`).
pub fn systemd_unit(cgroup_path: &str) -> Option<&str> {
    cgroup_path
        .rsplit('/')
        .find(|e| e.ends_with(".scope") || e.ends_with(".service"))
}

/// A file as the kernel names it: device and inode.
pub type FileId = (u64, u64);

/// Where `systemd --user` runs from.
const SYSTEMD: [&str; 2] = ["/usr/lib/systemd/systemd", "/lib/systemd/systemd"];

/// What the decision looks at: a process's unit and its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// The process's systemd unit (from its cgroup).
    pub unit: Option<String>,
    /// Its parent's PID.
    pub parent: u32,
    /// The parent's own parent.
    pub grandparent: u32,
    /// The file the parent runs.
    pub parent_exe: Option<FileId>,
    /// The parent's systemd unit.
    pub parent_unit: Option<String>,
}

/// The bus daemon and `systemd --user` as the decision knows them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Starters {
    /// The bus daemon's PID (`GetConnectionCredentials` of `org.freedesktop.DBus`).
    pub bus: Option<u32>,
    /// The file the bus daemon runs.
    pub bus_exe: Option<FileId>,
    /// The files `systemd --user` may run from (those that exist).
    pub systemd_exes: Vec<FileId>,
}

impl Lineage {
    /// Whether this lineage is that of a process the bus or `systemd --user` started (module
    /// documentation).
    pub fn started_by(&self, starters: &Starters) -> bool {
        if let Some(bus) = starters.bus {
            if self.parent == bus {
                return true;
            }
            // dbus-daemon's activation helper: a fork of the bus, running its executable.
            if self.grandparent == bus
                && starters.bus_exe.is_some()
                && self.parent_exe == starters.bus_exe
            {
                return true;
            }
        }
        self.parent_exe
            .is_some_and(|exe| starters.systemd_exes.contains(&exe))
            && self.parent_unit.as_deref() == Some("init.scope")
            && self
                .unit
                .as_deref()
                .is_some_and(|u| u.ends_with(".service"))
    }
}

fn file_id(path: &Path) -> Option<FileId> {
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn stat_of(pid: u32) -> Option<ProcStat> {
    proc_stat(&read_small(Path::new(&format!("/proc/{pid}/stat"))).ok()?)
}

fn unit_of(pid: u32) -> Option<String> {
    let cgroup = read_small(Path::new(&format!("/proc/{pid}/cgroup"))).ok()?;
    systemd_unit(cgroup_v2_path(&cgroup)?).map(str::to_owned)
}

/// Whether the bus that `dbus` talks to, or `systemd --user`, started the process `pid` that
/// started at `start_time` (module documentation). `false` when anything cannot be read, or
/// changed while it was read.
pub async fn started_by_the_bus(dbus: &DBusProxy<'_>, pid: u32, start_time: u64) -> bool {
    let Some(stat) = stat_of(pid).filter(|s| s.start_time == start_time) else {
        return false;
    };
    if stat.ppid == 0 {
        return false;
    }
    let Some(pinned) = open_pidfd(stat.ppid) else {
        return false;
    };
    let Some(parent_stat) = stat_of(stat.ppid) else {
        return false;
    };
    let lineage = Lineage {
        unit: unit_of(pid),
        parent: stat.ppid,
        grandparent: parent_stat.ppid,
        parent_exe: file_id(Path::new(&format!("/proc/{}/exe", stat.ppid))),
        parent_unit: unit_of(stat.ppid),
    };
    let bus = match BusName::try_from("org.freedesktop.DBus") {
        Ok(name) => dbus
            .get_connection_credentials(name)
            .await
            .ok()
            .and_then(|c| c.process_id()),
        Err(_) => None,
    };
    let starters = Starters {
        bus,
        bus_exe: bus.and_then(|b| file_id(Path::new(&format!("/proc/{b}/exe")))),
        systemd_exes: SYSTEMD
            .iter()
            .filter_map(|p| file_id(Path::new(p)))
            .collect(),
    };
    lineage.started_by(&starters)
        && pidfd_pid(&pinned) == Some(stat.ppid)
        && stat_of(stat.ppid) == Some(parent_stat)
        && stat_of(pid) == Some(stat)
}

/// Whether the process `pid` that started at `start_time` is this process's parent, or an
/// ancestor further up: one that started this process (or the process that did) and so chose
/// its executable, environment and descriptors already. Read live from `/proc`: a process whose
/// parent exits is reparented at once, so an ancestor that exited is no longer in the chain, and
/// a PID reused since then carries another start time.
pub fn is_ancestor(pid: u32, start_time: u64) -> bool {
    let Some(mut at) = stat_of(std::process::id()).map(|s| s.ppid) else {
        return false;
    };
    // PID 1 and the kernel's threads end every chain; the bound only guards a malformed /proc.
    for _ in 0..256 {
        if at <= 1 {
            return false;
        }
        let Some(stat) = stat_of(at) else {
            return false;
        };
        if at == pid {
            return stat.start_time == start_time;
        }
        at = stat.ppid;
    }
    false
}

#[cfg(test)]
mod tests;
