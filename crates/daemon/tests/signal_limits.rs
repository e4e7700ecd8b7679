#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Signals and management calls: their RP ID is checked against the caller's own origin only
//! (WebAuthn L3 §5.1.10; Related Origin Requests, §5.11, serve create/get alone), and they run
//! within bounds (`CallLimits`) while a ceremony holds the platform authenticator.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use latchkey_api::Kind;
use latchkey_api::{CallOptions, ClientError, CredentialsClient};
use latchkey_daemon::server::CallLimits;
use zbus::zvariant::Value;

const UNKNOWN: &str = r#"{"rpId":"example.com","credentialId":"AQID"}"#;

fn web(origin: &str) -> HashMap<&str, Value<'_>> {
    HashMap::from([("origin", Value::from(origin))])
}

/// The DOMException name and message a signal failed with.
fn refused(r: zbus::Result<()>) -> (String, String) {
    let e = ClientError::from(r.unwrap_err()).webauthn_error();
    (e.name().to_owned(), e.message().to_owned())
}

/// Starts a get from `origin` for example.com and waits until it holds the authenticator.
async fn hold_the_authenticator(
    client: &CredentialsClient,
    auth: &GatedBackend,
    origin: &str,
) -> latchkey_api::Pending {
    let opts = CallOptions {
        origin: Some(origin.into()),
        ..Default::default()
    };
    let pending = client
        .start(Kind::Get, &get_options("example.com"), &opts)
        .await
        .unwrap();
    auth.until("the ceremony holding the authenticator", |g| g.held)
        .await;
    pending
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn related_origins_authorize_ceremonies_but_not_signals() {
    let well_known = https::serve_related_origins(&["https://example.co.uk"]).await;
    let auth = GatedBackend::new();
    let settings = latchkey_testkit::daemon::settings_related(
        &policy::privileged_self_prompting(),
        auth.clone(),
        16,
        well_known.related.clone(),
    );
    let d = peer::serve_prompting(settings, "approve\n").await;
    let client = &d.client;

    // A ceremony for example.com from the listed origin reaches the authenticator...
    let pending = hold_the_authenticator(client, &auth, "https://example.co.uk").await;
    assert_eq!(well_known.fetched(), 1);
    pending.close().await.unwrap();
    auth.until("the authenticator freed", |g| !g.held).await;

    // ...but a signal for example.com from it is a SecurityError and changes nothing, for every
    // kind of signal.
    let p = client.proxy();
    let (name, message) = refused(
        p.signal_unknown_credential(UNKNOWN, web("https://example.co.uk"))
            .await,
    );
    assert_eq!(name, "SecurityError", "{message}");
    assert!(message.contains("do not apply to signals"), "{message}");
    let all = r#"{"rpId":"example.com","userId":"dXNlcg","allAcceptedCredentialIds":[]}"#;
    let (name, _) = refused(
        p.signal_all_accepted_credentials(all, web("https://example.co.uk"))
            .await,
    );
    assert_eq!(name, "SecurityError");
    let details = r#"{"rpId":"example.com","userId":"dXNlcg","name":"a","displayName":"A"}"#;
    let (name, _) = refused(
        p.signal_current_user_details(details, web("https://example.co.uk"))
            .await,
    );
    assert_eq!(name, "SecurityError");
    assert_eq!(auth.gate().applied, 0);

    // The RP's own origin (and a subdomain's, a registrable suffix) may signal.
    p.signal_unknown_credential(UNKNOWN, web("https://example.com"))
        .await
        .unwrap();
    p.signal_unknown_credential(UNKNOWN, web("https://login.example.com"))
        .await
        .unwrap();
    assert_eq!(auth.gate().applied, 2);
}

/// latchkeyd over a socket pair with `limits` and a [`GatedBackend`], this process serving the
/// prompt that approves.
async fn limited(limits: CallLimits) -> (peer::PeerDaemon, std::sync::Arc<GatedBackend>) {
    let auth = GatedBackend::new();
    let daemon = peer::start_prompting(
        &policy::privileged_self_prompting(),
        auth.clone(),
        "approve\n",
    )
    .await;
    daemon.set_call_limits(limits);
    (daemon, auth)
}

/// On a paused clock, moved by hand while signals' threads wait for the authenticator: the excess
/// is refused before any of the 20 s bound passes, and the admitted two still wait after half
/// of it.
#[tokio::test(start_paused = true)]
async fn signals_beyond_a_callers_share_are_refused_at_once_while_a_ceremony_holds_the_platform() {
    let wait = Duration::from_secs(20);
    let step = Duration::from_millis(100);
    let (daemon, auth) = limited(CallLimits {
        total: 4,
        per_caller: 2,
        wait,
    })
    .await;
    let client = &daemon.client;
    let _freed = auth.freed_on_drop();
    let pending = hold_the_authenticator(client, &auth, "https://example.com").await;

    // Six signals at once from one caller.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let started = tokio::time::Instant::now();
    for _ in 0..6 {
        let c = client.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let r = c
                .proxy()
                .signal_unknown_credential(UNKNOWN, web("https://example.com"))
                .await;
            let _ = tx.send(r.map_err(|e| ClientError::from(e).webauthn_error()));
        });
    }
    // Four are refused promptly, far sooner than the 20 s wait; two wait for the authenticator.
    for _ in 0..4 {
        let r = within_advancing("the excess signals' refusal", step, rx.recv())
            .await
            .unwrap();
        let e = r.unwrap_err();
        assert_eq!(e.name(), "NotAllowedError", "{}", e.message());
        assert!(
            e.message().contains("busy") && e.message().contains("2 such calls"),
            "{}",
            e.message()
        );
    }
    let refused_after = started.elapsed();
    assert!(refused_after < wait / 10, "{refused_after:?}");
    auth.until("two signals waiting", |g| g.waiting == 2).await;
    assert!(
        within_advancing(
            "the admitted signals' wait",
            step,
            tokio::time::timeout(wait / 2, rx.recv())
        )
        .await
        .is_err(),
        "the admitted signals must wait for the authenticator"
    );
    assert_eq!(
        auth.gate().most_waiting,
        2,
        "at most the caller's share ran"
    );

    // The ceremony ends: the two waiting signals apply, and a new one runs at once.
    pending.close().await.unwrap();
    // Their threads apply them in real time: the clock is not moved meanwhile (it would outrun
    // them to the bound).
    auth.until("the waiting signals applied", |g| g.applied == 2)
        .await;
    for _ in 0..2 {
        let r = peer::within("a waiting signal's answer", rx.recv())
            .await
            .unwrap();
        r.unwrap();
    }
    client
        .proxy()
        .signal_unknown_credential(UNKNOWN, web("https://example.com"))
        .await
        .unwrap();
    assert_eq!(auth.gate().applied, 3);
    assert_eq!(auth.gate().most_waiting, 2);
}

/// On a paused clock over a socket pair: the signal holding the only place blocks a thread on the
/// authenticator, so the clock does not move by itself and `within_advancing` moves it. The
/// calls waiting for a place fail once the bound is spent; without the bound they never answer and
/// the wait fails the test.
#[tokio::test(start_paused = true)]
async fn calls_beyond_the_total_fail_as_busy_after_a_bounded_wait() {
    let wait = Duration::from_millis(500);
    let step = wait / 10;
    let (daemon, auth) = limited(CallLimits {
        total: 1,
        per_caller: 4,
        wait,
    })
    .await;
    let client = &daemon.client;
    let _freed = auth.freed_on_drop();
    let pending = hold_the_authenticator(client, &auth, "https://example.com").await;

    let started = tokio::time::Instant::now();
    let mut calls = Vec::new();
    for _ in 0..3 {
        let c = client.clone();
        calls.push(tokio::spawn(async move {
            c.proxy()
                .signal_unknown_credential(UNKNOWN, web("https://example.com"))
                .await
                .map_err(|e| ClientError::from(e).webauthn_error())
        }));
    }
    // One signal takes the only place and its thread waits for the authenticator; only then does
    // the clock move (by hand: it moves past that thread, which runs in real time).
    auth.until("a signal waiting for the authenticator", |g| g.waiting == 1)
        .await;
    for call in calls {
        let e = within_advancing("a call beyond the total", step, call)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(e.name(), "NotAllowedError", "{}", e.message());
        assert!(
            e.message().contains("did not become free within 500 ms"),
            "{}",
            e.message()
        );
    }
    let took = started.elapsed();
    assert!(took >= wait, "{took:?}");
    assert!(took < wait * 2, "the wait is bounded: {took:?}");
    // One signal took the only place (and keeps it until its thread is done).
    assert_eq!(auth.gate().most_waiting, 1);
    assert_eq!(auth.gate().waiting, 1);

    // Management calls share the bound and fail with the D-Bus busy error.
    let e = ClientError::from(
        within_advancing(
            "a management call beyond the total",
            step,
            client.proxy().list_credentials(HashMap::new()),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(
        e.dbus_name(),
        Some("dev.latchkey.Credentials1.Error.Busy"),
        "{e}"
    );

    // The ceremony ends: the thread that held the place applies its signal and leaves; the next
    // calls run.
    pending.close().await.unwrap();
    auth.until("the first signal applied", |g| g.applied == 1)
        .await;
    // Its thread gives the place back as it returns: the next call waits for that place in the
    // limiter's own queue (up to `wait`; again, should a loaded machine be slower than that).
    let mut last = None;
    for _ in 0..3 {
        match client
            .proxy()
            .signal_unknown_credential(UNKNOWN, web("https://example.com"))
            .await
        {
            Ok(()) => {
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    assert!(
        last.is_none(),
        "a signal runs once the authenticator is free: {last:?}"
    );
    assert_eq!(auth.gate().applied, 2);
    assert!(client
        .proxy()
        .list_credentials(HashMap::new())
        .await
        .unwrap()
        .is_empty());
}

/// A blocking-pool thread stops tokio from moving a paused clock by itself; the thread stays
/// blocked until the test is over (its sender dropped), so only `within_advancing` moves it.
fn hold_the_clock() -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    tokio::task::spawn_blocking(move || {
        let _ = rx.recv();
    });
    tx
}

#[tokio::test]
async fn a_timer_fires_on_a_held_clock_moved_by_hand() {
    tokio::time::pause();
    let _held = hold_the_clock();
    let started = tokio::time::Instant::now();
    let wait = std::time::Duration::from_secs(5);
    within_advancing(
        "a timer on a held clock",
        std::time::Duration::from_millis(100),
        tokio::time::sleep(wait),
    )
    .await;
    let waited = started.elapsed();
    assert!(waited >= wait && waited < peer::LIMIT, "{waited:?}");
}

#[tokio::test]
#[should_panic(
    expected = "a wait held by a thread: nothing within 30s of a moved clock over the socket pair"
)]
async fn a_wait_that_never_ends_on_a_held_clock_fails_instead_of_hanging() {
    tokio::time::pause();
    let _held = hold_the_clock();
    within_advancing(
        "a wait held by a thread",
        std::time::Duration::from_millis(100),
        std::future::pending::<()>(),
    )
    .await;
}
