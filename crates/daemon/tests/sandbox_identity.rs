#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Sandbox identities a process of the user can make for itself are no identities: a caller run
//! in a cgroup named like a Snap's scope (`systemd-run --user --scope --unit=snap.chromium.x.scope
//! CLIENT` does that) is not the Chromium Snap that policy trusts as a browser.

mod common;

use std::path::{Path, PathBuf};

use common::caller::{outcome, CallerRequest, ENTRY};
use common::*;

#[test]
#[ignore = "run by the tests as a separate caller process"]
fn caller_process() {
    common::caller::serve_if_asked();
}

/// The cgroup v2 hierarchy's mount point, from `/proc/self/mountinfo`.
fn cgroup2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        let (before, after) = l.split_once(" - ")?;
        if after.split_whitespace().next() != Some("cgroup2") {
            return None;
        }
        before.split_whitespace().nth(4).map(PathBuf::from)
    })
}

/// A cgroup named like a Snap's scope that this test may move a process into, removed on drop.
struct SnapLikeCgroup(PathBuf);

impl SnapLikeCgroup {
    /// `None` when this system gives the tests no writable cgroup v2 hierarchy (not root, or no
    /// delegation): the attack then needs systemd, which the test machine may not run.
    fn make() -> Option<Self> {
        let dir = cgroup2_mount()?.join(format!(
            "snap.chromium.chromium-lktest{}.scope",
            std::process::id()
        ));
        std::fs::create_dir(&dir).ok()?;
        let me = Self(dir);
        std::fs::metadata(me.0.join("cgroup.procs"))
            .ok()
            .filter(|m| !m.permissions().readonly())?;
        Some(me)
    }
}

impl Drop for SnapLikeCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Runs this test binary as a caller making `req`, first moving itself (the shell, which then
/// `exec`s the caller) into `cgroup`.
fn call_from(cgroup: &Path, req: &CallerRequest) -> serde_json::Value {
    let exe = std::env::current_exe().unwrap();
    let inner = common::caller::command(&exe, req);
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!(
            "echo $$ > '{}/cgroup.procs' && exec '{}' --exact {ENTRY} --ignored --nocapture --test-threads=1",
            cgroup.display(),
            exe.display()
        ))
        .envs(
            inner
                .get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    outcome(&mut child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_in_a_snap_named_scope_is_not_that_snap() {
    let Some(cgroup) = SnapLikeCgroup::make() else {
        eprintln!(
            "SKIPPED: no writable cgroup v2 hierarchy here; the same attack is covered without one \
             by identity::tests::a_snap_scope_in_our_own_mount_namespace_is_no_snap"
        );
        return;
    };
    let bus = TestBus::start();
    let policy = format!(
        "[[privileged]]\nname = \"Chromium (Snap)\"\nsnap = \"chromium\"\n{}",
        trusted_prompt()
    );
    let _d = start_daemon(&bus, &policy, FakeBackend::new(FakeMode::Answer)).await;
    let prompt = Prompt::spawn(&bus, "approve\napprove\n", false);
    let req = CallerRequest {
        bus: bus.address.clone(),
        kind: latchkey_api::Kind::Create,
        options_json: create_options("example.com"),
        origin: Some("https://example.com".into()),
    };
    let dir = cgroup.0.clone();
    let out = tokio::task::spawn_blocking(move || call_from(&dir, &req))
        .await
        .unwrap();
    // An unknown caller may not vouch for a web origin: refused before any prompt.
    assert_eq!(
        out["error"], "SecurityError",
        "a process in a Snap-named scope was taken for the Chromium Snap: {out}"
    );
    assert!(prompt.consents().is_empty(), "{:?}", prompt.consents());
    drop(cgroup);
}

/// A caller in a mount namespace of its own that is no sandbox latchkeyd recognises (here one
/// made with `unshare`, as any process of the user can) manages no credentials: only what runs
/// in latchkeyd's own namespace may list or delete them. The same caller outside it may.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_in_a_mount_namespace_of_its_own_may_not_manage_credentials() {
    let bus = TestBus::start();
    let _d = start_daemon(&bus, &trusted_prompt(), FakeBackend::new(FakeMode::Answer)).await;
    let exe = std::env::current_exe().unwrap();
    let run = |unshared: bool| {
        let inner = common::caller::list_command(&exe, &bus.address);
        let mut cmd = if unshared {
            let mut c = std::process::Command::new("unshare");
            c.args(["--user", "--map-current-user", "--mount", "--"])
                .arg(inner.get_program())
                .args(inner.get_args());
            c
        } else {
            std::process::Command::new(inner.get_program())
        };
        if !unshared {
            cmd.args(inner.get_args());
        }
        cmd.envs(
            inner
                .get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .stdout(std::process::Stdio::piped());
        move || outcome(&mut cmd.spawn().unwrap())
    };
    let at_home = tokio::task::spawn_blocking(run(false)).await.unwrap();
    assert_eq!(at_home["code"], 0, "{at_home}");
    let unshared = tokio::task::spawn_blocking(run(true)).await.unwrap();
    assert_eq!(
        unshared["error"], "dev.latchkey.Credentials1.Error.AccessDenied",
        "{unshared}"
    );
}
