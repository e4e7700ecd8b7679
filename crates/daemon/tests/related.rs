#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Related Origin Requests (§5.11) against a local HTTPS server with a certificate made here and
//! trusted only by this test's fetcher.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use latchkey_api::Kind;
use latchkey_api::{CallOptions, CredentialsClient};
use latchkey_daemon::related::{Limits, RelatedOrigins};
use latchkey_testkit::https::{json_response, serve, Server};

/// latchkeyd fetching well-known documents through `related`, over a socket pair (the API alone),
/// this process serving the prompt that approves.
async fn daemon_with(related: Arc<RelatedOrigins>) -> peer::PeerDaemon {
    let settings = latchkey_testkit::daemon::settings_related(
        &policy::privileged_self_prompting(),
        FakeBackend::new(FakeMode::Answer),
        16,
        related,
    );
    peer::serve_prompting(settings, "approve\n").await
}

fn web(origin: &str) -> CallOptions {
    CallOptions {
        origin: Some(origin.into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_origin_is_authorized_and_the_document_is_cached() {
    let doc =
        r#"{"origins":["https://example.co.uk","https://example.de","https://shop.example.fr"]}"#;
    let Server {
        addr,
        roots,
        fetches: count,
    } = serve(json_response(doc), false).await;
    let related =
        Arc::new(RelatedOrigins::with_roots(roots, Limits::default(), Some(addr)).unwrap());
    let d = daemon_with(related.clone()).await;
    let client = &d.client;

    let out = client
        .call(
            Kind::Create,
            &create_options("example.com"),
            &web("https://example.co.uk"),
        )
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}", out.message());
    assert!(
        client_data(&out.response_json().unwrap()).contains(r#""origin":"https://example.co.uk""#)
    );
    let out = client
        .call(
            Kind::Get,
            &get_options("example.com"),
            &web("https://shop.example.fr"),
        )
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}", out.message());
    // Not listed: SecurityError.
    let out = client
        .call(
            Kind::Get,
            &get_options("example.com"),
            &web("https://evil.example"),
        )
        .await
        .unwrap();
    assert_eq!(out.error_name().as_deref(), Some("SecurityError"));
    assert!(
        out.message().unwrap().contains("not listed"),
        "{:?}",
        out.message()
    );
    // One fetch served all three.
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(related.fetches(), 1);
    let caps = client.proxy().get_client_capabilities().await.unwrap();
    assert_eq!(caps.get("relatedOrigins"), Some(&true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_budget_caps_at_five() {
    let labels = ["a1", "b2", "c3", "d4", "e5", "f6"];
    let origins: Vec<String> = labels
        .iter()
        .map(|l| format!("\"https://{l}.example\""))
        .collect();
    let doc = format!("{{\"origins\":[{}]}}", origins.join(","));
    let Server { addr, roots, .. } = serve(json_response(&doc), false).await;
    let related =
        Arc::new(RelatedOrigins::with_roots(roots, Limits::default(), Some(addr)).unwrap());
    let d = daemon_with(related).await;
    let client = &d.client;
    let fifth = client
        .call(
            Kind::Get,
            &get_options("example.com"),
            &web("https://e5.example"),
        )
        .await
        .unwrap();
    assert_eq!(fifth.code, 0, "{:?}", fifth.message());
    let sixth = client
        .call(
            Kind::Get,
            &get_options("example.com"),
            &web("https://f6.example"),
        )
        .await
        .unwrap();
    assert_eq!(sixth.error_name().as_deref(), Some("SecurityError"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_documents_timeouts_and_untrusted_certificates_fail_closed() {
    let call = |client: CredentialsClient| async move {
        client
            .call(
                Kind::Get,
                &get_options("example.com"),
                &web("https://example.co.uk"),
            )
            .await
            .unwrap()
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (json_response(&format!("{{\"origins\":[\"https://example.co.uk\"],\"pad\":\"{}\"}}", "x".repeat(70_000))), "oversized"),
        (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n{\"origins\":[\"https://example.co.uk\"]}".to_vec(), "not json"),
        (b"HTTP/1.1 301 Moved\r\nLocation: https://example.co.uk/\r\n\r\n".to_vec(), "redirect"),
        (json_response("{\"origins\":\"https://example.co.uk\"}"), "origins not an array"),
    ];
    for (response, what) in cases {
        let Server { addr, roots, .. } = serve(response, false).await;
        let related =
            Arc::new(RelatedOrigins::with_roots(roots, Limits::default(), Some(addr)).unwrap());
        let d = daemon_with(related).await;
        let out = call(d.client.clone()).await;
        assert_eq!(
            out.error_name().as_deref(),
            Some("SecurityError"),
            "{what}: {:?}",
            out.message()
        );
    }
    // A server that never answers: the total timeout fires.
    let Server { addr, roots, .. } = serve(json_response("{}"), true).await;
    let limits = Limits {
        connect: Duration::from_millis(500),
        total: Duration::from_millis(400),
        ttl: Duration::from_secs(60),
    };
    let related = Arc::new(RelatedOrigins::with_roots(roots, limits, Some(addr)).unwrap());
    {
        let d = daemon_with(related).await;
        let t = Instant::now();
        let out = call(d.client.clone()).await;
        assert_eq!(out.error_name().as_deref(), Some("SecurityError"));
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    }
    // A certificate the fetcher does not trust.
    let Server {
        addr,
        fetches: count,
        ..
    } = serve(
        json_response(r#"{"origins":["https://example.co.uk"]}"#),
        false,
    )
    .await;
    let Server {
        roots: other_roots, ..
    } = serve(json_response("{}"), false).await;
    let related =
        Arc::new(RelatedOrigins::with_roots(other_roots, Limits::default(), Some(addr)).unwrap());
    let d = daemon_with(related).await;
    let out = call(d.client.clone()).await;
    assert_eq!(out.error_name().as_deref(), Some("SecurityError"));
    assert_eq!(
        count.load(Ordering::SeqCst),
        0,
        "no request went out over an untrusted connection"
    );
}
