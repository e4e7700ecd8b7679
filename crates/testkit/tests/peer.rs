#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! latchkeyd's API over a socket pair (`latchkey_testkit::peer`): it answers, with no bus; and its
//! bounded waits fail instead of hanging, on a paused clock too.

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
