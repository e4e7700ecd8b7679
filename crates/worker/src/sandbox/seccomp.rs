//! A process's seccomp profile ([`Profile`]: an allow-list, one per kind of worker) turned into
//! the filters the kernel runs, and installed.
//!
//! Three filters are stacked; the kernel takes the strictest answer of all (a kill over an error
//! over allowing), and among errors the one of the filter installed last:
//!
//! 1. **the allow-list**: a call the profile names (allowed, allowed with some arguments, or
//!    refused) passes on to the next filters; any other call **kills the process**
//!    (`SECCOMP_RET_KILL_PROCESS`). A kill, not an error: a worker that makes a call it was never
//!    measured making is doing something it was not written to do, and an error code would let
//!    an attack probe on. The cost is that a library update that starts making a new call kills
//!    the worker until the profile names it; latchkeyd then logs that the worker was killed by
//!    `SIGSYS` ([`describe_exit`]) and the kernel's audit log (`type=SECCOMP`, `syscall=`) names
//!    the call — `scripts/worker-syscalls.sh` re-measures. Another architecture's calls (the
//!    32-bit ABI) kill too. On x86-64 every x32 call (number with bit 30 set) passes, to be
//!    refused by the next filter.
//! 2. **arguments**: allowed calls pass; a call allowed with some arguments passes when one of
//!    its rules matches; every other named call (a refused one, an allowed one with other
//!    arguments, any x32 call) fails with `EPERM`. Refused calls are those a library or the
//!    standard library may try and copes with failing (or that a caller should see refused
//!    rather than be killed for: a new socket of another family, a `clone` that is not a
//!    thread).
//! 3. `clone3` fails with `ENOSYS` (its flags are in memory a filter cannot read), so the C
//!    library falls back to `clone`, whose flags the second filter checks.

use std::collections::{BTreeMap, BTreeSet};

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, SeccompRule, TargetArch};

use super::SandboxError;

/// The x32 ABI's bit in x86-64 system call numbers.
#[cfg(target_arch = "x86_64")]
const X32_BIT: u32 = 0x4000_0000;

/// The system calls one kind of process may make (see the module documentation for what
/// happens to the others). Build it with [`Profile::allow`], [`Profile::allow_if`] and
/// [`Profile::refuse`]; a later entry for the same call replaces an earlier one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// Allowed calls and their rules (an empty list: any arguments; else any rule that matches).
    allowed: BTreeMap<i64, Vec<SeccompRule>>,
    /// Calls that fail with `EPERM` whatever their arguments.
    refused: BTreeSet<i64>,
}

impl Profile {
    /// A profile that allows nothing: every call kills the process.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows `calls` with any arguments.
    pub fn allow(mut self, calls: &[i64]) -> Self {
        for &nr in calls {
            self.refused.remove(&nr);
            self.allowed.insert(nr, Vec::new());
        }
        self
    }

    /// Allows `call` when one of `rules` matches its arguments; with other arguments it fails
    /// with `EPERM`. `rules` must not be empty (that would be [`Profile::allow`]).
    pub fn allow_if(mut self, call: i64, rules: Vec<SeccompRule>) -> Self {
        self.refused.remove(&call);
        if rules.is_empty() {
            self.refused.insert(call);
            self.allowed.remove(&call);
        } else {
            self.allowed.insert(call, rules);
        }
        self
    }

    /// Makes `calls` fail with `EPERM` instead of killing the process.
    pub fn refuse(mut self, calls: &[i64]) -> Self {
        for &nr in calls {
            self.allowed.remove(&nr);
            self.refused.insert(nr);
        }
        self
    }

    /// Whether `call` may be made with some arguments.
    pub fn allows(&self, call: i64) -> bool {
        self.allowed.contains_key(&call)
    }

    /// Whether `call` fails with `EPERM` whatever its arguments.
    pub fn refuses(&self, call: i64) -> bool {
        self.refused.contains(&call)
    }

    /// Every call the profile names (allowed or refused), without x32 variants.
    pub fn named(&self) -> BTreeSet<i64> {
        self.allowed
            .keys()
            .chain(self.refused.iter())
            .copied()
            .collect()
    }

    /// The allow-list filter: named calls (and on x86-64 every x32 call) pass, others kill.
    fn allow_list_filter(&self) -> Result<BpfProgram, SandboxError> {
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        for nr in self.named() {
            rules.insert(nr, Vec::new());
        }
        // clone3 always reaches the last filter, which answers ENOSYS.
        rules.insert(libc::SYS_clone3, Vec::new());
        let program = program(rules, SeccompAction::KillProcess, SeccompAction::Allow)?;
        #[cfg(target_arch = "x86_64")]
        let program = x32_passes(program);
        Ok(program)
    }

    /// The argument filter: allowed calls (with a matching rule) pass, other calls `EPERM`.
    fn argument_filter(&self) -> Result<BpfProgram, SandboxError> {
        program(
            self.allowed.clone(),
            SeccompAction::Errno(libc::EPERM.unsigned_abs()),
            SeccompAction::Allow,
        )
    }
}

/// `program` preceded by: an x32 call (number with [`X32_BIT`]) passes, to the argument filter,
/// which names none and so refuses every one with `EPERM` (the worker is a 64-bit program and
/// never makes one; argument rules written for the 64-bit numbers would not see them). Not a
/// kill, only because a denial is enough. seccompiler matches numbers one by one, so these two
/// classic BPF instructions are written here (linux/filter.h, linux/seccomp.h): load the number,
/// and if it has the bit, allow; the jumps in `program` are relative, so it runs unchanged after.
#[cfg(target_arch = "x86_64")]
fn x32_passes(program: BpfProgram) -> BpfProgram {
    use seccompiler::sock_filter;
    // BPF_LD | BPF_W | BPF_ABS; BPF_JMP | BPF_JSET | BPF_K; BPF_RET | BPF_K.
    const LD_W_ABS: u16 = 0x20;
    const JMP_JSET_K: u16 = 0x45;
    const RET_K: u16 = 0x06;
    const NR_OFFSET: u32 = 0;
    const RET_ALLOW: u32 = 0x7fff_0000;
    let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    let mut out = vec![
        op(LD_W_ABS, 0, 0, NR_OFFSET),
        op(JMP_JSET_K, 0, 1, X32_BIT),
        op(RET_K, 0, 0, RET_ALLOW),
    ];
    out.extend(program);
    out
}

fn arch() -> Result<TargetArch, SandboxError> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| SandboxError::Arch(std::env::consts::ARCH))
}

fn program(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    mismatch: SeccompAction,
    matched: SeccompAction,
) -> Result<BpfProgram, SandboxError> {
    // seccompiler kills calls of another architecture (the process's own ABI only).
    Ok(SeccompFilter::new(rules, mismatch, matched, arch()?)?.try_into()?)
}

/// `clone3` → `ENOSYS`, so callers fall back to `clone`.
fn clone3_filter() -> Result<BpfProgram, SandboxError> {
    program(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS.unsigned_abs()),
    )
}

/// The filters of `profile`, in the order they are installed.
pub(crate) fn filters(profile: &Profile) -> Result<[BpfProgram; 3], SandboxError> {
    Ok([
        profile.allow_list_filter()?,
        profile.argument_filter()?,
        clone3_filter()?,
    ])
}

/// Installs `profile`'s filters on the calling thread (threads it starts later inherit them).
pub(crate) fn install(profile: &Profile) -> Result<(), SandboxError> {
    // All built first: one that cannot be built leaves none installed.
    let filters = filters(profile)?;
    // Every call sets PR_SET_NO_NEW_PRIVS first, which installing a filter unprivileged requires.
    for filter in &filters {
        seccompiler::apply_filter(filter)?;
    }
    Ok(())
}

/// A line for the log when a sandboxed process ended on a signal its seccomp filter sends
/// (`SIGSYS`: it made a call outside its allow-list), else `None`.
pub fn describe_exit(status: &std::process::ExitStatus) -> Option<&'static str> {
    use std::os::unix::process::ExitStatusExt as _;
    (status.signal() == Some(libc::SIGSYS)).then_some(
        "killed by its seccomp filter (SIGSYS): it made a system call outside its allow-list; \
         the kernel's audit log names it (type=SECCOMP syscall=N), and \
         scripts/worker-syscalls.sh measures what the worker calls",
    )
}
