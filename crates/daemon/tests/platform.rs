#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Acceptance: a client registers and signs in through latchkeyd with the platform
//! authenticator; the webauthn crate's RP-side verifier accepts the results. The API alone: over
//! a socket pair (`latchkey_testkit::peer`), this process serving the prompt.

mod common;

use std::time::{Duration, Instant};

use common::*;
use latchkey_api::CallOptions;
use latchkey_api::Kind;
use latchkey_webauthn::ids::{CoseAlgorithm, UserHandle};
use latchkey_webauthn::origin::RpId;
use latchkey_webauthn::response::{AuthenticationResponseJSON, RegistrationResponseJSON};
use latchkey_webauthn::rp::{
    verify_authentication, verify_registration, ExpectedAuthentication, ExpectedOrigins,
    ExpectedRegistration, ExpectedUser,
};

const CHALLENGE: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_and_sign_in_with_the_platform_authenticator() {
    // First use: the platform authenticator asks for a new PIN, then for the PIN to verify.
    let (d, prompt) = peer::start_recorded(
        &policy::privileged_self_prompting(),
        platform_authenticator(),
        "approve\npin 482916\n",
    )
    .await;
    let client = &d.client;
    let web = CallOptions {
        origin: Some("https://login.example.com".into()),
        ..Default::default()
    };
    let rp_id = RpId::parse("example.com").unwrap();
    let origins = ExpectedOrigins {
        origins: &["https://login.example.com"],
        top_origins: &[],
    };

    let t = Instant::now();
    let out = client
        .call(Kind::Create, &create_options("example.com"), &web)
        .await
        .unwrap();
    let create_time = t.elapsed();
    assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    let reg: RegistrationResponseJSON =
        serde_json::from_str(&out.response_json().unwrap()).unwrap();
    let (record, _attestation) = verify_registration(
        &reg,
        &ExpectedRegistration {
            challenge: &CHALLENGE,
            origins: origins.clone(),
            rp_id: &rp_id,
            require_user_verification: true,
            algorithms: &[CoseAlgorithm(-7)],
        },
    )
    .unwrap();
    assert!(record.uv_initialized);

    let t = Instant::now();
    let out = client
        .call(Kind::Get, &get_options("example.com"), &web)
        .await
        .unwrap();
    let get_time = t.elapsed();
    assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
    let auth: AuthenticationResponseJSON =
        serde_json::from_str(&out.response_json().unwrap()).unwrap();
    let user = UserHandle::new(vec![1, 2, 3, 4]).unwrap();
    let result = verify_authentication(
        &auth,
        &ExpectedAuthentication {
            challenge: &CHALLENGE,
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
    eprintln!("platform authenticator over D-Bus: create {create_time:?}, get {get_time:?}");

    // The prompt saw consent twice and PIN requests, and never the PIN itself.
    let shown = prompt.shown();
    assert_eq!(shown.iter().filter(|r| r["method"] == "Consent").count(), 2);
    let pins: Vec<_> = shown
        .iter()
        .filter(|r| r["method"] == "RequestPin")
        .collect();
    assert!(!pins.is_empty());
    assert_eq!(pins[0]["details"]["new_pin"], true);
    assert!(!std::fs::read_to_string(prompt.path())
        .unwrap()
        .contains("482916"));

    // Management: the credential is listed, then deleted; signing in then finds nothing.
    let list = client
        .proxy()
        .list_credentials(Default::default())
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    let id = latchkey_webauthn::b64::encode(record.id.as_bytes());
    assert_eq!(
        list[0]["credential_id"],
        zbus::zvariant::OwnedValue::from(zbus::zvariant::Str::from(id.as_str()))
    );
    assert_eq!(
        list[0]["rp_id"],
        zbus::zvariant::OwnedValue::from(zbus::zvariant::Str::from("example.com"))
    );
    assert_eq!(
        list[0]["user_name"],
        zbus::zvariant::OwnedValue::from(zbus::zvariant::Str::from("alice"))
    );
    client.proxy().delete_credential(&id).await.unwrap();
    assert!(client
        .proxy()
        .list_credentials(Default::default())
        .await
        .unwrap()
        .is_empty());
    let e =
        latchkey_api::ClientError::from(client.proxy().delete_credential(&id).await.unwrap_err());
    assert_eq!(
        e.dbus_name(),
        Some("dev.latchkey.Credentials1.Error.NotFound")
    );
    let out = client
        .call(Kind::Get, &get_options("example.com"), &web)
        .await
        .unwrap();
    assert_eq!(
        out.error_name().as_deref(),
        Some("NotAllowedError"),
        "{:?}",
        out.message()
    );

    // The wrong origin is refused before the authenticator.
    let evil = CallOptions {
        origin: Some("https://example.org".into()),
        ..Default::default()
    };
    let out = client
        .call(Kind::Get, &get_options("example.com"), &evil)
        .await
        .unwrap();
    assert_eq!(out.error_name().as_deref(), Some("SecurityError"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusing_the_pin_fails_the_ceremony_and_frees_the_queue() {
    let (d, prompt) = peer::start_recorded(
        &policy::privileged_self_prompting(),
        platform_authenticator(),
        "approve\npin deny\n",
    )
    .await;
    let client = &d.client;
    let web = latchkey_testkit::rp::web();
    let options = create_options("example.com").replace("\"preferred\"", "\"required\"");
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        client.call(Kind::Create, &options, &web),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        out.code,
        2,
        "{:?} {:?}",
        prompt.shown(),
        out.response_json()
    );
    assert_eq!(
        out.error_name().as_deref(),
        Some("NotAllowedError"),
        "{:?}",
        out.message()
    );
}

/// Two platform passkeys for one site: a sign-in that asks which account signs each passkey once
/// (CTAP 2.1 §6.2.2: the one getAssertion and its getNextAssertion), then finishes with the chosen
/// one without signing again, so the chosen passkey's counter moves by one per sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choosing_among_platform_accounts_signs_each_once() {
    let (d, prompt) = peer::start_recorded(
        &policy::privileged_self_prompting(),
        platform_authenticator(),
        "approve\npin 482916\nchoose 1\n",
    )
    .await;
    let client = &d.client;
    let web = latchkey_testkit::rp::web();
    let mut ids = Vec::new();
    for (user, name) in [("AQIDBA", "alice"), ("BQYHCA", "bob")] {
        let options = create_options("example.com")
            .replace("AQIDBA", user)
            .replace("alice", name);
        let out = client.call(Kind::Create, &options, &web).await.unwrap();
        assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
        let json: serde_json::Value = serde_json::from_str(&out.response_json().unwrap()).unwrap();
        ids.push(json["id"].as_str().unwrap().to_owned());
    }
    let sign_count = |json: &serde_json::Value| {
        let data = latchkey_webauthn::b64::decode(
            "authenticatorData",
            json["response"]["authenticatorData"].as_str().unwrap(),
        )
        .unwrap();
        u32::from_be_bytes(data[33..37].try_into().unwrap())
    };
    for round in 1..=2 {
        let out = client
            .call(Kind::Get, &get_options("example.com"), &web)
            .await
            .unwrap();
        assert_eq!(out.code, 0, "{:?}: {:?}", out.error_name(), out.message());
        let json: serde_json::Value = serde_json::from_str(&out.response_json().unwrap()).unwrap();
        // Newest first: index 1 is alice's, the first made.
        assert_eq!(json["id"], ids[0].as_str());
        assert_eq!(json["response"]["userHandle"], "AQIDBA");
        assert_eq!(sign_count(&json), round, "one signature per sign-in");
    }
    assert_eq!(
        prompt.calls("ChooseAccount").len(),
        2,
        "the account was asked once per sign-in"
    );
}
