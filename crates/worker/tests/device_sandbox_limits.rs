#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Where the device worker's sandbox ends, checked in child processes (this test binary re-run)
//! that apply the worker's own `device_worker::sandbox::apply` and then make system calls: a call
//! outside its measured seccomp allow-list kills the process; sockets and ioctls it has no use
//! for fail with `EPERM` while the ones it needs are made.

use std::os::unix::process::ExitStatusExt as _;

use latchkey_testkit::probe::{os_result, probes};

use latchkey_worker::device_worker::profile;
use latchkey_worker::device_worker::sandbox::{self, DevicePolicy};

const CHILD: &str = "LATCHKEY_DEVICE_LIMITS_CHILD";

/// Runs `test` of this binary in a child process with `CHILD=what`; its exit status and output.
fn child(test: &str, what: &str) -> (std::process::ExitStatus, String) {
    latchkey_testkit::probe::run(test, &[(CHILD, what)])
}

/// The worker's policy with USB discovery, as latchkeyd starts it.
fn policy() -> DevicePolicy {
    DevicePolicy {
        sysfs: Some("/sys".into()),
        dev: Some("/dev".into()),
        sockets: Vec::new(),
        host_network: false,
    }
}

/// System calls the device worker never makes, each made raw (arguments that would fail anyway).
const OUTSIDE: &[(&str, libc::c_long)] = &[
    ("ptrace", libc::SYS_ptrace),
    ("mount", libc::SYS_mount),
    ("execve", libc::SYS_execve),
    ("bpf", libc::SYS_bpf),
    ("setuid", libc::SYS_setuid),
    ("chdir", libc::SYS_chdir),
    ("unlink", libc::SYS_unlink),
];

#[test]
fn a_call_outside_the_device_workers_allow_list_kills_it() {
    for (name, _) in OUTSIDE {
        let (status, text) = child("device_outside_call_child", name);
        assert_eq!(
            status.signal(),
            Some(libc::SIGSYS),
            "{name}: killed by the seccomp filter, not {status:?}:\n{text}"
        );
        assert!(
            text.contains(&format!("PROBE sandboxed {name}")),
            "{name}: the sandbox was on before the call:\n{text}"
        );
        assert!(
            !text.contains("PROBE survived"),
            "{name}: the call returned:\n{text}"
        );
    }
}

/// Not a test on its own: the child of the test above.
#[test]
#[ignore = "run in a child process by a_call_outside_the_device_workers_allow_list_kills_it"]
fn device_outside_call_child() {
    let name = std::env::var(CHILD).unwrap();
    let nr = OUTSIDE.iter().find(|(n, _)| *n == name).unwrap().1;
    let profile = profile::device_worker().unwrap();
    assert!(
        !profile.allows(nr) && !profile.refuses(nr),
        "{name} is named"
    );
    sandbox::apply(&policy()).unwrap();
    println!("PROBE sandboxed {name}");
    // SAFETY: each call gets null or zero arguments, which the kernel rejects; the filter kills
    // the process before that.
    #[allow(unsafe_code)]
    let r = unsafe { libc::syscall(nr, 0, 0, 0, 0, 0) };
    println!("PROBE survived {}", os_result(r));
}

#[test]
fn what_the_device_worker_has_no_use_for_fails_with_eperm_and_what_it_needs_works() {
    let (status, text) = child("device_refused_call_child", "");
    assert!(status.success(), "{status:?}\n{text}");
    let r = probes(&text);
    let eperm = libc::EPERM.to_string();
    // Needed: virtual keys and pcscd (AF_UNIX), hot-plug (the uevent socket), udp: keys.
    assert_eq!(r["unix_seqpacket"], "ok", "{r:?}");
    assert_eq!(r["unix_stream"], "ok", "{r:?}");
    assert_eq!(r["udp"], "ok", "{r:?}");
    assert_eq!(r["udp6"], "ok", "{r:?}");
    assert_eq!(r["netlink_uevent"], "ok", "{r:?}");
    assert_eq!(r["thread"], "ok", "{r:?}");
    // Not needed: TCP, raw IP, other netlink families, packet sockets.
    assert_eq!(r["tcp"], eperm, "{r:?}");
    assert_eq!(r["tcp6"], eperm, "{r:?}");
    assert_eq!(r["raw_ip"], eperm, "{r:?}");
    assert_eq!(r["netlink_route"], eperm, "{r:?}");
    assert_eq!(r["packet"], eperm, "{r:?}");
    assert_eq!(r["listen"], eperm, "{r:?}");
    assert_eq!(r["ioctl_tiocsti"], eperm, "{r:?}");
    assert_eq!(r["fork"], eperm, "clone that is not a thread: {r:?}");
    assert_eq!(r["clone3"], libc::ENOSYS.to_string(), "{r:?}");
}

fn socket(domain: libc::c_int, kind: libc::c_int, protocol: libc::c_int) -> String {
    // SAFETY: socket takes plain integers; a descriptor it returns is closed at once.
    #[allow(unsafe_code)]
    let fd = unsafe { libc::socket(domain, kind, protocol) };
    if fd >= 0 {
        // SAFETY: a descriptor this function owns.
        #[allow(unsafe_code)]
        unsafe {
            libc::close(fd)
        };
    }
    os_result(libc::c_long::from(fd))
}

/// Not a test on its own: the child of the test above.
#[test]
#[ignore = "run in a child process by what_the_device_worker_has_no_use_for_fails_with_eperm_and_what_it_needs_works"]
fn device_refused_call_child() {
    sandbox::apply(&policy()).unwrap();
    let cloexec = libc::SOCK_CLOEXEC;
    for (name, domain, kind, protocol) in [
        ("unix_seqpacket", libc::AF_UNIX, libc::SOCK_SEQPACKET, 0),
        ("unix_stream", libc::AF_UNIX, libc::SOCK_STREAM, 0),
        ("udp", libc::AF_INET, libc::SOCK_DGRAM, 0),
        ("udp6", libc::AF_INET6, libc::SOCK_DGRAM, 0),
        // NETLINK_KOBJECT_UEVENT.
        ("netlink_uevent", libc::AF_NETLINK, libc::SOCK_RAW, 15),
        ("tcp", libc::AF_INET, libc::SOCK_STREAM, 0),
        ("tcp6", libc::AF_INET6, libc::SOCK_STREAM, 0),
        ("raw_ip", libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP),
        // NETLINK_ROUTE.
        ("netlink_route", libc::AF_NETLINK, libc::SOCK_RAW, 0),
        ("packet", libc::AF_PACKET, libc::SOCK_RAW, 0),
    ] {
        println!("PROBE {name} {}", socket(domain, kind | cloexec, protocol));
    }
    // SAFETY: listen on a descriptor that is not a socket: refused before the kernel looks.
    #[allow(unsafe_code)]
    let r = unsafe { libc::listen(0, 1) };
    println!("PROBE listen {}", os_result(libc::c_long::from(r)));
    let mut c: libc::c_char = b'x' as libc::c_char;
    // SAFETY: ioctl on our own stdout with a pointer to a live byte; at worst it fails.
    #[allow(unsafe_code)]
    let r = unsafe { libc::ioctl(1, libc::TIOCSTI, &mut c as *mut libc::c_char) };
    println!("PROBE ioctl_tiocsti {}", os_result(libc::c_long::from(r)));
    // SAFETY: a fork-like clone with SIGCHLD; a child that got through exits at once.
    #[allow(unsafe_code)]
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::c_long::from(libc::SIGCHLD),
            0,
            0,
            0,
            0,
        )
    };
    if r == 0 {
        // SAFETY: in the child; leave without running anything of the parent's.
        #[allow(unsafe_code)]
        unsafe {
            libc::_exit(0)
        };
    }
    println!("PROBE fork {}", os_result(r));
    // SAFETY: clone3 with a null argument structure: refused before the kernel reads it.
    #[allow(unsafe_code)]
    let r = unsafe { libc::syscall(libc::SYS_clone3, 0, 0) };
    println!("PROBE clone3 {}", os_result(r));
    let thread = std::thread::spawn(|| 7).join().map(|n| n == 7);
    println!(
        "PROBE thread {}",
        if matches!(thread, Ok(true)) {
            "ok"
        } else {
            "failed"
        }
    );
}

/// The real worker binary under a seccomp filter that refuses `mount` with `EPERM`, as a systemd
/// unit without the calls given back (or a security module refusing the step after `unshare`)
/// does: its namespace cannot be made whole, and it says so; it still runs, in a network
/// namespace of its own (no abstract socket of the session's: ECONNREFUSED), with Landlock (its
/// root refused: EACCES), and without its own root a named socket beside it is reachable — what
/// its warning says.
#[test]
fn a_refused_mount_leaves_the_worker_running_without_its_root_but_with_its_network_and_landlock() {
    use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
    use std::os::linux::net::SocketAddrExt as _;
    use std::os::unix::net::{SocketAddr, UnixListener};
    use std::os::unix::process::CommandExt as _;

    let dir = tempfile::tempdir().unwrap();
    let bus = dir.path().join("bus");
    let _bus = UnixListener::bind(&bus).unwrap();
    let name = format!("latchkey-refused-mount-{}", std::process::id());
    let _abstract =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
    let probe = |path: &std::path::Path| {
        let filter: BpfProgram = SeccompFilter::new(
            [(libc::SYS_mount, Vec::new())].into_iter().collect(),
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EPERM.unsigned_abs()),
            TargetArch::try_from(std::env::consts::ARCH).unwrap(),
        )
        .unwrap()
        .try_into()
        .unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey-device-worker"));
        cmd.arg("--sandbox-probe").arg(path);
        // SAFETY: between fork and exec the child only installs a filter built beforehand
        // (prctl and seccomp system calls, no allocation).
        #[allow(unsafe_code)]
        unsafe {
            cmd.pre_exec(move || seccompiler::apply_filter(&filter).map_err(std::io::Error::other));
        }
        let out = cmd.output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = probe(std::path::Path::new(&format!("@{name}")));
    assert!(
        said.starts_with("namespace: none (private mounts: Operation not permitted (os error 1)); own network namespace: yes\n"),
        "{said}"
    );
    assert!(said.contains("Connection refused (os error 111)"), "{said}");
    let said = probe(std::path::Path::new("/"));
    assert!(
        said.contains("/: Permission denied (os error 13)"),
        "{said}"
    );
    let said = probe(&bus);
    assert!(said.contains("reachable"), "{said}");
}
