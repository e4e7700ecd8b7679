//! A software TPM (`swtpm`) started and stopped by a test.
#![allow(dead_code)] // each test binary uses a subset of the fixture

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Swtpm {
    child: Option<Child>,
    pub port: u16,
    state: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

fn free_port_pair() -> u16 {
    loop {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p < 65535 && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

impl Swtpm {
    /// A new TPM with its own state, dictionary-attack lockout after `max_tries` failures.
    pub fn start_with(max_tries: u32) -> Swtpm {
        let tmp = tempfile::tempdir().unwrap();
        let mut t = Swtpm::start_in(tmp.path());
        t._tmp = Some(tmp);
        t.set_da_parameters(max_tries, 1000, 1000);
        t
    }

    /// A new TPM that tolerates the few wrong PINs a suite tries.
    pub fn start() -> Swtpm {
        Swtpm::start_with(32)
    }

    /// Starts swtpm over an existing state directory.
    pub fn start_in(state: &Path) -> Swtpm {
        for _ in 0..20 {
            let port = free_port_pair();
            let mut child = Command::new("swtpm")
                .args(["socket", "--tpm2"])
                .args([
                    "--server",
                    &format!("type=tcp,port={port},bindaddr=127.0.0.1"),
                ])
                .args([
                    "--ctrl",
                    &format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1),
                ])
                .args(["--tpmstate", &format!("dir={}", state.display())])
                .args(["--flags", "not-need-init,startup-clear"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("swtpm must be installed (apt-get install swtpm swtpm-tools)");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if child.try_wait().unwrap().is_some() {
                    break; // lost the port race: try another
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    // Another test's swtpm may have taken the port between our check and our
                    // child's bind, and answered this connect; ours then exits, failing its bind.
                    // Only a child still running a while later is known to own the port.
                    std::thread::sleep(Duration::from_millis(200));
                    if child.try_wait().unwrap().is_some() {
                        break;
                    }
                    return Swtpm {
                        child: Some(child),
                        port,
                        state: state.to_path_buf(),
                        _tmp: None,
                    };
                }
                assert!(Instant::now() < deadline, "swtpm did not start");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        panic!("could not start swtpm");
    }

    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops and starts the TPM over the same state (a reboot); the port may change.
    pub fn restart(&mut self) {
        self.stop();
        let again = Swtpm::start_in(&self.state);
        self.port = again.port;
        let mut again = again;
        self.child = again.child.take();
    }

    /// TPM2_DictionaryAttackParameters (TPM 2.0 Part 3 §25.3) with the empty lockout auth, sent
    /// as raw bytes (the ESAPI wrapper we use lacks this command).
    pub fn set_da_parameters(&self, max_tries: u32, recovery: u32, lockout_recovery: u32) {
        let mut cmd = Vec::new();
        cmd.extend_from_slice(&0x8002u16.to_be_bytes()); // TPM_ST_SESSIONS
        cmd.extend_from_slice(&39u32.to_be_bytes());
        cmd.extend_from_slice(&0x0000_013Au32.to_be_bytes()); // TPM_CC_DictionaryAttackParameters
        cmd.extend_from_slice(&0x4000_000Au32.to_be_bytes()); // TPM_RH_LOCKOUT
        cmd.extend_from_slice(&9u32.to_be_bytes()); // authorizationSize
        cmd.extend_from_slice(&0x4000_0009u32.to_be_bytes()); // TPM_RS_PW
        cmd.extend_from_slice(&[0, 0, 0, 0, 0]); // nonce, attributes, hmac
        for v in [max_tries, recovery, lockout_recovery] {
            cmd.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(cmd.len(), 39);
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.write_all(&cmd).unwrap();
        let mut resp = [0u8; 10];
        s.read_exact(&mut resp).unwrap();
        let rc = u32::from_be_bytes(resp[6..10].try_into().unwrap());
        assert_eq!(rc, 0, "TPM2_DictionaryAttackParameters: rc {rc:#x}");
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        self.stop();
    }
}
