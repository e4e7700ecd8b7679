//! The platform authenticator worker's seccomp profile: the system calls it was measured making
//! once sandboxed, and nothing else.
//!
//! Measured with `scripts/worker-syscalls.sh`, which runs the worker's suites
//! (`crates/worker/tests`: ceremonies, PINs, list/delete/update, a worker killed mid-request and
//! restarted, cancels, malformed messages) and latchkeyd's over an `swtpm` (`worker_tpm`: the TPM
//! store through libtss2's TCP TCTI, wrong PINs) with every process under `strace -f -ff`, and
//! lists what each `latchkey-platform-worker` called after its last `seccomp()` (x86-64, Debian
//! 12's glibc 2.36, Rust 1.95, aws-lc-sys 0.47, libtss2 3.2.1). Counts from that run: `futex` 676,
//! `recvfrom`/`sendto` 219 each, `write` 171, `close` 234, `openat` 143, `fsync` 141, `rename`
//! 70, `socket`/`connect` 58 (TCP TCTI only), ... Re-measure after upgrading the toolchain,
//! glibc, aws-lc or libtss2, and add what is new here with the reason.
//!
//! A few calls were not seen in that run but are on paths the worker takes under other
//! conditions; each is marked *unmeasured* with its reason.

use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};

use super::seccomp::Profile;
use super::{Policy, SandboxError};

/// Calls allowed with any arguments.
const ALLOWED: &[i64] = &[
    // The link to latchkeyd (an inherited SOCK_SEQPACKET socket) and the store's files.
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_recvfrom,
    libc::SYS_sendto,
    libc::SYS_setsockopt,
    libc::SYS_openat,
    libc::SYS_close,
    libc::SYS_fsync,
    libc::SYS_flock,
    libc::SYS_rename,
    libc::SYS_unlink,
    // Unmeasured (no TPM device here): libtss2's device TCTI waits for its descriptor with poll.
    libc::SYS_poll,
    libc::SYS_ppoll,
];

/// Calls every worker makes as a Rust program on glibc, whatever it serves (measured in both
/// workers' runs unless marked): memory, threads, signals, randomness, the clock and a panic.
/// Allowed with any arguments by [`common_rules`].
const RUNTIME: &[i64] = &[
    // Memory (glibc's malloc, Rust's allocator): mmap/mprotect only without PROT_EXEC
    // ([`common_rules`]).
    libc::SYS_munmap,
    libc::SYS_madvise,
    // Unmeasured in the platform worker: glibc's malloc grows its main heap with brk and a large
    // block (a large blob) with mremap; its runs' heaps never had to.
    libc::SYS_brk,
    libc::SYS_mremap,
    // Threads (each worker serves requests on one) and their synchronisation.
    libc::SYS_futex,
    libc::SYS_set_robust_list,
    libc::SYS_rseq,
    libc::SYS_sched_getaffinity,
    libc::SYS_gettid,
    libc::SYS_exit,
    libc::SYS_exit_group,
    // Signals: the standard library's masks and its stack-overflow handler.
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_sigaltstack,
    // Unmeasured: returning from a signal handler and restarting an interrupted call.
    libc::SYS_rt_sigreturn,
    libc::SYS_restart_syscall,
    // aws-lc's, the authenticator's and the channels' randomness.
    libc::SYS_getrandom,
    // Unmeasured: the vDSO answers the clock without a system call, except on a clock source it
    // cannot read from user space (some virtual machines).
    libc::SYS_clock_gettime,
    // A panic's message and abort (seen when a worker's standard error was closed under it).
    libc::SYS_getpid,
    libc::SYS_getcwd,
];

/// Calls refused with `EPERM` (not measured; tried by libraries or by an attack, which then
/// meets a plain error). The `stat` family: the standard library asks a file's size before
/// reading it whole and reads without when refused; the worker reads without asking.
const REFUSED: &[i64] = &[
    libc::SYS_unshare,
    libc::SYS_listen,
    libc::SYS_ioctl,
    libc::SYS_statx,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
];

pub(crate) fn dword(
    arg: u8,
    op: SeccompCmpOp,
    value: u64,
) -> Result<SeccompCondition, SandboxError> {
    Ok(SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Dword,
        op,
        value,
    )?)
}

pub(crate) fn qword(
    arg: u8,
    op: SeccompCmpOp,
    value: u64,
) -> Result<SeccompCondition, SandboxError> {
    Ok(SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Qword,
        op,
        value,
    )?)
}

pub(crate) fn flag(value: libc::c_int) -> u64 {
    u64::from(value.unsigned_abs())
}

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

/// `socket`'s type argument: the type is in the low four bits (`SOCK_TYPE_MASK`); the others
/// are flags (`SOCK_NONBLOCK`, `SOCK_CLOEXEC`).
pub(crate) const SOCK_TYPE_MASK: u64 = 0xf;

/// `prctl` options seen: `PR_SET_NAME` (a thread's name), `PR_GET_AUXV` (Linux 6.4; read by
/// CPU feature detection) and `PR_SET_NO_NEW_PRIVS` (set again before each of the sandbox's own
/// filters is installed: it only ever restricts).
const PRCTL_OPTIONS: [u64; 3] = [15, 0x4155_5856, 38];

/// `seccomp`'s `SECCOMP_SET_MODE_FILTER`: the sandbox installs its later filters once the first
/// is on; a filter only ever narrows what the process may do.
const SECCOMP_SET_MODE_FILTER: u64 = 1;

/// `fcntl` commands seen (`F_GETFD`, `F_DUPFD_CLOEXEC`) and the flag commands a library sets a
/// descriptor non-blocking or close-on-exec with (`F_SETFD`, `F_GETFL`, `F_SETFL`).
const FCNTL_COMMANDS: [libc::c_int; 5] = [
    libc::F_GETFD,
    libc::F_SETFD,
    libc::F_GETFL,
    libc::F_SETFL,
    libc::F_DUPFD_CLOEXEC,
];

/// The platform worker's profile under `policy`: `ALLOWED`, `REFUSED`, the rules every
/// worker has (`common_rules`), and `socket` (TCP streams over IPv4 or IPv6) and `connect` only
/// when the policy names TCP ports (an `swtpm` over TCP), else refused.
pub fn platform_worker(policy: &Policy) -> Result<Profile, SandboxError> {
    let profile = common_rules(Profile::new().allow(ALLOWED).refuse(REFUSED))?;
    if policy.tcp_connect.is_empty() {
        return Ok(profile.refuse(&[libc::SYS_socket, libc::SYS_connect]));
    }
    // socket(AF_INET or AF_INET6, SOCK_STREAM with any flags, 0 or IPPROTO_TCP); Landlock keeps
    // connect to the policy's ports.
    let mut sockets = Vec::new();
    for family in [libc::AF_INET, libc::AF_INET6] {
        for protocol in [0, libc::IPPROTO_TCP] {
            sockets.push(SeccompRule::new(vec![
                dword(0, SeccompCmpOp::Eq, flag(family))?,
                dword(
                    1,
                    SeccompCmpOp::MaskedEq(SOCK_TYPE_MASK),
                    flag(libc::SOCK_STREAM),
                )?,
                dword(2, SeccompCmpOp::Eq, flag(protocol))?,
            ])?);
        }
    }
    Ok(profile
        .allow_if(libc::SYS_socket, sockets)
        .allow(&[libc::SYS_connect]))
}

/// What every sandboxed worker needs, added to `profile`: [`RUNTIME`], and with argument rules
/// `clone` for
/// threads only (no namespace), `mmap`/`mprotect` never executable (every library is loaded
/// before the sandbox), `prctl` and `fcntl` (the commands above), `seccomp` adding a filter (the
/// sandbox's own later filters) and `tgkill` on this process (a panic's abort).
pub(crate) fn common_rules(profile: Profile) -> Result<Profile, SandboxError> {
    let mut profile = profile.allow(RUNTIME);
    let options = PRCTL_OPTIONS
        .iter()
        .map(|&o| Ok(SeccompRule::new(vec![dword(0, SeccompCmpOp::Eq, o)?])?))
        .collect::<Result<Vec<_>, SandboxError>>()?;
    profile = profile.allow_if(libc::SYS_prctl, options);
    let commands = FCNTL_COMMANDS
        .iter()
        .map(|&c| {
            Ok(SeccompRule::new(vec![dword(
                1,
                SeccompCmpOp::Eq,
                flag(c),
            )?])?)
        })
        .collect::<Result<Vec<_>, SandboxError>>()?;
    profile = profile.allow_if(libc::SYS_fcntl, commands);
    let mut no_namespace = vec![qword(
        0,
        SeccompCmpOp::MaskedEq(flag(libc::CLONE_THREAD)),
        flag(libc::CLONE_THREAD),
    )?];
    for ns in NAMESPACE_FLAGS {
        no_namespace.push(qword(0, SeccompCmpOp::MaskedEq(flag(ns)), 0)?);
    }
    profile = profile.allow_if(libc::SYS_clone, vec![SeccompRule::new(no_namespace)?]);
    let exec = flag(libc::PROT_EXEC);
    for call in [libc::SYS_mmap, libc::SYS_mprotect] {
        let rule = SeccompRule::new(vec![qword(2, SeccompCmpOp::MaskedEq(exec), 0)?])?;
        profile = profile.allow_if(call, vec![rule]);
    }
    profile = profile.allow_if(
        libc::SYS_seccomp,
        vec![SeccompRule::new(vec![dword(
            0,
            SeccompCmpOp::Eq,
            SECCOMP_SET_MODE_FILTER,
        )?])?],
    );
    let me = u64::from(std::process::id());
    profile = profile.allow_if(
        libc::SYS_tgkill,
        vec![SeccompRule::new(vec![dword(0, SeccompCmpOp::Eq, me)?])?],
    );
    Ok(profile)
}
