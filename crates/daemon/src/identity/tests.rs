use super::*;

fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

#[test]
fn identifies_own_process_by_pid() {
    let me = std::process::id();
    let id = identify(
        PeerCredentials {
            pid: Some(me),
            pidfd: None,
            uid: Some(uid()),
        },
        uid(),
    )
    .unwrap();
    assert_eq!(id.pid, me);
    let exe = std::env::current_exe().unwrap();
    assert_eq!(id.executable.as_deref(), Some(exe.as_path()));
    assert!(id.executable_is(&exe));
    assert!(!id.executable_is(Path::new("/bin/sh")));
    assert!(id.same_mount_namespace);
    assert_eq!(id.flatpak_app_id, None);
}

#[test]
fn pidfd_path_matches_pid_path() {
    let me = std::process::id();
    let fd = open_pidfd(me).unwrap();
    let a = identify(
        PeerCredentials {
            pid: Some(me),
            pidfd: Some(fd),
            uid: None,
        },
        uid(),
    )
    .unwrap();
    let b = identify(
        PeerCredentials {
            pid: Some(me),
            pidfd: None,
            uid: None,
        },
        uid(),
    )
    .unwrap();
    assert_eq!(a, b);
}

#[test]
fn pidfd_contradicting_pid_is_refused() {
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let fd = open_pidfd(child.id()).unwrap();
    let me = std::process::id();
    let r = identify(
        PeerCredentials {
            pid: Some(me),
            pidfd: Some(fd),
            uid: None,
        },
        uid(),
    );
    assert_eq!(
        r,
        Err(IdentityError::Contradiction {
            pid: me,
            pidfd_pid: Some(child.id())
        })
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn dead_process_pidfd_is_refused() {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    let fd = open_pidfd(pid).unwrap();
    child.wait().unwrap();
    let r = identify(
        PeerCredentials {
            pid: Some(pid),
            pidfd: Some(fd),
            uid: None,
        },
        uid(),
    );
    assert_eq!(
        r,
        Err(IdentityError::Contradiction {
            pid,
            pidfd_pid: None
        })
    );
    let fd = open_pidfd(std::process::id()).unwrap();
    drop(fd);
}

#[test]
fn other_user_and_missing_process_are_refused() {
    assert_eq!(
        identify(
            PeerCredentials {
                pid: Some(1),
                pidfd: None,
                uid: Some(uid() + 1)
            },
            uid()
        ),
        Err(IdentityError::OtherUser(uid() + 1))
    );
    assert_eq!(
        identify(PeerCredentials::default(), uid()),
        Err(IdentityError::NoProcess)
    );
}
