//! Probes in a child process: this test binary re-run for one of its `#[ignore]`d tests, which
//! changes something for good (applies a sandbox, makes a forbidden system call) and reports what
//! it saw as `PROBE name value` lines on its standard output.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::process::{Command, ExitStatus, Stdio};

/// Runs the ignored test `test` of this test binary alone in a child process with `env` set; its
/// exit status and standard output (its standard error goes to this test's).
pub fn run<K: AsRef<OsStr>, V: AsRef<OsStr>>(test: &str, env: &[(K, V)]) -> (ExitStatus, String) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--ignored",
            "--exact",
            test,
            "--nocapture",
            "--test-threads=1",
        ])
        .stderr(Stdio::inherit());
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The `PROBE name value` lines of a child's output, by name.
pub fn probes(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.find("PROBE ").map(|i| &l[i + "PROBE ".len()..]))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A raw system call's outcome as a probe reports it: `ok`, or the OS error number.
pub fn os_result(r: libc::c_long) -> String {
    if r == -1 {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or_default()
            .to_string()
    } else {
        "ok".to_owned()
    }
}
