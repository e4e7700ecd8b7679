#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Where the worker's sandbox ends: a system call outside the seccomp allow-list kills the
//! process (checked in child processes, this test binary re-run, that apply the worker's own
//! `sandbox::apply` and profile and then make one call); TCP sockets are refused unless Landlock
//! can keep them to the TPM's ports (a kernel without Landlock, made by a seccomp filter that
//! answers `ENOSYS` to the Landlock calls as such a kernel does, and one of ABI 3, asked for by
//! the policy); and the real worker binary on a kernel without Landlock.

use std::ffi::OsStr;
use std::io::Read as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use latchkey_testkit::landlock_abi;
use latchkey_testkit::probe::{os_result, probes};
use latchkey_worker::protocol::{Message, Reply, MAX_MESSAGE, PROTOCOL_VERSION};
use latchkey_worker::sandbox::{self, Policy, SandboxError};
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
use socket2::{Domain, Socket, Type};

const WORKER: &str = env!("CARGO_BIN_EXE_latchkey-platform-worker");
const CHILD: &str = "LATCHKEY_LIMITS_CHILD";

/// Runs `test` of this binary in a child process with `CHILD=what` and a store of its own; its
/// exit status and output.
fn child(test: &str, what: &str) -> (std::process::ExitStatus, String) {
    let store = tempfile::tempdir().unwrap();
    let store = store.path().as_os_str();
    latchkey_testkit::probe::run(
        test,
        &[
            (OsStr::new(CHILD), OsStr::new(what)),
            (OsStr::new("LATCHKEY_LIMITS_STORE"), store),
        ],
    )
}

fn store() -> PathBuf {
    PathBuf::from(std::env::var_os("LATCHKEY_LIMITS_STORE").unwrap())
}

/// System calls the worker never makes, each made raw (arguments that would fail anyway).
const OUTSIDE: &[(&str, libc::c_long)] = &[
    ("ptrace", libc::SYS_ptrace),
    ("mount", libc::SYS_mount),
    ("execve", libc::SYS_execve),
    ("bpf", libc::SYS_bpf),
    ("setuid", libc::SYS_setuid),
    ("chdir", libc::SYS_chdir),
];

#[test]
fn a_call_outside_the_allow_list_kills_the_sandboxed_process() {
    for (name, _) in OUTSIDE {
        let (status, text) = child("outside_call_child", name);
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
    let described = sandbox::describe_exit(&std::process::ExitStatus::from_raw(libc::SIGSYS));
    assert!(described.is_some_and(|d| d.contains("allow-list")));
    assert_eq!(
        sandbox::describe_exit(&std::process::ExitStatus::from_raw(libc::SIGKILL)),
        None
    );
}

/// Not a test on its own: the child of the test above.
#[test]
#[ignore = "run in a child process by a_call_outside_the_allow_list_kills_the_sandboxed_process"]
fn outside_call_child() {
    let name = std::env::var(CHILD).unwrap();
    let nr = OUTSIDE.iter().find(|(n, _)| *n == name).unwrap().1;
    let policy = Policy::platform_worker(&store());
    let profile = sandbox::profile::platform_worker(&policy).unwrap();
    assert!(
        !profile.allows(nr) && !profile.refuses(nr),
        "{name} is named"
    );
    sandbox::apply(&policy, &profile).unwrap();
    println!("PROBE sandboxed {name}");
    // SAFETY: each call gets null or zero arguments, which the kernel rejects; the filter kills
    // the process before that.
    #[allow(unsafe_code)]
    let r = unsafe { libc::syscall(nr, 0, 0, 0, 0, 0) };
    println!("PROBE survived {}", os_result(r));
}

#[test]
fn refused_calls_fail_with_eperm_and_the_process_lives_on() {
    let (status, text) = child("refused_call_child", "");
    assert!(status.success(), "{status:?}\n{text}");
    let r = probes(&text);
    let eperm = libc::EPERM.to_string();
    assert_eq!(r["netlink_socket"], eperm, "{r:?}");
    assert_eq!(r["unix_socket"], eperm, "{r:?}");
    assert_eq!(r["inet_socket"], eperm, "no TCP without an swtpm: {r:?}");
    assert_eq!(r["fork"], eperm, "clone that is not a thread: {r:?}");
    assert_eq!(r["clone3"], libc::ENOSYS.to_string(), "{r:?}");
    assert_eq!(r["ioctl_tiocsti"], eperm, "{r:?}");
    assert_eq!(r["thread"], "ok", "{r:?}");
}

/// Not a test on its own: the child of the test above.
#[test]
#[ignore = "run in a child process by refused_calls_fail_with_eperm_and_the_process_lives_on"]
fn refused_call_child() {
    let policy = Policy::platform_worker(&store());
    let profile = sandbox::profile::platform_worker(&policy).unwrap();
    sandbox::apply(&policy, &profile).unwrap();
    let socket = |domain: libc::c_int, kind: libc::c_int| {
        // SAFETY: socket takes plain integers; a descriptor it returns is closed at once.
        #[allow(unsafe_code)]
        let fd = unsafe { libc::socket(domain, kind, 0) };
        if fd >= 0 {
            // SAFETY: a descriptor this function owns.
            #[allow(unsafe_code)]
            unsafe {
                libc::close(fd)
            };
        }
        os_result(libc::c_long::from(fd))
    };
    println!(
        "PROBE netlink_socket {}",
        socket(libc::AF_NETLINK, libc::SOCK_RAW)
    );
    println!(
        "PROBE unix_socket {}",
        socket(libc::AF_UNIX, libc::SOCK_SEQPACKET)
    );
    println!(
        "PROBE inet_socket {}",
        socket(libc::AF_INET, libc::SOCK_STREAM)
    );
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
    let mut c: libc::c_char = b'x' as libc::c_char;
    // SAFETY: ioctl on our own stdout with a pointer to a live byte; at worst it fails.
    #[allow(unsafe_code)]
    let r = unsafe { libc::ioctl(1, libc::TIOCSTI, &mut c as *mut libc::c_char) };
    println!("PROBE ioctl_tiocsti {}", os_result(libc::c_long::from(r)));
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

/// A seccomp filter that answers `ENOSYS` to Landlock's system calls, as a kernel without
/// Landlock does (the landlock crate then reports it unsupported).
fn no_landlock_filter() -> BpfProgram {
    let rules = [
        libc::SYS_landlock_create_ruleset,
        libc::SYS_landlock_add_rule,
        libc::SYS_landlock_restrict_self,
    ]
    .into_iter()
    .map(|nr| (nr, Vec::new()))
    .collect();
    SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS.unsigned_abs()),
        TargetArch::try_from(std::env::consts::ARCH).unwrap(),
    )
    .unwrap()
    .try_into()
    .unwrap()
}

#[test]
fn tcp_for_an_swtpm_needs_landlock_network_rules() {
    // No Landlock at all; Landlock of ABI 3 (Linux 6.1–6.6: no network rules); ABI 4.
    for (what, refused) in [("none", Some(0)), ("3", Some(3)), ("4", None)] {
        let (status, text) = child("tcp_landlock_child", what);
        assert!(status.success(), "{what}: {status:?}\n{text}");
        let r = probes(&text);
        match refused {
            Some(abi) => assert_eq!(
                r["apply"],
                format!("TcpUnconfined {abi}"),
                "Landlock {what}: TCP sockets would reach any port; refused: {r:?}"
            ),
            None if landlock_abi() >= 4 => {
                assert_eq!(r["apply"], "ok", "{r:?}");
                assert_eq!(r["other_port"], libc::EACCES.to_string(), "{r:?}");
            }
            None => assert_eq!(r["apply"], "TcpUnconfined 3", "kernel ABI < 4: {r:?}"),
        }
    }
    // Without TCP, an older ABI or no Landlock is tolerated (and logged by the worker).
    let (status, text) = child("tcp_landlock_child", "none-file");
    assert!(status.success(), "{status:?}\n{text}");
    assert_eq!(probes(&text)["apply"], "ok Unsupported", "{text}");
}

/// Not a test on its own: the child of the test above.
#[test]
#[ignore = "run in a child process by tcp_for_an_swtpm_needs_landlock_network_rules"]
fn tcp_landlock_child() {
    let what = std::env::var(CHILD).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other_port = other.local_addr().unwrap().port();
    let mut policy = Policy::platform_worker(&store());
    if what != "none-file" {
        policy = policy
            .with_tcti(&format!("swtpm:host=127.0.0.1,port={port}"))
            .unwrap();
    }
    match what.as_str() {
        "none" | "none-file" => seccompiler::apply_filter(&no_landlock_filter()).unwrap(),
        "3" => policy.landlock_abi = landlock::ABI::V3,
        _ => policy.landlock_abi = landlock::ABI::V4,
    }
    let profile = sandbox::profile::platform_worker(&policy).unwrap();
    match sandbox::apply(&policy, &profile) {
        Ok(status) if what == "none-file" => println!("PROBE apply ok {:?}", status.landlock),
        Ok(_) => {
            println!("PROBE apply ok");
            let connect = std::net::TcpStream::connect(("127.0.0.1", other_port));
            println!(
                "PROBE other_port {}",
                connect.map_or_else(
                    |e| e.raw_os_error().unwrap_or_default().to_string(),
                    |_| "ok".to_owned()
                )
            );
        }
        Err(SandboxError::TcpUnconfined { abi }) => println!("PROBE apply TcpUnconfined {abi}"),
        Err(e) => println!("PROBE apply {e}"),
    }
}

#[test]
fn on_a_kernel_without_landlock_the_file_store_worker_runs_and_says_so() {
    let store = tempfile::tempdir().unwrap();
    let (ours, theirs) = Socket::pair(Domain::UNIX, Type::SEQPACKET, None).unwrap();
    let filter = no_landlock_filter();
    let mut cmd = Command::new(WORKER);
    cmd.arg("--store")
        .arg(store.path())
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec the child only installs a filter built beforehand (prctl
    // and seccomp system calls, no allocation).
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || seccompiler::apply_filter(&filter).map_err(std::io::Error::other));
    }
    let mut child = cmd.spawn().unwrap();
    ours.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut buf = vec![0u8; MAX_MESSAGE + 1];
    let n = (&ours).read(&mut buf).unwrap();
    let ready = Message::<Reply>::decode(&buf[..n]).unwrap();
    assert!(
        matches!(ready.body, Reply::Ready { version, .. } if version == PROTOCOL_VERSION),
        "{ready:?}"
    );
    drop(ours);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(
        stderr.contains(
            "this kernel has no Landlock: the worker's filesystem access is not confined (taken \
             over, it could write any of the user's files)"
        ),
        "{stderr}"
    );
}
