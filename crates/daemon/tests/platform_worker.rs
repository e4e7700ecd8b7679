#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! latchkeyd's D-Bus API with the sandboxed platform worker as its platform authenticator, over a
//! socket pair (`latchkey_testkit::peer`, this process serving the prompt): ceremonies and management through it, and what still works after a platform
//! ceremony was cancelled. The worker on its own is tested in `crates/worker/tests/worker.rs`.

mod common;

use std::path::Path;
use std::time::Duration;

use latchkey_webauthn::b64;
use latchkey_webauthn::ids::{CoseAlgorithm, UserHandle};
use latchkey_webauthn::origin::RpId;
use latchkey_webauthn::rp::{
    verify_authentication, verify_registration, ExpectedAuthentication, ExpectedOrigins,
    ExpectedRegistration, ExpectedUser,
};
use latchkey_worker::{WorkerConfig, WorkerDevice};

/// How long a test lets the worker take to start: generous, for a loaded 2-core machine that
/// runs the whole crate's tests at once (latchkeyd itself allows 30 s).
const TEST_START_TIMEOUT: Duration = Duration::from_secs(120);

fn start(store: &Path) -> WorkerDevice {
    let mut config = WorkerConfig::new(common::bin("latchkey-platform-worker"), store);
    config.start_timeout = TEST_START_TIMEOUT;
    WorkerDevice::start(config)
        .unwrap_or_else(|e| panic!("the worker over {} did not start: {e}", store.display()))
}

/// A page of example.com's login subdomain.
fn web() -> latchkey_api::CallOptions {
    latchkey_api::CallOptions {
        origin: Some("https://login.example.com".into()),
        ..Default::default()
    }
}

/// The platform back-end over a worker on the store at `store`, and the worker's PID.
fn platform_over_a_worker(
    store: &Path,
) -> (
    std::sync::Arc<latchkey_daemon::platform::PlatformBackend>,
    u32,
) {
    let worker = start(store);
    let pid = worker.pid().unwrap();
    let platform = latchkey_daemon::platform::PlatformBackend::new(Box::new(worker));
    (std::sync::Arc::new(platform), pid)
}

/// latchkeyd (in process, over a socket pair) with the worker as its platform authenticator, as
/// `PlatformBackend` runs it: create, get (verified), list and delete over D-Bus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latchkeyd_runs_ceremonies_and_management_through_the_worker() {
    use common::{create_options, get_options, peer, policy};
    use latchkey_api::Kind;
    use latchkey_webauthn::response::{AuthenticationResponseJSON, RegistrationResponseJSON};
    use zbus::zvariant::{OwnedValue, Str};

    let dir = tempfile::tempdir().unwrap();
    let (auth, pid) = platform_over_a_worker(dir.path());
    let (d, prompt) = peer::start_recorded(
        &policy::privileged_self_prompting(),
        auth,
        "approve\npin 482916\n",
    )
    .await;
    let client = &d.client;
    let web = web();
    let rp_id = RpId::parse("example.com").unwrap();
    let origins = ExpectedOrigins {
        origins: &["https://login.example.com"],
        top_origins: &[],
    };
    let out = client
        .call(Kind::Create, &create_options("example.com"), &web)
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    let reg: RegistrationResponseJSON =
        serde_json::from_str(&out.response_json().unwrap()).unwrap();
    let challenge: [u8; 16] = std::array::from_fn(|i| u8::try_from(i).unwrap());
    let (record, _) = verify_registration(
        &reg,
        &ExpectedRegistration {
            challenge: &challenge,
            origins: origins.clone(),
            rp_id: &rp_id,
            require_user_verification: true,
            algorithms: &[CoseAlgorithm(-7)],
        },
    )
    .unwrap();
    let out = client
        .call(Kind::Get, &get_options("example.com"), &web)
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    let auth: AuthenticationResponseJSON =
        serde_json::from_str(&out.response_json().unwrap()).unwrap();
    let user = UserHandle::new(vec![1, 2, 3, 4]).unwrap();
    let result = verify_authentication(
        &auth,
        &ExpectedAuthentication {
            challenge: &challenge,
            origins,
            rp_id: &rp_id,
            require_user_verification: true,
            allow_credentials: &[],
            user: ExpectedUser::Discoverable(&user),
        },
        &record,
    )
    .unwrap();
    assert!(result.user_verified);
    assert!(!std::fs::read_to_string(prompt.path())
        .unwrap()
        .contains("482916"));

    let list = client
        .proxy()
        .list_credentials(Default::default())
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    let id = b64::encode(record.id.as_bytes());
    assert_eq!(
        list[0]["credential_id"],
        OwnedValue::from(Str::from(id.as_str()))
    );
    assert_eq!(list[0]["user_name"], OwnedValue::from(Str::from("alice")));
    client.proxy().delete_credential(&id).await.unwrap();
    assert!(client
        .proxy()
        .list_credentials(Default::default())
        .await
        .unwrap()
        .is_empty());
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "one worker served it all"
    );
}

/// latchkeyd over a worker on a new store, whose first create (of the approvals and PINs the
/// prompt holds for `ceremonies`) succeeded.
struct Created {
    dir: tempfile::TempDir,
    /// Over a socket pair, this process serving the prompt.
    latchkeyd: common::peer::PeerDaemon,
    _prompt: latchkey_testkit::prompt::Record,
    web: latchkey_api::CallOptions,
}

async fn created_through_the_worker(ceremonies: usize) -> Created {
    use common::{create_options, peer, policy};
    use latchkey_api::Kind;

    let dir = tempfile::tempdir().unwrap();
    let (auth, _) = platform_over_a_worker(dir.path());
    let (d, prompt) = peer::start_recorded(
        &policy::privileged_self_prompting(),
        auth,
        &"approve\npin 482916\n".repeat(ceremonies),
    )
    .await;
    let client = &d.client;
    let web = web();
    let out = client
        .call(Kind::Create, &create_options("example.com"), &web)
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    Created {
        dir,
        latchkeyd: d,
        _prompt: prompt,
        web,
    }
}

/// A store that fails under the worker is the store's fault at the D-Bus edge: the method error
/// is `Failed` (`UnknownError` to a WebAuthn caller) with the top message only, no path; the
/// cause travelled typed (the worker's error code `Store`) and the log has the whole chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failing_under_the_worker_is_the_stores_fault_at_the_edge() {
    let created = created_through_the_worker(1).await;
    let (dir, client) = (&created.dir, &created.latchkeyd.client);
    let list = client
        .proxy()
        .list_credentials(Default::default())
        .await
        .unwrap();
    let id: &str = (&*list[0]["credential_id"]).try_into().unwrap();
    let id = id.to_owned();
    // The credential's record becomes a directory with something in it: unlinking it fails
    // with EISDIR, whoever runs the worker (root ignores permission bits, not this).
    let record = std::fs::read_dir(dir.path().join("credentials"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "cred"))
        .expect("the credential's record file");
    std::fs::remove_file(&record).unwrap();
    std::fs::create_dir(&record).unwrap();
    std::fs::write(record.join("keep"), b"x").unwrap();

    let e =
        latchkey_api::ClientError::from(client.proxy().delete_credential(&id).await.unwrap_err());
    assert_eq!(
        e.dbus_name(),
        Some("dev.latchkey.Credentials1.Error.Failed")
    );
    assert_eq!(e.webauthn_error().name(), "UnknownError");
    let text = e.to_string();
    assert!(text.contains("the credential store failed"), "{text}");
    assert!(
        !text.contains(".cred"),
        "no path reaches the caller: {text}"
    );
}

/// A store that fails under the worker during a ceremony is the store's fault too: the caller
/// gets `UnknownError` (WebAuthn L3 §6.3.2: an error storing the credential), not the
/// `NotAllowedError` of a refusal, with no path in the message (latchkeyd logs the cause).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failing_under_the_worker_in_a_ceremony_is_an_unknown_error_not_a_refusal() {
    use common::create_options;
    use latchkey_api::Kind;

    let created = created_through_the_worker(2).await;
    let (dir, client, web) = (&created.dir, &created.latchkeyd.client, &created.web);
    // The credentials directory becomes a file: the next record cannot be written (ENOTDIR),
    // whoever runs the worker.
    let credentials = dir.path().join("credentials");
    std::fs::remove_dir_all(&credentials).unwrap();
    std::fs::write(&credentials, b"not a directory").unwrap();

    let out = client
        .call(Kind::Create, &create_options("example.com"), web)
        .await
        .unwrap();
    assert_ne!(out.code, 0, "the create cannot have succeeded");
    assert_eq!(
        out.error_name(),
        Some("UnknownError".to_owned()),
        "{:?}",
        out.message()
    );
    let message = out.message().unwrap_or_default();
    assert!(message.contains("the credential store failed"), "{message}");
    assert!(
        !message.contains(&dir.path().display().to_string()),
        "no path reaches the caller: {message}"
    );
}

/// After a platform ceremony is closed while the prompt asks for the PIN, listing, a signal and
/// the routing look-up (an allowList get for the platform credential goes to the platform, not
/// the security keys) all still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_cancelled_platform_ceremony_list_signals_and_routing_still_work() {
    use latchkey_api::Kind;
    use std::collections::HashMap;
    use zbus::zvariant::Value;

    let dir = tempfile::tempdir().unwrap();
    let (platform, _) = platform_over_a_worker(dir.path());
    // The second PIN (the get that is closed) comes late, so that the request can be closed while
    // the prompt still asks; the others at once.
    let (d, prompt) = common::routed(
        platform.clone(),
        platform,
        true,
        "approve\npin 482916\ndelay 1500 pin 482916\npin 482916\n",
    )
    .await;
    let client = &d.client;
    let web = web();
    let allow = common::create_then_allow(client).await;

    let pins = |p: &latchkey_testkit::prompt::Record| {
        p.shown()
            .iter()
            .filter(|r| r["method"] == "RequestPin")
            .count()
    };
    let before = pins(&prompt);
    let pending = client.start(Kind::Get, &allow, &web).await.unwrap();
    prompt
        .until("the PIN request", || pins(&prompt) > before)
        .await;
    let closed = prompt.calls("RequestPin").last().unwrap()["request_id"].clone();
    pending.close().await.unwrap();
    // The PIN is asked between the ceremony's runs, on the request's task, with the device free:
    // closing cancels that task, and latchkeyd then takes the prompt down (`Dismiss`), which is
    // where its part ends: nothing of that request is left to wind down. The PIN the prompt would
    // still send when its own timer fires (`delay 1500`) goes to a call nobody awaits.
    prompt
        .until("the closed request's dismissal", || {
            prompt
                .calls("Dismiss")
                .iter()
                .any(|d| d["request_id"] == closed)
        })
        .await;

    let list = client
        .proxy()
        .list_credentials(Default::default())
        .await
        .expect("listing after a cancelled ceremony");
    assert_eq!(list.len(), 1);
    client
        .proxy()
        .signal_unknown_credential(
            r#"{"rpId":"example.com","credentialId":"AAAA"}"#,
            HashMap::from([("origin", Value::from("https://login.example.com"))]),
        )
        .await
        .expect("a signal after a cancelled ceremony");
    let out = client.call(Kind::Get, &allow, &web).await.unwrap();
    assert_eq!(
        out.code,
        0,
        "routed to the platform: {:?}: {:?}",
        out.error_name(),
        out.message()
    );
}

/// Kills the process `pid` and waits until it has exited (a zombie until latchkeyd's worker
/// device reaps it).
async fn kill_and_wait(pid: u32) {
    let raw = rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
    rustix::process::kill_process(raw, rustix::process::Signal::KILL).unwrap();
    latchkey_testkit::wait::exit(pid, "the killed platform worker").await;
}

/// The platform worker killed while the prompt holds a get (at its PIN question) fails that get
/// as the system's fault: `UnknownError` with latchkeyd's words, not the `NotAllowedError` of a
/// refusal, and not finished silently on another worker. The dead worker is reaped and the next
/// get runs on a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_while_the_prompt_holds_a_get_fails_it_as_the_systems_fault() {
    use common::{create_options, get_options, peer, policy};
    use latchkey_api::Kind;

    let dir = tempfile::tempdir().unwrap();
    let (auth, pid) = platform_over_a_worker(dir.path());
    // The second PIN question (the get's) waits for the file `go`.
    let signals = tempfile::tempdir().unwrap();
    let go = signals.path().join("go");
    let script = format!(
        "approve\npin 482916\nafter {} pin 482916\npin 482916\n",
        go.display()
    );
    let (d, prompt) =
        peer::start_recorded(&policy::privileged_self_prompting(), auth, &script).await;
    let client = &d.client;
    let web = web();
    let out = client
        .call(Kind::Create, &create_options("example.com"), &web)
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    assert_eq!(
        prompt.calls("RequestPin").len(),
        1,
        "the create asked one PIN"
    );

    let pending = client
        .start(Kind::Get, &get_options("example.com"), &web)
        .await
        .unwrap();
    latchkey_testkit::wait::file_until(prompt.path(), "the get's PIN question", || {
        prompt.calls("RequestPin").len() >= 2
    })
    .await;
    kill_and_wait(pid).await;
    std::fs::write(&go, b"").unwrap();
    let out = pending.response().await.unwrap();
    assert_eq!(out.code, 2, "{:?}: {:?}", out.error_name(), out.message());
    assert_eq!(
        out.error_name().as_deref(),
        Some("UnknownError"),
        "{:?}",
        out.message()
    );
    assert_eq!(
        out.message().as_deref(),
        Some("the platform authenticator failed")
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the dead worker was reaped"
    );

    let out = client
        .call(Kind::Get, &get_options("example.com"), &web)
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    assert_eq!(
        prompt.calls("RequestPin").len(),
        3,
        "the next get asked its PIN afresh"
    );
}
