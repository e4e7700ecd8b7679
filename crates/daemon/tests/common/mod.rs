//! Shared helpers for latchkeyd's integration tests: the test kit's set-ups under the names these
//! tests use, and the back-ends and checks only they need.
//!
//! How the tests run (no machine bus is ever touched):
//! 1. [`TestBus::start`] starts a private `dbus-daemon` (`latchkey_testkit::bus`).
//! 2. [`start_daemon`] serves latchkeyd in-process on that bus, with a policy text and an
//!    back-end ([`FakeBackend`] or the real platform authenticator, [`platform_authenticator`]),
//!    which runs ceremonies ([`Ceremonies`]) and keeps the platform credentials
//!    ([`PlatformStore`]).
//! 3. [`Prompt::spawn`] runs the `latchkey-test-prompt` binary (scripted answers, a JSON-lines
//!    record of what it was shown) either owning `dev.latchkey.Prompt` or registered as a
//!    caller-controlled prompt.
//! 4. Tests call the API with [`latchkey_api::CredentialsClient`].
#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use latchkey_client::manage::CredentialInfo;
use latchkey_daemon::ceremony::{
    CancelToken, Ceremonies, Ceremony, CeremonyResult, PromptSession, RequestId,
};
use latchkey_daemon::signal::{Signal, SignalError, SignalReport, SignalSupport};
use latchkey_daemon::store::{PlatformStore, StoreError};
use latchkey_webauthn::WebAuthnError;

pub use latchkey_testkit::bins::binary as bin;
pub use latchkey_testkit::daemon::{
    start_daemon, start_daemon_related, start_daemon_with, test_timeouts,
};
pub use latchkey_testkit::landlock_abi;
pub use latchkey_testkit::platform::memory_platform as platform_authenticator;
pub use latchkey_testkit::policy::{
    bound_self as policy_bound_self, privileged_self as policy_privileged_self, trusted_prompt,
};
pub use latchkey_testkit::prompt::{prompt_bin, Prompt};
pub use latchkey_testkit::wait::Changes;
pub use latchkey_testkit::{caller, https, peer, policy, TestBus};

/// How [`FakeBackend`] behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeMode {
    /// Answers at once.
    Answer,
    /// Never answers (until cancelled).
    Hang,
    /// Asks the prompt for a PIN and answers with its length.
    AskPin,
}

/// An in-test back-end: echoes clientDataJSON in a response-shaped JSON; records cancels; keeps
/// one platform credential (ID 010203) that it lists and pretends to delete, and no signals.
pub struct FakeBackend {
    pub mode: Mutex<FakeMode>,
    pub cancelled: Arc<Mutex<Vec<RequestId>>>,
    pub ceremonies: Mutex<Vec<RequestId>>,
    /// Ticks when `ceremonies` or `cancelled` grows.
    pub changes: Changes,
}

impl FakeBackend {
    pub fn new(mode: FakeMode) -> Arc<Self> {
        Arc::new(Self {
            mode: Mutex::new(mode),
            cancelled: Arc::default(),
            ceremonies: Mutex::default(),
            changes: Changes::default(),
        })
    }

    async fn answer(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> CeremonyResult {
        self.ceremonies.lock().unwrap().push(c.id());
        self.changes.tick();
        let (cancelled, changes, id) = (self.cancelled.clone(), self.changes.clone(), c.id());
        cancel.on_cancel(move || {
            cancelled.lock().unwrap().push(id);
            changes.tick();
        });
        let mode = *self.mode.lock().unwrap();
        let pin_len = match mode {
            FakeMode::Answer => 0,
            // Until the request is cancelled, which drops this future.
            FakeMode::Hang => std::future::pending().await,
            FakeMode::AskPin => ui.pin(Default::default()).await?.expose().len(),
        };
        Ok(serde_json::json!({
            "id": "AQID",
            "rawId": "AQID",
            "type": "public-key",
            "response": { "clientDataJSON": latchkey_webauthn::b64::encode(c.client_data_json()) },
            "pinLength": pin_len,
            "rpId": c.authorized().rp_id().as_str(),
        }))
    }
}

#[async_trait]
impl Ceremonies for FakeBackend {
    async fn create(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> CeremonyResult {
        self.answer(c, ui, cancel).await
    }
    async fn get(
        &self,
        c: &Ceremony,
        ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> CeremonyResult {
        self.answer(c, ui, cancel).await
    }
    fn capabilities(&self) -> BTreeMap<String, bool> {
        BTreeMap::from([("passkeyPlatformAuthenticator".to_owned(), true)])
    }
}

impl PlatformStore for FakeBackend {
    fn list(&self, _rp_id: Option<&str>) -> Result<Vec<CredentialInfo>, StoreError> {
        Ok(vec![CredentialInfo {
            credential_id: vec![1, 2, 3],
            rp_id: "example.com".into(),
            user_id: b"alice".to_vec(),
            user_name: Some("alice".into()),
            user_display_name: Some("Alice".into()),
            discoverable: true,
            cred_protect: 1,
            sign_count: None,
        }])
    }
    fn delete(&self, id: &[u8]) -> Result<bool, StoreError> {
        Ok(id == [1, 2, 3])
    }
    fn signal_support(&self) -> SignalSupport {
        SignalSupport::NONE
    }
    fn apply_signal(&self, s: &Signal) -> Result<SignalReport, SignalError> {
        Err(SignalError::NotSupported(s.body.kind().capability()))
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
pub struct GatedBackend {
    state: Arc<GateState>,
}

#[derive(Default)]
struct GateState {
    gate: Mutex<Gate>,
    freed: std::sync::Condvar,
    /// Ticks at each change of `gate`.
    changes: Changes,
}

/// What [`GatedBackend`] saw.
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

impl GatedBackend {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Arc::default(),
        })
    }

    /// What it saw so far.
    pub fn gate(&self) -> Gate {
        *self.state.gate.lock().unwrap()
    }

    /// Waits until what it saw satisfies `done`.
    pub async fn until(&self, what: &str, mut done: impl FnMut(Gate) -> bool) {
        self.state.changes.until(what, || done(self.gate())).await;
    }

    /// Holds the authenticator until the request is cancelled.
    async fn hold(&self, cancel: &CancelToken) -> CeremonyResult {
        self.state.gate.lock().unwrap().held = true;
        self.state.changes.tick();
        let state = self.state.clone();
        cancel.on_cancel(move || state.free());
        // Until the request is cancelled, which drops this future.
        std::future::pending().await
    }

    /// Frees the authenticator when dropped, so that a test failing while a signal's thread waits
    /// for it does not hang: its runtime waits for that thread as it shuts down.
    pub fn freed_on_drop(self: &Arc<Self>) -> FreedOnDrop {
        FreedOnDrop(self.state.clone())
    }
}

/// Frees a [`GatedBackend`]'s authenticator when dropped.
pub struct FreedOnDrop(Arc<GateState>);

impl Drop for FreedOnDrop {
    fn drop(&mut self) {
        self.0.free();
    }
}

impl GateState {
    /// The ceremony holding the authenticator is over: the signals waiting for it run.
    fn free(&self) {
        self.gate.lock().unwrap_or_else(|e| e.into_inner()).held = false;
        self.freed.notify_all();
        self.changes.tick();
    }
}

#[async_trait]
impl Ceremonies for GatedBackend {
    async fn create(
        &self,
        _c: &Ceremony,
        _ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> CeremonyResult {
        self.hold(cancel).await
    }
    async fn get(
        &self,
        _c: &Ceremony,
        _ui: Arc<dyn PromptSession>,
        cancel: &CancelToken,
    ) -> CeremonyResult {
        self.hold(cancel).await
    }
    fn capabilities(&self) -> BTreeMap<String, bool> {
        BTreeMap::new()
    }
}

impl PlatformStore for GatedBackend {
    fn list(&self, _rp_id: Option<&str>) -> Result<Vec<CredentialInfo>, StoreError> {
        Ok(Vec::new())
    }
    fn delete(&self, _id: &[u8]) -> Result<bool, StoreError> {
        Ok(false)
    }
    fn signal_support(&self) -> SignalSupport {
        SignalSupport::ALL
    }
    fn apply_signal(&self, _s: &Signal) -> Result<SignalReport, SignalError> {
        let mut gate = self.state.gate.lock().unwrap();
        gate.waiting += 1;
        gate.most_waiting = gate.most_waiting.max(gate.waiting);
        self.state.changes.tick();
        while gate.held {
            gate = self.state.freed.wait(gate).unwrap();
        }
        gate.waiting -= 1;
        gate.applied += 1;
        drop(gate);
        self.state.changes.tick();
        Ok(SignalReport::default())
    }
}

/// [`peer::within`] on a paused clock that does not move by itself: while a `spawn_blocking` thread
/// runs (a back-end blocked on its authenticator), tokio does not auto-advance a paused clock. So
/// each time `fut` is still pending this moves the clock on by `step` and lets the runtime run,
/// until `fut` is ready or [`peer::LIMIT`] of moved time is spent (a paused clock needs tokio's
/// `test-util`, which only these tests enable).
pub async fn within_advancing<F: std::future::Future>(
    what: &str,
    step: Duration,
    fut: F,
) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let start = tokio::time::Instant::now();
    loop {
        if start.elapsed() >= peer::LIMIT {
            panic!(
                "{what}: nothing within {:?} of a moved clock over the socket pair",
                peer::LIMIT
            );
        }
        tokio::select! {
            biased;
            out = &mut fut => return out,
            () = tokio::time::advance(step) => {}
        }
    }
}

/// Security keys that are never right: a ceremony routed here fails with a name the test
/// recognises.
pub struct NoKeys;

impl NoKeys {
    fn refuse() -> CeremonyResult {
        Err(WebAuthnError::invalid_state("routed to the security keys").into())
    }
}

#[async_trait]
impl Ceremonies for NoKeys {
    async fn create(
        &self,
        _: &Ceremony,
        _: Arc<dyn PromptSession>,
        _: &CancelToken,
    ) -> CeremonyResult {
        Self::refuse()
    }
    async fn get(
        &self,
        _: &Ceremony,
        _: Arc<dyn PromptSession>,
        _: &CancelToken,
    ) -> CeremonyResult {
        Self::refuse()
    }
    fn capabilities(&self) -> BTreeMap<String, bool> {
        BTreeMap::new()
    }
}

/// latchkeyd (over a peer connection) with the router in front of `platform` and [`NoKeys`]:
/// `store` answers the router's look-ups, and the scripted prompt answers with `script`.
pub async fn routed<P: Ceremonies + PlatformStore>(
    platform: Arc<P>,
    store: Arc<dyn PlatformStore>,
    keys_enabled: bool,
    script: &str,
) -> (peer::PeerDaemon, latchkey_testkit::prompt::Record) {
    let backends = latchkey_daemon::server::Backends {
        ceremonies: Arc::new(latchkey_daemon::routing::Router::new(
            platform.clone(),
            store,
            Arc::new(NoKeys),
            keys_enabled,
        )),
        store: platform,
        keys: None,
    };
    peer::start_recorded(&policy::privileged_self_prompting(), backends, script).await
}

/// Creates a passkey for example.com and returns get options whose allowList names it.
pub async fn create_then_allow(client: &latchkey_api::CredentialsClient) -> String {
    let out = client
        .call(
            latchkey_api::Kind::Create,
            &create_options("example.com"),
            &latchkey_testkit::rp::web(),
        )
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    let reg: latchkey_webauthn::response::RegistrationResponseJSON =
        serde_json::from_str(&out.response_json().unwrap()).unwrap();
    format!(
        r#"{{"rpId":"example.com","challenge":"AAECAwQFBgcICQoLDA0ODw","userVerification":"required","allowCredentials":[{{"type":"public-key","id":"{}"}}]}}"#,
        reg.raw_id
    )
}

/// A platform store that counts the look-ups made in it (`list`) and otherwise is `inner`.
pub struct CountingStore<S> {
    inner: Arc<S>,
    lists: std::sync::atomic::AtomicUsize,
}

impl<S> CountingStore<S> {
    pub fn new(inner: Arc<S>) -> Self {
        Self {
            inner,
            lists: Default::default(),
        }
    }

    pub fn lists(&self) -> usize {
        self.lists.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl<S: PlatformStore> PlatformStore for CountingStore<S> {
    fn list(&self, rp_id: Option<&str>) -> Result<Vec<CredentialInfo>, StoreError> {
        self.lists.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.list(rp_id)
    }
    fn delete(&self, credential_id: &[u8]) -> Result<bool, StoreError> {
        self.inner.delete(credential_id)
    }
    fn signal_support(&self) -> SignalSupport {
        self.inner.signal_support()
    }
    fn apply_signal(&self, signal: &Signal) -> Result<SignalReport, SignalError> {
        self.inner.apply_signal(signal)
    }
}
