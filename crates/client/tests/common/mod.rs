//! Back-ends and relying-party checks shared by the ceremony tests.
#![allow(dead_code)] // each test file uses part of it

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use latchkey_authenticator::env::{PresenceDenied, PresencePurpose, UserPresence, UvMatch};
use latchkey_authenticator::memory::MemoryStore;
use latchkey_authenticator::uv::UvScript;
use latchkey_authenticator::{Authenticator, Config};
use latchkey_client::platform::{self, PlatformDevice, Presence, SystemClock, SystemRng};
use latchkey_client::{Assertion, CancelHandle, CreateRequest, Device, GetRequest, Registration};
use latchkey_transport::virtual_key::{CtapHidApp, Signals, VirtualKey};
use latchkey_transport::SeqpacketListener;
use latchkey_webauthn::b64;
use latchkey_webauthn::ids::{CoseAlgorithm, CredentialId, UserHandle};
use latchkey_webauthn::origin::RpId;
use latchkey_webauthn::rp::{
    verify_authentication, verify_registration, CredentialRecord, ExpectedAuthentication,
    ExpectedOrigins, ExpectedRegistration, ExpectedUser,
};
use serde_json::{json, Value};

pub const ORIGIN: &str = "https://example.com";
pub const RP_ID: &str = "example.com";

/// Counts the touches an authenticator asked for.
#[derive(Clone, Default)]
pub struct Touches(Arc<AtomicUsize>);

impl Touches {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
    fn touch(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The platform authenticator core over a memory store, in process.
pub fn platform_in_memory() -> (PlatformDevice<MemoryStore>, Touches) {
    let touches = Touches::default();
    let t = touches.clone();
    let cancel = CancelHandle::new();
    let presence = Presence::with(cancel.clone(), move |_| {
        t.touch();
        true
    });
    let device = PlatformDevice::with_store(
        platform::config(),
        MemoryStore::default(),
        presence,
        cancel,
        "memory".into(),
    );
    (device, touches)
}

/// A USB-style software key (no alwaysUv, no PIN until set) in process.
pub fn usb_key_in_memory() -> (PlatformDevice<MemoryStore>, Touches) {
    let touches = Touches::default();
    let t = touches.clone();
    let cancel = CancelHandle::new();
    let presence = Presence::with(cancel.clone(), move |_| {
        t.touch();
        true
    });
    let device = PlatformDevice::with_store(
        Config::default(),
        MemoryStore::default(),
        presence,
        cancel,
        "memory".into(),
    );
    (device, touches)
}

/// Presence for the virtual key: counts touches; with `deny`, refuses at once; with `hold`,
/// waits until the host cancels (counted in `cancels`) or `grant` is set.
struct VkPresence {
    touches: Touches,
    fingers: Arc<Mutex<UvScript>>,
    uv_attempts: Touches,
    signals: Signals,
    hold: Arc<AtomicBool>,
    deny: Arc<AtomicBool>,
    grant: Arc<AtomicBool>,
    cancels: Touches,
}

impl UserPresence for VkPresence {
    fn verify_user(&mut self, _purpose: PresencePurpose<'_>) -> Result<UvMatch, PresenceDenied> {
        self.uv_attempts.touch();
        Ok(self.fingers.lock().unwrap().next_outcome())
    }

    fn request_presence(&mut self, _purpose: PresencePurpose<'_>) -> Result<(), PresenceDenied> {
        self.touches.touch();
        if self.deny.load(Ordering::SeqCst) {
            return Err(PresenceDenied::Denied);
        }
        if self.hold.load(Ordering::SeqCst) {
            self.signals.set_up_needed(true);
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if self.signals.is_cancelled() {
                    self.signals.set_up_needed(false);
                    self.cancels.touch();
                    return Err(PresenceDenied::Cancelled);
                }
                if self.grant.load(Ordering::SeqCst) {
                    self.signals.set_up_needed(false);
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            return Err(PresenceDenied::Timeout);
        }
        Ok(())
    }
}

struct App {
    inner: Authenticator<MemoryStore, VkPresence, SystemClock, SystemRng>,
}

impl CtapHidApp for App {
    fn cbor(&mut self, request: &[u8]) -> Vec<u8> {
        self.inner.handle_cbor(request)
    }
    fn msg(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.inner.handle_u2f(apdu)
    }
    fn power_cycle(&mut self) {
        self.inner.power_cycle();
    }
}

/// A virtual key served over a Unix seqpacket socket by the transport's server, in process.
pub struct VirtualKeyServer {
    pub path: PathBuf,
    pub touches: Touches,
    pub hold: Arc<AtomicBool>,
    /// Refuse every touch.
    pub deny: Arc<AtomicBool>,
    /// Grant the touch being held.
    pub grant: Arc<AtomicBool>,
    /// How many held touches the host cancelled (CTAPHID_CANCEL).
    pub cancels: Touches,
    /// What the emulated fingerprint reader answers (with a `built_in_uv` config).
    pub fingers: Arc<Mutex<UvScript>>,
    /// Built-in UV attempts made.
    pub uv_attempts: Touches,
    shutdown: Arc<AtomicBool>,
    _dir: Option<tempfile::TempDir>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl VirtualKeyServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.sock");
        Self::serve(path, Some(dir), Config::default())
    }

    /// A virtual key with its own authenticator `config` (e.g. a fingerprint reader).
    pub fn start_with(config: Config) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.sock");
        Self::serve(path, Some(dir), config)
    }

    /// A virtual key whose socket is created at `path` (e.g. a `hidrawN` node of a fake /dev).
    /// The node exists from the socket's bind, a moment before it accepts connections.
    pub fn start_at(path: &std::path::Path) -> Self {
        Self::serve(path.to_path_buf(), None, Config::default())
    }

    /// A virtual key whose socket appears at `path` only once it accepts connections, as a
    /// device node appears ready: it is bound and listening under a temporary name beside
    /// `path`'s directory (same filesystem), then renamed to `path`.
    pub fn start_ready_at(path: &std::path::Path) -> Self {
        let parent = path.parent().and_then(std::path::Path::parent).unwrap();
        let staging = tempfile::tempdir_in(parent).unwrap();
        let bound = staging.path().join("key.sock");
        let mut server = Self::serve(bound.clone(), None, Config::default());
        std::fs::rename(&bound, path).unwrap();
        server.path = path.to_path_buf();
        server._dir = Some(staging);
        server
    }

    fn serve(path: PathBuf, dir: Option<tempfile::TempDir>, config: Config) -> Self {
        let listener = SeqpacketListener::bind(&path).unwrap();
        let signals = Signals::new();
        let touches = Touches::default();
        let hold = Arc::new(AtomicBool::new(false));
        let deny = Arc::new(AtomicBool::new(false));
        let grant = Arc::new(AtomicBool::new(false));
        let cancels = Touches::default();
        let fingers = Arc::new(Mutex::new(UvScript::default()));
        let uv_attempts = Touches::default();
        let presence = VkPresence {
            touches: touches.clone(),
            fingers: fingers.clone(),
            uv_attempts: uv_attempts.clone(),
            signals: signals.clone(),
            hold: hold.clone(),
            deny: deny.clone(),
            grant: grant.clone(),
            cancels: cancels.clone(),
        };
        let app = App {
            inner: Authenticator::new(
                config,
                MemoryStore::default(),
                presence,
                SystemClock::default(),
                SystemRng,
            ),
        };
        let shutdown = Arc::new(AtomicBool::new(false));
        let stop = shutdown.clone();
        let thread = std::thread::spawn(move || {
            let _ = VirtualKey::new(app, signals).serve_unix(listener, stop);
        });
        Self {
            path,
            touches,
            hold,
            deny,
            grant,
            cancels,
            fingers,
            uv_attempts,
            shutdown,
            _dir: dir,
            thread: Some(thread),
        }
    }

    pub fn open(&self) -> Box<dyn Device> {
        Box::new(latchkey_client::hid::open_unix(&self.path).unwrap())
    }
}

impl Drop for VirtualKeyServer {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Waits until `done` holds, polling an observable state (a counter, a flag), for at most
/// 30 seconds; panics naming `what` after that.
pub fn wait_for(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out after 30 s waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

pub fn random(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    b
}

/// Creation options JSON.
pub fn create_options(
    user_id: &[u8],
    resident_key: &str,
    uv: &str,
    exclude: &[Vec<u8>],
    extensions: Value,
) -> (Value, Vec<u8>) {
    let challenge = random(32);
    let options = json!({
        "rp": {"id": RP_ID, "name": "Example"},
        "user": {"id": b64::encode(user_id), "name": format!("user-{}", b64::encode(user_id)), "displayName": "A User"},
        "challenge": b64::encode(&challenge),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -8}],
        "excludeCredentials": exclude.iter().map(|id| json!({"type": "public-key", "id": b64::encode(id)})).collect::<Vec<_>>(),
        "authenticatorSelection": {"residentKey": resident_key, "userVerification": uv},
        "attestation": "none",
        "extensions": extensions,
    });
    (options, challenge)
}

/// Request options JSON.
pub fn get_options(allow: &[Vec<u8>], uv: &str, extensions: Value) -> (Value, Vec<u8>) {
    let challenge = random(32);
    let options = json!({
        "challenge": b64::encode(&challenge),
        "rpId": RP_ID,
        "allowCredentials": allow.iter().map(|id| json!({"type": "public-key", "id": b64::encode(id)})).collect::<Vec<_>>(),
        "userVerification": uv,
        "extensions": extensions,
    });
    (options, challenge)
}

pub fn create_request(options: &Value) -> CreateRequest {
    CreateRequest::new(options.to_string().as_bytes(), ORIGIN, None).unwrap()
}

pub fn get_request(options: &Value) -> GetRequest {
    GetRequest::new(options.to_string().as_bytes(), ORIGIN, None).unwrap()
}

/// Verifies a registration as the RP; returns the record.
pub fn rp_register(reg: &Registration, challenge: &[u8], require_uv: bool) -> CredentialRecord {
    let rp_id = RpId::parse(RP_ID).unwrap();
    let origins = [ORIGIN];
    let (record, _) = verify_registration(
        &reg.to_response().unwrap(),
        &ExpectedRegistration {
            challenge,
            origins: ExpectedOrigins {
                origins: &origins,
                top_origins: &[],
            },
            rp_id: &rp_id,
            require_user_verification: require_uv,
            algorithms: &[CoseAlgorithm(-7), CoseAlgorithm(-8)],
        },
    )
    .unwrap();
    record
}

/// Verifies an assertion as the RP; returns the new sign count.
pub fn rp_authenticate(
    a: &Assertion,
    challenge: &[u8],
    record: &CredentialRecord,
    user: &[u8],
    require_uv: bool,
    allow: &[Vec<u8>],
) -> u32 {
    let rp_id = RpId::parse(RP_ID).unwrap();
    let origins = [ORIGIN];
    let handle = UserHandle::new(user.to_vec()).unwrap();
    let allow: Vec<CredentialId> = allow
        .iter()
        .map(|id| CredentialId::new("id", id.clone()).unwrap())
        .collect();
    verify_authentication(
        &a.to_response().unwrap(),
        &ExpectedAuthentication {
            challenge,
            origins: ExpectedOrigins {
                origins: &origins,
                top_origins: &[],
            },
            rp_id: &rp_id,
            require_user_verification: require_uv,
            allow_credentials: &allow,
            user: if allow.is_empty() {
                ExpectedUser::Discoverable(&handle)
            } else {
                ExpectedUser::Identified(&handle)
            },
        },
        record,
    )
    .unwrap()
    .sign_count
}

/// The authenticatorData flags byte.
pub fn flags(auth_data: &[u8]) -> u8 {
    auth_data[32]
}
pub const UP: u8 = 0x01;
pub const UV: u8 = 0x04;

/// A device that only speaks U2F: no CTAPHID_CBOR, every CTAP2 request refused.
pub struct U2fOnly<D>(pub D);

impl<D: Device> Device for U2fOnly<D> {
    fn info(&self) -> latchkey_client::DeviceDescription {
        let mut d = self.0.info();
        d.cbor = false;
        d.transport = latchkey_client::Transport::Usb;
        d
    }
    fn cbor(
        &mut self,
        _request: &[u8],
        _status: &mut dyn FnMut(latchkey_client::device::KeepaliveStatus),
    ) -> Result<Vec<u8>, latchkey_client::DeviceError> {
        Err(latchkey_client::DeviceError::Unsupported("CTAP2"))
    }
    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, latchkey_client::DeviceError> {
        self.0.msg(apdu)
    }
    fn cancel_handle(&self) -> CancelHandle {
        self.0.cancel_handle()
    }
}

/// A key that says it is CTAP 2.0: its getInfo loses `pinUvAuthToken` and FIDO_2_1.
pub struct Ctap20<D>(pub D);

impl<D: Device> Device for Ctap20<D> {
    fn info(&self) -> latchkey_client::DeviceDescription {
        self.0.info()
    }
    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(latchkey_client::device::KeepaliveStatus),
    ) -> Result<Vec<u8>, latchkey_client::DeviceError> {
        let answer = self.0.cbor(request, status)?;
        if request.first() != Some(&0x04) {
            return Ok(answer);
        }
        let mut info: latchkey_ctap::command::GetInfoResponse =
            latchkey_ctap::command::decode_response(&answer).unwrap();
        info.versions.retain(|v| v != "FIDO_2_1");
        if let Some(options) = info.options.as_mut() {
            options.remove("pinUvAuthToken");
        }
        let mut out = vec![0x00];
        out.extend(latchkey_ctap::cbor::encode(
            &latchkey_ctap::cbor::ToValue::to_value(&info),
        ));
        Ok(out)
    }
    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, latchkey_client::DeviceError> {
        self.0.msg(apdu)
    }
    fn cancel_handle(&self) -> latchkey_client::CancelHandle {
        self.0.cancel_handle()
    }
}

/// An NFC card in memory: the card-side applet of `latchkey_ctap::nfc` in front of `app` (any
/// device, its CTAP2 and U2F answers), reached through an `ApduLink`, so the client's NFC code
/// (SELECT, chaining, GET RESPONSE, status updates) runs without a reader. `busy` status
/// updates (UPNEEDED) precede each CTAP answer.
pub struct CardInMemory<D> {
    pub applet: latchkey_ctap::nfc::Applet,
    pub app: D,
    pub busy: usize,
    left: usize,
    pending: Option<Vec<u8>>,
    /// Every command APDU transmitted.
    pub apdus: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl<D: Device> CardInMemory<D> {
    pub fn new(app: D, config: latchkey_ctap::nfc::AppletConfig, busy: usize) -> Self {
        Self {
            applet: latchkey_ctap::nfc::Applet::new(config),
            app,
            busy,
            left: 0,
            pending: None,
            apdus: Arc::default(),
        }
    }

    fn answer_or_update(&mut self) -> Vec<u8> {
        use latchkey_ctap::nfc::UpdateStatus;
        if self.left > 0 {
            self.left -= 1;
            if let Some(update) = self.applet.still_running(UpdateStatus::UpNeeded) {
                return update;
            }
        }
        let answer = self.pending.take().unwrap_or_default();
        self.applet.finish(answer).unwrap()
    }
}

impl<D: Device> latchkey_transport::ApduLink for CardInMemory<D> {
    fn transmit(
        &mut self,
        apdu: &[u8],
        _timeout: Duration,
        _cancel: Option<&AtomicBool>,
    ) -> Result<Vec<u8>, latchkey_transport::LinkError> {
        use latchkey_ctap::nfc::{Action, Job};
        self.apdus.lock().unwrap().push(apdu.to_vec());
        Ok(match self.applet.on_apdu(apdu) {
            Action::Reply(r) | Action::Abandon(r) => r,
            Action::Run { job, .. } => {
                let answer = match job {
                    Job::Ctap(request) => self.app.cbor(&request, &mut |_| {}),
                    Job::U2f(command) => self.app.msg(&command),
                };
                self.pending = Some(answer.unwrap_or_else(|_| vec![0x7F]));
                self.left = self.busy;
                self.answer_or_update()
            }
            Action::Poll { .. } => self.answer_or_update(),
        })
    }
}
