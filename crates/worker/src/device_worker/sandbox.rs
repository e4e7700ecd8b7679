//! The device worker's own sandbox profile, applied by `latchkey-device-worker` before it reads
//! anything from latchkeyd and before it starts a thread (threads inherit both filters).
//!
//! 1. A user, mount, IPC and network namespace of its own (the session's network when `udp:`
//!    keys are named) whose root keeps sysfs's `class` and `devices`, `/dev` (its terminals and
//!    shared memory covered) and pcscd's socket, nothing else ([`super::namespace`]): no other
//!    named socket of the user's can be connected to, nor (in its own network namespace) an
//!    abstract one. Where the system refuses it the worker goes on without
//!    ([`Applied::namespace`]).
//! 2. `PR_SET_DUMPABLE = 0` (after the namespace: a non-dumpable process may not write its own
//!    `uid_map`).
//! 3. Landlock (best effort, as the platform worker's): every filesystem access is handled; the
//!    sysfs root may be read (hidraw enumeration: `class/hidraw`, report descriptors, uevents),
//!    the `/dev` root read, written and sent device ioctls (hidraw nodes, which come and go with
//!    hot-plug, so Landlock — which names existing files only — cannot be given them one by
//!    one; the user's own permissions still decide which nodes open). Nothing else: no home
//!    directory, no credential store, no configuration. TCP bind and connect are handled with
//!    no port allowed; signals and abstract Unix sockets are scoped. Connecting to a named Unix
//!    socket (virtual keys, pcscd's socket) is not something Landlock mediates: the namespace
//!    is what keeps the others out of reach.
//! 4. seccomp (`PR_SET_NO_NEW_PRIVS` first): the allow-list of what the worker was measured
//!    calling ([`super::profile::device_worker`], installed as the platform worker's is, by
//!    [`crate::sandbox::seccomp`]). A call it does not name kills the worker; sockets other than
//!    `AF_UNIX`, the uevent netlink socket and UDP, ioctls other than hidraw's, a `clone` that is
//!    not a thread or makes a namespace, `listen` and `accept` fail with `EPERM`; `clone3` fails
//!    with `ENOSYS` (its flags are in memory a filter cannot read), so threads are made with
//!    `clone`.

use std::path::Path;

use landlock::{
    Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

use super::namespace::{self, NamespaceError, Outcome, View};
use crate::sandbox::{LandlockOutcome, SandboxError};

/// The Landlock ABI whose rights are requested, as for the platform worker.
const LANDLOCK_ABI: ABI = ABI::V7;

/// What the device worker may reach: what its namespaces keep ([`View`]) is also what Landlock
/// lets it use (sysfs read; `/dev` read, written and sent device ioctls; each `None` without USB
/// discovery).
pub type DevicePolicy = View;

/// What [`apply`] put in force.
#[derive(Debug)]
pub struct Applied {
    /// The namespace, or why there is none.
    pub namespace: Outcome,
    /// How much of Landlock the kernel enforces.
    pub landlock: LandlockOutcome,
}

/// Why the sandbox could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum DeviceSandboxError {
    /// The namespace was half made.
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    /// Landlock or seccomp.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

/// Applies the device worker's sandbox to the calling thread and the threads it starts later.
/// Threads running already are not confined: the worker checks first that it runs none
/// ([`crate::sandbox::single_threaded`]), as the platform worker does.
pub fn apply(policy: &DevicePolicy) -> Result<Applied, DeviceSandboxError> {
    // Built before anything is confined: a profile that cannot be built leaves none applied.
    let profile = super::profile::device_worker()?;
    let namespace = namespace::enter(policy)?;
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| SandboxError::Dumpable(e.into()))?;
    let landlock = landlock(policy)?;
    crate::sandbox::seccomp::install(&profile)?;
    Ok(Applied {
        namespace,
        landlock,
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
    // A sysfs root that holds nothing the namespace keeps is not in the worker's root at all.
    if let Some(sysfs) = policy.sysfs.as_ref().filter(|p| p.exists()) {
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

#[cfg(test)]
mod tests {
    #[test]
    fn sockets_other_than_unix_netlink_and_udp_are_denied() {
        // Allowed with argument rules (the others fail with EPERM, checked in a sandboxed child
        // by tests/device_worker.rs), and the three filters build.
        let profile = super::super::profile::device_worker().unwrap();
        assert!(profile.allows(libc::SYS_socket));
        assert!(!profile.refuses(libc::SYS_socket));
        crate::sandbox::seccomp::filters(&profile).unwrap();
    }
}
