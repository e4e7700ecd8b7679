#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The request queue under load, cancellation, disconnection, overflow and timeouts. One caller's
//! tests run over a socket pair (`latchkey_testkit::peer`, the timeouts on a paused clock); those
//! of several callers (connections, processes, executables) and of the shipped latchkeyd on a
//! private bus.

mod common;

use std::time::{Duration, Instant};

use common::*;
use latchkey_api::Kind;
use latchkey_api::{CallOptions, CredentialsClient};
use latchkey_daemon::server::Timeouts;
use latchkey_testkit::wait;

fn web() -> CallOptions {
    CallOptions {
        origin: Some("https://example.com".into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_ten_requests_each() {
    let bus = TestBus::start();
    let auth = FakeBackend::new(FakeMode::Answer);
    let daemon = start_daemon(&bus, &policy_privileged_self(), auth.clone()).await;
    // The fifty clients are connections of this one process, which latchkeyd counts as one
    // caller: lift the per-caller share so this load test measures the queue itself.
    daemon.set_queue_per_caller(64);
    // Every 7th consent is refused, so failures are exercised too.
    let _p = Prompt::spawn(
        &bus,
        &"approve\n"
            .repeat(6)
            .chars()
            .chain("deny\n".chars())
            .collect::<String>()
            .repeat(80),
        false,
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..50 {
        let address = bus.address.clone();
        tasks.push(tokio::spawn(async move {
            let client = CredentialsClient::connect(Some(&address)).await.unwrap();
            let mut outcomes = Vec::new();
            for i in 0..10 {
                let (kind, json) = if i % 2 == 0 {
                    (Kind::Create, create_options("example.com"))
                } else {
                    (Kind::Get, get_options("example.com"))
                };
                let out =
                    tokio::time::timeout(Duration::from_secs(60), client.call(kind, &json, &web()))
                        .await
                        .unwrap_or_else(|_| panic!("client {c} request {i} hung"))
                        .unwrap();
                outcomes.push((out.code, out.error_name()));
            }
            outcomes
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        let outcomes = t.await.unwrap();
        assert_eq!(outcomes.len(), 10);
        for (code, name) in outcomes {
            match (code, name.as_deref()) {
                (0, None) => ok += 1,
                (1, Some("NotAllowedError")) => refused += 1,
                other => panic!("unexpected outcome {other:?}"),
            }
        }
    }
    assert_eq!(ok + refused, 500);
    assert_eq!(refused, 500 / 7, "every 7th consent is refused");
    assert_eq!(auth.ceremonies.lock().unwrap().len(), ok);
    eprintln!("500 requests from 50 clients in {:?}", started.elapsed());
    assert_eq!(daemon.queued(), 0);
    assert_eq!(daemon.live_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_served_in_arrival_order() {
    let (d, p) = peer::start_recorded(
        &policy::privileged_self_prompting(),
        FakeBackend::new(FakeMode::Answer),
        "delay 30 approve\n",
    )
    .await;
    let client = &d.client;
    let mut pending = Vec::new();
    for i in 0..8 {
        let opts = CallOptions {
            handle_token: Some(format!("order{i}")),
            ..web()
        };
        pending.push(
            client
                .start(Kind::Get, &get_options("example.com"), &opts)
                .await
                .unwrap(),
        );
    }
    for p in pending {
        assert_eq!(p.response().await.unwrap().code, 0);
    }
    let ids: Vec<u64> = p
        .consents()
        .iter()
        .map(|c| {
            c["request_id"]
                .as_str()
                .unwrap()
                .trim_start_matches('r')
                .parse()
                .unwrap()
        })
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "the prompt saw requests out of order");
    assert_eq!(ids.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_mid_prompt_frees_the_queue() {
    let auth = FakeBackend::new(FakeMode::Answer);
    let (daemon, p) = peer::start_recorded(
        &policy::privileged_self_prompting(),
        auth.clone(),
        "hang\napprove\n",
    )
    .await;
    let client = &daemon.client;
    let first = client
        .start(Kind::Get, &get_options("example.com"), &web())
        .await
        .unwrap();
    let second = client
        .start(Kind::Get, &get_options("example.com"), &web())
        .await
        .unwrap();
    p.until("the first consent", || p.consents().len() == 1)
        .await;
    let handle = first.handle.clone();
    first.close().await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), second.response())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.code, 0);
    // The hung prompt was dismissed; the authenticator never started for it, so it is not
    // cancelled, and it ran exactly the second request.
    p.until("the dismissal of r1", || {
        p.shown()
            .iter()
            .any(|r| r["method"] == "Dismiss" && r["request_id"] == "r1")
    })
    .await;
    assert!(auth.cancelled.lock().unwrap().is_empty());
    assert_eq!(auth.ceremonies.lock().unwrap().len(), 1);
    // The handle is gone: closing it again is an error.
    let e = client
        .connection()
        .call_method(
            Some(peer::LATCHKEYD),
            handle.as_str(),
            Some("dev.latchkey.Request1"),
            "Close",
            &(),
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("UnknownObject") || e.to_string().contains("Unknown"),
        "{e}"
    );
    assert_eq!(daemon.live_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_caller_may_close() {
    let bus = TestBus::start();
    let _d = start_daemon(
        &bus,
        &policy_privileged_self(),
        FakeBackend::new(FakeMode::Hang),
    )
    .await;
    let _p = Prompt::spawn(&bus, "approve\n", false);
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let other = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let pending = client
        .start(Kind::Get, &get_options("example.com"), &web())
        .await
        .unwrap();
    let e = other
        .connection()
        .call_method(
            Some("dev.latchkey.Credentials"),
            pending.handle.as_str(),
            Some("dev.latchkey.Request1"),
            "Close",
            &(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("AccessDenied"), "{e}");
    pending.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_mid_ceremony_cancels_and_frees_the_queue() {
    let bus = TestBus::start();
    let auth = FakeBackend::new(FakeMode::Hang);
    let daemon = start_daemon(&bus, &policy_privileged_self(), auth.clone()).await;
    let _p = Prompt::spawn(&bus, "approve\n", false);
    {
        let leaver = CredentialsClient::connect(Some(&bus.address))
            .await
            .unwrap();
        let _pending = leaver
            .start(Kind::Get, &get_options("example.com"), &web())
            .await
            .unwrap();
        auth.changes
            .until("the ceremony", || {
                auth.ceremonies.lock().unwrap().len() == 1
            })
            .await;
        // Dropping the connection closes the socket: the caller leaves the bus.
    }
    auth.changes
        .until("the cancel", || auth.cancelled.lock().unwrap().len() == 1)
        .await;
    *auth.mode.lock().unwrap() = FakeMode::Answer;
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        client.call(Kind::Get, &get_options("example.com"), &web()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(out.code, 0);
    assert_eq!(daemon.queued(), 0);
}

/// Overflow and the shortest timeout on a paused clock, over a socket pair (the prompt served on
/// the test's end): a full queue refuses at once, not after a place frees (60 s of virtual time);
/// a request asking for 1 ms is clamped up to the 300 ms minimum, times out then, and its
/// ceremony is cancelled. Without the timeout the request never answers and `peer::within`
/// fails it.
#[tokio::test(start_paused = true)]
async fn overflow_is_refused_at_once_and_timeouts_fire() {
    use latchkey_testkit::daemon::settings_with;
    use tokio::time::Instant;
    let auth = FakeBackend::new(FakeMode::Hang);
    let timeouts = Timeouts {
        min: Duration::from_millis(300),
        max: Duration::from_secs(60),
        default: Duration::from_secs(60),
    };
    let settings = settings_with(
        &policy::privileged_self_prompting(),
        auth.clone(),
        2,
        timeouts,
    );
    let daemon = peer::serve_prompting(settings, "approve\n").await;
    let client = &daemon.client;
    // `a` and `b` fill the queue and stay: nothing of theirs times out during the test.
    let long = r#"{"rpId":"example.com","challenge":"AAECAwQFBgcICQoLDA0ODw","timeout":60000}"#;
    let a = client.start(Kind::Get, long, &web()).await.unwrap();
    let b = client.start(Kind::Get, long, &web()).await.unwrap();
    auth.changes
        .until("the first ceremony", || {
            auth.ceremonies.lock().unwrap().len() == 1
        })
        .await;
    wait::queued(&daemon, 2).await;
    let t = Instant::now();
    let c = peer::within(
        "the overflow's refusal",
        client.call(Kind::Get, long, &web()),
    )
    .await
    .unwrap();
    assert_eq!(
        (c.code, c.error_name().as_deref()),
        (2, Some("NotAllowedError"))
    );
    assert!(
        c.message().unwrap().contains("too many"),
        "{:?}",
        c.message()
    );
    // Refused without waiting for a place (which would take the 60 s timeouts).
    assert!(t.elapsed() < timeouts.min, "overflow must not wait");
    assert_eq!(daemon.queued(), 2);
    assert_eq!(
        daemon.live_requests(),
        2,
        "the refused request exported nothing"
    );
    assert_eq!(auth.ceremonies.lock().unwrap().len(), 1);

    // Empty the queue: the waiting `b`, then the running `a` (its ceremony is cancelled).
    b.close().await.unwrap();
    wait::queued(&daemon, 1).await;
    a.close().await.unwrap();
    wait::queued(&daemon, 0).await;
    assert_eq!(auth.cancelled.lock().unwrap().len(), 1);

    // `timeout: 1` is clamped up to 300 ms; the request reaches the hanging authenticator, times
    // out, and its ceremony is cancelled.
    let fast = r#"{"rpId":"example.com","challenge":"AAECAwQFBgcICQoLDA0ODw","timeout":1}"#;
    let t = Instant::now();
    let d = peer::within(
        "the response of a request that should time out",
        client.call(Kind::Get, fast, &web()),
    )
    .await
    .unwrap();
    let waited = t.elapsed();
    assert!(
        waited >= timeouts.min && waited < timeouts.default,
        "{waited:?}"
    );
    assert_eq!(
        (d.code, d.error_name().as_deref()),
        (2, Some("NotAllowedError"))
    );
    assert!(
        d.message().unwrap().contains("timed out"),
        "{:?}",
        d.message()
    );
    assert_eq!(auth.ceremonies.lock().unwrap().len(), 2);
    auth.changes
        .until("the timed-out ceremony's cancel", || {
            auth.cancelled.lock().unwrap().len() == 2
        })
        .await;
    assert_eq!(daemon.queued(), 0);
}

#[test]
#[ignore = "run by the tests as a separate caller process"]
fn caller_process() {
    caller::serve_if_asked();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_flooding_caller_cannot_starve_another() {
    let bus = TestBus::start();
    let auth = FakeBackend::new(FakeMode::Answer);
    // The other caller is another program: processes of one executable are one caller.
    let other_exe = copy_test_binary(bus.dir.path(), "other-browser");
    // Capacity 8: without a per-caller share one caller could fill all of it. The default share
    // is max(4, 8 / 8) = 4.
    let daemon = start_daemon_with(
        &bus,
        &policy_privileged_self_and(&[&other_exe]),
        auth.clone(),
        8,
        test_timeouts(),
    )
    .await;
    // The first consent holds the prompt until its request is closed, so the flood cannot drain
    // while we look; every later consent is approved.
    let p = Prompt::spawn(&bus, "hang\napprove\n", false);
    let flooder = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut closers = Vec::new();
    let mut waiting = Vec::new();
    for i in 0..12 {
        let opts = CallOptions {
            handle_token: Some(format!("flood{i}")),
            ..web()
        };
        let pending = flooder
            .start(Kind::Get, &get_options("example.com"), &opts)
            .await
            .unwrap();
        closers.push(pending.closer());
        let tx = tx.clone();
        waiting.push(tokio::spawn(async move {
            let out = pending.response().await.unwrap();
            let _ = tx.send((out.code, out.error_name(), out.message()));
        }));
    }
    // Eight are refused at once; four hold the caller's share.
    let mut refusals = Vec::new();
    for _ in 0..8 {
        let r = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("the excess was not refused")
            .unwrap();
        refusals.push(r);
    }
    for (code, name, message) in &refusals {
        assert_eq!((*code, name.as_deref()), (2, Some("NotAllowedError")));
        let message = message.as_deref().unwrap();
        assert!(
            message.contains("4 requests waiting") && message.contains("most one caller"),
            "{message}"
        );
    }
    p.until("the first consent", || p.consents().len() == 1)
        .await;
    assert_eq!(daemon.queued(), 4, "the flood holds its share, no more");
    assert_eq!(daemon.live_requests(), 4, "refused requests export nothing");

    // Another connection of the same process is the same caller: refused too, at once.
    let same_process = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let t = Instant::now();
    let refused = same_process
        .call(Kind::Get, &get_options("example.com"), &web())
        .await
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "refusal must not wait"
    );
    assert_eq!(refused.error_name().as_deref(), Some("NotAllowedError"));
    assert!(refused.message().unwrap().contains("4 requests waiting"));

    // Another process gets into the queue while the flood still holds the prompt...
    let req = caller::CallerRequest {
        bus: bus.address.clone(),
        kind: Kind::Get,
        options_json: get_options("example.com"),
        origin: Some("https://example.com".into()),
    };
    let other =
        tokio::task::spawn_blocking(move || caller::call_from_another_process(&other_exe, &req));
    wait::queued(&daemon, 5).await;
    // ...and is served once the flood's requests are through.
    let first: usize = p.consents()[0]["request_id"]
        .as_str()
        .unwrap()
        .trim_start_matches('r')
        .parse()
        .unwrap();
    closers[first - 1].close().await.unwrap();
    let other = tokio::time::timeout(Duration::from_secs(30), other)
        .await
        .expect("the other caller was starved")
        .unwrap();
    assert_eq!(other["code"], 0, "{other}");
    let mut served = 0;
    for _ in 0..3 {
        let (code, _, _) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(code, 0);
        served += 1;
    }
    assert_eq!(served, 3);
    // Five consents reached the prompt: the flood's four and the other process's one.
    assert_eq!(p.consents().len(), 5);
    assert_eq!(auth.ceremonies.lock().unwrap().len(), 4);
    wait::queued(&daemon, 0).await;
    for w in waiting {
        w.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_of_one_executable_share_one_share_and_another_executable_has_its_own() {
    let bus = TestBus::start();
    let other_exe = copy_test_binary(bus.dir.path(), "another-browser");
    let auth = FakeBackend::new(FakeMode::Answer);
    let daemon = start_daemon(
        &bus,
        &policy_privileged_self_and(&[&other_exe]),
        auth.clone(),
    )
    .await;
    daemon.set_queue_per_caller(1);
    // The first consent holds the prompt until its request is closed.
    let p = Prompt::spawn(&bus, "hang\napprove\n", false);
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let held = client
        .start(Kind::Get, &get_options("example.com"), &web())
        .await
        .unwrap();
    p.until("the first consent", || p.consents().len() == 1)
        .await;

    let req = caller::CallerRequest {
        bus: bus.address.clone(),
        kind: Kind::Get,
        options_json: get_options("example.com"),
        origin: Some("https://example.com".into()),
    };
    // Another process of this same executable (a fork, a re-run) is the same caller: refused at
    // once, its share being taken.
    let same_exe = std::env::current_exe().unwrap();
    let r = req.clone();
    let same =
        tokio::task::spawn_blocking(move || caller::call_from_another_process(&same_exe, &r));
    let same = tokio::time::timeout(Duration::from_secs(20), same)
        .await
        .expect("a second process of the same executable was queued, not refused")
        .unwrap();
    assert_eq!(same["code"], 2, "{same}");
    assert_eq!(same["error"], "NotAllowedError", "{same}");
    assert!(
        same["message"]
            .as_str()
            .unwrap()
            .contains("1 requests waiting"),
        "{same}"
    );
    assert_eq!(daemon.queued(), 1);

    // Another executable has a share of its own: queued behind the held request, then served.
    let other =
        tokio::task::spawn_blocking(move || caller::call_from_another_process(&other_exe, &req));
    wait::queued(&daemon, 2).await;
    held.close().await.unwrap();
    let other = tokio::time::timeout(Duration::from_secs(30), other)
        .await
        .expect("the other executable was not served")
        .unwrap();
    assert_eq!(other["code"], 0, "{other}");
    assert_eq!(p.consents().len(), 2);
    wait::queued(&daemon, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_beyond_the_share_starts_no_work() {
    // An RP whose well-known document lists the origin: an authorised request would fetch it.
    let well_known = https::serve_related_origins(&["https://example.co.uk"]).await;
    let auth = FakeBackend::new(FakeMode::Answer);
    let settings = latchkey_testkit::daemon::settings_related(
        &policy::privileged_self_prompting(),
        auth.clone(),
        16,
        well_known.related.clone(),
    );
    let (daemon, p) = peer::serve_recorded(settings, "hang\napprove\n").await;
    daemon.set_queue_per_caller(1);
    let client = &daemon.client;
    let held = client
        .start(Kind::Get, &get_options("example.com"), &web())
        .await
        .unwrap();
    p.until("the first consent", || p.consents().len() == 1)
        .await;

    // A frame of the page that holds the share (a browser's share is per top-level origin).
    let related = CallOptions {
        origin: Some("https://example.co.uk".into()),
        top_origin: Some("https://example.com".into()),
        ..Default::default()
    };
    let refused = client
        .call(Kind::Get, &get_options("example.com"), &related)
        .await
        .unwrap();
    assert_eq!(
        (refused.code, refused.error_name().as_deref()),
        (2, Some("NotAllowedError"))
    );
    assert!(
        refused.message().unwrap().contains("1 requests waiting"),
        "{:?}",
        refused.message()
    );
    // Refused before authorisation: nothing was fetched and no request object was exported.
    assert_eq!(well_known.fetched(), 0);
    assert_eq!(daemon.live_requests(), 1);

    // Once the share is free the same request is authorised through the fetched document.
    held.close().await.unwrap();
    wait::queued(&daemon, 0).await;
    let out = client
        .call(Kind::Get, &get_options("example.com"), &related)
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}", out.message());
    assert_eq!(well_known.fetched(), 1);
}

/// One connection, one `Response` subscription: each answer reaches its own request whatever
/// the order they are awaited in, an abandoned request does not disturb the others, and a
/// handle token can be used again once its request is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_routes_each_response_to_its_request() {
    let d = peer::start_prompting(
        &policy::privileged_self_prompting(),
        FakeBackend::new(FakeMode::Answer),
        &"approve\n".repeat(20),
    )
    .await;
    let client = &d.client;
    let challenge =
        |i: usize| latchkey_webauthn::b64::encode(format!("challenge number {i}").as_bytes());
    let options = |i: usize| format!(r#"{{"rpId":"example.com","challenge":"{}"}}"#, challenge(i));
    let mut pending = Vec::new();
    for i in 0..5 {
        pending.push(client.start(Kind::Get, &options(i), &web()).await.unwrap());
    }
    // Abandon the middle one: its answer comes with nobody waiting.
    let abandoned = pending.remove(2);
    drop(abandoned);
    for (i, p) in pending.into_iter().enumerate().rev() {
        let i = if i >= 2 { i + 1 } else { i };
        let out = tokio::time::timeout(Duration::from_secs(30), p.response())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out.code, 0, "request {i}");
        let json = out.results["authentication_response_json"]
            .downcast_ref::<String>()
            .unwrap();
        let data: serde_json::Value = serde_json::from_str(&client_data(&json)).unwrap();
        assert_eq!(
            data["challenge"],
            challenge(i),
            "request {i} got another's answer"
        );
    }
    let again = CallOptions {
        handle_token: Some("same".into()),
        ..web()
    };
    for _ in 0..2 {
        let out = tokio::time::timeout(
            Duration::from_secs(30),
            client.call(Kind::Get, &options(9), &again),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(out.code, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_has_a_share_per_top_level_origin_so_one_page_cannot_fill_it_for_all() {
    let auth = FakeBackend::new(FakeMode::Answer);
    // The first consent holds the prompt until its request is closed.
    let (daemon, p) = peer::start_recorded(
        &policy::privileged_self_prompting(),
        auth.clone(),
        "hang\napprove\n",
    )
    .await;
    daemon.set_queue_per_caller(1);
    let client = &daemon.client;
    let page = |origin: &str, top: Option<&str>| CallOptions {
        origin: Some(origin.into()),
        top_origin: top.map(Into::into),
        ..Default::default()
    };
    let held = client
        .start(
            Kind::Get,
            &get_options("example.com"),
            &page("https://example.com", None),
        )
        .await
        .unwrap();
    p.until("the first consent", || p.consents().len() == 1)
        .await;

    // The same page again, and a frame of another origin in it: the page's share is taken.
    for (origin, top) in [
        ("https://example.com", None),
        ("https://login.example.com", Some("https://example.com")),
    ] {
        let out = tokio::time::timeout(
            Duration::from_secs(10),
            client.call(Kind::Get, &get_options("example.com"), &page(origin, top)),
        )
        .await
        .expect("a request beyond the page's share was queued, not refused")
        .unwrap();
        assert_eq!(out.error_name().as_deref(), Some("NotAllowedError"));
        assert!(
            out.message().unwrap().contains("1 requests waiting"),
            "{:?}",
            out.message()
        );
    }
    assert_eq!(daemon.queued(), 1);

    // Another page of the same browser has a share of its own: queued behind the held request,
    // then served.
    let other = client
        .start(
            Kind::Get,
            &get_options("example.org"),
            &page("https://example.org", Some("https://example.org")),
        )
        .await
        .unwrap();
    wait::queued(&daemon, 2).await;
    held.close().await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), other.response())
        .await
        .expect("the other page was not served")
        .unwrap();
    assert_eq!(out.code, 0, "{:?}", out.message());
    assert_eq!(p.consents().len(), 2);
    assert_eq!(p.consents()[1]["details"]["origin"], "https://example.org");
    wait::queued(&daemon, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_policy_does_not_name_share_one_share_however_many_executables() {
    // Copying a binary to another path (or running it in another systemd unit) must not buy an
    // unknown caller another share of the prompt queue.
    let bus = TestBus::start();
    let copy = copy_test_binary(bus.dir.path(), "another-tool");
    let daemon = start_daemon(&bus, &trusted_prompt(), FakeBackend::new(FakeMode::Answer)).await;
    daemon.set_queue_per_caller(1);
    let p = Prompt::spawn(&bus, "hang\napprove\n", false);
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    // This test binary, unknown to policy, holds the prompt.
    let held = client
        .start(
            Kind::Get,
            &get_options("example.com"),
            &CallOptions::default(),
        )
        .await
        .unwrap();
    p.until("the first consent", || p.consents().len() == 1)
        .await;
    let req = caller::CallerRequest {
        bus: bus.address.clone(),
        kind: Kind::Get,
        options_json: get_options("example.com"),
        origin: None,
    };
    let other = tokio::task::spawn_blocking(move || caller::call_from_another_process(&copy, &req));
    let other = tokio::time::timeout(Duration::from_secs(20), other)
        .await
        .expect("another unknown executable was queued with a share of its own, not refused")
        .unwrap();
    assert_eq!(other["code"], 2, "{other}");
    assert_eq!(other["error"], "NotAllowedError", "{other}");
    assert_eq!(daemon.queued(), 1);
    held.close().await.unwrap();
    wait::queued(&daemon, 0).await;
}

/// A caller-controlled prompt that never answers loses the prompt after its answer limit, on a
/// paused clock over a socket pair: this test binary is a browser but not the trusted prompt, so
/// the prompt its end serves is only caller-controlled, once registered. Without the limit the
/// request never answers and `peer::within` fails it.
#[tokio::test(start_paused = true)]
async fn a_caller_controlled_prompt_that_never_answers_loses_the_prompt() {
    let settings = latchkey_testkit::daemon::settings(
        &policy::privileged_self_alone(),
        FakeBackend::new(FakeMode::Answer),
    );
    let (daemon, prompt) = peer::serve_registered(settings, "hang\n").await;
    let limit = Duration::from_millis(300);
    daemon.set_caller_prompt_answer(limit);
    let t = tokio::time::Instant::now();
    let out = peer::within(
        "the response of a request whose prompt never answers",
        daemon
            .client
            .call(Kind::Get, &get_options("example.com"), &web()),
    )
    .await
    .unwrap();
    let waited = t.elapsed();
    assert!(waited >= limit && waited < peer::LIMIT, "{waited:?}");
    assert_eq!(
        prompt.consents().len(),
        1,
        "the registered prompt was asked"
    );
    assert_eq!(
        (out.code, out.error_name().as_deref()),
        (2, Some("NotAllowedError")),
        "{:?}",
        out.message()
    );
    let message = out.message().unwrap_or_default();
    assert!(
        message.contains("the prompt did not answer within 300ms"),
        "{message}"
    );
    wait::queued(&daemon, 0).await;
}

/// Many distinct callers at once through the shipped latchkeyd (its platform worker and file
/// store): every get of every caller is answered with a credential, none lost, none left
/// waiting. Each caller is a process of its own, a browser by policy asking for a page of its
/// own origin, so each has its own share of the queue; the one prompt serialises their
/// ceremonies. The benchmark runs the large version (64 callers × 20 gets) and times it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_callers_through_the_shipped_latchkeyd_are_each_answered() {
    const CALLERS: usize = 16;
    const GETS: usize = 4;
    let bus = TestBus::start();
    let d =
        latchkey_testkit::latchkeyd::Latchkeyd::start(&bus, &policy_privileged_self(), &[]).await;
    let _prompt = Prompt::spawn(&bus, "approve\npin 271828\n", false);
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    // The credential every get finds (first use: the PIN is set too).
    let out = client
        .call(Kind::Create, &create_options("example.com"), &web())
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}", out.message());
    let exe = std::env::current_exe().unwrap();
    let mut waits = Vec::new();
    for i in 0..CALLERS {
        let req = caller::CallerRequest {
            bus: bus.address.clone(),
            kind: Kind::Get,
            options_json: get_options("example.com"),
            origin: Some(format!("https://caller{i}.example.com")),
        };
        let mut child = caller::command_repeated(&exe, &req, GETS).spawn().unwrap();
        waits.push(tokio::task::spawn_blocking(move || {
            caller::outcomes(&mut child)
        }));
    }
    let mut answered = 0;
    for (i, w) in waits.into_iter().enumerate() {
        let outcomes = tokio::time::timeout(Duration::from_secs(300), w)
            .await
            .unwrap_or_else(|_| panic!("caller {i} hung: {}", d.log()))
            .unwrap();
        assert_eq!(outcomes.len(), GETS, "caller {i}: {outcomes:?}");
        for o in outcomes {
            assert_eq!(o["code"], 0, "caller {i}: {o}");
            answered += 1;
        }
    }
    assert_eq!(answered, CALLERS * GETS);
}

/// The request timeout on a paused clock: latchkeyd, the scripted prompt and the hanging
/// authenticator all run in this process over a socket pair, so the 5 s timeout fires as soon as
/// nothing else is left to do, without waiting it out. Without the timeout the request would
/// never answer, and the test kit's bound (30 s of the same clock) fails it.
#[tokio::test(start_paused = true)]
async fn a_request_times_out_on_a_paused_clock_and_its_ceremony_is_cancelled() {
    let policy = policy::privileged_self_prompting();
    let auth = FakeBackend::new(FakeMode::Hang);
    let settings = latchkey_testkit::daemon::settings(&policy, auth.clone());
    let d = peer::serve_prompting(settings, "approve\n").await;
    let get = r#"{"rpId":"example.com","challenge":"AAECAwQFBgcICQoLDA0ODw","timeout":5000}"#;
    let started = tokio::time::Instant::now();
    let out = peer::within(
        "the response of a request that should time out",
        d.client.call(Kind::Get, get, &web()),
    )
    .await
    .unwrap();
    let waited = started.elapsed();
    assert_eq!(
        (out.code, out.error_name().as_deref()),
        (2, Some("NotAllowedError"))
    );
    assert_eq!(
        out.message().as_deref(),
        Some("the request timed out after 5 s")
    );
    // On the paused clock: the request's own 5 s, not the test kit's 30 s bound.
    assert!(
        waited >= Duration::from_secs(5) && waited < peer::LIMIT,
        "{waited:?}"
    );
    // It reached the authenticator (the prompt approved) and its ceremony was cancelled.
    assert_eq!(auth.ceremonies.lock().unwrap().len(), 1);
    auth.changes
        .until("the timed-out ceremony's cancel", || {
            auth.cancelled.lock().unwrap().len() == 1
        })
        .await;
    assert_eq!(d.live_requests(), 0);
}
