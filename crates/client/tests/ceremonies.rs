#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Full ceremonies against the platform authenticator (in process) and a virtual key (CTAPHID
//! over a Unix socket, served by the transport crate), verified by the webauthn crate's RP side.

mod common;

use common::*;
use latchkey_client::{Device, PinReason, Registration, ScriptedUi};
use latchkey_webauthn::{b64, ErrorName, WebAuthnError};
use serde_json::{json, Value};

const PIN: &str = "4321";

#[derive(Debug)]
struct Created {
    reg: Registration,
    challenge: Vec<u8>,
    user: Vec<u8>,
}

fn create(
    dev: &mut dyn Device,
    ui: &mut ScriptedUi,
    rk: &str,
    uv: &str,
    exclude: &[Vec<u8>],
    ext: Value,
) -> Result<Created, WebAuthnError> {
    let user = random(16);
    let (options, challenge) = create_options(&user, rk, uv, exclude, ext);
    let reg = latchkey_client::register(dev, &create_request(&options), ui)?;
    Ok(Created {
        reg,
        challenge,
        user,
    })
}

fn get(
    dev: &mut dyn Device,
    ui: &mut ScriptedUi,
    allow: &[Vec<u8>],
    uv: &str,
    ext: Value,
) -> Result<(latchkey_client::Assertion, Vec<u8>), WebAuthnError> {
    let (options, challenge) = get_options(allow, uv, ext);
    let a = latchkey_client::authenticate(dev, &get_request(&options), ui)?;
    Ok((a, challenge))
}

fn pins(n: usize) -> ScriptedUi {
    ScriptedUi::with_pins(vec![PIN; n])
}

/// Runs a test body against both back-ends.
macro_rules! both {
    ($name:ident, |$dev:ident, $touches:ident| $body:block) => {
        mod $name {
            use super::*;
            #[test]
            fn platform() {
                let (mut d, $touches) = platform_in_memory();
                let $dev: &mut dyn Device = &mut d;
                $body
            }
            #[test]
            fn virtual_key() {
                let server = VirtualKeyServer::start();
                let mut d = server.open();
                let $touches = server.touches.clone();
                let $dev: &mut dyn Device = &mut *d;
                $body
            }
        }
    };
}

both!(
    discoverable_credential_signs_in_without_allow_list,
    |dev, touches| {
        let mut ui = pins(3);
        let c = create(
            dev,
            &mut ui,
            "required",
            "required",
            &[],
            json!({"credProps": true}),
        )
        .unwrap();
        assert_eq!(
            ui.pin_requests[0].reason,
            PinReason::New,
            "first use sets the PIN"
        );
        let record = rp_register(&c.reg, &c.challenge, true);
        assert_eq!(c.reg.extensions.cred_props.as_ref().unwrap().rk, Some(true));
        let (a, challenge) = get(dev, &mut ui, &[], "required", json!({})).unwrap();
        assert_eq!(a.user_handle.as_deref(), Some(c.user.as_slice()));
        assert_eq!(flags(&a.authenticator_data) & (UP | UV), UP | UV);
        let count = rp_authenticate(&a, &challenge, &record, &c.user, true, &[]);
        assert_eq!(count, 1);
        assert_eq!(touches.count(), 2);
    }
);

both!(
    non_discoverable_credential_signs_in_with_allow_list,
    |dev, touches| {
        let mut ui = pins(3);
        let c = create(
            dev,
            &mut ui,
            "discouraged",
            "required",
            &[],
            json!({"credProps": true}),
        )
        .unwrap();
        assert_eq!(
            c.reg.extensions.cred_props.as_ref().unwrap().rk,
            Some(false)
        );
        let record = rp_register(&c.reg, &c.challenge, true);
        let id = c.reg.credential_id.clone();
        // Discoverable sign-in finds nothing: the credential is not resident.
        let err = get(dev, &mut ui, &[], "required", json!({})).unwrap_err();
        assert_eq!(err.kind(), ErrorName::NotAllowed, "{err:?}");
        let mut ui = pins(1);
        let (a, challenge) = get(
            dev,
            &mut ui,
            std::slice::from_ref(&id),
            "required",
            json!({}),
        )
        .unwrap();
        assert_eq!(a.credential_id, id);
        rp_authenticate(&a, &challenge, &record, &c.user, true, &[id]);
        assert_eq!(
            touches.count(),
            2,
            "no touch is spent on the failed discoverable request"
        );
    }
);

both!(wrong_pin_is_retried_with_retries_left, |dev, _touches| {
    let mut ui = pins(1);
    create(dev, &mut ui, "required", "required", &[], json!({})).unwrap();
    let mut ui = ScriptedUi::with_pins(["0000", "1111", PIN]);
    let (a, _) = get(dev, &mut ui, &[], "required", json!({})).unwrap();
    assert_eq!(flags(&a.authenticator_data) & UV, UV);
    let reasons = ui.pins_asked();
    assert_eq!(
        reasons,
        vec![
            (PinReason::Verify, Some(8)),
            (PinReason::Retry, Some(7)),
            (PinReason::Retry, Some(6))
        ]
    );
});

both!(
    excluded_credential_is_invalid_state_after_exactly_one_touch,
    |dev, touches| {
        let mut ui = pins(1);
        let c = create(dev, &mut ui, "required", "required", &[], json!({})).unwrap();
        assert_eq!(touches.count(), 1);
        let mut excluded: Vec<Vec<u8>> = (0..12).map(|_| random(32)).collect();
        excluded.push(c.reg.credential_id.clone());
        let mut ui = pins(1);
        let err = create(dev, &mut ui, "required", "required", &excluded, json!({})).unwrap_err();
        assert_eq!(err.kind(), ErrorName::InvalidState, "{err:?}");
        assert_eq!(
            touches.count(),
            2,
            "the exclusion costs the one touch the spec requires"
        );
        // Unknown IDs alone do not stop a registration, and cost no extra touch.
        let unknown: Vec<Vec<u8>> = (0..12).map(|_| random(32)).collect();
        let mut ui = pins(1);
        create(dev, &mut ui, "required", "required", &unknown, json!({})).unwrap();
        assert_eq!(touches.count(), 3);
    }
);

both!(
    allow_list_preflight_finds_the_credential_among_unknown_ones,
    |dev, touches| {
        let mut ui = pins(1);
        let c = create(dev, &mut ui, "discouraged", "required", &[], json!({})).unwrap();
        let record = rp_register(&c.reg, &c.challenge, true);
        let mut allow: Vec<Vec<u8>> = (0..20).map(|_| random(48)).collect();
        allow.push(c.reg.credential_id.clone());
        let mut ui = pins(1);
        let (a, challenge) = get(dev, &mut ui, &allow, "required", json!({})).unwrap();
        assert_eq!(a.credential_id, c.reg.credential_id);
        rp_authenticate(&a, &challenge, &record, &c.user, true, &allow);
        assert_eq!(touches.count(), 2);
        // None of them known: refused without a touch.
        let unknown: Vec<Vec<u8>> = (0..5).map(|_| random(48)).collect();
        let mut ui = pins(1);
        let err = get(dev, &mut ui, &unknown, "required", json!({})).unwrap_err();
        assert_eq!(err.kind(), ErrorName::NotAllowed);
        assert!(
            err.message().contains("allowCredentials"),
            "{}",
            err.message()
        );
        assert_eq!(touches.count(), 2);
    }
);

both!(
    several_discoverable_credentials_let_the_user_choose,
    |dev, _touches| {
        let mut ui = pins(2);
        let first = create(dev, &mut ui, "required", "required", &[], json!({})).unwrap();
        let second = create(dev, &mut ui, "required", "required", &[], json!({})).unwrap();
        let mut ui = pins(1);
        ui.choice = 1;
        let (a, _) = get(dev, &mut ui, &[], "required", json!({})).unwrap();
        assert_eq!(ui.choices_offered.len(), 1);
        let offered = &ui.choices_offered[0];
        assert_eq!(offered.len(), 2);
        assert_eq!(offered[0].user_id, second.user, "newest first");
        assert_eq!(offered[1].user_id, first.user);
        assert_eq!(a.user_handle.as_deref(), Some(first.user.as_slice()));
        assert_eq!(a.credential_id, first.reg.credential_id);
    }
);

both!(
    several_accounts_are_chosen_after_the_one_touch_and_finished_without_another_signature,
    |dev, touches| {
        let mut ui = pins(2);
        let first = create(dev, &mut ui, "required", "required", &[], json!({})).unwrap();
        let second = create(dev, &mut ui, "required", "required", &[], json!({})).unwrap();
        let before = touches.count();
        let (options, _) = get_options(&[], "required", json!({}));
        let request = get_request(&options);
        let mut ui = pins(1);
        let choice = match latchkey_client::authenticate_until_choice(dev, &request, &mut ui) {
            Ok(latchkey_client::Authentication::Choose(choice)) => choice,
            other => panic!("expected a choice of account, got {other:?}"),
        };
        // Never asked through the UI: the choice is the caller's to ask, after the touch.
        assert!(ui.choices_offered.is_empty());
        assert_eq!(touches.count(), before + 1);
        let offered: Vec<&[u8]> = choice
            .accounts()
            .iter()
            .map(|a| a.user_id.as_slice())
            .collect();
        assert_eq!(offered, [second.user.as_slice(), first.user.as_slice()]);
        let a = choice.finish(dev, 1).unwrap();
        assert_eq!(a.credential_id, first.reg.credential_id);
        // The chosen credential signed once: its counter went from 0 to 1, with one touch.
        assert_eq!(&a.authenticator_data[33..37], &[0, 0, 0, 1]);
        assert_eq!(touches.count(), before + 1);
        // An index beyond the list is no choice.
        let mut ui = pins(1);
        let Ok(latchkey_client::Authentication::Choose(choice)) =
            latchkey_client::authenticate_until_choice(dev, &request, &mut ui)
        else {
            panic!("expected a choice of account");
        };
        let err = choice.finish(dev, 2).unwrap_err();
        assert_eq!(err.kind(), ErrorName::NotAllowed);
    }
);

both!(large_blob_is_written_then_read_back, |dev, _touches| {
    let mut ui = pins(1);
    let c = create(
        dev,
        &mut ui,
        "required",
        "required",
        &[],
        json!({"largeBlob": {"support": "required"}}),
    )
    .unwrap();
    assert_eq!(
        c.reg.extensions.large_blob.as_ref().unwrap().supported,
        Some(true)
    );
    let id = c.reg.credential_id.clone();
    let blob = b"a certificate, say, that only this passkey unlocks".repeat(20);
    let mut ui = pins(1);
    let (a, _) = get(
        dev,
        &mut ui,
        std::slice::from_ref(&id),
        "required",
        json!({"largeBlob": {"write": b64::encode(&blob)}}),
    )
    .unwrap();
    assert_eq!(
        a.extensions.large_blob.as_ref().unwrap().written,
        Some(true)
    );
    let mut ui = pins(1);
    let (a, _) = get(
        dev,
        &mut ui,
        &[id],
        "required",
        json!({"largeBlob": {"read": true}}),
    )
    .unwrap();
    let got = a
        .extensions
        .large_blob
        .as_ref()
        .unwrap()
        .blob
        .clone()
        .unwrap();
    assert_eq!(b64::decode("blob", &got).unwrap(), blob);
});

both!(
    prf_is_enabled_at_create_and_stable_per_salt,
    |dev, _touches| {
        let mut ui = pins(1);
        let c = create(
            dev,
            &mut ui,
            "required",
            "required",
            &[],
            json!({"prf": {}}),
        )
        .unwrap();
        assert_eq!(c.reg.extensions.prf.as_ref().unwrap().enabled, Some(true));
        let id = c.reg.credential_id.clone();
        let eval = |dev: &mut dyn Device, salt: &[u8], second: Option<&[u8]>| {
            let mut ui = pins(1);
            let mut e = json!({"first": b64::encode(salt)});
            if let Some(s) = second {
                e["second"] = json!(b64::encode(s));
            }
            let (a, _) = get(
                dev,
                &mut ui,
                std::slice::from_ref(&id),
                "required",
                json!({"prf": {"eval": e}}),
            )
            .unwrap();
            a.extensions.prf.clone().unwrap().results.unwrap()
        };
        let one = eval(dev, b"salt one", None);
        let again = eval(dev, b"salt one", Some(b"salt two"));
        let two = eval(dev, b"salt two", None);
        assert_eq!(one.first, again.first, "same salt, same output");
        assert_eq!(again.second.as_deref(), Some(two.first.as_str()));
        assert_ne!(one.first, two.first);
        assert_eq!(b64::decode("prf", &one.first).unwrap().len(), 32);
    }
);

#[test]
fn platform_first_use_sets_the_pin_in_a_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev =
        latchkey_client::platform::PlatformDevice::open(Some(dir.path()), |_| true).unwrap();
    let mut ui = pins(1);
    let c = create(&mut dev, &mut ui, "required", "preferred", &[], json!({})).unwrap();
    assert_eq!(ui.pin_requests.len(), 1);
    assert_eq!(ui.pin_requests[0].reason, PinReason::New);
    let record = rp_register(&c.reg, &c.challenge, true);
    assert!(
        std::fs::read_dir(dir.path()).unwrap().count() > 0,
        "the store is on disk"
    );
    drop(dev);
    // A new process: the PIN persists and is asked for, not set again.
    let mut dev =
        latchkey_client::platform::PlatformDevice::open(Some(dir.path()), |_| true).unwrap();
    let mut ui = pins(1);
    let (a, challenge) = get(&mut dev, &mut ui, &[], "discouraged", json!({})).unwrap();
    assert_eq!(
        ui.pin_requests[0].reason,
        PinReason::Verify,
        "alwaysUv: even discouraged asks"
    );
    assert_eq!(
        rp_authenticate(&a, &challenge, &record, &c.user, true, &[]),
        1
    );
    let listed = latchkey_client::manage::list_store(dev.core_mut().store_mut(), None).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].credential_id, c.reg.credential_id);
    assert_eq!(listed[0].rp_id, RP_ID);
}

#[test]
fn platform_pin_blocks_after_eight_wrong_pins() {
    let (mut dev, touches) = platform_in_memory();
    let mut ui = pins(1);
    create(&mut dev, &mut ui, "required", "required", &[], json!({})).unwrap();
    // Three wrong PINs in a row: the authenticator wants a power cycle.
    let mut ui = ScriptedUi::with_pins(["0000"; 3]);
    let err = get(&mut dev, &mut ui, &[], "required", json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert!(
        err.message().contains("too many wrong PINs in a row"),
        "{}",
        err.message()
    );
    dev.core_mut().power_cycle();
    let mut ui = ScriptedUi::with_pins(["0000"; 3]);
    get(&mut dev, &mut ui, &[], "required", json!({})).unwrap_err();
    dev.core_mut().power_cycle();
    let mut ui = ScriptedUi::with_pins(["0000"; 3]);
    let err = get(&mut dev, &mut ui, &[], "required", json!({})).unwrap_err();
    assert!(
        err.message().contains("PIN is blocked"),
        "{}",
        err.message()
    );
    assert_eq!(ui.pin_requests.last().unwrap().retries_left, Some(1));
    // Even the right PIN is refused now, before it is asked for.
    let mut ui = pins(1);
    let err = get(&mut dev, &mut ui, &[], "required", json!({})).unwrap_err();
    assert!(
        err.message().contains("PIN is blocked"),
        "{}",
        err.message()
    );
    assert!(ui.pin_requests.is_empty());
    assert_eq!(touches.count(), 1);
}

#[test]
fn a_key_without_pin_signs_without_uv_when_discouraged() {
    let server = VirtualKeyServer::start();
    let mut dev = server.open();
    let mut ui = ScriptedUi::default();
    let c = create(
        &mut *dev,
        &mut ui,
        "discouraged",
        "discouraged",
        &[],
        json!({}),
    )
    .unwrap();
    assert!(ui.pin_requests.is_empty());
    assert_eq!(flags(&c.reg.authenticator_data) & (UP | UV), UP);
    let record = rp_register(&c.reg, &c.challenge, false);
    let (a, challenge) = get(
        &mut *dev,
        &mut ui,
        std::slice::from_ref(&c.reg.credential_id),
        "discouraged",
        json!({}),
    )
    .unwrap();
    assert_eq!(flags(&a.authenticator_data) & (UP | UV), UP);
    rp_authenticate(
        &a,
        &challenge,
        &record,
        &c.user,
        false,
        std::slice::from_ref(&c.reg.credential_id),
    );
    assert!(ui.pin_requests.is_empty());
    assert_eq!(a.attachment.as_str(), "cross-platform");
}

#[test]
fn prf_differs_with_and_without_uv() {
    let server = VirtualKeyServer::start();
    let mut dev = server.open();
    let mut ui = pins(1);
    let c = create(
        &mut *dev,
        &mut ui,
        "discouraged",
        "required",
        &[],
        json!({"prf": {}}),
    )
    .unwrap();
    let id = c.reg.credential_id.clone();
    let salt = json!({"prf": {"eval": {"first": b64::encode(b"the salt")}}});
    let mut ui = pins(1);
    let (with_uv, _) = get(
        &mut *dev,
        &mut ui,
        std::slice::from_ref(&id),
        "required",
        salt.clone(),
    )
    .unwrap();
    let mut ui = ScriptedUi::default();
    let (without, _) = get(
        &mut *dev,
        &mut ui,
        std::slice::from_ref(&id),
        "discouraged",
        salt.clone(),
    )
    .unwrap();
    assert!(ui.pin_requests.is_empty());
    assert_eq!(flags(&without.authenticator_data) & UV, 0);
    let (again, _) = get(&mut *dev, &mut ui, &[id], "discouraged", salt).unwrap();
    let r =
        |a: &latchkey_client::Assertion| a.extensions.prf.clone().unwrap().results.unwrap().first;
    assert_ne!(r(&with_uv), r(&without));
    assert_eq!(r(&without), r(&again));
}

#[test]
fn cred_protect_uv_required_hides_the_credential_without_uv() {
    let server = VirtualKeyServer::start();
    let mut dev = server.open();
    let mut ui = pins(1);
    let ext = json!({"credentialProtectionPolicy": "userVerificationRequired", "enforceCredentialProtectionPolicy": true});
    let c = create(&mut *dev, &mut ui, "discouraged", "required", &[], ext).unwrap();
    let id = c.reg.credential_id.clone();
    let mut ui = ScriptedUi::default();
    let err = get(
        &mut *dev,
        &mut ui,
        std::slice::from_ref(&id),
        "discouraged",
        json!({}),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    let mut ui = pins(1);
    let (a, _) = get(
        &mut *dev,
        &mut ui,
        std::slice::from_ref(&id),
        "preferred",
        json!({}),
    )
    .unwrap();
    assert_eq!(a.credential_id, id);
}

#[test]
fn cancel_before_a_ceremony_is_abort_error() {
    let (mut dev, touches) = platform_in_memory();
    dev.cancel_handle().cancel();
    let mut ui = pins(1);
    let err = create(&mut dev, &mut ui, "required", "required", &[], json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorName::Abort, "{err:?}");
    assert_eq!(touches.count(), 0);
}

#[test]
fn cancel_while_waiting_for_a_touch_over_ctaphid_is_abort_error() {
    let server = VirtualKeyServer::start();
    let mut dev = server.open();
    server.hold.store(true, std::sync::atomic::Ordering::SeqCst);
    let cancel = dev.cancel_handle();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        cancel.cancel();
    });
    let mut ui = ScriptedUi::default();
    let started = std::time::Instant::now();
    let err = create(
        &mut *dev,
        &mut ui,
        "discouraged",
        "discouraged",
        &[],
        json!({}),
    )
    .unwrap_err();
    canceller.join().unwrap();
    assert_eq!(err.kind(), ErrorName::Abort, "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(server.touches.count(), 1);
    assert!(
        ui.statuses.contains(&latchkey_client::Status::TouchNeeded),
        "{:?}",
        ui.statuses
    );
}

#[test]
fn an_rp_id_outside_the_origin_is_a_security_error() {
    let user = random(8);
    let (mut options, _) = create_options(&user, "required", "required", &[], json!({}));
    options["rp"]["id"] = json!("example.org");
    let err = latchkey_client::CreateRequest::new(options.to_string().as_bytes(), ORIGIN, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorName::Security);
}

#[test]
fn a_platform_attachment_request_refuses_a_security_key() {
    let server = VirtualKeyServer::start();
    let mut dev = server.open();
    let user = random(8);
    let (mut options, _) = create_options(&user, "required", "required", &[], json!({}));
    options["authenticatorSelection"]["authenticatorAttachment"] = json!("platform");
    let mut ui = ScriptedUi::default();
    let err = latchkey_client::register(&mut *dev, &create_request(&options), &mut ui).unwrap_err();
    assert_eq!(err.kind(), ErrorName::NotAllowed);
    assert_eq!(server.touches.count(), 0);
}

#[test]
fn of_several_keys_the_one_touched_is_used_and_the_others_cancelled() {
    let waiting = VirtualKeyServer::start();
    waiting
        .hold
        .store(true, std::sync::atomic::Ordering::SeqCst);
    // The ready key is touched only once both keys have the request, so the held one is
    // always asked before it loses.
    let ready = VirtualKeyServer::start();
    ready.hold.store(true, std::sync::atomic::Ordering::SeqCst);
    let (held, asked, grant) = (
        waiting.touches.clone(),
        ready.touches.clone(),
        ready.grant.clone(),
    );
    let toucher = std::thread::spawn(move || {
        wait_for("both keys were asked for a touch", || {
            held.count() == 1 && asked.count() == 1
        });
        grant.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let mut ui = ScriptedUi::default();
    let started = std::time::Instant::now();
    let mut chosen =
        latchkey_client::select::select(vec![waiting.open(), ready.open()], &mut ui).unwrap();
    toucher.join().unwrap();
    // Chosen at the touch, without waiting for the held key's own 10 s limit.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(chosen.info().path, format!("unix:{}", ready.path.display()));
    assert_eq!(
        waiting.touches.count(),
        1,
        "the other key was asked, then cancelled"
    );
    assert_eq!(ready.touches.count(), 1);
    wait_for("the held key was cancelled", || {
        waiting.cancels.count() == 1
    });
    let c = create(
        &mut *chosen,
        &mut ui,
        "discouraged",
        "discouraged",
        &[],
        json!({}),
    )
    .unwrap();
    assert!(!c.reg.credential_id.is_empty());
    assert_eq!(ready.touches.count(), 2);
}

#[test]
fn a_security_keys_credentials_are_listed_and_deleted_and_its_pin_changed() {
    let server = VirtualKeyServer::start();
    let mut dev = server.open();
    let mut ui = pins(2);
    let first = create(&mut *dev, &mut ui, "required", "required", &[], json!({})).unwrap();
    let second = create(&mut *dev, &mut ui, "required", "required", &[], json!({})).unwrap();
    let mut ui = pins(1);
    let listed = latchkey_client::manage::list_device(&mut *dev, &mut ui).unwrap();
    let mut ids: Vec<_> = listed.iter().map(|c| c.credential_id.clone()).collect();
    ids.sort();
    let mut want = vec![
        first.reg.credential_id.clone(),
        second.reg.credential_id.clone(),
    ];
    want.sort();
    assert_eq!(ids, want);
    assert!(listed.iter().all(|c| c.rp_id == RP_ID));
    let mut ui = pins(1);
    latchkey_client::manage::delete_on_device(&mut *dev, &mut ui, &first.reg.credential_id)
        .unwrap();
    let mut ui = pins(1);
    let listed = latchkey_client::manage::list_device(&mut *dev, &mut ui).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].credential_id, second.reg.credential_id);
    // Change the PIN; the old one is then wrong and the new one works.
    let mut ui = ScriptedUi::with_pins([PIN, "97531"]);
    latchkey_client::manage::change_pin(&mut *dev, &mut ui).unwrap();
    let mut ui = ScriptedUi::with_pins([PIN, "97531"]);
    get(&mut *dev, &mut ui, &[], "required", json!({})).unwrap();
    assert_eq!(ui.pin_requests.len(), 2);
    assert_eq!(ui.pin_requests[1].reason, PinReason::Retry);
}
