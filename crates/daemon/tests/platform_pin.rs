#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The platform PIN and prompts a caller controls (PROMPT-TRUST.md): such a prompt may not choose
//! the platform authenticator's first PIN, and its first wrong PIN ends its part — it cannot burn
//! the retries that, once spent, only a reset (which deletes every passkey) recovers.

mod common;

use common::*;
use latchkey_api::CallOptions;
use latchkey_api::Kind;

fn web() -> CallOptions {
    CallOptions {
        origin: Some("https://login.example.com".into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_controlled_prompt_cannot_choose_the_platform_pin() {
    // First use, and the only prompt is one this caller registered (this process's end of the
    // socket pair, not the trusted prompt).
    let settings = latchkey_testkit::daemon::settings(
        &policy::privileged_self_alone(),
        platform_authenticator(),
    );
    let (d, p) = peer::serve_registered(settings, "approve\npin 482916\n").await;
    let client = &d.client;
    let out = client
        .call(Kind::Create, &create_options("example.com"), &web())
        .await
        .unwrap();
    assert_eq!(
        (out.code, out.error_name().as_deref()),
        (2, Some("NotAllowedError")),
        "a caller-controlled prompt chose the platform PIN: {:?}",
        out.message()
    );
    assert!(
        p.calls("RequestPin").is_empty(),
        "{:?}",
        p.calls("RequestPin")
    );
    // The prompt's user is told where the PIN is set.
    let notices = p.status_lines();
    assert!(
        notices.iter().any(|n| n.contains("latchkey pin set")),
        "{notices:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_controlled_prompt_stops_after_one_wrong_platform_pin() {
    let platform = platform_authenticator();
    // The user sets the PIN in the trusted prompt (this process's end of a socket pair, trusted
    // by that latchkeyd's policy).
    {
        let trusted = peer::start_prompting(
            &policy::privileged_self_prompting(),
            platform.clone(),
            "approve\npin 482916\n",
        )
        .await;
        let out = trusted
            .client
            .call(Kind::Create, &create_options("example.com"), &web())
            .await
            .unwrap();
        assert_eq!(out.code, 0, "{:?}", out.message());
    }
    // A latchkeyd over the same platform authenticator whose policy trusts no prompt: this
    // process's end is a prompt the caller controls, and answers with wrong PINs, again and again.
    let settings = latchkey_testkit::daemon::settings(&policy::privileged_self_alone(), platform);
    let (d, p) = peer::serve_registered(settings, "approve\npin 000000\n").await;
    let client = &d.client;
    let out = client
        .call(Kind::Get, &get_options("example.com"), &web())
        .await
        .unwrap();
    assert_eq!(
        (out.code, out.error_name().as_deref()),
        (2, Some("NotAllowedError")),
        "{:?}",
        out.message()
    );
    assert_eq!(
        p.calls("RequestPin").len(),
        1,
        "the caller-controlled prompt was asked again after a wrong PIN: {:?}",
        p.calls("RequestPin")
    );
    // Nor may it try again in another request.
    let out = client
        .call(Kind::Get, &get_options("example.com"), &web())
        .await
        .unwrap();
    assert_eq!(out.error_name().as_deref(), Some("NotAllowedError"));
    assert_eq!(
        p.calls("RequestPin").len(),
        1,
        "{:?}",
        p.calls("RequestPin")
    );
}
