#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Remembered site decisions ("Always allow BROWSER to use passkeys for RP_ID"): latchkeyd keeps
//! what the trusted prompt's consent answered, skips only the consent step with it (the PIN is
//! still asked, and a `discouraged` request is run with user verification), offers it only for
//! a privileged browser's top-level request, and forgets it when revoked through the management
//! API, which a refused caller may not use.

mod common;

use common::*;
use latchkey_api::Kind;
use latchkey_api::{CallOptions, ClientError};
use zbus::zvariant::{OwnedValue, Str};

fn web(origin: &str, top: Option<&str>) -> CallOptions {
    CallOptions {
        origin: Some(origin.into()),
        top_origin: top.map(Into::into),
        ..Default::default()
    }
}

/// Request options asking for no user verification.
fn get_discouraged(rp_id: &str) -> String {
    format!(
        r#"{{"rpId":"{rp_id}","challenge":"AAECAwQFBgcICQoLDA0ODw","userVerification":"discouraged"}}"#
    )
}

/// The authenticator data's flags byte of an assertion.
fn flags(response_json: &str) -> u8 {
    let v: serde_json::Value = serde_json::from_str(response_json).unwrap();
    let data = v["response"]["authenticatorData"].as_str().unwrap();
    latchkey_webauthn::b64::decode("authenticatorData", data).unwrap()[32]
}

fn s(v: &str) -> OwnedValue {
    OwnedValue::from(Str::from(v))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_site_skips_consent_but_never_the_pin_until_revoked() {
    // Consent: the first is answered with "Always allow", the later ones with approve.
    let (d, prompt) = peer::start_recorded(
        &policy::privileged_self_prompting(),
        platform_authenticator(),
        "remember\napprove\npin 482916\n",
    )
    .await;
    let client = &d.client;
    let site = web("https://example.com", None);

    let out = client
        .call(Kind::Create, &create_options("example.com"), &site)
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    let consents = prompt.consents();
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0]["details"]["remember_offer"], true);
    let listed = client
        .proxy()
        .list_remembered_sites(Default::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["browser"], s("test browser"));
    assert_eq!(listed[0]["rp_id"], s("example.com"));
    let pins_before = prompt.calls("RequestPin").len();

    // The same browser and site: no consent, but the PIN is asked and the response says the
    // user was verified, although the RP asked for no verification.
    let out = client
        .call(Kind::Get, &get_discouraged("example.com"), &site)
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    assert_eq!(prompt.consents().len(), 1, "consent was asked again");
    let pins = prompt.calls("RequestPin");
    assert_eq!(pins.len(), pins_before + 1);
    // The PIN dialog is the only one the user sees: it names the site.
    assert_eq!(
        pins.last().unwrap()["details"]["rp_id"],
        "example.com",
        "{pins:?}"
    );
    let f = flags(&out.response_json().unwrap());
    assert_eq!(f & 0x05, 0x05, "UP and UV set: {f:#04x}");

    // A frame of another site embedding example.com is asked, and not offered to remember.
    let out = client
        .call(
            Kind::Get,
            &get_options("example.com"),
            &web("https://example.com", Some("https://other.example")),
        )
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    let consents = prompt.consents();
    assert_eq!(consents.len(), 2);
    assert_eq!(consents[1]["details"]["remember_offer"], false);

    // Revoked: the next request asks for consent again.
    client
        .proxy()
        .revoke_remembered_site("test browser", "example.com")
        .await
        .unwrap();
    assert!(client
        .proxy()
        .list_remembered_sites(Default::default())
        .await
        .unwrap()
        .is_empty());
    let e = ClientError::from(
        client
            .proxy()
            .revoke_remembered_site("test browser", "example.com")
            .await
            .unwrap_err(),
    );
    assert_eq!(
        e.dbus_name(),
        Some("dev.latchkey.Credentials1.Error.NotFound")
    );
    let out = client
        .call(Kind::Get, &get_options("example.com"), &site)
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    let consents = prompt.consents();
    assert_eq!(consents.len(), 3);
    assert_eq!(consents[2]["details"]["remember_offer"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_privileged_browser_is_offered_and_a_bound_app_is_never_remembered() {
    let policy = policy::bound_self_prompting(&["example.com"]);
    // The prompt ticks "Always allow" although it was not offered: nothing is remembered.
    let (d, prompt) =
        peer::start_recorded(&policy, FakeBackend::new(FakeMode::Answer), "remember\n").await;
    let client = &d.client;
    for _ in 0..2 {
        let out = client
            .call(
                Kind::Get,
                &get_options("example.com"),
                &CallOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    }
    let consents = prompt.consents();
    assert_eq!(consents.len(), 2);
    assert_eq!(consents[0]["details"]["remember_offer"], false);
    assert!(client
        .proxy()
        .list_remembered_sites(Default::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_policy_refuses_may_not_list_or_revoke_remembered_sites() {
    let policy = format!(
        "[[deny]]\nexecutable = \"{}\"\n{}",
        std::env::current_exe().unwrap().display(),
        trusted_prompt()
    );
    let d = latchkey_testkit::peer::start(&policy, FakeBackend::new(FakeMode::Answer)).await;
    let client = &d.client;
    let list = ClientError::from(
        client
            .proxy()
            .list_remembered_sites(Default::default())
            .await
            .unwrap_err(),
    );
    let revoke = ClientError::from(
        client
            .proxy()
            .revoke_remembered_site("test browser", "example.com")
            .await
            .unwrap_err(),
    );
    for e in [list, revoke] {
        assert_eq!(
            e.dbus_name(),
            Some("dev.latchkey.Credentials1.Error.AccessDenied")
        );
        assert_eq!(e.webauthn_error().name(), "NotAllowedError");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_pin_is_never_changed_through_a_prompt_the_caller_controls() {
    // Only a caller-controlled prompt runs (this process, a browser but not the trusted prompt,
    // registered as its own prompt): latchkeyd refuses rather than ask it for PINs.
    let settings = latchkey_testkit::daemon::settings(
        &policy::privileged_self_alone(),
        platform_authenticator(),
    );
    let (d, prompt) = peer::serve_registered(settings, "approve\npin 482916\n").await;
    let client = &d.client;
    let e = ClientError::from(
        client
            .proxy()
            .change_platform_pin(Default::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(
        e.dbus_name(),
        Some("dev.latchkey.Credentials1.Error.CallerRefused")
    );
    assert!(prompt.shown().is_empty(), "{:?}", prompt.shown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_policy_refuses_may_not_change_the_platform_pin() {
    let policy = format!(
        "[[deny]]\nexecutable = \"{}\"\n{}",
        std::env::current_exe().unwrap().display(),
        policy::self_prompting()
    );
    let (d, prompt) = peer::start_recorded(&policy, platform_authenticator(), "approve\n").await;
    let client = &d.client;
    let e = ClientError::from(
        client
            .proxy()
            .change_platform_pin(Default::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(
        e.dbus_name(),
        Some("dev.latchkey.Credentials1.Error.AccessDenied")
    );
    assert_eq!(e.webauthn_error().name(), "NotAllowedError");
    assert!(prompt.shown().is_empty());
}
