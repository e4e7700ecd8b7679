#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Prompt1 versions through the real `latchkeyd`: a version 2 prompt is asked where to go
//! (`Choose`, from latchkeyd's routing), gets `ShowStatus` kinds and the version 2 keys, and can
//! cancel with `Cancelled`; a version 1 prompt gets only version 1 calls and still completes
//! ceremonies. webauthn-rs verifies every response.

mod common;

use std::time::Duration;

use common::*;
use latchkey_api::Kind;
use latchkey_testkit::keys::*;
use latchkey_testkit::one_key::{start_key_create, OneKey};
use latchkey_testkit::rp::*;
use webauthn_rs_core::proto::{AuthenticatorAttachment, UserVerificationPolicy};

/// Records of the methods only version 2 has.
fn version_2_calls(prompt: &Prompt) -> Vec<serde_json::Value> {
    prompt
        .shown()
        .into_iter()
        .filter(|r| {
            matches!(
                r["method"].as_str(),
                Some("Choose" | "ShowStatus" | "ChangePin")
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latchkeyd_offers_where_to_go_and_the_choice_routes_there() {
    let OneKey {
        client,
        prompt,
        latchkeyd: _d,
        key,
        bus: _bus,
    } = OneKey::start(
        Presence::Touch,
        "approve\nwhere security-key\nwhere platform\npin 271828\n",
    )
    .await;
    let core = rp();

    // No attachment, no hint: both can serve; the user picks the security key.
    let reg = registration(&core, None, UserVerificationPolicy::Discouraged_DO_NOT_USE);
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    let (_, aaguid) = verify_registration(&core, &reg, &ok_json(&out));
    assert_eq!(aaguid, KEY_AAGUID);
    assert_eq!(key.touches(), 1);
    let asked = prompt.calls("Choose");
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(
        asked[0]["details"]["details"],
        serde_json::json!({"kind": "create", "rp_id": "example.com"})
    );
    // The rule's decision (the platform, rule 4) first.
    assert_eq!(
        asked[0]["details"]["choices"],
        serde_json::json!([
            {"id": "platform", "kind": "platform"},
            {"id": "security-key", "kind": "security-key"},
        ])
    );

    // The second time the user picks this device: first use of the platform PIN, created in
    // the trusted prompt with the version 2 keys, then the same PIN verified.
    let reg = registration(&core, None, UserVerificationPolicy::Required);
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    let (cred, aaguid) = verify_registration(&core, &reg, &ok_json(&out));
    assert_eq!(aaguid, latchkey_client::platform::AAGUID);
    assert!(cred.user_verified);
    assert_eq!(key.touches(), 1, "the key was not used again");
    let pins = prompt.calls("RequestPin");
    assert!(!pins.is_empty());
    let first = &pins[0]["details"];
    assert_eq!(first["new_pin"], true, "{first}");
    assert_eq!(first["authenticator_kind"], "platform", "{first}");
    assert_eq!(first["blocked"], false, "{first}");
    assert!(first["min_length"].as_u64().unwrap() >= 4, "{first}");
    assert_eq!(prompt.calls("Choose").len(), 2);

    // Attachment named: no question.
    let reg = registration(
        &core,
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    verify_registration(&core, &reg, &ok_json(&out));
    assert_eq!(prompt.calls("Choose").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_choice_is_not_allowed() {
    let OneKey {
        client,
        prompt,
        latchkeyd: _d,
        key,
        bus: _bus,
    } = OneKey::start(Presence::Touch, "approve\nwhere deny\n").await;
    let reg = registration(&rp(), None, UserVerificationPolicy::Discouraged_DO_NOT_USE);
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    assert_eq!(out.error_name().as_deref(), Some("NotAllowedError"));
    assert_eq!(prompt.calls("Choose").len(), 1);
    assert_eq!(key.touches(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_prompt_gets_only_version_1_calls_and_ceremonies_complete() {
    let OneKey {
        client,
        prompt,
        latchkeyd: _d,
        key,
        bus: _bus,
    } = OneKey::start(Presence::Wait, "version 1\napprove\npin 271828\n").await;

    // It serves exactly version 1 as committed.
    let live = introspect(
        client.connection(),
        "dev.latchkey.Prompt",
        "/dev/latchkey/Prompt",
    )
    .await;
    let v1 = interface_shape(latchkey_prompt::INTERFACE_XML_V1, "dev.latchkey.Prompt1");
    assert_eq!(interface_shape(&live, "dev.latchkey.Prompt1"), v1);
    assert!(!v1
        .iter()
        .any(|m| m.contains("Choose(") || m.contains("ShowStatus")));

    let core = rp();
    // Open options with keys enabled: a version 2 prompt would be asked; this one is not, and the
    // rule (the platform) stands: first use of the PIN, asked without the version 2 keys.
    let reg = registration(&core, None, UserVerificationPolicy::Required);
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    let (_, aaguid) = verify_registration(&core, &reg, &ok_json(&out));
    assert_eq!(aaguid, latchkey_client::platform::AAGUID);
    let pins = prompt.calls("RequestPin");
    assert_eq!(pins[0]["details"]["new_pin"], true);
    assert!(
        pins[0]["details"].get("authenticator_kind").is_none(),
        "{pins:?}"
    );
    assert!(pins[0]["details"].get("blocked").is_none(), "{pins:?}");

    // The key's touch request reaches it as version 1's Notice line.
    let (reg, pending) = start_key_create(&client, &core).await;
    key.until_waiting().await;
    prompt
        .until("the touch notice", || {
            prompt
                .calls("Notice")
                .iter()
                .any(|n| n["details"] == "Touch your security key")
        })
        .await;
    key.set_presence(Presence::Touch);
    key.touch();
    let out = tokio::time::timeout(Duration::from_secs(30), pending.response())
        .await
        .unwrap()
        .unwrap();
    verify_registration(&core, &reg, &ok_json(&out));
    assert_eq!(version_2_calls(&prompt), Vec::<serde_json::Value>::new());
}

/// One create on the waiting key, which the prompt cancels when it shows touch-key: answered
/// `NotAllowedError`, with the prompt's `n`th `Cancelled` and the key's `n`th CTAPHID_CANCEL.
async fn create_cancelled_by_the_prompt(one: &OneKey, n: usize) {
    let reg = registration(
        &rp(),
        Some(AuthenticatorAttachment::CrossPlatform),
        UserVerificationPolicy::Discouraged_DO_NOT_USE,
    );
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        one.client.call(Kind::Create, &reg.json, &web()),
    )
    .await
    .unwrap_or_else(|_| panic!("request {n} was not cancelled"))
    .unwrap();
    assert_eq!(
        out.error_name().as_deref(),
        Some("NotAllowedError"),
        "request {n}: {:?}",
        out.message()
    );
    assert_eq!(one.prompt.calls("Cancelled").len(), n);
    // The key was told to stop.
    one.key
        .until("CTAPHID_CANCEL at the key", || one.key.cancels() == n)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prompts_cancel_while_a_key_waits_ends_the_request_with_not_allowed() {
    let one = OneKey::start(Presence::Wait, "approve\ncancel on touch-key\n").await;
    create_cancelled_by_the_prompt(&one, 1).await;
    let statuses = one.prompt.calls("ShowStatus");
    assert!(
        statuses.iter().any(|s| s["details"]["kind"] == "touch-key"),
        "{statuses:?}"
    );
    assert_eq!(one.prompt.calls("Notice"), Vec::<serde_json::Value>::new());
}

/// latchkeyd listens to the trusted prompt's `Cancelled` once and keeps listening: each of three
/// requests in a row is cancelled by its own signal, and none hangs on a listener that stopped
/// after the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prompts_cancel_ends_each_request_in_a_row() {
    let one = OneKey::start(Presence::Wait, "approve\ncancel on touch-key\n").await;
    for n in 1..=3 {
        create_cancelled_by_the_prompt(&one, n).await;
    }
    // Each request's cancel was its own: the three request IDs differ.
    let ids: std::collections::HashSet<String> = one
        .prompt
        .calls("Cancelled")
        .iter()
        .filter_map(|c| c["request_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), 3, "{:?}", one.prompt.calls("Cancelled"));
}
