#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The terminal prompt (caller-controlled): it relays consent and PINs for requests policy
//! already allows, and is never asked to approve an unverified caller (PROMPT-TRUST.md).

mod common;

use common::*;
use latchkey_api::Kind;
use latchkey_api::{CallOptions, CredentialsClient};
use latchkey_testkit::terminal::TerminalPrompt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_prompt_relays_consent_and_pin_fd() {
    let bus = TestBus::start();
    let policy = format!(
        "[[privileged]]\nexecutable = \"{}\"\n",
        std::env::current_exe().unwrap().display()
    );
    let _d = start_daemon(&bus, &policy, FakeBackend::new(FakeMode::AskPin)).await;
    let terminal = TerminalPrompt::typed(&bus, "y\n", Some(b"1357\n")).await;
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let web = latchkey_testkit::rp::web();
    let out = client
        .call(Kind::Get, &get_options("example.com"), &web)
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}", out.message());
    let v: serde_json::Value = serde_json::from_str(&out.response_json().unwrap()).unwrap();
    assert_eq!(v["pinLength"], 4);
    let shown = terminal.screen();
    assert!(
        shown.contains("wants to sign in with a passkey on example.com"),
        "{shown}"
    );
    assert!(!shown.contains("UNVERIFIED"));
    assert!(!shown.contains("1357"));
    // The typed answer is used up: the next request reads EOF and is refused by the user.
    let out = client
        .call(Kind::Get, &get_options("example.com"), &web)
        .await
        .unwrap();
    assert_eq!(
        (out.code, out.error_name().as_deref()),
        (1, Some("NotAllowedError"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_prompt_is_never_asked_to_approve_an_unverified_caller() {
    let bus = TestBus::start();
    // The test binary is an unknown caller here.
    let _d = start_daemon(&bus, "", FakeBackend::new(FakeMode::Answer)).await;
    let terminal = TerminalPrompt::typed(&bus, "y\ny\ny\n", None).await;
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let out = client
        .call(
            Kind::Create,
            &create_options("example.com"),
            &CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (out.code, out.error_name().as_deref()),
        (2, Some("NotAllowedError"))
    );
    assert_eq!(
        terminal.screen(),
        "",
        "the caller-controlled prompt saw nothing"
    );
    // And it may not vouch for a web origin either: SecurityError before any prompt.
    let web = latchkey_testkit::rp::web();
    let out = client
        .call(Kind::Create, &create_options("example.com"), &web)
        .await
        .unwrap();
    assert_eq!(out.error_name().as_deref(), Some("SecurityError"));
    assert_eq!(terminal.screen(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_prompt_answers_latchkeyd_only() {
    use std::io::Read as _;
    let bus = TestBus::start();
    let policy = format!(
        "[[privileged]]\nexecutable = \"{}\"\n",
        std::env::current_exe().unwrap().display()
    );
    let _d = start_daemon(&bus, &policy, FakeBackend::new(FakeMode::AskPin)).await;
    // The user ran `latchkey get --pin-fd …`: the PIN waits in the prompt for latchkeyd to ask.
    let terminal = TerminalPrompt::typed(&bus, "y\n", Some(b"1357\n")).await;
    let prompt = terminal.connection().unique_name().unwrap().to_string();
    // Any other peer on the bus asks the prompt for it.
    let thief = zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .build()
        .await
        .unwrap();
    let (r, w) = rustix::pipe::pipe().unwrap();
    let details = std::collections::HashMap::from([(
        "authenticator",
        zbus::zvariant::Value::from("Latchkey platform authenticator"),
    )]);
    let asked = thief
        .call_method(
            Some(prompt.as_str()),
            latchkey_prompt::PROMPT_PATH,
            Some(latchkey_prompt::PROMPT_INTERFACE),
            "RequestPin",
            &("1", &details, zbus::zvariant::Fd::from(&w)),
        )
        .await;
    drop(w);
    let mut stolen = String::new();
    std::fs::File::from(r).read_to_string(&mut stolen).unwrap();
    assert_eq!(stolen, "", "another peer received the PIN");
    let err = asked.expect_err("the prompt answered another peer");
    assert!(err.to_string().contains("AccessDenied"), "{err}");
    // Nor does it show another peer's questions or notices.
    for (member, body) in [
        ("Notice", ("1", "\x1b[2J\x1b[Hlatchkey: all is well")),
        ("Dismiss", ("1", "")),
    ] {
        let r = if member == "Dismiss" {
            thief
                .call_method(
                    Some(prompt.as_str()),
                    latchkey_prompt::PROMPT_PATH,
                    Some(latchkey_prompt::PROMPT_INTERFACE),
                    member,
                    &(body.0,),
                )
                .await
        } else {
            thief
                .call_method(
                    Some(prompt.as_str()),
                    latchkey_prompt::PROMPT_PATH,
                    Some(latchkey_prompt::PROMPT_INTERFACE),
                    member,
                    &body,
                )
                .await
        };
        assert!(r.is_err(), "{member} from another peer was served");
    }
    let consent = thief
        .call_method(
            Some(prompt.as_str()),
            latchkey_prompt::PROMPT_PATH,
            Some(latchkey_prompt::PROMPT_INTERFACE),
            "Consent",
            &("1", &details),
        )
        .await;
    assert!(consent.is_err(), "Consent from another peer was served");
    assert_eq!(terminal.screen(), "", "another peer's calls showed nothing");

    // latchkeyd's own request still gets the consent and the PIN.
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let web = latchkey_testkit::rp::web();
    let out = client
        .call(Kind::Get, &get_options("example.com"), &web)
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}", out.message());
    let v: serde_json::Value = serde_json::from_str(&out.response_json().unwrap()).unwrap();
    assert_eq!(v["pinLength"], 4);
}
