//! Row 5: the platform authenticator over a TPM-bound store, against `swtpm` (feature `tpm`).

use crate::Samples;
#[cfg(not(feature = "tpm"))]
use crate::{BenchError, Budget};

/// What row 5 found: time per getAssertion and the TPM commands it issued.
#[derive(Debug)]
pub struct TpmResult {
    /// getAssertion commands, the PIN token got beforehand.
    pub get: Samples,
    /// TPM commands per getAssertion command (warm key), averaged over the timed runs.
    pub commands_per_get: f64,
    /// TPM commands per PIN token (clientPIN getPinUvAuthTokenUsingPinWithPermissions).
    pub commands_per_token: f64,
}

/// Why row 5 is skipped on this machine, if it is.
pub fn unavailable() -> Option<String> {
    if !cfg!(feature = "tpm") {
        return Some(
            "built without the `tpm` feature (cargo bench -p latchkey-bench --features tpm)".into(),
        );
    }
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("swtpm").is_file()))
        .unwrap_or(false);
    if found {
        None
    } else {
        Some("swtpm is not installed (apt-get install swtpm swtpm-tools)".into())
    }
}

#[cfg(not(feature = "tpm"))]
/// Row 5 needs the `tpm` feature.
pub fn measure(_budget: Budget) -> Result<TpmResult, BenchError> {
    Err(BenchError::setup("TPM", unavailable().unwrap_or_default()))
}

#[cfg(feature = "tpm")]
pub use with_tpm::measure;

#[cfg(feature = "tpm")]
mod with_tpm {
    use std::net::{TcpListener, TcpStream};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use latchkey_ctap::pin::Permissions;
    use latchkey_keystore::{TpmStore, TpmStoreOptions};

    use super::TpmResult;
    use crate::core::{check_ok, CtapClient};
    use crate::{stats, BenchError, Budget, Samples};

    /// A swtpm process with its own state, killed on drop.
    struct Swtpm {
        child: Child,
        port: u16,
        _state: tempfile::TempDir,
    }

    impl Drop for Swtpm {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn free_port_pair() -> Result<u16, BenchError> {
        for _ in 0..50 {
            let a = TcpListener::bind("127.0.0.1:0").map_err(|e| BenchError::setup("port", e))?;
            let p = a
                .local_addr()
                .map_err(|e| BenchError::setup("port", e))?
                .port();
            if p < 65535 && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
                return Ok(p);
            }
        }
        Err(BenchError::setup("port", "no two free ports in a row"))
    }

    impl Swtpm {
        fn start() -> Result<Self, BenchError> {
            let state = tempfile::tempdir().map_err(|e| BenchError::setup("swtpm state", e))?;
            for _ in 0..10 {
                let port = free_port_pair()?;
                let mut child = Command::new("swtpm")
                    .args(["socket", "--tpm2"])
                    .arg("--server")
                    .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                    .arg("--ctrl")
                    .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
                    .arg("--tpmstate")
                    .arg(format!("dir={}", state.path().display()))
                    .args(["--flags", "not-need-init,startup-clear"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .map_err(|e| BenchError::setup("swtpm", e))?;
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    if matches!(child.try_wait(), Ok(Some(_))) {
                        break; // lost the port race
                    }
                    if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                        return Ok(Swtpm {
                            child,
                            port,
                            _state: state,
                        });
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(BenchError::setup("swtpm", "did not start in 10 s"));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            Err(BenchError::setup("swtpm", "could not start"))
        }
    }

    /// Sets up a TPM store behind the platform authenticator, makes one discoverable credential
    /// and times getAssertion commands (token got beforehand, untimed), counting TPM commands.
    pub fn measure(budget: Budget) -> Result<TpmResult, BenchError> {
        let tpm = Swtpm::start()?;
        let dir = tempfile::tempdir().map_err(|e| BenchError::setup("store directory", e))?;
        let store = TpmStore::open(
            dir.path(),
            TpmStoreOptions {
                tcti: Some(format!("swtpm:host=127.0.0.1,port={}", tpm.port)),
                ..TpmStoreOptions::default()
            },
        )?;
        let mut c = CtapClient::platform(store);
        c.set_pin()?;
        let rp_id = "example.com";
        c.create(rp_id)?;
        let mut token_commands = Vec::new();
        let mut get_commands = Vec::new();
        let timed: Result<Samples, BenchError> = stats::measure_with_setup(
            budget,
            &mut c,
            |c| {
                let before = c.auth.store().tpm_commands();
                let token = c.token(Permissions::GET_ASSERTION, rp_id)?;
                token_commands.push(c.auth.store().tpm_commands() - before);
                Ok(c.get_assertion_request(rp_id, &[], &token))
            },
            |c, request| {
                let before = c.auth.store().tpm_commands();
                let out = c.auth.handle_cbor(&request);
                get_commands.push(c.auth.store().tpm_commands() - before);
                check_ok("getAssertion", &out)
            },
        );
        let get = timed?;
        // The first get loads the key into the TPM; count the warm ones (the timed runs).
        let warm = &get_commands[get_commands.len() - get.len()..];
        let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
        Ok(TpmResult {
            commands_per_get: mean(warm),
            commands_per_token: mean(&token_commands),
            get,
        })
    }
}

#[cfg(all(test, feature = "tpm"))]
mod tests {
    use super::*;
    use crate::Budget;

    #[test]
    fn one_tpm_sign_per_assertion() {
        if let Some(why) = unavailable() {
            eprintln!("skipped: {why}");
            return;
        }
        let r = measure(Budget::quick()).unwrap();
        assert_eq!(r.get.len(), 5);
        assert_eq!(r.commands_per_get, 1.0);
        assert!(r.commands_per_token >= 1.0);
    }
}
