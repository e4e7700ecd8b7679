//! What every test of ceremonies through the real latchkeyd starts with: a desktop whose bus
//! activates latchkey-ui, latchkeyd on it, an API client as the caller, and webauthn-rs (an RP
//! library we did not write) making the options and verifying the responses; and the person's
//! most common answer, a consent followed by the platform PIN's creation.

use latchkey_api::{CallOptions, CredentialsClient, Kind, Outcome};
use latchkey_testkit::rp;
use webauthn_rs_core::proto::{
    AuthenticationResult, AuthenticatorAttachment, Credential, UserVerificationPolicy,
};
use webauthn_rs_core::WebauthnCore;

use super::latchkeyd::{desktop, person, test_browser, Latchkeyd};
use super::{Desktop, Driver};

/// A desktop, latchkeyd on it, a client and the RP; stopped on drop.
pub struct Session {
    client: Option<CredentialsClient>,
    /// The RP (origin `https://example.com`).
    pub core: WebauthnCore,
    /// latchkeyd: its directory and log.
    pub lk: Latchkeyd,
    /// The desktop (display, session bus, accessibility bus).
    pub d: Desktop,
    _services: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
}

impl Drop for Session {
    fn drop(&mut self) {
        // The client's connection ends its tasks on the runtime it was made on.
        let _inside = self.rt.enter();
        drop(self.client.take());
    }
}

impl Session {
    /// `privileged`: policy names this test as a browser ("Test Browser"); otherwise it is an
    /// unknown caller.
    pub fn start(privileged: bool) -> Self {
        let policy = if privileged {
            test_browser()
        } else {
            String::new()
        };
        Self::start_with(&policy, &[])
    }

    /// [`Self::start`] with `policy` (TOML tables) and latchkeyd arguments of the test's own.
    pub fn start_with(policy: &str, args: &[String]) -> Self {
        let (d, services) = desktop();
        let lk = Latchkeyd::start_with(&d, policy, args);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let client = rt
            .block_on(CredentialsClient::connect(Some(&d.bus_address)))
            .unwrap();
        Self {
            client: Some(client),
            core: rp::rp(),
            lk,
            d,
            _services: services,
            rt,
        }
    }

    /// The caller's client.
    pub fn client(&self) -> &CredentialsClient {
        self.client.as_ref().unwrap()
    }

    /// Runs `f` to completion on the session's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// A create or get with `options_json` and `options`, as the caller.
    pub fn call(&self, kind: Kind, options_json: &str, options: &CallOptions) -> Outcome {
        self.block_on(self.client().call(kind, options_json, options))
            .unwrap()
    }

    /// Signs in from `https://example.com` with `cred`; webauthn-rs verifies the assertion.
    pub fn sign_in(
        &self,
        cred: &Credential,
        uv: UserVerificationPolicy,
    ) -> (serde_json::Value, AuthenticationResult) {
        self.block_on(rp::sign_in(self.client(), &self.core, cred, uv))
    }

    /// A platform passkey for alice@example.com (UV required), made from `https://example.com`
    /// while `at` answers the consent and creates the platform PIN `pin`; webauthn-rs verifies
    /// it. Returns the driver and the credential.
    pub fn create_with_new_pin(&self, at: Driver, pin: &'static str) -> (Driver, Credential) {
        let reg = rp::registration(
            &self.core,
            Some(AuthenticatorAttachment::Platform),
            UserVerificationPolicy::Required,
        );
        let gui = person(at, move |at| {
            at.wait_text("Create a passkey for example.com");
            at.press("Continue");
            create_pin(at, pin);
        });
        let out = self.call(Kind::Create, &reg.json, &rp::web());
        let at = gui.join().unwrap();
        let (cred, _) = rp::verify_registration(&self.core, &reg, &rp::ok_json(&out));
        (at, cred)
    }
}

/// Answers the first-use PIN page with `pin` (twice) and waits for the prompt to close.
pub fn create_pin(at: &mut Driver, pin: &str) {
    at.wait_text("Create a PIN for this device");
    at.set_text("New PIN", pin);
    at.set_text("Confirm PIN", pin);
    at.press("Continue");
    at.wait_gone();
}
