#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The Signal API (WebAuthn L3 §5.1.10) on a private bus: silent, checked like a ceremony,
//! applied to a real credential store, reported by getClientCapabilities only where built.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::*;
use latchkey_api::ClientError;
use latchkey_authenticator::memory::MemoryStore;
use latchkey_authenticator::store::CredentialStore;
use latchkey_client::manage::CredentialInfo;
use latchkey_client::platform::PlatformDevice;
use latchkey_daemon::platform::PlatformBackend;
use latchkey_daemon::server::Backends;
use latchkey_daemon::signal::{self, Signal, SignalError, SignalReport, SignalSupport};
use latchkey_daemon::store::{PlatformStore, StoreError};
use latchkey_testkit::platform::seed;
use zbus::zvariant::Value;

/// The platform authenticator over an in-memory credential store, applying the signals of
/// `support` with [`signal::apply`] as the platform back-end does; its ceremonies are the fake
/// back-end's.
struct StoreBackend {
    device: Mutex<PlatformDevice<MemoryStore>>,
    support: SignalSupport,
}

impl PlatformStore for StoreBackend {
    fn list(&self, _rp_id: Option<&str>) -> Result<Vec<CredentialInfo>, StoreError> {
        Ok(Vec::new())
    }
    fn delete(&self, _id: &[u8]) -> Result<bool, StoreError> {
        Ok(false)
    }
    fn signal_support(&self) -> SignalSupport {
        self.support
    }
    fn apply_signal(&self, s: &Signal) -> Result<SignalReport, SignalError> {
        if !self.support.supports(s.body.kind()) {
            return Err(SignalError::NotSupported(s.body.kind().capability()));
        }
        signal::apply(&mut *self.device.lock().unwrap(), s)
    }
}

/// latchkeyd's back-ends with `store` for the platform credentials.
fn serve(store: Arc<StoreBackend>) -> Backends {
    Backends {
        ceremonies: FakeBackend::new(FakeMode::Answer),
        store,
        keys: None,
    }
}

/// [1,2,3] "AQID" and [4,5,6] "BAUG" of user "dXNlcg" (b"user"), [7,8,9] "BwgJ" of "b3RoZXI"
/// (b"other") at example.com; [10,11,12] "CgsM" of b"user" at other.example.
fn backend(support: SignalSupport) -> Arc<StoreBackend> {
    let mut store = MemoryStore::default();
    seed(
        &mut store,
        &[1, 2, 3],
        "example.com",
        b"user",
        "alice",
        false,
    );
    seed(
        &mut store,
        &[4, 5, 6],
        "example.com",
        b"user",
        "alice",
        true,
    );
    seed(&mut store, &[7, 8, 9], "example.com", b"other", "bob", true);
    seed(
        &mut store,
        &[10, 11, 12],
        "other.example",
        b"user",
        "alice",
        true,
    );
    Arc::new(StoreBackend {
        device: Mutex::new(latchkey_testkit::platform::device_with(store)),
        support,
    })
}

impl StoreBackend {
    fn ids(&self, rp: &str) -> Vec<Vec<u8>> {
        let mut device = self.device.lock().unwrap();
        let store = device.core_mut().store_mut();
        store.by_rp(rp).unwrap().into_iter().map(|c| c.id).collect()
    }
    fn names(&self, rp: &str) -> Vec<(Option<String>, Option<String>)> {
        let mut device = self.device.lock().unwrap();
        device
            .core_mut()
            .store_mut()
            .by_rp(rp)
            .unwrap()
            .into_iter()
            .map(|c| (c.user.name, c.user.display_name))
            .collect()
    }
}

fn web(origin: &str) -> HashMap<&str, Value<'_>> {
    HashMap::from([("origin", Value::from(origin))])
}

/// The DOMException name a signal call failed with.
fn refused(r: zbus::Result<()>) -> (String, String) {
    let e = ClientError::from(r.unwrap_err()).webauthn_error();
    (e.name().to_owned(), e.message().to_owned())
}

const ALL_ACCEPTED: &str =
    r#"{"rpId":"example.com","userId":"dXNlcg","allAcceptedCredentialIds":["BAUG","BwgJ"]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_report_only_the_signals_that_are_built() {
    for (support, want) in [
        (SignalSupport::NONE, [false, false, false]),
        (SignalSupport::REMOVE_ONLY, [true, true, false]),
        (SignalSupport::ALL, [true, true, true]),
    ] {
        // The API alone: over a socket pair, no bus.
        let d =
            latchkey_testkit::peer::start(&policy_privileged_self(), serve(backend(support))).await;
        let client = &d.client;
        let caps = client.proxy().get_client_capabilities().await.unwrap();
        let got = [
            caps["signalUnknownCredential"],
            caps["signalAllAcceptedCredentials"],
            caps["signalCurrentUserDetails"],
        ];
        assert_eq!(got, want, "{support:?}");
    }
    // The fake back-end of the other tests applies none.
    let d = latchkey_testkit::peer::start(
        &policy_privileged_self(),
        FakeBackend::new(FakeMode::Answer),
    )
    .await;
    let client = &d.client;
    let caps = client.proxy().get_client_capabilities().await.unwrap();
    assert!(!caps["signalUnknownCredential"]);
    let (name, _) = refused(
        client
            .proxy()
            .signal_unknown_credential(
                r#"{"rpId":"example.com","credentialId":"AQID"}"#,
                web("https://example.com"),
            )
            .await,
    );
    assert_eq!(name, "NotSupportedError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_change_the_store_without_a_prompt() {
    let store = backend(SignalSupport::ALL);
    let (d, prompt) = peer::start_recorded(
        &policy::privileged_self_prompting(),
        serve(store.clone()),
        "deny\n",
    )
    .await;
    let client = &d.client;
    let p = client.proxy();

    // Unknown credential: removed; an ID the store lacks changes nothing and looks the same.
    p.signal_unknown_credential(
        r#"{"rpId":"example.com","credentialId":"AQID"}"#,
        web("https://example.com"),
    )
    .await
    .unwrap();
    assert_eq!(store.ids("example.com"), vec![vec![4, 5, 6], vec![7, 8, 9]]);
    p.signal_unknown_credential(
        r#"{"rpId":"example.com","credentialId":"AAAA"}"#,
        web("https://example.com"),
    )
    .await
    .unwrap();
    assert_eq!(store.ids("example.com").len(), 2);

    // Current user details: this user's credentials at this RP only.
    p.signal_current_user_details(
        r#"{"rpId":"example.com","userId":"dXNlcg","name":"alice@new.example","displayName":"Alice N."}"#,
        web("https://login.example.com"),
    )
    .await
    .unwrap();
    assert_eq!(
        store.names("example.com"),
        vec![
            (Some("alice@new.example".into()), Some("Alice N.".into())),
            (Some("bob".into()), Some("BOB".into())),
        ]
    );
    assert_eq!(
        store.names("other.example"),
        vec![(Some("alice".into()), Some("ALICE".into()))]
    );

    // All accepted: [4,5,6] stays; a listed ID of another user removes nothing of this one's.
    p.signal_all_accepted_credentials(ALL_ACCEPTED, web("https://example.com"))
        .await
        .unwrap();
    assert_eq!(store.ids("example.com"), vec![vec![4, 5, 6], vec![7, 8, 9]]);
    p.signal_all_accepted_credentials(
        r#"{"rpId":"example.com","userId":"dXNlcg","allAcceptedCredentialIds":[]}"#,
        web("https://example.com"),
    )
    .await
    .unwrap();
    assert_eq!(store.ids("example.com"), vec![vec![7, 8, 9]]);
    assert_eq!(
        store.ids("other.example").len(),
        1,
        "another RP is untouched"
    );

    assert!(
        prompt.shown().is_empty(),
        "signals are silent: {:?}",
        prompt.shown()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_may_signal_only_for_rp_ids_it_may_use() {
    let unchanged = |store: &StoreBackend| {
        assert_eq!(store.ids("example.com").len(), 3);
        assert_eq!(store.ids("other.example").len(), 1);
    };
    let unknown = r#"{"rpId":"example.com","credentialId":"AQID"}"#;

    // A privileged client: the RP ID must belong to the origin it vouches for.
    let store = backend(SignalSupport::ALL);
    let d = latchkey_testkit::peer::start(&policy_privileged_self(), serve(store.clone())).await;
    let client = &d.client;
    let p = client.proxy();
    for (rp_id, options) in [
        ("example.com", web("https://evil.example")),
        ("example.com", HashMap::new()),
        ("example.com", web("https://example.org")),
        ("com", web("https://example.com")),
        ("other.example", web("https://example.com")),
    ] {
        let json = format!(r#"{{"rpId":"{rp_id}","credentialId":"AQID"}}"#);
        let (name, message) = refused(p.signal_unknown_credential(&json, options.clone()).await);
        assert_eq!(name, "SecurityError", "{json} {options:?}: {message}");
        let json =
            format!(r#"{{"rpId":"{rp_id}","userId":"dXNlcg","allAcceptedCredentialIds":[]}}"#);
        let (name, _) = refused(
            p.signal_all_accepted_credentials(&json, options.clone())
                .await,
        );
        assert_eq!(name, "SecurityError", "{json}");
        let json =
            format!(r#"{{"rpId":"{rp_id}","userId":"dXNlcg","name":"x","displayName":"X"}}"#);
        let (name, _) = refused(p.signal_current_user_details(&json, options).await);
        assert_eq!(name, "SecurityError", "{json}");
    }
    unchanged(&store);

    // An app bound to example.com: only that RP ID, from its app: origin.
    let store = backend(SignalSupport::ALL);
    let d =
        latchkey_testkit::peer::start(&policy_bound_self(&["example.com"]), serve(store.clone()))
            .await;
    let client = &d.client;
    let p = client.proxy();
    let (name, _) = refused(
        p.signal_unknown_credential(
            r#"{"rpId":"other.example","credentialId":"CgsM"}"#,
            HashMap::new(),
        )
        .await,
    );
    assert_eq!(name, "SecurityError");
    unchanged(&store);
    p.signal_unknown_credential(unknown, HashMap::new())
        .await
        .unwrap();
    assert_eq!(store.ids("example.com").len(), 2);

    // An unknown caller: only the user could approve it, and signals never ask.
    let store = backend(SignalSupport::ALL);
    let (d, prompt) =
        peer::start_recorded(&policy::self_prompting(), serve(store.clone()), "approve\n").await;
    let client = &d.client;
    let (name, message) = refused(
        client
            .proxy()
            .signal_unknown_credential(unknown, HashMap::new())
            .await,
    );
    assert_eq!(name, "SecurityError");
    assert!(message.contains("unverified"), "{message}");
    assert!(prompt.shown().is_empty());
    unchanged(&store);

    // A denied caller.
    let store = backend(SignalSupport::ALL);
    let deny = format!(
        "[[deny]]\nexecutable = \"{}\"\n",
        std::env::current_exe().unwrap().display()
    );
    let d = latchkey_testkit::peer::start(&deny, serve(store.clone())).await;
    let client = &d.client;
    let (name, _) = refused(
        client
            .proxy()
            .signal_unknown_credential(unknown, web("https://example.com"))
            .await,
    );
    assert_eq!(name, "NotAllowedError");
    unchanged(&store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_signal_calls_are_refused_with_the_l3_error() {
    let store = backend(SignalSupport::REMOVE_ONLY);
    let d = latchkey_testkit::peer::start(&policy_privileged_self(), serve(store.clone())).await;
    let client = &d.client;
    let p = client.proxy();
    let o = || web("https://example.com");
    for json in [
        "",
        "[]",
        r#"{"rpId":"example.com"}"#,
        r#"{"rpId":"example.com","credentialId":"a+b/"}"#,
        r#"{"rpId":"example.com","credentialId":"AQ=I"}"#,
        r#"{"rpId":"example.com","credentialId":42}"#,
    ] {
        let (name, message) = refused(p.signal_unknown_credential(json, o()).await);
        assert_eq!(name, "TypeError", "{json}: {message}");
    }
    for json in [
        r#"{"rpId":"example.com","userId":"dXNlcg","allAcceptedCredentialIds":["AQID","!"]}"#,
        r#"{"rpId":"example.com","userId":"","allAcceptedCredentialIds":[]}"#,
        r#"{"rpId":"example.com","userId":"dXNlcg","allAcceptedCredentialIds":"AQID"}"#,
    ] {
        let (name, message) = refused(p.signal_all_accepted_credentials(json, o()).await);
        assert_eq!(name, "TypeError", "{json}: {message}");
    }
    let (name, _) = refused(
        p.signal_current_user_details(r#"{"rpId":"example.com","userId":"dXNlcg"}"#, o())
            .await,
    );
    assert_eq!(name, "TypeError");
    // Options of the wrong D-Bus type.
    let (name, message) = refused(
        p.signal_unknown_credential(
            r#"{"rpId":"example.com","credentialId":"AQID"}"#,
            HashMap::from([("origin", Value::from(7u32))]),
        )
        .await,
    );
    assert_eq!(name, "TypeError", "{message}");
    let too_big = format!(
        r#"{{"rpId":"example.com","credentialId":"AQID","x":"{}"}}"#,
        "a".repeat(70 * 1024)
    );
    let (name, _) = refused(p.signal_unknown_credential(&too_big, o()).await);
    assert_eq!(name, "TypeError");
    // Well-formed, allowed, but not built by this back-end.
    let (name, message) = refused(
        p.signal_current_user_details(
            r#"{"rpId":"example.com","userId":"dXNlcg","name":"a","displayName":"A"}"#,
            o(),
        )
        .await,
    );
    assert_eq!(name, "NotSupportedError", "{message}");
    assert_eq!(store.ids("example.com").len(), 3, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_back_end_applies_all_three_signals() {
    let mut store = MemoryStore::default();
    seed(
        &mut store,
        &[1, 2, 3],
        "example.com",
        b"user",
        "alice",
        false,
    );
    seed(
        &mut store,
        &[4, 5, 6],
        "example.com",
        b"user",
        "alice",
        true,
    );
    seed(&mut store, &[7, 8, 9], "example.com", b"other", "bob", true);
    seed(
        &mut store,
        &[10, 11, 12],
        "other.example",
        b"user",
        "alice",
        true,
    );
    let device = latchkey_testkit::platform::device_with(store);
    let backend = Arc::new(PlatformBackend::new(Box::new(device)));
    let d = latchkey_testkit::peer::start(&policy_privileged_self(), backend.clone()).await;
    let client = &d.client;
    let p = client.proxy();
    let caps = p.get_client_capabilities().await.unwrap();
    assert!(caps["signalUnknownCredential"] && caps["signalAllAcceptedCredentials"]);
    assert!(caps["signalCurrentUserDetails"]);

    let listed = |backend: &PlatformBackend| -> Vec<Vec<u8>> {
        backend
            .list(Some("example.com"))
            .unwrap()
            .into_iter()
            .map(|c| c.credential_id)
            .collect()
    };
    p.signal_all_accepted_credentials(
        r#"{"rpId":"example.com","userId":"dXNlcg","allAcceptedCredentialIds":["AQID"]}"#,
        web("https://example.com"),
    )
    .await
    .unwrap();
    assert_eq!(listed(&backend), vec![vec![1, 2, 3], vec![7, 8, 9]]);
    p.signal_unknown_credential(
        r#"{"rpId":"example.com","credentialId":"BwgJ"}"#,
        web("https://example.com"),
    )
    .await
    .unwrap();
    assert_eq!(listed(&backend), vec![vec![1, 2, 3]]);
    p.signal_current_user_details(
        r#"{"rpId":"example.com","userId":"dXNlcg","name":"a","displayName":"A"}"#,
        web("https://example.com"),
    )
    .await
    .unwrap();
    let names = |backend: &PlatformBackend, rp: &str| -> Vec<_> {
        backend
            .list(Some(rp))
            .unwrap()
            .into_iter()
            .map(|c| (c.credential_id, c.user_name, c.user_display_name))
            .collect()
    };
    assert_eq!(
        names(&backend, "example.com"),
        vec![(vec![1, 2, 3], Some("a".into()), Some("A".into()))]
    );
    assert_eq!(
        names(&backend, "other.example"),
        vec![(vec![10, 11, 12], Some("alice".into()), Some("ALICE".into()))]
    );
}
