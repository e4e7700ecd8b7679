//! A private pcscd with vsmartcard's virtual reader (vpcd), started by the test itself.
//!
//! pcscd puts its socket at a path fixed at build time (`/run/pcscd/pcscd.comm` on Debian);
//! only its clients honour `PCSCLITE_CSOCK_NAME`. So the test's pcscd runs in a mount namespace
//! of its own (`unshare --user --map-root-user --mount`, which needs no privilege where user
//! namespaces are allowed) whose `/run` is a directory of the test's: its socket appears there,
//! the machine's pcscd (if any) is untouched, and clients find it through
//! `PCSCLITE_CSOCK_NAME`. Its reader configuration is the test's too (`--config DIR`): one vpcd
//! reader, listening on a free port, whose two slots are the readers `Virtual PCD 00 00` (that
//! port) and `Virtual PCD 00 01` (the next).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test's set-up fails loudly
#![allow(dead_code)] // latchkey-transport's tests include this file and use part of it

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// pcscd's reader driver from Debian's `vsmartcard-vpcd`.
const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
/// The environment variable libpcsclite's clients find pcscd's socket by.
pub const SOCKET_ENV: &str = "PCSCLITE_CSOCK_NAME";
/// The first slot's reader name.
pub const READER: &str = "Virtual PCD 00 00";
/// The second slot's reader name.
pub const READER_2: &str = "Virtual PCD 00 01";

/// A running private pcscd; stopped when dropped.
pub struct Pcscd {
    child: Child,
    dir: tempfile::TempDir,
    /// vpcd's port for [`READER`]; [`READER_2`]'s is the next.
    pub port: u16,
    /// pcscd's socket, for [`SOCKET_ENV`].
    pub socket: PathBuf,
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Two consecutive free TCP ports (vpcd listens on both, one per slot).
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let first = TcpListener::bind(("0.0.0.0", 0)).unwrap();
        let port = first.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("0.0.0.0", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two consecutive free ports");
}

impl Pcscd {
    /// Starts pcscd; `None` (the test is skipped) if pcscd, vpcd or user namespaces are missing,
    /// unless peers are required (`LATCHKEY_REQUIRE_PEERS`, set by `scripts/test.sh`).
    pub fn start() -> Option<Self> {
        let missing = if !have("pcscd") && !Path::new("/usr/sbin/pcscd").exists() {
            Some("pcscd (Debian: pcscd)")
        } else if !Path::new(VPCD_DRIVER).exists() {
            Some("vpcd (Debian: vsmartcard-vpcd)")
        } else if !have("unshare") {
            Some("unshare (util-linux)")
        } else {
            None
        };
        if let Some(what) = missing {
            assert!(
                std::env::var_os("LATCHKEY_REQUIRE_PEERS").is_none(),
                "{what} is required (LATCHKEY_REQUIRE_PEERS is set)"
            );
            eprintln!("SKIPPED: {what} is missing (scripts/test.sh installs it)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir_all(run.join("pcscd")).unwrap();
        let conf = dir.path().join("reader.conf.d");
        std::fs::create_dir_all(&conf).unwrap();
        let port = free_port_pair();
        std::fs::write(
            conf.join("vpcd"),
            format!(
                "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:{port}\n\
                 LIBPATH {VPCD_DRIVER}\nCHANNELID {port}\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("pcscd.log")).unwrap();
        let pcscd = if Path::new("/usr/sbin/pcscd").exists() {
            "/usr/sbin/pcscd"
        } else {
            "pcscd"
        };
        let child = Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "sh", "-c"])
            .arg("mount --bind \"$1\" /run && exec \"$2\" --foreground --debug --config \"$3\"")
            .arg("sh")
            .arg(&run)
            .arg(pcscd)
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut pcscd = Self {
            child,
            socket: run.join("pcscd/pcscd.comm"),
            port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !pcscd.log().contains("daemon ready") {
            if let Ok(Some(status)) = pcscd.child.try_wait() {
                let log = pcscd.log();
                let userns = log.contains("unshare");
                assert!(
                    !userns || std::env::var_os("LATCHKEY_REQUIRE_PEERS").is_none(),
                    "pcscd could not start ({status}):\n{log}"
                );
                if userns {
                    eprintln!("SKIPPED: no user namespaces for a private pcscd:\n{log}");
                    return None;
                }
                panic!("pcscd exited ({status}):\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "pcscd did not start:\n{}",
                pcscd.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(pcscd)
    }

    /// What pcscd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pcscd.log")).unwrap_or_default()
    }

    /// `HOST:PORT` of vpcd's first slot ([`READER`]).
    pub fn vpcd(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `HOST:PORT` of vpcd's second slot ([`READER_2`]).
    pub fn vpcd_2(&self) -> String {
        format!("127.0.0.1:{}", self.port + 1)
    }

    /// A scratch directory that lives as long as pcscd.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
