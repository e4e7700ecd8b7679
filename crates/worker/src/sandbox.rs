//! The worker's sandbox, applied to the calling thread (and every thread it starts later) after
//! the worker opened its store and before it reads its first request. Call [`apply`] before
//! starting any thread: threads that run already are not confined.
//!
//! The store (and with it a TPM's TCTI: its device descriptor or connections, the TCTI library
//! `dlopen` loads, libtss2's OpenSSL configuration) is opened first, because nothing from
//! latchkeyd's requests has been read at that point: the sandbox still confines everything a
//! hostile request could reach. [`tcti`] says what a TCTI still needs afterwards. Neither store
//! starts a thread; [`single_threaded`] checks that none runs before the sandbox is applied.
//!
//! 1. `PR_SET_DUMPABLE = 0`: no core dumps of key material, no `ptrace` or `/proc/PID/mem` from
//!    other processes of the user.
//! 2. Landlock ([`landlock`]): every filesystem access is handled; the store directory gets all
//!    of them, [`Policy::read_only`] paths reading, [`Policy::devices`] read/write/ioctl (the
//!    worker's policy names no device: a TPM device is already open). TCP bind is handled with no
//!    port allowed and TCP connect with only [`Policy::tcp_connect`] (ABI 4; empty unless the TPM
//!    is an `swtpm` reached over TCP), and signals and abstract Unix sockets are scoped to the
//!    sandbox (ABI 6). Best effort on older kernels, except that TCP sockets are refused unless
//!    Landlock confines them ([`landlock::tcp_confinement`]).
//! 3. seccomp (`PR_SET_NO_NEW_PRIVS` first): an allow-list per kind of process
//!    ([`seccomp::Profile`]; the platform worker's is [`profile::platform_worker`], measured with
//!    `scripts/worker-syscalls.sh`). A call the profile does not name kills the process; calls it
//!    refuses, or allows with other arguments, fail with `EPERM`; `clone3` fails with `ENOSYS`.

use std::path::{Path, PathBuf};

use ::landlock::ABI;

pub mod landlock;
pub mod profile;
pub mod seccomp;
pub mod tcti;

pub use seccomp::{describe_exit, Profile};

/// What the worker may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Directories with every access (the credential store).
    pub read_write: Vec<PathBuf>,
    /// Files or directories that may be read.
    pub read_only: Vec<PathBuf>,
    /// Device nodes that may be read, written and sent ioctls.
    pub devices: Vec<PathBuf>,
    /// TCP ports that may be connected to (on any host: Landlock rules name ports only). Empty:
    /// no socket may be created at all.
    pub tcp_connect: Vec<u16>,
    /// The Landlock ABI whose rights are asked for: [`landlock::NEWEST_ABI`]. Tests lower it to
    /// see what the sandbox does on an older kernel (which enforces only its ABI's rights).
    pub landlock_abi: ABI,
}

/// The VM generation counter aws-lc reads, where it exists, to reseed after a VM snapshot.
const VM_GENERATION_ID: &str = "/dev/sysgenid";

impl Policy {
    /// The platform authenticator worker over the store in `store`, opened already: the store
    /// read/write and `/dev/sysgenid` (if present) read. No device and no library path: a TPM
    /// device is open before the sandbox, and the TCTI library loaded. (Traced with strace: over
    /// a file store and over a TPM the worker opens nothing else once sandboxed.) Add a TPM's
    /// needs with [`Policy::with_tcti`].
    pub fn platform_worker(store: &Path) -> Self {
        Self {
            read_write: vec![store.to_path_buf()],
            read_only: [VM_GENERATION_ID]
                .iter()
                .map(PathBuf::from)
                .filter(|p| p.exists())
                .collect(),
            devices: Vec::new(),
            tcp_connect: Vec::new(),
            landlock_abi: landlock::NEWEST_ABI,
        }
    }

    /// This policy plus what an open TPM interface configured by `conf` still needs
    /// ([`tcti::TctiNeeds`]).
    pub fn with_tcti(mut self, conf: &str) -> Result<Self, tcti::TctiError> {
        self.tcp_connect = tcti::TctiNeeds::parse(conf)?.tcp_ports();
        Ok(self)
    }
}

/// How much of the sandbox the kernel enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LandlockOutcome {
    /// Every requested right is enforced.
    Full,
    /// Some rights are enforced; the kernel lacks others (an older ABI).
    Partial,
    /// The kernel has no Landlock (or it is disabled): filesystem access is not confined.
    Unsupported,
}

/// What [`apply`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Landlock's enforcement.
    pub landlock: LandlockOutcome,
    /// The Landlock ABI in force: the lower of the kernel's and [`Policy::landlock_abi`]
    /// (`Unsupported` without Landlock).
    pub landlock_abi: ABI,
}

/// Why the sandbox could not be applied. Only Landlock's absence (or an older ABI) is
/// tolerated, and only when the policy allows no TCP; every other failure is returned and the
/// worker does not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// `prctl(PR_SET_DUMPABLE)` failed.
    #[error("cannot make the process non-dumpable: {0}")]
    Dumpable(std::io::Error),
    /// The policy lets the process create TCP sockets, but the kernel's Landlock (ABI `abi`; 0:
    /// none) has no network rules to keep them to the policy's ports (ABI 4, Linux 6.7).
    #[error(
        "TCP sockets would be unconfined: this kernel's Landlock (ABI {abi}) cannot restrict \
         them to the TPM's ports (network rules need ABI 4, Linux 6.7 or later)"
    )]
    TcpUnconfined {
        /// The Landlock ABI in force.
        abi: i32,
    },
    /// A Landlock rule could not be built (a path that cannot be opened, …).
    #[error("cannot build the Landlock ruleset: {0}")]
    Landlock(#[from] ::landlock::RulesetError),
    /// A path in the policy could not be opened.
    #[error("cannot open {path} for a Landlock rule: {source}")]
    Path {
        /// The path.
        path: PathBuf,
        /// Why.
        source: ::landlock::PathFdError,
    },
    /// The seccomp filter could not be installed.
    #[error("cannot install the seccomp filter: {0}")]
    Seccomp(#[from] seccompiler::Error),
    /// The seccomp filter could not be built.
    #[error("cannot build the seccomp filter: {0}")]
    Filter(#[from] seccompiler::BackendError),
    /// This architecture has no seccomp filter here.
    #[error("no seccomp filter for the {0} architecture")]
    Arch(&'static str),
    /// Other threads run already: neither Landlock nor the filters would confine them.
    #[error("the process already runs {0} threads; the sandbox must be applied before any starts")]
    Threads(usize),
    /// The thread count could not be read from `/proc/self/status`.
    #[error("cannot count the process's threads: {0}")]
    ThreadCount(std::io::Error),
}

/// Applies the whole sandbox, with `profile`'s system calls, to the calling thread and its
/// future threads (not to threads that run already: call [`single_threaded`] first). Fails,
/// and the process must not go on, if any part cannot be applied, or if the policy allows TCP
/// and Landlock cannot confine it ([`landlock::tcp_confinement`]).
pub fn apply(policy: &Policy, profile: &Profile) -> Result<Status, SandboxError> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| SandboxError::Dumpable(e.into()))?;
    let (landlock, landlock_abi) = landlock::restrict(policy)?;
    if !policy.tcp_connect.is_empty() {
        landlock::tcp_confinement(landlock_abi)?;
    }
    seccomp::install(profile)?;
    Ok(Status {
        landlock,
        landlock_abi,
    })
}

/// Fails if the process runs more than one thread: [`apply`] would not confine the others (a
/// library that started one while the store was opened, say).
pub fn single_threaded() -> Result<(), SandboxError> {
    match thread_count()? {
        1 => Ok(()),
        n => Err(SandboxError::Threads(n)),
    }
}

/// The `Threads:` field of `/proc/self/status`.
fn thread_count() -> Result<usize, SandboxError> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(SandboxError::ThreadCount)?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| {
            SandboxError::ThreadCount(std::io::Error::other(
                "no Threads: line in /proc/self/status",
            ))
        })
}

#[cfg(test)]
mod tests;
