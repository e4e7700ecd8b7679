//! Caller identities per bus connection, so a caller's second request costs no bus round trips.
//!
//! A unique name is never reassigned, and the bus fixes a connection's process when it connects,
//! so what the kernel said about `:1.42` when it first called holds for as long as `:1.42` exists
//! — as long as the process is still the one we read. Each hit is therefore re-checked from the
//! kernel through the process's `/proc/PID` directory, opened while the pidfd of the first
//! reading pinned it ([`super::ProcDir`], [`super::still_same`]: the same live process, same
//! start time and parent, same executable file); a failed check drops the entry and the caller is
//! identified afresh. Entries go when `NameOwnerChanged` says the name left
//! ([`IdentityCache::forget`]); the cache is bounded so a missed signal cannot grow it forever.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::{Mutex, PoisonError};

use super::{still_same, CallerIdentity, ProcDir};

/// Most connections remembered; past it the cache starts over. Each keeps two descriptors open
/// ([`ProcDir`]): 256 entries hold 512, half of the soft `RLIMIT_NOFILE` a user service gets by
/// default (1024), leaving the rest for bus connections, workers and devices. A desktop session
/// has far fewer distinct callers at once; one past the bound costs a fresh identification.
pub const MAX_ENTRIES: usize = 256;

struct Entry {
    identity: CallerIdentity,
    dir: ProcDir,
}

/// Unique bus name → the identity read from the kernel for it.
pub struct IdentityCache {
    entries: Mutex<HashMap<String, Entry>>,
    capacity: usize,
}

impl Default for IdentityCache {
    fn default() -> Self {
        Self::with_capacity(MAX_ENTRIES)
    }
}

impl IdentityCache {
    /// A cache of at most `capacity` connections.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::default(),
            capacity,
        }
    }

    /// The identity remembered for `unique_name`, if its process is provably unchanged.
    pub fn get(&self, unique_name: &str) -> Option<CallerIdentity> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(unique_name)?;
        if still_same(&entry.dir, &entry.identity) {
            Some(entry.identity.clone())
        } else {
            entries.remove(unique_name);
            None
        }
    }

    /// Remembers `identity`, read while `pidfd` pinned its process, for `unique_name` (nothing,
    /// when the process is already gone: the next call identifies it afresh).
    pub fn insert(&self, unique_name: &str, identity: CallerIdentity, pidfd: OwnedFd) {
        let Ok(dir) = ProcDir::open(&pidfd, identity.pid) else {
            return;
        };
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(unique_name) {
            entries.clear();
        }
        entries.insert(unique_name.to_owned(), Entry { identity, dir });
    }

    /// Forgets `unique_name` (it left the bus).
    pub fn forget(&self, unique_name: &str) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(unique_name);
    }

    /// How many connections are remembered.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{identify_pinned, PeerCredentials};

    fn me() -> (CallerIdentity, OwnedFd) {
        let creds = PeerCredentials {
            pid: Some(std::process::id()),
            pidfd: None,
            uid: None,
        };
        identify_pinned(creds, 0).unwrap()
    }

    #[test]
    fn a_live_unchanged_process_is_remembered_until_it_leaves() {
        let cache = IdentityCache::default();
        let (id, fd) = me();
        cache.insert(":1.7", id.clone(), fd);
        assert_eq!(cache.get(":1.7"), Some(id));
        assert_eq!(cache.get(":1.8"), None);
        cache.forget(":1.7");
        assert_eq!(cache.get(":1.7"), None);
        assert!(cache.is_empty());
    }

    #[test]
    fn an_exited_process_is_dropped_not_served() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let fd = crate::identity::open_pidfd(pid).unwrap();
        let (mut id, _) = me();
        id.pid = pid;
        child.wait().unwrap();
        let cache = IdentityCache::default();
        cache.insert(":1.9", id, fd);
        assert_eq!(cache.get(":1.9"), None);
        assert_eq!(cache.len(), 0, "the stale entry is removed");
    }

    fn identify_child(child: &std::process::Child) -> (CallerIdentity, OwnedFd) {
        let creds = PeerCredentials {
            pid: Some(child.id()),
            pidfd: None,
            uid: None,
        };
        identify_pinned(creds, 0).unwrap()
    }

    #[test]
    fn a_process_that_exits_after_it_was_remembered_is_dropped() {
        let mut child = std::process::Command::new("cat")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (id, fd) = identify_child(&child);
        let cache = IdentityCache::default();
        cache.insert(":1.12", id.clone(), fd);
        assert_eq!(cache.get(":1.12"), Some(id));
        drop(child.stdin.take());
        child.wait().unwrap();
        assert_eq!(cache.get(":1.12"), None);
        assert_eq!(cache.len(), 0, "the stale entry is removed");
    }

    #[test]
    fn a_process_that_execs_after_it_was_remembered_is_not_served() {
        use std::io::Write as _;
        use std::os::unix::fs::MetadataExt as _;
        // A shell that, once told, replaces itself with `cat`: same process, same PID, same start
        // time, another program — as a caller that execs keeps its bus connection.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "read line; exec cat"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (id, fd) = identify_child(&child);
        let shell = id.executable_file;
        let cache = IdentityCache::default();
        cache.insert(":1.13", id.clone(), fd);
        assert_eq!(cache.get(":1.13"), Some(id));
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
        let exe = format!("/proc/{}/exe", child.id());
        // The exec is seen only in /proc: wait for it there.
        until("the child's exec of cat", || {
            std::fs::metadata(&exe).ok().map(|m| (m.dev(), m.ino())) != shell
        });
        assert_eq!(cache.get(":1.13"), None);
        assert_eq!(cache.len(), 0);
        drop(stdin);
        child.wait().unwrap();
    }

    /// Waits for `done`, failing after 10 s instead of hanging the test run.
    fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "no {what} within 10 s"
            );
            std::thread::yield_now();
        }
    }

    /// The kept `stat` is read afresh at every check: a parent that dies after a check that
    /// passed is seen at the next one.
    #[test]
    fn a_process_reparented_after_a_passed_check_is_not_served() {
        use std::io::{BufRead as _, Write as _};
        // sh starts a sleeping child, says its PID, and exits when a line comes in.
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & echo $!; read _"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(sh.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let pid: u32 = line.trim().parse().unwrap();
        // `$!` is known before the child has replaced the shell with sleep: wait for the exec,
        // which would otherwise fail the checks below for the wrong reason.
        let exe = format!("/proc/{pid}/exe");
        until("the child's exec of sleep", || {
            std::fs::read_link(&exe).is_ok_and(|p| p.ends_with("sleep"))
        });
        let creds = PeerCredentials {
            pid: Some(pid),
            pidfd: None,
            uid: None,
        };
        let (id, fd) = identify_pinned(creds, 0).unwrap();
        assert_eq!(id.ppid, sh.id());
        let cache = IdentityCache::default();
        cache.insert(":1.20", id.clone(), fd);
        assert_eq!(cache.get(":1.20"), Some(id.clone()));
        assert_eq!(
            cache.get(":1.20"),
            Some(id),
            "a second check reads the same"
        );
        writeln!(sh.stdin.take().unwrap()).unwrap();
        sh.wait().unwrap();
        // The orphan is reparented once its parent is reaped.
        let stat = format!("/proc/{pid}/stat");
        let parent_is_sh = || {
            std::fs::read_to_string(&stat)
                .ok()
                .and_then(|s| crate::identity::parse::proc_stat(&s))
                .is_some_and(|s| s.ppid == sh.id())
        };
        until("the orphan's reparenting", || !parent_is_sh());
        assert_eq!(cache.get(":1.20"), None);
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }

    #[test]
    fn a_changed_start_time_or_executable_is_not_served() {
        let cache = IdentityCache::default();
        let (mut id, fd) = me();
        id.start_time += 1;
        cache.insert(":1.10", id, fd);
        assert_eq!(cache.get(":1.10"), None);
        let (mut id, fd) = me();
        id.executable_file = Some((0, 0));
        cache.insert(":1.11", id, fd);
        assert_eq!(cache.get(":1.11"), None);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = IdentityCache::with_capacity(8);
        for i in 0..8 {
            let (id, fd) = me();
            cache.insert(&format!(":1.{i}"), id, fd);
        }
        assert_eq!(cache.len(), 8);
        let (id, fd) = me();
        cache.insert(":1.0", id, fd);
        assert_eq!(cache.len(), 8, "replacing an entry keeps the others");
        let (id, fd) = me();
        cache.insert(":1.99", id.clone(), fd);
        assert_eq!(cache.len(), 1, "a new name past the bound starts over");
        assert_eq!(cache.get(":1.99"), Some(id));
    }
}
