//! The Landlock part of the sandbox: every filesystem access handled, the policy's paths
//! allowed, TCP bind refused and TCP connect allowed to the policy's ports only, signals and
//! abstract Unix sockets scoped.
//!
//! Best effort, with one requirement. A kernel older than the rights asked for enforces what it
//! knows (Linux 5.13–6.6 have no network rules, 6.7–6.11 no scoping, ...), and a kernel without
//! Landlock enforces nothing: the worker still runs then, without filesystem confinement, and
//! says so in latchkeyd's log (seccomp still keeps it from sockets, `exec` and the rest; refusing
//! would leave such a machine with no platform authenticator). But when the policy lets the
//! process create TCP sockets (an `swtpm` reached over TCP), Landlock's network rules (ABI 4,
//! Linux 6.7) are all that keeps those sockets to the policy's ports — seccomp sees a
//! `connect`'s descriptor, not its address — so without them the sandbox is refused
//! ([`tcp_confinement`], [`SandboxError::TcpUnconfined`]) and the worker does not start.

use std::path::Path;

use landlock::{
    Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

use super::{LandlockOutcome, Policy, SandboxError};

/// The Landlock ABI whose rights we request (Linux 6.15); newer kernels enforce the same set.
pub const NEWEST_ABI: ABI = ABI::V7;

/// The first ABI with network rules (`LANDLOCK_ACCESS_NET_CONNECT_TCP`, Linux 6.7).
const NETWORK_ABI: ABI = ABI::V4;

/// Whether a sandbox may let the process create TCP sockets, given the Landlock ABI in force
/// (the lower of the kernel's and the one asked for): only when Landlock's network rules confine
/// them to the policy's ports.
pub fn tcp_confinement(enforced: ABI) -> Result<(), SandboxError> {
    if enforced >= NETWORK_ABI {
        Ok(())
    } else {
        Err(SandboxError::TcpUnconfined {
            abi: enforced as i32,
        })
    }
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

/// Restricts the calling thread (and its future threads) to `policy`; returns how much the
/// kernel enforces and the ABI in force.
pub(super) fn restrict(policy: &Policy) -> Result<(LandlockOutcome, ABI), SandboxError> {
    let abi = policy.landlock_abi;
    let all = AccessFs::from_all(abi);
    let read = AccessFs::from_read(abi);
    let device = (AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::IoctlDev) & all;
    let mut created = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)?;
    if abi >= NETWORK_ABI {
        created = created.handle_access(AccessNet::from_all(abi))?;
    }
    if abi >= ABI::V6 {
        created = created.scope(Scope::from_all(abi))?;
    }
    let mut created = created.create()?;
    for p in &policy.read_write {
        created = created.add_rule(rule(p, all)?)?;
    }
    for p in &policy.read_only {
        // A file gets only the file rights of `read` (Landlock refuses directory rights on it).
        let access = if p.is_dir() {
            read
        } else {
            read & AccessFs::from_file(abi)
        };
        created = created.add_rule(rule(p, access)?)?;
    }
    for p in &policy.devices {
        created = created.add_rule(rule(p, device)?)?;
    }
    if abi >= NETWORK_ABI {
        for &port in &policy.tcp_connect {
            created = created.add_rule(NetPort::new(port, AccessNet::ConnectTcp))?;
        }
    }
    let status = created.restrict_self()?;
    let outcome = match status.ruleset {
        RulesetStatus::FullyEnforced => LandlockOutcome::Full,
        RulesetStatus::PartiallyEnforced => LandlockOutcome::Partial,
        RulesetStatus::NotEnforced => LandlockOutcome::Unsupported,
    };
    let enforced = match outcome {
        LandlockOutcome::Unsupported => ABI::Unsupported,
        _ => ABI::from(status.landlock).min(abi),
    };
    Ok((outcome, enforced))
}
