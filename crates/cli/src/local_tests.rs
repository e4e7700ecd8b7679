use std::path::PathBuf;
use std::process::{Child, Command};

use super::*;

fn in_use(holder: Option<u32>) -> StoreOpenError {
    StoreOpenError::Store {
        dir: PathBuf::from("/home/a/.local/share/latchkey"),
        source: StoreError::InUse { holder },
    }
}

/// `sleep` run under the name `name` (a symlink), so that its `/proc/PID/comm` is that name.
struct Named {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Named {
    fn start(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join(name);
        std::os::unix::fs::symlink("/bin/sleep", &link).unwrap();
        let child = Command::new(&link).arg("60").spawn().unwrap();
        // `spawn` may return before the child has exec'd (until then its comm is this test
        // thread's name): wait until the kernel shows the new name, cut to 15 bytes as comm is.
        let want: String = name.chars().take(15).collect();
        let comm_path = format!("/proc/{}/comm", child.id());
        for _ in 0..1000 {
            let shown = std::fs::read_to_string(&comm_path).unwrap_or_default();
            if shown.trim_end_matches('\n').as_bytes() == want.as_bytes() {
                return Self { child, _dir: dir };
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let pid = child.id();
        drop(Self { child, _dir: dir });
        panic!("{pid} never exec'd as {name:?}");
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn latchkeyds_worker_is_named_as_latchkeyd() {
    let worker = Named::start("latchkey-platform-worker");
    let pid = worker.child.id();
    let e = open_error(in_use(Some(pid)), || panic!("the PID told who holds it"));
    assert_eq!(e.name(), "NotAllowedError");
    assert_eq!(
        e.message(),
        format!(
            "latchkeyd holds the credential store at /home/a/.local/share/latchkey (its platform \
             authenticator is process {pid}); run without --local and --store to go through \
             latchkeyd"
        )
    );
}

#[test]
fn another_holder_is_named_by_its_process() {
    let pid = std::process::id();
    let name = comm(pid).unwrap();
    let e = open_error(in_use(Some(pid)), || panic!("the PID told who holds it"));
    assert_eq!(
        e.message(),
        format!(
            "the credential store at /home/a/.local/share/latchkey is in use by process {pid} \
             ({name}); try again when it has finished"
        )
    );
}

#[test]
fn a_holders_name_cannot_write_to_the_terminal() {
    let holder = Named::start("x\u{1b}[2Jy");
    let e = open_error(in_use(Some(holder.child.id())), || false);
    assert!(e.message().contains("(x?[2Jy)"), "{}", e.message());
    assert!(!e.message().contains('\u{1b}'));
}

#[test]
fn without_a_readable_holder_the_bus_decides_the_words() {
    let e = open_error(in_use(None), || true);
    assert_eq!(
        e.message(),
        "latchkeyd holds the credential store at /home/a/.local/share/latchkey; run without \
         --local and --store to go through latchkeyd"
    );
    let e = open_error(in_use(None), || false);
    assert_eq!(
        e.message(),
        "the credential store at /home/a/.local/share/latchkey is in use by another process; try \
         again when it has finished"
    );
    // A holder that has exited since it wrote its PID: no name to read.
    let mut gone = Command::new("/bin/true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let e = open_error(in_use(Some(pid)), || true);
    assert!(
        e.message().starts_with("latchkeyd holds"),
        "{}",
        e.message()
    );
}

#[test]
fn other_failures_keep_their_words() {
    let e = open_error(StoreOpenError::NoHome, || panic!("not asked"));
    assert_eq!(e.name(), "NotAllowedError");
    assert_eq!(e.message(), StoreOpenError::NoHome.to_string());
}
