//! The device worker's seccomp profile: the system calls it was measured making once sandboxed,
//! and nothing else (the mechanism, and what happens to other calls, is
//! [`crate::sandbox::seccomp`]).
//!
//! Measured with `scripts/worker-syscalls.sh device`, which runs the worker crate's
//! `device_worker` suite (the sandbox probe, a `unix:` virtual key found and driven through the
//! worker, a key answering garbage, a worker killed under a request) and latchkeyd's
//! `device_worker`, `routing` and `nfc` suites (security keys routed through latchkeyd's device
//! worker, PINs with retries, a card on a vpcd reader through pcscd) with every worker under
//! `strace -f -ff`, and lists what each `latchkey-device-worker` called after its last
//! `seccomp()` (x86-64, Debian 12's glibc 2.36, Rust 1.95, libpcsclite 1.9.9): 36 workers in the
//! run after the worker's namespace and latchkeyd's broker came; counts from it: `poll` 1186,
//! `sendto` 976, `futex` 689, `recvfrom` 640, `read` 405, `setsockopt` 385, `mmap`/`mprotect`
//! 282/283, `newfstatat` 215, `clone` 108 (`clone3` 108, answered `ENOSYS`), `recvmsg` 33 and
//! `getsockopt` 32 (the broker's answers), `socket`/`connect` 19 (pcscd's stream socket only:
//! latchkeyd connects the `unix:` keys), `ioctl` 2 (`TCGETS`, refused)… Re-measure after
//! upgrading the toolchain, glibc or libpcsclite, and add what is new here with the reason.
//!
//! A few calls were not seen in that run but are on paths the worker takes where this machine
//! has no such device; each is marked *unmeasured* with its reason (no `/dev/uhid` and no USB
//! here, so no hidraw node, no uevent and no UDP virtual key was in those suites).

use seccompiler::{SeccompCmpOp, SeccompRule};

use crate::sandbox::profile::{common_rules, dword, flag, SOCK_TYPE_MASK};
use crate::sandbox::{Profile, SandboxError};

/// Calls allowed with any arguments.
const ALLOWED: &[i64] = &[
    // latchkeyd's link (an inherited SOCK_SEQPACKET socket), keys' sockets, pcscd's socket and
    // hidraw nodes (opened read-write under Landlock's `/dev` rule).
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_recvfrom,
    libc::SYS_sendto,
    libc::SYS_setsockopt,
    libc::SYS_connect,
    libc::SYS_openat,
    libc::SYS_close,
    libc::SYS_poll,
    // latchkeyd's broker answers with a `unix:` key's connected socket attached (SCM_RIGHTS,
    // `device_worker::broker`), whose type is checked (`SO_TYPE`) before it is used.
    libc::SYS_recvmsg,
    libc::SYS_getsockopt,
    // A key's socket path is checked to be a socket (`symlink_metadata`); the standard library
    // asks a file's size before reading it whole.
    libc::SYS_newfstatat,
    libc::SYS_statx,
    // Unmeasured (no hidraw here): USB discovery lists `class/hidraw` in sysfs; the uevent
    // socket is bound to its multicast group, a UDP virtual key's socket to a loopback port;
    // without netlink, hot-plug watches `/dev` with inotify.
    libc::SYS_getdents64,
    libc::SYS_bind,
    libc::SYS_inotify_init1,
    libc::SYS_inotify_add_watch,
    // Pauses between a key's retries (threads: one per `Acquire`, one per opened key, under
    // [`common_rules`]).
    libc::SYS_clock_nanosleep,
];

/// Calls refused with `EPERM` (not measured): a server socket, or a new namespace, is never
/// the worker's to make; a caller should see them refused rather than be killed for trying.
const REFUSED: &[i64] = &[
    libc::SYS_listen,
    libc::SYS_accept,
    libc::SYS_accept4,
    libc::SYS_unshare,
];

/// `NETLINK_KOBJECT_UEVENT` (linux/netlink.h): the kernel's device events.
const NETLINK_KOBJECT_UEVENT: u64 = 15;

/// The device worker's profile: `ALLOWED`, `REFUSED`, what every worker has
/// (`common_rules`: the runtime's calls, threads, no executable memory, `prctl`, `fcntl`,
/// `seccomp`, `tgkill`), and
/// with argument rules `socket` (any `AF_UNIX` socket: seqpacket virtual keys, pcscd's stream;
/// the kernel's uevent netlink socket; IPv4 or IPv6 datagram sockets for `udp:` virtual keys —
/// every other socket fails with `EPERM`) and `ioctl` (the hidraw requests
/// [`latchkey_transport::hidraw::IOCTL_REQUESTS`] only; any other, a terminal's included, fails
/// with `EPERM`).
pub fn device_worker() -> Result<Profile, SandboxError> {
    let profile = common_rules(Profile::new().allow(ALLOWED).refuse(REFUSED))?;
    let mut sockets = vec![
        SeccompRule::new(vec![dword(0, SeccompCmpOp::Eq, flag(libc::AF_UNIX))?])?,
        SeccompRule::new(vec![
            dword(0, SeccompCmpOp::Eq, flag(libc::AF_NETLINK))?,
            dword(2, SeccompCmpOp::Eq, NETLINK_KOBJECT_UEVENT)?,
        ])?,
    ];
    for family in [libc::AF_INET, libc::AF_INET6] {
        sockets.push(SeccompRule::new(vec![
            dword(0, SeccompCmpOp::Eq, flag(family))?,
            dword(
                1,
                SeccompCmpOp::MaskedEq(SOCK_TYPE_MASK),
                flag(libc::SOCK_DGRAM),
            )?,
        ])?);
    }
    let ioctls = latchkey_transport::hidraw::IOCTL_REQUESTS
        .iter()
        .map(|&request| {
            Ok(SeccompRule::new(vec![dword(
                1,
                SeccompCmpOp::Eq,
                u64::from(request),
            )?])?)
        })
        .collect::<Result<Vec<_>, SandboxError>>()?;
    Ok(profile
        .allow_if(libc::SYS_socket, sockets)
        .allow_if(libc::SYS_ioctl, ioctls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_allows_what_was_measured_and_names_the_rest_refused() {
        let p = device_worker().unwrap();
        for call in [
            libc::SYS_socket,
            libc::SYS_ioctl,
            libc::SYS_clone,
            libc::SYS_poll,
            libc::SYS_sendto,
        ] {
            assert!(p.allows(call), "{call}");
        }
        for call in [libc::SYS_listen, libc::SYS_accept4, libc::SYS_unshare] {
            assert!(p.refuses(call), "{call}");
        }
        for call in [
            libc::SYS_execve,
            libc::SYS_ptrace,
            libc::SYS_mount,
            libc::SYS_bpf,
        ] {
            assert!(
                !p.allows(call) && !p.refuses(call),
                "{call}: not named, so it kills"
            );
        }
        // The filters build.
        crate::sandbox::seccomp::filters(&p).unwrap();
    }
}
