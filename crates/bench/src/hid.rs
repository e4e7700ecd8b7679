//! Row 2: one getAssertion through the client crate, to the virtual key over CTAPHID on a Unix
//! socket (the transport's server, started in process on a temporary socket), and to the same
//! authenticator core in process behind the same `Device` trait.

use latchkey_authenticator::memory::MemoryStore;
use latchkey_authenticator::{Authenticator, Config};
use latchkey_client::platform::{PlatformDevice, Presence, SystemClock, SystemRng};
use latchkey_client::{CancelHandle, CreateRequest, Device, GetRequest, ScriptedUi};
use latchkey_testkit::keys::ServedKey;
use latchkey_transport::virtual_key::Signals;
use latchkey_webauthn::b64;
use serde_json::json;

use crate::core::Present;
use crate::{stats, BenchError, Budget, Samples};

/// The origin the ceremonies run for.
pub const ORIGIN: &str = "https://example.com";
/// Its RP ID.
pub const RP_ID: &str = "example.com";

/// The transport's virtual key server on a temporary Unix socket, in a thread of this process.
pub struct VirtualKeyServer {
    served: ServedKey,
    _dir: tempfile::TempDir,
}

impl VirtualKeyServer {
    /// Starts a USB-style key (no PIN, no alwaysUv) over a memory store.
    pub fn start() -> Result<Self, BenchError> {
        let dir = tempfile::tempdir().map_err(|e| BenchError::setup("temporary directory", e))?;
        let core = Authenticator::new(
            Config::default(),
            MemoryStore::default(),
            Present,
            SystemClock::default(),
            SystemRng,
        );
        let served = ServedKey::serve(core, Signals::new(), &dir.path().join("key.sock"))
            .map_err(|e| BenchError::setup("socket", e))?;
        Ok(VirtualKeyServer { served, _dir: dir })
    }

    /// A client connection (CTAPHID_INIT done).
    pub fn open(&self) -> Result<Box<dyn Device>, BenchError> {
        latchkey_client::hid::open_unix(&self.served.path)
            .map(|d| Box::new(d) as Box<dyn Device>)
            .map_err(|e| BenchError::setup("open the virtual key", e))
    }
}

/// The same core in process, behind the client's `Device` trait.
pub fn in_process() -> Box<dyn Device> {
    let cancel = CancelHandle::new();
    Box::new(PlatformDevice::with_store(
        Config::default(),
        MemoryStore::default(),
        Presence::granted(cancel.clone()),
        cancel,
        "memory".into(),
    ))
}

fn challenge() -> String {
    let mut c = [0u8; 32];
    let _ = aws_lc_rs::rand::fill(&mut c);
    b64::encode(&c)
}

/// Registers one credential on `device` (UP only); returns its ID.
pub fn register(device: &mut dyn Device) -> Result<Vec<u8>, BenchError> {
    let options = json!({
        "rp": {"id": RP_ID, "name": "Example"},
        "user": {"id": b64::encode(b"bench-user"), "name": "bench", "displayName": "Bench"},
        "challenge": challenge(),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "authenticatorSelection": {"residentKey": "discouraged", "userVerification": "discouraged"},
        "attestation": "none",
    });
    let request = CreateRequest::new(options.to_string().as_bytes(), ORIGIN, None)
        .map_err(|e| BenchError::Ceremony(e.to_string()))?;
    let reg = latchkey_client::register(device, &request, &mut ScriptedUi::default())
        .map_err(|e| BenchError::Ceremony(e.to_string()))?;
    Ok(reg.credential_id.clone())
}

/// One authentication ceremony with `id` in allowCredentials (UP only).
pub fn authenticate(device: &mut dyn Device, id: &[u8]) -> Result<(), BenchError> {
    let options = json!({
        "challenge": challenge(),
        "rpId": RP_ID,
        "allowCredentials": [{"type": "public-key", "id": b64::encode(id)}],
        "userVerification": "discouraged",
    });
    let request = GetRequest::new(options.to_string().as_bytes(), ORIGIN, None)
        .map_err(|e| BenchError::Ceremony(e.to_string()))?;
    let a = latchkey_client::authenticate(device, &request, &mut ScriptedUi::default())
        .map_err(|e| BenchError::Ceremony(e.to_string()))?;
    if a.credential_id != id {
        return Err(BenchError::Ceremony("the wrong credential answered".into()));
    }
    Ok(())
}

/// Times authentication ceremonies on `device` (one credential registered first).
pub fn measure_get(budget: Budget, device: &mut dyn Device) -> Result<Samples, BenchError> {
    let id = register(device)?;
    stats::measure(budget, || authenticate(device, &id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_paths_sign_in() {
        let server = VirtualKeyServer::start().unwrap();
        let mut remote = server.open().unwrap();
        let s = measure_get(Budget::quick(), remote.as_mut()).unwrap();
        assert_eq!(s.len(), 5);
        let mut local = in_process();
        let id = register(local.as_mut()).unwrap();
        authenticate(local.as_mut(), &id).unwrap();
        // A credential of another authenticator is not found.
        let e = authenticate(remote.as_mut(), &id).unwrap_err();
        assert!(matches!(e, BenchError::Ceremony(_)), "{e}");
    }
}
