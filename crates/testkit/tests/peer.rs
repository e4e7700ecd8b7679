#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! latchkeyd's API over a socket pair (`latchkey_testkit::peer`): it answers, with no bus.

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_over_a_socket_pair() {
    let d = tokio::time::timeout(
        Duration::from_secs(30),
        latchkey_testkit::peer::start(
            &latchkey_testkit::policy::privileged_self(),
            latchkey_testkit::platform::memory_platform(),
        ),
    )
    .await
    .expect("serving over a socket pair");
    eprintln!("served");
    let version = tokio::time::timeout(Duration::from_secs(30), d.client.proxy().version())
        .await
        .expect("the version property")
        .unwrap();
    assert_eq!(version, latchkey_api::API_VERSION);
    eprintln!("version");
    let list = tokio::time::timeout(
        Duration::from_secs(30),
        d.client.proxy().list_credentials(Default::default()),
    )
    .await
    .expect("listing")
    .unwrap();
    assert!(list.is_empty(), "{list:?}");
}
