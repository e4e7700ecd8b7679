#![cfg(feature = "tpm")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Issue 13, finding 7, as an attack on the real `latchkey-platform-worker` binary: over an
//! `swtpm` reached by TCP the worker may create TCP sockets, and on a kernel whose Landlock has
//! no network rules (ABI 1–3: Linux 5.13–6.6, Debian 12's 6.1 among them) nothing kept them to
//! the TPM's ports. Such a kernel is made here by a preloaded library that answers Landlock's
//! version query with 3 (the kernel then enforces ABI 3's rights only, as Linux 6.1 would).
//! The same library plays the compromised worker: when the process ends, if the seccomp filter
//! is in force (the worker got as far as serving), it connects to another loopback port that is
//! listening. Before the fix the worker served and that connection arrived; now the worker
//! refuses to start (`SandboxError::TcpUnconfined`) and nothing reaches the other port.
//!
//! The library is compiled by the test with the C compiler Rust links with (`cc`).

#[path = "../../keystore/tests/common/swtpm.rs"]
mod swtpm;

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use socket2::{Domain, Socket, Type};
use swtpm::Swtpm;

const WORKER: &str = env!("CARGO_BIN_EXE_latchkey-platform-worker");

/// The preloaded library. `syscall` is the C library's generic entry, which the landlock crate
/// calls for `landlock_create_ruleset`; every other call passes through unchanged. The
/// destructor runs in the worker's own process at its exit, sandboxed as it then is.
const SHIM: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LANDLOCK_CREATE_RULESET_VERSION 1U

long syscall(long nr, ...) {
    static long (*real)(long, ...);
    long a[6];
    va_list ap;
    va_start(ap, nr);
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    long r = real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (nr == SYS_landlock_create_ruleset && a[0] == 0 && a[1] == 0
        && (unsigned)a[2] == LANDLOCK_CREATE_RULESET_VERSION && r > 3) {
        dprintf(2, "SHIM landlock ABI %ld reported as 3\n", r);
        r = 3;
    }
    return r;
}

__attribute__((destructor)) static void reach_another_port(void) {
    const char *port = getenv("ESCAPE_PORT");
    if (!port) return;
    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2) {
        dprintf(2, "ESCAPE not sandboxed: nothing tried\n");
        return;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        dprintf(2, "ESCAPE socket errno %d\n", errno);
        return;
    }
    struct sockaddr_in to = {0};
    to.sin_family = AF_INET;
    to.sin_port = htons((unsigned short)atoi(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) == 0)
        dprintf(2, "ESCAPE connect ok\n");
    else
        dprintf(2, "ESCAPE connect errno %d\n", errno);
    close(fd);
}
"#;

/// Compiles [`SHIM`] into `dir`.
fn shim(dir: &Path) -> PathBuf {
    let src = dir.join("escape.c");
    let lib = dir.join("escape.so");
    std::fs::write(&src, SHIM).unwrap();
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&lib)
        .arg(&src)
        .arg("-ldl")
        .output()
        .expect("a C compiler (cc)");
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lib
}

#[test]
fn over_an_swtpm_without_landlock_network_rules_the_worker_reaches_no_other_port() {
    let tpm = Swtpm::start();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let other_port = other.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let lib = shim(dir.path());
    let store = dir.path().join("store");
    let (ours, theirs) = Socket::pair(Domain::UNIX, Type::SEQPACKET, None).unwrap();
    let mut child = Command::new(WORKER)
        .arg("--store")
        .arg(&store)
        .env("TPM2TOOLS_TCTI", tpm.tcti())
        .env("LD_PRELOAD", &lib)
        .env("ESCAPE_PORT", other_port.to_string())
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The worker's first message (ready, or why it will not serve); then the link closes and
    // a serving worker ends.
    ours.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut first = vec![0u8; 70_000];
    let n = (&ours).read(&mut first).unwrap();
    assert!(n > 0, "the worker sent nothing");
    drop(ours);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        stderr.contains("SHIM landlock ABI") && stderr.contains("reported as 3"),
        "the kernel's Landlock was shown as ABI 3 (this kernel's is older, or the library was \
         not loaded): {stderr}"
    );
    other.set_nonblocking(true).unwrap();
    let arrived = other.accept();
    assert!(
        arrived.is_err(),
        "the sandboxed worker reached port {other_port}, not the TPM's (status {status:?}):\n{stderr}"
    );
    assert!(
        !stderr.contains("ESCAPE connect ok"),
        "the sandboxed worker connected to port {other_port}:\n{stderr}"
    );
    assert!(
        stderr.contains("TCP sockets would be unconfined")
            || stderr.contains(&format!("ESCAPE connect errno {}", libc::EACCES)),
        "refused to start, or the connection refused by Landlock (status {status:?}):\n{stderr}"
    );
}
