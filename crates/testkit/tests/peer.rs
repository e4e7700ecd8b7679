#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! latchkeyd's API over a socket pair (`latchkey_testkit::peer`): it answers, with no bus; and its
//! bounded waits fail instead of hanging, on a paused clock too, even one a blocked thread holds.

use latchkey_testkit::peer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_over_a_socket_pair() {
    let d = peer::start(
        &latchkey_testkit::policy::privileged_self(),
        latchkey_testkit::platform::memory_platform(),
    )
    .await;
    let version = d.client.proxy().version().await.unwrap();
    assert_eq!(version, latchkey_api::API_VERSION);
    let list = d
        .client
        .proxy()
        .list_credentials(Default::default())
        .await
        .unwrap();
    assert!(list.is_empty(), "{list:?}");
}

#[tokio::test]
#[should_panic(expected = "a wait that never ends: nothing within 30s over the socket pair")]
async fn a_wait_that_never_ends_fails_instead_of_hanging() {
    tokio::time::pause();
    peer::within("a wait that never ends", std::future::pending::<()>()).await;
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
    peer::within_advancing(
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
    peer::within_advancing(
        "a wait held by a thread",
        std::time::Duration::from_millis(100),
        std::future::pending::<()>(),
    )
    .await;
}
