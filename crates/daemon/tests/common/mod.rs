//! Shared helpers for latchkeyd's integration tests.
//!
//! How the tests run (no machine bus is ever touched):
//! 1. [`TestBus::start`] writes a session-bus config into a temp dir (listening on a socket in that
//!    dir, optionally with a `<servicedir>` for activation tests) and starts
//!    `dbus-daemon --config-file=… --print-address --nofork`; dropping it kills the daemon.
//! 2. [`start_daemon`] serves latchkeyd in-process on that bus, with a policy text and an
//!    [`Authenticators`] back-end ([`FakeAuthenticators`] or the real platform authenticator).
//! 3. [`Prompt::spawn`] runs the `latchkey-test-prompt` binary (scripted answers, a JSON-lines
//!    record of what it was shown) either owning `dev.latchkey.Prompt` or registered as a
//!    caller-controlled prompt.
//! 4. Tests call the API with [`latchkey_api::CredentialsClient`].
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use latchkey_daemon::authenticators::{
    Authenticators, Ceremony, ManageError, PlatformCredential, PromptSession, RequestId,
};
use latchkey_daemon::policy::Policy;
use latchkey_daemon::server::{Daemon, Settings, Timeouts};
use latchkey_webauthn::WebAuthnError;

/// A private `dbus-daemon`.
pub struct TestBus {
    pub dir: tempfile::TempDir,
    pub address: String,
    child: Child,
}

impl TestBus {
    /// Starts a bus without activatable services.
    pub fn start() -> Self {
        Self::start_with_services(None)
    }

    /// Starts a bus whose `<servicedir>` is `services` (for activation tests), with `env` set
    /// in activated services' environment.
    pub fn start_with_services(services: Option<&Path>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let servicedir = services
            .map(|s| format!("<servicedir>{}</servicedir>", s.display()))
            .unwrap_or_default();
        let config = format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:dir={dir}</listen>
  {servicedir}
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  <limit name="max_connections_per_user">2000</limit>
  <limit name="max_match_rules_per_connection">5000</limit>
  <limit name="max_replies_per_connection">5000</limit>
</busconfig>
"#,
            dir = dir.path().display()
        );
        let conf_path = dir.path().join("bus.conf");
        std::fs::write(&conf_path, config).unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf_path.display()))
            .args(["--print-address", "--nofork"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("dbus-daemon.log")).unwrap())
            .spawn()
            .expect("dbus-daemon must be installed (apt-get install dbus-daemon)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_owned();
        assert!(
            address.starts_with("unix:"),
            "dbus-daemon printed {address:?}"
        );
        Self {
            dir,
            address,
            child,
        }
    }
}

impl Drop for TestBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The workspace's binary `name`, its platform worker built with the TPM store when these tests
/// are (one build per test process).
pub fn bin(name: &str) -> PathBuf {
    if cfg!(feature = "tpm") {
        latchkey_testkit::bins::binary_with_tpm(name)
    } else {
        latchkey_testkit::bins::binary(name)
    }
}

/// The scripted prompt binary.
pub fn prompt_bin() -> PathBuf {
    bin("latchkey-test-prompt")
}

/// Policy: this test binary is a privileged client and the test prompt is trusted.
pub fn policy_privileged_self() -> String {
    format!(
        "[[privileged]]\nname = \"test browser\"\nexecutable = \"{}\"\n{}",
        std::env::current_exe().unwrap().display(),
        trusted_prompt()
    )
}

/// Policy: the test binary is an app bound to `rp_ids`.
pub fn policy_bound_self(rp_ids: &[&str]) -> String {
    format!(
        "[[app]]\nname = \"test app\"\nexecutable = \"{}\"\nrp_ids = {:?}\n{}",
        std::env::current_exe().unwrap().display(),
        rp_ids,
        trusted_prompt()
    )
}

/// Policy: only the trusted prompt (the test binary is unknown).
pub fn trusted_prompt() -> String {
    format!(
        "[[trusted_prompt]]\nexecutable = \"{}\"\n",
        prompt_bin().display()
    )
}

/// Test timeouts: short enough for tests.
pub fn test_timeouts() -> Timeouts {
    Timeouts {
        min: Duration::from_millis(200),
        max: Duration::from_secs(60),
        default: Duration::from_secs(30),
    }
}

/// Starts latchkeyd in-process on `bus`.
pub async fn start_daemon(bus: &TestBus, policy: &str, auth: Arc<dyn Authenticators>) -> Daemon {
    start_daemon_with(bus, policy, auth, 64, test_timeouts()).await
}

/// Starts latchkeyd with explicit queue capacity and timeouts.
pub async fn start_daemon_with(
    bus: &TestBus,
    policy: &str,
    auth: Arc<dyn Authenticators>,
    queue_capacity: usize,
    timeouts: Timeouts,
) -> Daemon {
    let policy = Policy::from_toml(policy).unwrap();
    assert!(policy.warnings.is_empty(), "{:?}", policy.warnings);
    let settings = Settings {
        policy,
        authenticators: auth,
        queue_capacity,
        timeouts,
        uid: rustix::process::getuid().as_raw(),
        related_origins: None,
    };
    Daemon::start(Some(&bus.address), settings).await.unwrap()
}

/// A running scripted prompt.
pub struct Prompt {
    child: Child,
    pub record: PathBuf,
}

impl Prompt {
    /// Spawns the test prompt with `script`; `register` makes it a caller-controlled prompt.
    pub fn spawn(bus: &TestBus, script: &str, register: bool) -> Self {
        let n = std::sync::atomic::AtomicU32::new(0);
        let id = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stamp = format!("{}-{}", std::process::id(), rand_suffix() + u64::from(id));
        let script_path = bus.dir.path().join(format!("script-{stamp}"));
        let record = bus.dir.path().join(format!("record-{stamp}.jsonl"));
        std::fs::write(&script_path, script).unwrap();
        let mut cmd = Command::new(prompt_bin());
        cmd.arg("--script")
            .arg(&script_path)
            .arg("--record")
            .arg(&record)
            .arg("--address")
            .arg(&bus.address);
        if register {
            cmd.arg("--register");
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        Self { child, record }
    }

    /// The JSON lines recorded so far.
    pub fn shown(&self) -> Vec<serde_json::Value> {
        latchkey_prompt::scripted::read_record(&self.record).unwrap()
    }

    /// The recorded `Consent` calls.
    pub fn consents(&self) -> Vec<serde_json::Value> {
        self.shown()
            .into_iter()
            .filter(|r| r["method"] == "Consent")
            .collect()
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        % 1_000_000_007
}

impl Drop for Prompt {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How [`FakeAuthenticators`] behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeMode {
    /// Answers at once.
    Answer,
    /// Never answers (until cancelled).
    Hang,
    /// Asks the prompt for a PIN and answers with its length.
    AskPin,
}

/// An in-test back-end: echoes clientDataJSON in a response-shaped JSON; records cancels.
pub struct FakeAuthenticators {
    pub mode: Mutex<FakeMode>,
    pub cancelled: Mutex<Vec<RequestId>>,
    pub ceremonies: Mutex<Vec<RequestId>>,
}

impl FakeAuthenticators {
    pub fn new(mode: FakeMode) -> Arc<Self> {
        Arc::new(Self {
            mode: Mutex::new(mode),
            cancelled: Mutex::default(),
            ceremonies: Mutex::default(),
        })
    }

    async fn answer(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
    ) -> Result<serde_json::Value, WebAuthnError> {
        self.ceremonies.lock().unwrap().push(c.id);
        let mode = *self.mode.lock().unwrap();
        let pin_len = match mode {
            FakeMode::Answer => 0,
            FakeMode::Hang => loop {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            },
            FakeMode::AskPin => ui.pin(Default::default()).await?.expose().len(),
        };
        Ok(serde_json::json!({
            "id": "AQID",
            "rawId": "AQID",
            "type": "public-key",
            "response": { "clientDataJSON": latchkey_webauthn::b64::encode(&c.client_data_json) },
            "pinLength": pin_len,
            "rpId": c.authorized.rp_id().as_str(),
        }))
    }
}

#[async_trait]
impl Authenticators for FakeAuthenticators {
    async fn create(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
    ) -> Result<serde_json::Value, WebAuthnError> {
        self.answer(c, ui).await
    }
    async fn get(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
    ) -> Result<serde_json::Value, WebAuthnError> {
        self.answer(c, ui).await
    }
    fn cancel(&self, id: RequestId) {
        self.cancelled.lock().unwrap().push(id);
    }
    fn capabilities(&self) -> BTreeMap<String, bool> {
        BTreeMap::from([("passkeyPlatformAuthenticator".to_owned(), true)])
    }
    fn list_platform_credentials(
        &self,
        _rp_id: Option<&str>,
    ) -> Result<Vec<PlatformCredential>, ManageError> {
        Ok(vec![PlatformCredential {
            credential_id: vec![1, 2, 3],
            rp_id: "example.com".into(),
            user_name: "alice".into(),
            user_display_name: "Alice".into(),
        }])
    }
    fn delete_platform_credential(&self, id: &[u8]) -> Result<(), ManageError> {
        if id == [1, 2, 3] {
            Ok(())
        } else {
            Err(ManageError::NotFound)
        }
    }
}

/// Creation options for `rp_id` with a fixed challenge.
pub fn create_options(rp_id: &str) -> String {
    format!(
        r#"{{"rp":{{"id":"{rp_id}","name":"Example"}},"user":{{"id":"AQIDBA","name":"alice","displayName":"Alice"}},"challenge":"AAECAwQFBgcICQoLDA0ODw","pubKeyCredParams":[{{"type":"public-key","alg":-7}}],"authenticatorSelection":{{"residentKey":"required","userVerification":"preferred"}}}}"#
    )
}

/// Request options for `rp_id` with a fixed challenge.
pub fn get_options(rp_id: &str) -> String {
    format!(
        r#"{{"rpId":"{rp_id}","challenge":"AAECAwQFBgcICQoLDA0ODw","userVerification":"preferred"}}"#
    )
}

/// Decodes the `clientDataJSON` out of a fake or real response.
pub fn client_data(response_json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(response_json).unwrap();
    let b = latchkey_webauthn::b64::decode(
        "clientDataJSON",
        v["response"]["clientDataJSON"].as_str().unwrap(),
    )
    .unwrap();
    String::from_utf8(b).unwrap()
}

/// The shape of one interface in introspection XML: its methods, signals, properties and args
/// (names, types, directions) in order, comments and whitespace ignored.
pub fn interface_shape(xml: &str, interface: &str) -> Vec<String> {
    let mut text = String::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<!--") {
        text.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find("-->").map_or(rest.len(), |e| e + 3);
        rest = &rest[end..];
    }
    text.push_str(rest);
    let open = format!("<interface name=\"{interface}\">");
    let Some(start) = text.find(&open) else {
        return Vec::new();
    };
    let body = &text[start + open.len()..];
    let body = &body[..body.find("</interface>").unwrap()];
    let mut shape = Vec::new();
    for tag in body.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap().trim_end_matches('/').trim();
        if tag.starts_with('/') || tag.starts_with("annotation") {
            continue;
        }
        let mut words = tag.split_whitespace();
        let kind = words.next().unwrap().to_owned();
        let mut attrs: Vec<&str> = words.collect();
        attrs.sort();
        shape.push(format!("{kind} {}", attrs.join(" ")));
    }
    shape
}

/// Introspects `path` at `dest`.
pub async fn introspect(conn: &zbus::Connection, dest: &str, path: &str) -> String {
    let p = zbus::fdo::IntrospectableProxy::builder(conn)
        .destination(dest.to_owned())
        .unwrap()
        .path(path.to_owned())
        .unwrap()
        .build()
        .await
        .unwrap();
    p.introspect().await.unwrap()
}

/// The real platform authenticator (the software CTAP 2.1 core with the platform configuration)
/// over an in-memory credential store, behind [`latchkey_daemon::platform::ClientAuthenticators`].
pub fn platform_authenticator() -> Arc<dyn Authenticators> {
    use latchkey_client::platform::{self, PlatformDevice, Presence};
    let cancel = latchkey_client::CancelHandle::new();
    let device = PlatformDevice::with_store(
        platform::config(),
        latchkey_authenticator::memory::MemoryStore::default(),
        Presence::granted(cancel.clone()),
        cancel,
        "memory".into(),
    );
    Arc::new(latchkey_daemon::platform::ClientAuthenticators::new(
        Box::new(device),
        true,
    ))
}

pub mod caller;
pub mod https;

/// Starts latchkeyd on `bus` with `policy`, `auth`, a queue of `queue_capacity` and Related Origin
/// Requests through `related`.
pub async fn start_daemon_related(
    bus: &TestBus,
    policy: &str,
    auth: Arc<dyn Authenticators>,
    queue_capacity: usize,
    related: Arc<latchkey_daemon::related::RelatedOrigins>,
) -> Daemon {
    let settings = Settings {
        policy: Policy::from_toml(policy).unwrap(),
        authenticators: auth,
        queue_capacity,
        timeouts: test_timeouts(),
        uid: rustix::process::getuid().as_raw(),
        related_origins: Some(related),
    };
    Daemon::start(Some(&bus.address), settings).await.unwrap()
}

/// Copies this test binary to `dir/name` (executable) and returns the copy's path: another
/// program, as far as the kernel's view of executables goes.
pub fn copy_test_binary(dir: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let dst = dir.join(name);
    std::fs::copy(std::env::current_exe().unwrap(), &dst).unwrap();
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).unwrap();
    dst
}

/// Policy: this test binary and each of `others` are privileged clients; the test prompt is
/// trusted.
pub fn policy_privileged_self_and(others: &[&Path]) -> String {
    let mut policy = policy_privileged_self();
    for (i, exe) in others.iter().enumerate() {
        policy.push_str(&format!(
            "[[privileged]]\nname = \"test browser {i}\"\nexecutable = \"{}\"\n",
            exe.display()
        ));
    }
    policy
}

/// A back-end whose ceremonies hold the platform authenticator (as a ceremony waiting for a PIN
/// holds the device) until cancelled, and whose signals wait for it like the platform back-end's
/// do. Counts the signals waiting at once.
pub struct GatedAuthenticators {
    gate: Mutex<Gate>,
    freed: std::sync::Condvar,
}

/// What [`GatedAuthenticators`] saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// A ceremony holds the authenticator.
    pub held: bool,
    /// Signals waiting for it now.
    pub waiting: usize,
    /// The most signals that were ever waiting at once.
    pub most_waiting: usize,
    /// Signals applied.
    pub applied: usize,
}

impl GatedAuthenticators {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            gate: Mutex::default(),
            freed: std::sync::Condvar::new(),
        })
    }

    /// What it saw so far.
    pub fn gate(&self) -> Gate {
        *self.gate.lock().unwrap()
    }

    async fn hold(&self) -> Result<serde_json::Value, WebAuthnError> {
        self.gate.lock().unwrap().held = true;
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
}

#[async_trait]
impl Authenticators for GatedAuthenticators {
    async fn create(
        &self,
        _c: &Ceremony,
        _ui: Arc<dyn PromptSession>,
    ) -> Result<serde_json::Value, WebAuthnError> {
        self.hold().await
    }
    async fn get(
        &self,
        _c: &Ceremony,
        _ui: Arc<dyn PromptSession>,
    ) -> Result<serde_json::Value, WebAuthnError> {
        self.hold().await
    }
    fn cancel(&self, _id: RequestId) {
        self.gate.lock().unwrap().held = false;
        self.freed.notify_all();
    }
    fn capabilities(&self) -> BTreeMap<String, bool> {
        BTreeMap::new()
    }
    fn list_platform_credentials(
        &self,
        _rp_id: Option<&str>,
    ) -> Result<Vec<PlatformCredential>, ManageError> {
        Ok(Vec::new())
    }
    fn delete_platform_credential(&self, _id: &[u8]) -> Result<(), ManageError> {
        Err(ManageError::NotFound)
    }
    fn signal_support(&self) -> latchkey_daemon::signal::SignalSupport {
        latchkey_daemon::signal::SignalSupport::ALL
    }
    fn apply_signal(
        &self,
        _s: &latchkey_daemon::signal::Signal,
    ) -> Result<latchkey_daemon::signal::SignalReport, latchkey_daemon::signal::SignalError> {
        let mut gate = self.gate.lock().unwrap();
        gate.waiting += 1;
        gate.most_waiting = gate.most_waiting.max(gate.waiting);
        while gate.held {
            gate = self.freed.wait(gate).unwrap();
        }
        gate.waiting -= 1;
        gate.applied += 1;
        Ok(latchkey_daemon::signal::SignalReport::default())
    }
}

#[allow(unused_imports)] // each test binary uses a different subset
pub use latchkey_testkit::landlock_abi;
