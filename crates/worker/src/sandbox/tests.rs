use std::path::{Path, PathBuf};

use ::landlock::ABI;

use super::*;

#[test]
fn the_worker_policy_names_the_store_and_no_device_library_or_port() {
    let p = Policy::platform_worker(Path::new("/tmp/store"));
    assert_eq!(p.read_write, vec![PathBuf::from("/tmp/store")]);
    assert!(p.devices.is_empty());
    assert!(p.read_only.iter().all(|r| r == Path::new(VM_GENERATION_ID)));
    assert!(p.tcp_connect.is_empty());
    assert_eq!(p.landlock_abi, landlock::NEWEST_ABI);
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
fn tcp_needs_landlock_network_rules_from_abi_4() {
    for (abi, n) in [
        (ABI::Unsupported, 0),
        (ABI::V1, 1),
        (ABI::V2, 2),
        (ABI::V3, 3),
    ] {
        assert!(
            matches!(landlock::tcp_confinement(abi), Err(SandboxError::TcpUnconfined { abi }) if abi == n),
            "ABI {n}"
        );
    }
    for abi in [ABI::V4, ABI::V5, ABI::V6, ABI::V7] {
        assert!(landlock::tcp_confinement(abi).is_ok(), "{abi:?}");
    }
    let message = SandboxError::TcpUnconfined { abi: 3 }.to_string();
    assert!(
        message.contains("ABI 3") && message.contains("Linux 6.7"),
        "{message}"
    );
}

/// Calls no worker makes, and that must never be allowed to one.
const NEVER: &[i64] = &[
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_setns,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_kexec_load,
    libc::SYS_reboot,
    libc::SYS_pidfd_getfd,
    libc::SYS_kcmp,
    libc::SYS_fork,
    libc::SYS_vfork,
    libc::SYS_bind,
];

#[test]
fn the_platform_worker_profile_never_allows_exec_ptrace_mounts_or_namespaces() {
    let store = Path::new("/s");
    for policy in [
        Policy::platform_worker(store),
        Policy::platform_worker(store)
            .with_tcti("swtpm:port=4000")
            .unwrap(),
    ] {
        let profile = profile::platform_worker(&policy).unwrap();
        for &nr in NEVER {
            assert!(!profile.allows(nr), "{nr} allowed");
        }
        // Refused (EPERM) rather than fatal: libraries and tests try these.
        for nr in [libc::SYS_unshare, libc::SYS_listen] {
            assert!(profile.refuses(nr), "{nr}");
        }
        // Allowed only with some arguments (threads, not processes).
        assert!(profile.allows(libc::SYS_clone));
        seccomp::filters(&profile).unwrap();
    }
}

#[test]
fn sockets_and_connect_are_allowed_only_for_an_swtpm_over_tcp() {
    let file = profile::platform_worker(&Policy::platform_worker(Path::new("/s"))).unwrap();
    assert!(file.refuses(libc::SYS_socket));
    assert!(!file.allows(libc::SYS_connect));
    let tcp = profile::platform_worker(
        &Policy::platform_worker(Path::new("/s"))
            .with_tcti("swtpm:port=4000")
            .unwrap(),
    )
    .unwrap();
    assert!(tcp.allows(libc::SYS_socket));
    assert!(tcp.allows(libc::SYS_connect));
    assert!(!tcp.refuses(libc::SYS_socket));
}

#[test]
fn a_profile_entry_replaces_an_earlier_one_for_the_same_call() {
    let p = seccomp::Profile::new()
        .allow(&[libc::SYS_read])
        .refuse(&[libc::SYS_read]);
    assert!(p.refuses(libc::SYS_read) && !p.allows(libc::SYS_read));
    let p = p.allow(&[libc::SYS_read]);
    assert!(p.allows(libc::SYS_read) && !p.refuses(libc::SYS_read));
    let p = p.allow_if(libc::SYS_read, Vec::new());
    assert!(p.refuses(libc::SYS_read), "no rule: refused");
    assert_eq!(
        seccomp::Profile::new().named(),
        std::collections::BTreeSet::new()
    );
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
