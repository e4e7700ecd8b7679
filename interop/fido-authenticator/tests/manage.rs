#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Credential management through the client against fido-authenticator (CTAP 2.1 §6.8).

mod common;

use common::*;
use latchkey_client::{manage, ScriptedUi};
use latchkey_webauthn::ErrorName;
use serde_json::json;

#[test]
fn discoverable_credentials_are_listed_and_deleted() {
    let mut dev = key();
    let mut ui = pins(3);
    let first = create(&mut dev, &mut ui, "required", "required", &[], json!({})).unwrap();
    let second = create(
        &mut dev,
        &mut ui,
        "required",
        "required",
        &[],
        json!({"credentialProtectionPolicy": "userVerificationRequired"}),
    )
    .unwrap();
    // A non-discoverable credential is not listed.
    create(&mut dev, &mut ui, "discouraged", "required", &[], json!({})).unwrap();

    let mut ui = pins(1);
    let mut listed = manage::list_device(&mut dev, &mut ui).unwrap();
    assert_eq!(ui.pin_requests.len(), 1);
    listed.sort_by_key(|c| c.user_id != first.user);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0].credential_id, first.reg.credential_id);
    assert_eq!(listed[0].user_id, first.user);
    assert_eq!(listed[0].rp_id, RP_ID);
    assert_eq!(listed[0].user_display_name.as_deref(), Some("A User"));
    assert!(listed[0].discoverable);
    assert_eq!(listed[1].credential_id, second.reg.credential_id);
    assert_eq!(listed[1].cred_protect, 3);

    manage::delete_on_device(&mut dev, &mut pins(1), &first.reg.credential_id).unwrap();
    let listed = manage::list_device(&mut dev, &mut pins(1)).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].credential_id, second.reg.credential_id);
    // The deleted credential no longer signs in.
    let err = get(
        &mut dev,
        &mut pins(1),
        std::slice::from_ref(&first.reg.credential_id),
        "required",
        json!({}),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
}

#[test]
fn credentials_of_several_rps_are_all_listed() {
    let mut dev = key();
    let mut ui = pins(2);
    let here = create(&mut dev, &mut ui, "required", "required", &[], json!({})).unwrap();
    let user = random(8);
    let (mut options, _) = create_options(&user, "required", "required", &[], json!({}));
    options["rp"]["id"] = json!("login.example.com");
    let request = latchkey_client::CreateRequest::new(
        options.to_string().as_bytes(),
        "https://login.example.com",
        None,
    )
    .unwrap();
    let there = latchkey_client::register(&mut dev, &request, &mut ui).unwrap();
    let listed = manage::list_device(&mut dev, &mut pins(1)).unwrap();
    let mut rps: Vec<(&str, &[u8])> = listed
        .iter()
        .map(|c| (c.rp_id.as_str(), c.credential_id.as_slice()))
        .collect();
    rps.sort();
    assert_eq!(
        rps,
        vec![
            (RP_ID, here.reg.credential_id.as_slice()),
            ("login.example.com", there.credential_id.as_slice()),
        ]
    );
}

#[test]
fn an_empty_key_lists_nothing() {
    let mut dev = key();
    manage::set_pin(&mut dev, &mut pins(1)).unwrap();
    let listed = manage::list_device(&mut dev, &mut pins(1)).unwrap();
    assert!(listed.is_empty());
}

#[test]
fn management_without_a_pin_is_refused() {
    let mut dev = key();
    let mut ui = ScriptedUi::default();
    let err = manage::list_device(&mut dev, &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert!(err.message().contains("no PIN"), "{}", err.message());
}
