#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! credentialManagement (§6.8), largeBlobs (§6.10) and authenticatorConfig (§6.11).

mod common;

use common::*;
use latchkey_ctap::cbor::{self, MapBuilder, Value};
use latchkey_ctap::command::{
    self as cmd, CredentialManagementRequest, CredentialManagementSubcommand as Sub, Request,
};
use latchkey_ctap::entity::CredentialDescriptor;
use latchkey_ctap::extensions::{CredProtect, MakeCredentialExtensions};
use latchkey_ctap::pin::{self, PinUvAuthProtocol};
use latchkey_ctap::StatusCode;

fn setup() -> (Harness, Vec<Vec<u8>>) {
    let mut h = Harness::new();
    h.set_pin(PIN);
    let mut ids = Vec::new();
    for (rp, u) in [("a.example", 1u8), ("a.example", 2), ("b.example", 3)] {
        let token = h.token(MC, Some(rp));
        let mut r = mc(rp, u, true);
        if u == 2 {
            r.extensions = Some(MakeCredentialExtensions {
                cred_protect: Some(CredProtect::UserVerificationRequired),
                large_blob_key: Some(true),
                ..Default::default()
            });
        }
        ids.push(make(&mut h, with_token_mc(r, &token)));
    }
    // A non-discoverable one is not managed.
    make(&mut h, mc("c.example", 4, false));
    (h, ids)
}

#[test]
fn metadata_and_enumeration() {
    let (mut h, ids) = setup();
    let token = h.token(CM, None);
    for preview in [false, true] {
        let r: cmd::CredentialManagementResponse =
            h.ok(&cm(Some(&token), 1, Sub::GetCredsMetadata, None, preview));
        assert_eq!(r.existing_resident_credentials_count, Some(3));
        assert_eq!(
            r.max_possible_remaining_resident_credentials_count,
            Some(47)
        );
    }
    let first: cmd::CredentialManagementResponse =
        h.ok(&cm(Some(&token), 2, Sub::EnumerateRpsBegin, None, false));
    assert_eq!(first.total_rps, Some(2));
    assert_eq!(first.rp.unwrap().id, "a.example");
    assert_eq!(first.rp_id_hash, Some(sha256(b"a.example")));
    let next: cmd::CredentialManagementResponse =
        h.ok(&cm(None, 3, Sub::EnumerateRpsGetNextRp, None, false));
    assert_eq!(next.rp.unwrap().id, "b.example");
    assert_eq!(next.rp_id_hash, Some(sha256(b"b.example")));
    assert_eq!(
        h.status(&cm(None, 3, Sub::EnumerateRpsGetNextRp, None, false)),
        StatusCode::NotAllowed
    );

    let hash = sha256(b"a.example");
    let params = MapBuilder::new().insert(0x01, hash.as_slice()).build();
    let c1: cmd::CredentialManagementResponse = h.ok(&cm(
        Some(&token),
        4,
        Sub::EnumerateCredentialsBegin { rp_id_hash: hash },
        Some(params),
        false,
    ));
    assert_eq!(c1.total_credentials, Some(2));
    assert_eq!(c1.credential_id.unwrap().id, ids[0]);
    assert_eq!(c1.user.unwrap().name.as_deref(), Some("user1"));
    assert_eq!(c1.cred_protect, Some(CredProtect::UserVerificationOptional));
    assert!(c1.public_key.is_some());
    assert!(c1.large_blob_key.is_none());
    let c2: cmd::CredentialManagementResponse = h.ok(&cm(
        None,
        5,
        Sub::EnumerateCredentialsGetNextCredential,
        None,
        false,
    ));
    assert_eq!(c2.credential_id.unwrap().id, ids[1]);
    assert_eq!(c2.cred_protect, Some(CredProtect::UserVerificationRequired));
    assert_eq!(c2.large_blob_key.map(|k| k.len()), Some(32));
    assert_eq!(
        h.status(&cm(
            None,
            5,
            Sub::EnumerateCredentialsGetNextCredential,
            None,
            false
        )),
        StatusCode::NotAllowed
    );

    let hash = sha256(b"c.example");
    let params = MapBuilder::new().insert(0x01, hash.as_slice()).build();
    assert_eq!(
        h.status(&cm(
            Some(&token),
            4,
            Sub::EnumerateCredentialsBegin { rp_id_hash: hash },
            Some(params),
            false
        )),
        StatusCode::NoCredentials
    );
}

#[test]
fn auth_rules() {
    let (mut h, _) = setup();
    assert_eq!(
        h.status(&cm(None, 1, Sub::GetCredsMetadata, None, false)),
        StatusCode::PuatRequired
    );
    let ga_token = h.token(GA, Some("a.example"));
    assert_eq!(
        h.status(&cm(Some(&ga_token), 1, Sub::GetCredsMetadata, None, false)),
        StatusCode::PinAuthInvalid
    );
    // A cm token bound to an RP may not list everything, but may enumerate its own RP.
    let bound = h.token(CM, Some("a.example"));
    assert_eq!(
        h.status(&cm(Some(&bound), 1, Sub::GetCredsMetadata, None, false)),
        StatusCode::PinAuthInvalid
    );
    assert_eq!(
        h.status(&cm(Some(&bound), 2, Sub::EnumerateRpsBegin, None, false)),
        StatusCode::PinAuthInvalid
    );
    let hash = sha256(b"b.example");
    let params = MapBuilder::new().insert(0x01, hash.as_slice()).build();
    assert_eq!(
        h.status(&cm(
            Some(&bound),
            4,
            Sub::EnumerateCredentialsBegin { rp_id_hash: hash },
            Some(params),
            false
        )),
        StatusCode::PinAuthInvalid
    );
    let hash = sha256(b"a.example");
    let params = MapBuilder::new().insert(0x01, hash.as_slice()).build();
    assert_eq!(
        h.status(&cm(
            Some(&bound),
            4,
            Sub::EnumerateCredentialsBegin { rp_id_hash: hash },
            Some(params),
            false
        )),
        StatusCode::Ok
    );
    // The param covers the params: a different rpIDHash with the old param fails.
    let token = h.token(CM, None);
    let other = sha256(b"b.example");
    let good_params = cbor::encode(&MapBuilder::new().insert(0x01, hash.as_slice()).build());
    let param = pin::authenticate(
        PinUvAuthProtocol::Two,
        &token,
        &pin::cred_mgmt_message(4, &good_params),
    );
    let req = Request::CredentialManagement(CredentialManagementRequest {
        subcommand: Sub::EnumerateCredentialsBegin { rp_id_hash: other },
        pin_uv_auth_protocol: Some(PinUvAuthProtocol::Two),
        pin_uv_auth_param: Some(param),
        received_params: Some(cbor::encode(
            &MapBuilder::new().insert(0x01, other.as_slice()).build(),
        )),
    });
    assert_eq!(h.status(&req), StatusCode::PinAuthInvalid);
}

#[test]
fn delete_and_update_user() {
    let (mut h, ids) = setup();
    let token = h.token(CM, None);
    let desc = CredentialDescriptor::public_key(ids[0].clone());
    let new_user = latchkey_ctap::entity::UserEntity {
        id: latchkey_ctap::entity::UserId::new(vec![1; 8]).unwrap(),
        name: Some("renamed".into()),
        display_name: None,
    };
    let params = MapBuilder::new()
        .insert(0x02, cbor::ToValue::to_value(&desc))
        .insert(0x03, cbor::ToValue::to_value(&new_user))
        .build();
    let _: cmd::CredentialManagementResponse = h.ok(&cm(
        Some(&token),
        7,
        Sub::UpdateUserInformation {
            credential_id: desc.clone(),
            user: new_user.clone(),
        },
        Some(params),
        false,
    ));
    let stored = h
        .auth
        .store()
        .credentials()
        .iter()
        .find(|c| c.id == ids[0])
        .unwrap()
        .clone();
    assert_eq!(stored.user.name.as_deref(), Some("renamed"));
    assert_eq!(stored.user.display_name, None);
    // A different user ID is refused.
    let wrong = latchkey_ctap::entity::UserEntity {
        id: latchkey_ctap::entity::UserId::new(vec![9; 8]).unwrap(),
        ..new_user
    };
    let params = MapBuilder::new()
        .insert(0x02, cbor::ToValue::to_value(&desc))
        .insert(0x03, cbor::ToValue::to_value(&wrong))
        .build();
    assert_eq!(
        h.status(&cm(
            Some(&token),
            7,
            Sub::UpdateUserInformation {
                credential_id: desc.clone(),
                user: wrong
            },
            Some(params),
            false
        )),
        StatusCode::InvalidParameter
    );

    let params = MapBuilder::new()
        .insert(0x02, cbor::ToValue::to_value(&desc))
        .build();
    let _: cmd::CredentialManagementResponse = h.ok(&cm(
        Some(&token),
        6,
        Sub::DeleteCredential {
            credential_id: desc.clone(),
        },
        Some(params.clone()),
        false,
    ));
    assert!(h.auth.store().credentials().iter().all(|c| c.id != ids[0]));
    assert_eq!(
        h.status(&cm(
            Some(&token),
            6,
            Sub::DeleteCredential {
                credential_id: desc
            },
            Some(params),
            false
        )),
        StatusCode::NoCredentials
    );
    assert_eq!(h.auth.store().credentials().len(), 3);
}

fn blob_array(body: &[u8]) -> Vec<u8> {
    let mut a = body.to_vec();
    a.extend_from_slice(&sha256(body)[..16]);
    a
}

fn lb_set(token: Option<&[u8]>, offset: u64, set: &[u8], length: Option<u64>) -> Request {
    Request::LargeBlobs(cmd::LargeBlobsRequest::Set {
        offset,
        set: set.to_vec(),
        length,
        pin_uv_auth_param: token.map(|t| {
            pin::authenticate(
                PinUvAuthProtocol::Two,
                t,
                &pin::large_blobs_message(offset as u32, set),
            )
        }),
        pin_uv_auth_protocol: token.map(|_| PinUvAuthProtocol::Two),
    })
}

fn lb_get(h: &mut Harness, offset: u64, get: u64) -> Result<Vec<u8>, StatusCode> {
    let out = h
        .auth
        .handle_cbor(&Request::LargeBlobs(cmd::LargeBlobsRequest::Get { offset, get }).encode());
    match cmd::decode_response::<cmd::LargeBlobsResponse>(&out) {
        Ok(r) => Ok(r.config.unwrap()),
        Err(latchkey_ctap::ResponseError::Status(s)) => Err(s),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn large_blobs_read_write_and_integrity() {
    let mut h = Harness::new();
    let empty = lb_get(&mut h, 0, 100).unwrap();
    assert_eq!(empty, blob_array(&[0x80]));
    assert_eq!(lb_get(&mut h, 0, 7609 - 63), Err(StatusCode::InvalidLength));
    assert_eq!(lb_get(&mut h, 18, 1), Err(StatusCode::InvalidParameter));

    // Without a PIN, writes need no token. Two fragments, then the whole array reads back.
    let body: Vec<u8> = [vec![0x81, 0x59, 0x03, 0xe8], vec![0xab; 1000]].concat();
    let array = blob_array(&body);
    let (a, b) = array.split_at(600);
    assert_eq!(
        h.status(&lb_set(None, 0, a, Some(array.len() as u64))),
        StatusCode::Ok
    );
    assert_eq!(
        lb_get(&mut h, 0, 17).unwrap(),
        empty,
        "not committed until complete"
    );
    assert_eq!(
        h.status(&lb_set(None, 601, b, None)),
        StatusCode::InvalidSeq
    );
    assert_eq!(h.status(&lb_set(None, 600, b, None)), StatusCode::Ok);
    assert_eq!(lb_get(&mut h, 0, 2000).unwrap(), array);
    assert_eq!(lb_get(&mut h, 4, 3).unwrap(), vec![0xab; 3]);

    // A bad trailer is refused and the stored array stays.
    let mut bad = array.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(
        h.status(&lb_set(None, 0, &bad, Some(bad.len() as u64))),
        StatusCode::IntegrityFailure
    );
    assert_eq!(lb_get(&mut h, 0, 2000).unwrap(), array);
    assert_eq!(
        h.status(&lb_set(None, 0, &[0; 10], Some(4097))),
        StatusCode::LargeBlobStorageFull
    );
    assert_eq!(
        h.status(&lb_set(None, 0, &[0; 10], Some(16))),
        StatusCode::InvalidParameter
    );
    assert_eq!(
        h.status(&lb_set(None, 0, &[0; 10], None)),
        StatusCode::InvalidParameter
    );
    assert_eq!(
        h.status(&lb_set(None, 0, &vec![0; 7609 - 63], Some(4000))),
        StatusCode::InvalidLength
    );

    // With a PIN: lbw token required.
    h.set_pin(PIN);
    let small = blob_array(&[0x80]);
    assert_eq!(
        h.status(&lb_set(None, 0, &small, Some(17))),
        StatusCode::PuatRequired
    );
    let ga_token = h.token(GA, Some("a.example"));
    assert_eq!(
        h.status(&lb_set(Some(&ga_token), 0, &small, Some(17))),
        StatusCode::PinAuthInvalid
    );
    let token = h.token(LBW, None);
    assert_eq!(
        h.status(&lb_set(Some(&token), 0, &small, Some(17))),
        StatusCode::Ok
    );
    assert_eq!(lb_get(&mut h, 0, 100).unwrap(), small);
}

fn config(
    token: Option<&[u8]>,
    sub: cmd::ConfigSubcommand,
    sub_byte: u8,
    params: Option<Value>,
) -> Request {
    let received = params.as_ref().map(cbor::encode);
    Request::Config(cmd::ConfigRequest {
        subcommand: sub,
        pin_uv_auth_protocol: token.map(|_| PinUvAuthProtocol::Two),
        pin_uv_auth_param: token.map(|t| {
            pin::authenticate(
                PinUvAuthProtocol::Two,
                t,
                &pin::config_message(sub_byte, received.as_deref().unwrap_or_default()),
            )
        }),
        received_params: received,
    })
}

#[test]
fn toggle_always_uv_and_min_pin_length() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    assert_eq!(
        h.status(&config(
            None,
            cmd::ConfigSubcommand::ToggleAlwaysUv,
            2,
            None
        )),
        StatusCode::PuatRequired
    );
    let token = h.token(ACFG, None);
    assert_eq!(
        h.status(&config(
            Some(&token),
            cmd::ConfigSubcommand::ToggleAlwaysUv,
            2,
            None
        )),
        StatusCode::Ok
    );
    let opts = h.info().options.unwrap();
    assert!(opts["alwaysUv"]);
    assert!(!opts["makeCredUvNotRqd"]);
    // Now even non-discoverable credentials and assertions need a token.
    assert_eq!(
        h.status(&Request::MakeCredential(mc("a.example", 1, false))),
        StatusCode::PuatRequired
    );
    let t = h.token(MC, Some("a.example"));
    let id = make(&mut h, with_token_mc(mc("a.example", 1, false), &t));
    assert_eq!(
        h.status(&Request::GetAssertion(ga("a.example", &[&id]))),
        StatusCode::PuatRequired
    );
    let mut silent = ga("a.example", &[&id]);
    silent.options.up = Some(false);
    assert_eq!(h.status(&Request::GetAssertion(silent)), StatusCode::Ok);
    // U2F is off while alwaysUv is on: not in versions, register and authenticate refused.
    assert_eq!(h.info().versions, vec!["FIDO_2_0", "FIDO_2_1", "FIDO_2_2"]);
    let mut apdu = vec![0x00, 0x01, 0x00, 0x00, 0x40];
    apdu.extend_from_slice(&[1; 64]);
    assert_eq!(h.auth.handle_u2f(&apdu), vec![0x69, 0x85]);
    let mut auth = vec![0x00, 0x02, 0x03, 0x00, 65 + id.len() as u8];
    auth.extend_from_slice(&[2; 32]);
    auth.extend_from_slice(&sha256(b"a.example"));
    auth.push(id.len() as u8);
    auth.extend_from_slice(&id);
    assert_eq!(h.auth.handle_u2f(&auth), vec![0x69, 0x85]);
    // Only the silent assertion above counted.
    assert_eq!(h.auth.store().credentials()[0].sign_count, 1);
    // Only one token exists at a time: the mc token above replaced the acfg one.
    assert_eq!(
        h.status(&config(
            Some(&token),
            cmd::ConfigSubcommand::ToggleAlwaysUv,
            2,
            None
        )),
        StatusCode::PinAuthInvalid
    );
    let token = h.token(ACFG, None);
    assert_eq!(
        h.status(&config(
            Some(&token),
            cmd::ConfigSubcommand::ToggleAlwaysUv,
            2,
            None
        )),
        StatusCode::Ok
    );
    assert!(!h.info().options.unwrap()["alwaysUv"]);

    // setMinPINLength: may not decrease; raising it forces a PIN change.
    let sub = |n| cmd::ConfigSubcommand::SetMinPinLength {
        new_min_pin_length: Some(n),
        min_pin_length_rp_ids: None,
        force_change_pin: None,
    };
    let params = |n: u64| Some(MapBuilder::new().insert(0x01, n).build());
    assert_eq!(
        h.status(&config(Some(&token), sub(3), 3, params(3))),
        StatusCode::PinPolicyViolation
    );
    assert_eq!(
        h.status(&config(Some(&token), sub(6), 3, params(6))),
        StatusCode::Ok
    );
    let info = h.info();
    assert_eq!(info.min_pin_length, Some(6));
    assert_eq!(info.force_pin_change, Some(true));
    assert_eq!(
        h.status(&config(
            Some(&token),
            cmd::ConfigSubcommand::EnableEnterpriseAttestation,
            1,
            None
        )),
        StatusCode::InvalidSubcommand
    );
    // Without a PIN, the new minimum applies to setPIN.
    let mut fresh = Harness::new();
    let noauth = config(None, sub(6), 3, params(6));
    assert_eq!(fresh.status(&noauth), StatusCode::Ok);
    let req = fresh.set_pin_request(PinUvAuthProtocol::Two, b"12345");
    assert_eq!(fresh.status(&req), StatusCode::PinPolicyViolation);
    let req = fresh.set_pin_request(PinUvAuthProtocol::Two, b"123456");
    assert_eq!(fresh.status(&req), StatusCode::Ok);
}

#[test]
fn raising_the_minimum_forces_a_change_only_for_a_pin_now_too_short() {
    let mut h = Harness::new();
    h.set_pin("äbcdef".as_bytes()); // six code points, seven bytes
    let sub = |n| cmd::ConfigSubcommand::SetMinPinLength {
        new_min_pin_length: Some(n),
        min_pin_length_rp_ids: None,
        force_change_pin: None,
    };
    let params = |n: u64| Some(MapBuilder::new().insert(0x01, n).build());
    let token = h
        .token_with(PinUvAuthProtocol::Two, "äbcdef".as_bytes(), ACFG, None)
        .unwrap();
    assert_eq!(
        h.status(&config(Some(&token), sub(6), 3, params(6))),
        StatusCode::Ok
    );
    assert_eq!(h.info().force_pin_change, Some(false));
    let token = h
        .token_with(PinUvAuthProtocol::Two, "äbcdef".as_bytes(), ACFG, None)
        .unwrap();
    assert_eq!(
        h.status(&config(Some(&token), sub(7), 3, params(7))),
        StatusCode::Ok
    );
    assert_eq!(h.info().force_pin_change, Some(true));
}
