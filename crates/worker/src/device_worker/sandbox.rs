//! The device worker's own sandbox profile, applied by `latchkey-device-worker` before it reads
//! anything from latchkeyd and before it starts a thread (threads inherit both filters).
//!
//! 1. `PR_SET_DUMPABLE = 0`.
//! 2. Landlock (best effort, as the platform worker's): every filesystem access is handled; the
//!    sysfs root may be read (hidraw enumeration: `class/hidraw`, report descriptors, uevents),
//!    the `/dev` root read, written and sent device ioctls (hidraw nodes, which come and go with
//!    hot-plug, so Landlock — which names existing files only — cannot be given them one by
//!    one; the user's own permissions still decide which nodes open). Nothing else: no home
//!    directory, no credential store, no configuration. TCP bind and connect are handled with
//!    no port allowed; signals and abstract Unix sockets are scoped. Connecting to a named Unix
//!    socket (virtual keys, pcscd's socket) is not something Landlock mediates.
//! 3. seccomp (`PR_SET_NO_NEW_PRIVS` first), a deny list returning `EPERM`: `execve`,
//!    `execveat`, `ptrace`, `process_vm_*`, `pidfd_getfd`, `kcmp`, the mount family, `chroot`,
//!    `pivot_root`, `unshare`, `setns`, `bpf`, `perf_event_open`, `userfaultfd`, `io_uring_*`,
//!    keyrings, module loading, `kexec_*`, `reboot`, `swap*`, `acct`, `listen`, `accept`,
//!    `accept4`; `socket` of any family but `AF_UNIX` (seqpacket virtual keys, pcscd),
//!    `AF_NETLINK` (hot-plug uevents) and datagram `AF_INET`/`AF_INET6` (UDP virtual keys);
//!    `clone` with a namespace flag; every x32 system call on x86-64. `clone3` fails with
//!    `ENOSYS` (its flags are in memory a filter cannot read), so threads are made with `clone`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use landlock::{
    Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::sandbox::{LandlockOutcome, SandboxError};

/// The Landlock ABI whose rights are requested, as for the platform worker.
const LANDLOCK_ABI: ABI = ABI::V7;

/// What the device worker may reach on the filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePolicy {
    /// Read only: the sysfs root (`None` without USB discovery).
    pub sysfs: Option<PathBuf>,
    /// Read, write, device ioctls: the `/dev` root (`None` without USB discovery).
    pub dev: Option<PathBuf>,
}

/// Applies the device worker's sandbox to the calling thread and the threads it starts later.
pub fn apply(policy: &DevicePolicy) -> Result<LandlockOutcome, SandboxError> {
    crate::sandbox::single_threaded()?;
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| SandboxError::Dumpable(e.into()))?;
    let landlock = landlock(policy)?;
    let deny = deny_filter()?;
    let clone3 = single_filter(libc::SYS_clone3, libc::ENOSYS)?;
    seccompiler::apply_filter(&deny)?;
    seccompiler::apply_filter(&clone3)?;
    Ok(landlock)
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

fn landlock(policy: &DevicePolicy) -> Result<LandlockOutcome, SandboxError> {
    let all = AccessFs::from_all(LANDLOCK_ABI);
    let read = AccessFs::from_read(LANDLOCK_ABI);
    let device = read | AccessFs::WriteFile | AccessFs::IoctlDev;
    let mut created = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)?
        .handle_access(AccessNet::from_all(LANDLOCK_ABI))?
        .scope(Scope::from_all(LANDLOCK_ABI))?
        .create()?;
    if let Some(sysfs) = &policy.sysfs {
        created = created.add_rule(rule(sysfs, read)?)?;
    }
    if let Some(dev) = &policy.dev {
        created = created.add_rule(rule(dev, device)?)?;
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
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_mount_setattr,
    libc::SYS_chroot,
    libc::SYS_pivot_root,
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
    libc::SYS_listen,
    libc::SYS_accept,
    libc::SYS_accept4,
];

/// The socket type bits of `socket`'s second argument.
const SOCK_TYPE_MASK: u64 = 0xf;

/// `socket(domain, type, protocol)` rules, any of which denies: a family other than the four
/// allowed, or an IP socket that is not a datagram one.
fn socket_rules() -> Result<Vec<SeccompRule>, SandboxError> {
    let dword = |arg, op, value| SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value);
    let family = |f: libc::c_int| u64::from(f.unsigned_abs());
    let dgram = u64::from(libc::SOCK_DGRAM.unsigned_abs());
    let mut rules = vec![SeccompRule::new(vec![
        dword(0, SeccompCmpOp::Ne, family(libc::AF_UNIX))?,
        dword(0, SeccompCmpOp::Ne, family(libc::AF_NETLINK))?,
        dword(0, SeccompCmpOp::Ne, family(libc::AF_INET))?,
        dword(0, SeccompCmpOp::Ne, family(libc::AF_INET6))?,
    ])?];
    for ip in [libc::AF_INET, libc::AF_INET6] {
        for kind in (0..=SOCK_TYPE_MASK).filter(|&k| k != dgram) {
            rules.push(SeccompRule::new(vec![
                dword(0, SeccompCmpOp::Eq, family(ip))?,
                dword(1, SeccompCmpOp::MaskedEq(SOCK_TYPE_MASK), kind)?,
            ])?);
        }
    }
    Ok(rules)
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

fn arch() -> Result<TargetArch, SandboxError> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| SandboxError::Arch(std::env::consts::ARCH))
}

/// The deny-list filter (`EPERM`).
fn deny_filter() -> Result<BpfProgram, SandboxError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &nr in DENIED {
        rules.insert(nr, Vec::new());
    }
    rules.insert(libc::SYS_socket, socket_rules()?);
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
    // x32 system calls would side-step the argument rules written for the 64-bit numbers:
    // every x32 number of a rule above is denied outright (the worker never makes one).
    #[cfg(target_arch = "x86_64")]
    {
        let x32: Vec<i64> = rules.keys().map(|nr| nr | X32_BIT).collect();
        for nr in x32 {
            rules.insert(nr, Vec::new());
        }
    }
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM.unsigned_abs()),
        arch()?,
    )?;
    Ok(filter.try_into()?)
}

/// A filter failing system call `nr` with `errno`.
fn single_filter(nr: i64, errno: libc::c_int) -> Result<BpfProgram, SandboxError> {
    let rules = BTreeMap::from([(nr, Vec::new())]);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno.unsigned_abs()),
        arch()?,
    )?;
    Ok(filter.try_into()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_other_than_unix_netlink_and_udp_are_denied() {
        // One rule for the family, and for each of IPv4 and IPv6 the 15 non-datagram types.
        assert_eq!(socket_rules().unwrap().len(), 1 + 2 * 15);
        deny_filter().unwrap();
    }
}
