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

/// A stand-in for `/proc/PID` of a process running this test binary: its cgroup is `cgroup`, its
/// AppArmor label `label` (none: no AppArmor), and its mount namespace ours or another.
fn fake_proc(cgroup: &str, label: Option<&str>, own_mount_namespace: bool) -> tempfile::TempDir {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    symlink(std::env::current_exe().unwrap(), p.join("exe")).unwrap();
    std::fs::create_dir(p.join("ns")).unwrap();
    if own_mount_namespace {
        symlink("/proc/self/ns/mnt", p.join("ns/mnt")).unwrap();
    } else {
        std::fs::write(p.join("ns/mnt"), "").unwrap();
    }
    let root = p.join("rootfs");
    std::fs::create_dir(&root).unwrap();
    symlink(&root, p.join("root")).unwrap();
    std::fs::write(p.join("cgroup"), format!("0::{cgroup}\n")).unwrap();
    std::fs::create_dir(p.join("attr")).unwrap();
    if let Some(label) = label {
        std::fs::write(p.join("attr/current"), label).unwrap();
    }
    dir
}

fn read_fake(dir: &tempfile::TempDir) -> CallerIdentity {
    let stat = parse::ProcStat {
        ppid: 1,
        start_time: 7,
    };
    read_identity_in(dir.path(), 4242, stat, &dir.path().join("snapd-ns")).unwrap()
}

/// Makes the fake process's mount namespace the one snapd preserved for `snap` (`per_user`: the
/// per-user `NAME.UID.mnt`), as snap-confine leaves it in `/run/snapd/ns`.
fn in_snapd_namespace(dir: &tempfile::TempDir, snap: &str, per_user: bool) {
    let ns = dir.path().join("snapd-ns");
    std::fs::create_dir_all(&ns).unwrap();
    let file = if per_user {
        format!("{snap}.{}.mnt", rustix::process::getuid().as_raw())
    } else {
        format!("{snap}.mnt")
    };
    std::fs::hard_link(dir.path().join("ns/mnt"), ns.join(file)).unwrap();
}

const SNAP_SCOPE: &str =
    "/user.slice/user-1000.slice/user@1000.service/app.slice/snap.chromium.chromium-0b1c.scope";

#[test]
fn a_snap_scope_in_our_own_mount_namespace_is_no_snap() {
    // `systemd-run --user --scope --unit=snap.chromium.x.scope CLIENT`: any process of the user
    // can run in such a cgroup, unconfined and in the session's mount namespace.
    let id = read_fake(&fake_proc(SNAP_SCOPE, None, true));
    assert_eq!(id.snap_name, None, "a scope name made the caller a Snap");
    assert!(!id.sandboxed());
    assert_eq!(
        id.app_id(),
        id.executable
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
    );
    // Not even with a snap's label claimed in our own namespace (snap-confine gives every snap
    // its own mount namespace).
    let id = read_fake(&fake_proc(
        SNAP_SCOPE,
        Some("snap.chromium.chromium (enforce)\n"),
        true,
    ));
    assert_eq!(id.snap_name, None);
}

#[test]
fn a_snap_is_known_by_its_enforced_apparmor_label_in_the_namespace_snapd_made_for_it() {
    let proc = fake_proc(
        SNAP_SCOPE,
        Some("snap.chromium.chromium (enforce)\n"),
        false,
    );
    in_snapd_namespace(&proc, "chromium", false);
    let id = read_fake(&proc);
    assert_eq!(id.snap_name.as_deref(), Some("chromium"));
    assert_eq!(id.display_name(), "chromium (Snap)");
    // Whatever the cgroup says: the label names the snap; snapd's per-user namespace counts.
    let proc = fake_proc("/", Some("snap.firefox.firefox (enforce)\n"), false);
    in_snapd_namespace(&proc, "firefox", true);
    assert_eq!(read_fake(&proc).snap_name.as_deref(), Some("firefox"));
    // Complain mode holds the process to nothing; unconfined is no snap.
    for label in ["snap.chromium.chromium (complain)\n", "unconfined\n"] {
        let proc = fake_proc(SNAP_SCOPE, Some(label), false);
        in_snapd_namespace(&proc, "chromium", false);
        assert_eq!(read_fake(&proc).snap_name, None, "{label}");
    }
    let proc = fake_proc(SNAP_SCOPE, None, false);
    in_snapd_namespace(&proc, "chromium", false);
    assert_eq!(read_fake(&proc).snap_name, None);
}

/// An unconfined process can change into any loaded AppArmor profile and enter a mount
/// namespace of its own (`unshare -Urm`), so a snap's label in another namespace is not enough:
/// the namespace must be the one snapd preserved for that very snap.
#[test]
fn a_snap_label_in_a_namespace_snapd_did_not_make_is_no_snap() {
    let label = Some("snap.firefox.firefox (enforce)\n");
    // No namespace of snapd's at all.
    let proc = fake_proc(SNAP_SCOPE, label, false);
    assert_eq!(read_fake(&proc).snap_name, None);
    // Another snap's namespace.
    let proc = fake_proc(SNAP_SCOPE, label, false);
    in_snapd_namespace(&proc, "chromium", false);
    assert_eq!(read_fake(&proc).snap_name, None);
    // A file of the snap's name that is not the caller's namespace.
    let proc = fake_proc(SNAP_SCOPE, label, false);
    let ns = proc.path().join("snapd-ns");
    std::fs::create_dir_all(&ns).unwrap();
    std::fs::write(ns.join("firefox.mnt"), "").unwrap();
    assert_eq!(read_fake(&proc).snap_name, None);
}

/// `.flatpak-info` as Flatpak writes it for `app` (its `[Instance]` group names the deployment,
/// branch and architecture, but not the remote the app came from).
fn flatpak_info(app: &str) -> String {
    format!(
        "[Application]\nname={app}\nruntime=runtime/org.freedesktop.Platform/x86_64/24.08\n\n\
         [Instance]\ninstance-id=1234\nbranch=stable\narch=x86_64\nflatpak-version=1.14.10\n"
    )
}

fn shipped_policy() -> crate::policy::Policy {
    crate::policy::Policy::from_toml(include_str!("../../../../data/policy.d/50-browsers.toml"))
        .unwrap()
}

#[test]
fn a_sideloaded_flatpak_named_like_a_browser_is_no_browser() {
    // Whoever builds a bundle chooses its ID: `flatpak build-bundle … com.google.Chrome` and
    // `flatpak install --user chrome.flatpak` give an app of that ID, and nothing the sandbox
    // shows tells it from the one on Flathub. The shipped policy trusts no Flatpak ID.
    let policy = shipped_policy();
    for app in [
        "com.google.Chrome",
        "org.mozilla.firefox",
        "org.chromium.Chromium",
    ] {
        let proc = fake_proc(SNAP_SCOPE, None, false);
        std::fs::write(proc.path().join("rootfs/.flatpak-info"), flatpak_info(app)).unwrap();
        let id = read_fake(&proc);
        assert_eq!(id.flatpak_app_id.as_deref(), Some(app));
        let class = policy.classify(&id);
        assert!(
            !matches!(class, crate::policy::CallerClass::Privileged { .. }),
            "a Flatpak of ID {app} was trusted as a browser: {class:?}"
        );
    }
}

#[test]
fn a_caller_whose_mount_namespace_cannot_be_read_is_refused_not_taken_for_ours() {
    let dir = fake_proc("/user.slice/app.slice/x.scope", None, false);
    std::fs::remove_file(dir.path().join("ns/mnt")).unwrap();
    let stat = parse::ProcStat {
        ppid: 1,
        start_time: 7,
    };
    match read_identity_in(dir.path(), 4242, stat, &dir.path().join("snapd-ns")) {
        Err(IdentityError::Hidden(why)) => assert!(why.contains("mount namespace"), "{why}"),
        other => panic!("expected Hidden, got {other:?}"),
    }
}

/// Gives up `CAP_SYS_PTRACE` on this thread until dropped (a test run as root reads any
/// process's `/proc` entries with it; the user's own processes have no such capability).
struct WithoutPtrace(rustix::thread::CapabilitySets);

impl WithoutPtrace {
    fn now() -> Self {
        let had = rustix::thread::capabilities(None).unwrap();
        let mut less = had;
        less.effective
            .remove(rustix::thread::CapabilitySet::SYS_PTRACE);
        rustix::thread::set_capabilities(None, less).unwrap();
        Self(had)
    }
}

impl Drop for WithoutPtrace {
    fn drop(&mut self) {
        let _ = rustix::thread::set_capabilities(None, self.0);
    }
}

const NOT_DUMPABLE_CHILD: &str = "LATCHKEY_TEST_NOT_DUMPABLE_CHILD";

/// Not a test on its own: the process the test below identifies. Makes itself non-dumpable (or
/// not, as asked), says so, and waits until its standard input closes.
#[test]
#[ignore = "run by a test as the process it identifies"]
fn not_dumpable_child() {
    let Some(dumpable) = std::env::var_os(NOT_DUMPABLE_CHILD) else {
        return;
    };
    if dumpable == "no" {
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
            .unwrap();
    }
    println!("\nchild-ready");
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
}

/// Starts [`not_dumpable_child`] (`dumpable`: whether it stays dumpable) and waits until it is.
/// Run as root, the child holds no capability (as the user's processes hold none), so that only
/// the dumpable flag decides whether this thread, without `CAP_SYS_PTRACE`, may read it.
fn child(dumpable: bool) -> std::process::Child {
    use std::io::BufRead as _;
    let exe = std::env::current_exe().unwrap();
    let mut command = if rustix::process::geteuid().is_root() {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--bounding-set=-all", "--inh-caps=-all", "--"])
            .arg(&exe);
        c
    } else {
        std::process::Command::new(&exe)
    };
    let mut child = command
        .args([
            "--exact",
            "identity::tests::not_dumpable_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(NOT_DUMPABLE_CHILD, if dumpable { "yes" } else { "no" })
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l == "child-ready"),
        "the child never said it was ready"
    );
    // The rest of what it prints is read (and dropped) until it exits.
    std::thread::spawn(move || lines.for_each(drop));
    child
}

fn identify_child(child: &std::process::Child) -> Result<CallerIdentity, IdentityError> {
    identify(
        PeerCredentials {
            pid: Some(child.id()),
            pidfd: None,
            uid: Some(uid()),
        },
        uid(),
    )
}

/// A process can hide what it is from the user's other processes: once it is not dumpable, the
/// kernel refuses them its `exe`, `root` and `ns/mnt` (a Snap app, in the initial user namespace,
/// can do this to look like no sandbox at all). latchkeyd, holding no `CAP_SYS_PTRACE` over it,
/// refuses it rather than taking it for a process of its own mount namespace and no sandbox.
#[test]
fn a_caller_that_made_itself_not_dumpable_is_refused() {
    let mut seen = child(true);
    let mut hidden = child(false);
    let outcome = {
        let _without = WithoutPtrace::now();
        (identify_child(&seen), identify_child(&hidden))
    };
    for c in [&mut seen, &mut hidden] {
        drop(c.stdin.take());
        c.wait().unwrap();
    }
    let (seen, hidden) = outcome;
    let seen = seen.unwrap();
    assert!(seen.same_mount_namespace && !seen.sandboxed());
    assert_eq!(seen.executable, Some(std::env::current_exe().unwrap()));
    match hidden {
        Err(IdentityError::Hidden(why)) => assert!(why.contains("mount namespace"), "{why}"),
        other => panic!("a non-dumpable caller must be refused, got {other:?}"),
    }
}

/// `.flatpak-info` in a caller's own root is read inside that root and only as a regular file:
/// an absolute symlink names a file of the caller's view (here none), not latchkeyd's; a FIFO
/// (which a caller in a mount namespace of its own can put there) is not opened for reading,
/// where a blocking open would hold latchkeyd's thread until someone writes to it.
#[test]
fn flatpak_info_is_read_inside_the_callers_root_and_only_as_a_regular_file() {
    // A file of latchkeyd's that would name an app, outside the caller's root.
    let outside = tempfile::tempdir().unwrap();
    let info = outside.path().join("flatpak-info");
    std::fs::write(&info, flatpak_info("com.example.Trusted")).unwrap();

    let linked = fake_proc("/user.slice/app.slice/x.scope", None, false);
    std::os::unix::fs::symlink(&info, linked.path().join("rootfs/.flatpak-info")).unwrap();
    assert_eq!(read_fake(&linked).flatpak_app_id, None);

    let fifo = fake_proc("/user.slice/app.slice/x.scope", None, false);
    let at = fifo.path().join("rootfs/.flatpak-info");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &at,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        0,
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(read_fake(&fifo).flatpak_app_id);
    });
    let read = rx.recv_timeout(std::time::Duration::from_secs(10));
    if read.is_err() {
        // Unblock the reader so the test process can exit.
        let _ = std::fs::OpenOptions::new().write(true).open(&at);
        panic!("reading a FIFO named .flatpak-info blocked");
    }
    assert_eq!(read.unwrap(), None);

    // The real file, where Flatpak puts it, is still read.
    let real = fake_proc("/user.slice/app.slice/x.scope", None, false);
    std::fs::write(
        real.path().join("rootfs/.flatpak-info"),
        flatpak_info("org.example.App"),
    )
    .unwrap();
    assert_eq!(
        read_fake(&real).flatpak_app_id.as_deref(),
        Some("org.example.App")
    );
}
