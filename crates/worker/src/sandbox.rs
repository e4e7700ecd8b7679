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
//! 2. Landlock (best effort: a kernel without it is logged and skipped): every filesystem access
//!    is handled; the store directory gets all of them, [`Policy::read_only`] paths reading,
//!    [`Policy::devices`] read/write/ioctl (the worker's policy names no device: a TPM device is
//!    already open). TCP bind is handled with no port allowed and TCP connect with only
//!    [`Policy::tcp_connect`] (ABI 4; empty unless the TPM is an `swtpm` reached over TCP), and
//!    signals and abstract Unix sockets are scoped to the sandbox (ABI 6).
//! 3. seccomp (`PR_SET_NO_NEW_PRIVS` first): a deny list, not an allow list (the worker runs
//!    Rust's standard library, aws-lc and, with a TPM, libtss2, whose system calls vary by
//!    version). Denied with `EPERM`: `socket` of any family (the worker's link is inherited, so
//!    it cannot reach the network, netlink or the session bus) — except, when
//!    [`Policy::tcp_connect`] names ports, TCP stream sockets (`AF_INET`/`AF_INET6`,
//!    `SOCK_STREAM`, protocol 0 or TCP), which Landlock then confines to those ports; `listen`,
//!    `accept`, `accept4`, `execve`, `execveat`, `ptrace`, `process_vm_readv/writev`,
//!    `process_madvise`, `pidfd_getfd`, `kcmp`, the mount family, `chroot`, `pivot_root`,
//!    `unshare`, `setns`, `clone` with a namespace flag, `bpf`, `perf_event_open`, `userfaultfd`,
//!    `io_uring_*`, `keyctl`, `add_key`, `request_key`, module loading, `kexec_*`, `reboot`,
//!    `swapon/off`, `acct`, `ioctl` with `TIOCSTI` or `TIOCLINUX` (terminal input injection);
//!    every x32 system call (any number with the x32 bit), so that no argument rule can be
//!    side-stepped through that ABI. `clone3` fails with `ENOSYS` (its flags are in memory a
//!    filter cannot read), so the C library falls back to `clone`, whose flags the filter
//!    checks. Another architecture's system calls kill the process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use landlock::{
    Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

pub mod tcti;

/// The Landlock ABI whose rights we request (Linux 6.15); newer kernels enforce the same set.
const LANDLOCK_ABI: ABI = ABI::V7;

/// What the worker may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
}

/// Why the sandbox could not be applied. Only Landlock's absence is tolerated; every other
/// failure is returned and the worker does not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// `prctl(PR_SET_DUMPABLE)` failed.
    #[error("cannot make the process non-dumpable: {0}")]
    Dumpable(std::io::Error),
    /// A Landlock rule could not be built (a path that cannot be opened, …).
    #[error("cannot build the Landlock ruleset: {0}")]
    Landlock(#[from] landlock::RulesetError),
    /// A path in the policy could not be opened.
    #[error("cannot open {path} for a Landlock rule: {source}")]
    Path {
        /// The path.
        path: PathBuf,
        /// Why.
        source: landlock::PathFdError,
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

/// Applies the whole sandbox to the calling thread and its future threads (not to threads that
/// run already: call [`single_threaded`] first).
pub fn apply(policy: &Policy) -> Result<Status, SandboxError> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| SandboxError::Dumpable(e.into()))?;
    let landlock = landlock(policy)?;
    seccomp(!policy.tcp_connect.is_empty())?;
    Ok(Status { landlock })
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

fn rule(
    path: &Path,
    access: landlock::BitFlags<AccessFs>,
) -> Result<PathBeneath<PathFd>, SandboxError> {
    let fd = PathFd::new(path).map_err(|source| SandboxError::Path {
        path: path.to_owned(),
        source,
    })?;
    Ok(PathBeneath::new(fd, access))
}

fn landlock(policy: &Policy) -> Result<LandlockOutcome, SandboxError> {
    let all = AccessFs::from_all(LANDLOCK_ABI);
    let read = AccessFs::from_read(LANDLOCK_ABI);
    let device = AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::IoctlDev;
    let mut created = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)?
        .handle_access(AccessNet::from_all(LANDLOCK_ABI))?
        .scope(Scope::from_all(LANDLOCK_ABI))?
        .create()?;
    for p in &policy.read_write {
        created = created.add_rule(rule(p, all)?)?;
    }
    for p in &policy.read_only {
        // A file gets only the file rights of `read` (Landlock refuses directory rights on it).
        let access = if p.is_dir() {
            read
        } else {
            read & AccessFs::from_file(LANDLOCK_ABI)
        };
        created = created.add_rule(rule(p, access)?)?;
    }
    for p in &policy.devices {
        created = created.add_rule(rule(p, device)?)?;
    }
    for &port in &policy.tcp_connect {
        created = created.add_rule(NetPort::new(port, AccessNet::ConnectTcp))?;
    }
    let status = created.restrict_self()?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => LandlockOutcome::Full,
        RulesetStatus::PartiallyEnforced => LandlockOutcome::Partial,
        RulesetStatus::NotEnforced => LandlockOutcome::Unsupported,
    })
}

/// The x32 ABI's bit in x86-64 system call numbers.
#[cfg(target_arch = "x86_64")]
const X32_BIT: i64 = 0x4000_0000;

/// System calls denied whatever their arguments.
const DENIED: &[i64] = &[
    libc::SYS_listen,
    libc::SYS_accept,
    libc::SYS_accept4,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_process_madvise,
    libc::SYS_pidfd_getfd,
    libc::SYS_kcmp,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
];

/// x32-only numbers of denied calls (arch/x86/entry/syscalls/syscall_64.tbl: 520 execve,
/// 521 ptrace, 539/540 process_vm_readv/writev, 545 execveat).
#[cfg(target_arch = "x86_64")]
const X32_ONLY: &[i64] = &[520, 521, 539, 540, 545];

/// `socket`'s type argument: the type is in the low four bits (`SOCK_TYPE_MASK`); the others
/// are flags (`SOCK_NONBLOCK`, `SOCK_CLOEXEC`).
const SOCK_TYPE_MASK: u64 = 0xf;

/// `socket(domain, type, protocol)` rules (any match is denied): every socket, or, with
/// `allow_tcp`, every socket but a TCP stream one.
fn socket_rules(allow_tcp: bool) -> Result<Vec<SeccompRule>, SandboxError> {
    if !allow_tcp {
        return Ok(Vec::new());
    }
    let dword = |arg, op, value| SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value);
    let inet = u64::from(libc::AF_INET.unsigned_abs());
    let inet6 = u64::from(libc::AF_INET6.unsigned_abs());
    let stream = u64::from(libc::SOCK_STREAM.unsigned_abs());
    let tcp = u64::from(libc::IPPROTO_TCP.unsigned_abs());
    let mut rules = vec![
        // Neither IPv4 nor IPv6.
        SeccompRule::new(vec![
            dword(0, SeccompCmpOp::Ne, inet)?,
            dword(0, SeccompCmpOp::Ne, inet6)?,
        ])?,
        // A protocol other than the default (0) or TCP.
        SeccompRule::new(vec![
            dword(2, SeccompCmpOp::Ne, 0)?,
            dword(2, SeccompCmpOp::Ne, tcp)?,
        ])?,
    ];
    // Any type but a stream.
    for kind in (0..=SOCK_TYPE_MASK).filter(|&k| k != stream) {
        rules.push(SeccompRule::new(vec![dword(
            1,
            SeccompCmpOp::MaskedEq(SOCK_TYPE_MASK),
            kind,
        )?])?);
    }
    Ok(rules)
}

/// The `ioctl` commands that inject input into a terminal: `TIOCSTI` (fake a typed character)
/// and `TIOCLINUX` (among others, paste the console selection).
const TERMINAL_INJECTION: [u64; 2] = [0x5412, 0x541C];

/// `clone` flags that make a new namespace.
const NAMESPACE_FLAGS: [libc::c_int; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWCGROUP,
];

fn arch() -> Result<TargetArch, SandboxError> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| SandboxError::Arch(std::env::consts::ARCH))
}

/// The deny-list filter (`EPERM`); `allow_tcp` lets TCP stream sockets be created.
fn deny_filter(allow_tcp: bool) -> Result<BpfProgram, SandboxError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &nr in DENIED {
        rules.insert(nr, Vec::new());
        #[cfg(target_arch = "x86_64")]
        rules.insert(nr | X32_BIT, Vec::new());
    }
    #[cfg(target_arch = "x86_64")]
    for &nr in X32_ONLY {
        rules.insert(nr | X32_BIT, Vec::new());
    }
    rules.insert(libc::SYS_socket, socket_rules(allow_tcp)?);
    #[cfg(target_arch = "x86_64")]
    rules.insert(libc::SYS_socket | X32_BIT, Vec::new());
    // clone(flags, …): any namespace flag. Rules of one call are alternatives.
    let mut clone_rules = Vec::new();
    for flag in NAMESPACE_FLAGS {
        let flag = u64::from(flag.unsigned_abs());
        clone_rules.push(SeccompRule::new(vec![SeccompCondition::new(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(flag),
            flag,
        )?])?);
    }
    rules.insert(libc::SYS_clone, clone_rules);
    // ioctl(fd, TIOCSTI | TIOCLINUX, …): pushing keystrokes into a terminal the worker might
    // still hold. The command is an unsigned int; the kernel looks at its low 32 bits only, and
    // so does this comparison (Dword).
    let mut ioctl_rules = Vec::new();
    for cmd in TERMINAL_INJECTION {
        ioctl_rules.push(SeccompRule::new(vec![SeccompCondition::new(
            1,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            cmd,
        )?])?);
    }
    rules.insert(libc::SYS_ioctl, ioctl_rules);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM.unsigned_abs()),
        arch()?,
    )?;
    Ok(filter.try_into()?)
}

/// `clone3` → `ENOSYS`, so callers fall back to `clone`.
fn clone3_filter() -> Result<BpfProgram, SandboxError> {
    let rules = BTreeMap::from([(libc::SYS_clone3, Vec::new())]);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS.unsigned_abs()),
        arch()?,
    )?;
    Ok(filter.try_into()?)
}

/// Every x32 system call (number with [`X32_BIT`]) → `EPERM`: the worker is a 64-bit program
/// and never makes one, and argument rules (`clone`, `ioctl`) written for the 64-bit numbers
/// would not see them. seccompiler matches numbers one by one, so this is a small hand-written
/// classic BPF program: x86-64 arch? number has the bit? deny : allow.
#[cfg(target_arch = "x86_64")]
fn x32_filter() -> BpfProgram {
    use seccompiler::sock_filter;
    // linux/filter.h, linux/seccomp.h, linux/audit.h.
    // BPF_LD | BPF_W | BPF_ABS; BPF_JMP | BPF_JEQ | BPF_K; BPF_JMP | BPF_JSET | BPF_K.
    const LD_W_ABS: u16 = 0x20;
    const JMP_JEQ_K: u16 = 0x15;
    const JMP_JSET_K: u16 = 0x45;
    const X32: u32 = 0x4000_0000;
    const RET_K: u16 = 0x06;
    const ARCH_OFFSET: u32 = 4;
    const NR_OFFSET: u32 = 0;
    const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    vec![
        op(LD_W_ABS, 0, 0, ARCH_OFFSET),
        // Not x86-64: not this filter's business (the deny filter kills other architectures).
        op(JMP_JEQ_K, 0, 3, AUDIT_ARCH_X86_64),
        op(LD_W_ABS, 0, 0, NR_OFFSET),
        op(JMP_JSET_K, 0, 1, X32),
        op(RET_K, 0, 0, RET_ERRNO | libc::EPERM.unsigned_abs()),
        op(RET_K, 0, 0, RET_ALLOW),
    ]
}

fn seccomp(allow_tcp: bool) -> Result<(), SandboxError> {
    let deny = deny_filter(allow_tcp)?;
    let clone3 = clone3_filter()?;
    // Every call sets PR_SET_NO_NEW_PRIVS first, which installing a filter unprivileged requires.
    seccompiler::apply_filter(&deny)?;
    seccompiler::apply_filter(&clone3)?;
    #[cfg(target_arch = "x86_64")]
    seccompiler::apply_filter(&x32_filter())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_policy_names_the_store_and_no_device_library_or_port() {
        let p = Policy::platform_worker(Path::new("/tmp/store"));
        assert_eq!(p.read_write, vec![PathBuf::from("/tmp/store")]);
        assert!(p.devices.is_empty());
        assert!(p.read_only.iter().all(|r| r == Path::new(VM_GENERATION_ID)));
        assert!(p.tcp_connect.is_empty());
    }

    #[test]
    fn an_swtpm_tcti_adds_its_two_ports_and_a_device_tcti_nothing() {
        let base = Policy::platform_worker(Path::new("/s"));
        let swtpm = base.clone().with_tcti("swtpm:port=4000").unwrap();
        assert_eq!(swtpm.tcp_connect, vec![4000, 4001]);
        assert_eq!(swtpm.read_write, base.read_write);
        assert_eq!(base.clone().with_tcti("device:/dev/tpmrm0").unwrap(), base);
        assert!(base.with_tcti("swtpm:path=/run/s").is_err());
    }

    #[test]
    fn sockets_are_denied_outright_unless_tcp_is_allowed() {
        assert!(
            socket_rules(false).unwrap().is_empty(),
            "no rule: always denied"
        );
        // Not IPv4/IPv6, a protocol other than TCP, and each of the 15 non-stream types.
        assert_eq!(socket_rules(true).unwrap().len(), 2 + 15);
        deny_filter(true).unwrap();
        deny_filter(false).unwrap();
    }

    #[test]
    fn a_second_thread_is_seen_and_refused() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || rx.recv());
        assert!(thread_count().unwrap() >= 2);
        assert!(matches!(single_threaded(), Err(SandboxError::Threads(n)) if n >= 2));
        drop(tx);
        let _ = other.join();
    }
}
