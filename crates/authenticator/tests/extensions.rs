#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! credProtect, hmac-secret, hmac-secret-mc, credBlob, largeBlobKey, minPinLength (CTAP 2.1 §12,
//! CTAP 2.2 §12.6).

mod common;

use common::*;
use latchkey_ctap::authdata::AuthenticatorData;
use latchkey_ctap::command::{self as cmd, Request};
use latchkey_ctap::extensions::{
    CredBlobOutput, CredProtect, GetAssertionExtensions, HmacSecretInput, HmacSecretOutput,
    MakeCredentialExtensions,
};
use latchkey_ctap::pin::{PinUvAuthProtocol, SharedSecret};
use latchkey_ctap::StatusCode;

fn mc_ext(
    rp: &str,
    user: u8,
    rk: bool,
    ext: MakeCredentialExtensions,
) -> cmd::MakeCredentialRequest {
    let mut r = mc(rp, user, rk);
    r.extensions = Some(ext);
    r
}

fn ext_outputs(auth_data: &[u8]) -> latchkey_ctap::extensions::ExtensionOutputs {
    AuthenticatorData::parse(auth_data)
        .unwrap()
        .extensions
        .unwrap_or_default()
}

#[test]
fn cred_protect_matrix() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    let levels = [
        CredProtect::UserVerificationOptional,
        CredProtect::UserVerificationOptionalWithCredentialIdList,
        CredProtect::UserVerificationRequired,
    ];
    let mut ids = Vec::new();
    for (i, level) in levels.iter().enumerate() {
        let rp = format!("l{}.example", i + 1);
        let token = h.token(MC, Some(&rp));
        let ext = MakeCredentialExtensions {
            cred_protect: Some(*level),
            ..Default::default()
        };
        let resp: cmd::MakeCredentialResponse = h.ok(&Request::MakeCredential(with_token_mc(
            mc_ext(&rp, 1, true, ext),
            &token,
        )));
        assert_eq!(ext_outputs(&resp.auth_data).cred_protect, Some(*level));
        let ad = AuthenticatorData::parse(&resp.auth_data).unwrap();
        ids.push(ad.attested_credential_data.unwrap().credential_id);
    }
    // (level, discovery without UV, allowList without UV, discovery with UV, allowList with UV)
    let expected = [
        (1, true, true, true, true),
        (2, false, true, true, true),
        (3, false, false, true, true),
    ];
    for (i, (level, disc, listed, disc_uv, listed_uv)) in expected.into_iter().enumerate() {
        let rp = format!("l{level}.example");
        let found = |h: &mut Harness, allow: bool, uv: bool| {
            let ids_ref: Vec<&[u8]> = if allow { vec![&ids[i]] } else { vec![] };
            let mut g = ga(&rp, &ids_ref);
            if uv {
                let token = h.token(GA, Some(&rp));
                g = with_token_ga(g, &token);
            }
            match h.status(&Request::GetAssertion(g)) {
                StatusCode::Ok => true,
                StatusCode::NoCredentials => false,
                other => panic!("{other}"),
            }
        };
        assert_eq!(found(&mut h, false, false), disc, "level {level} discovery");
        assert_eq!(
            found(&mut h, true, false),
            listed,
            "level {level} allowList"
        );
        assert_eq!(
            found(&mut h, false, true),
            disc_uv,
            "level {level} discovery+UV"
        );
        assert_eq!(
            found(&mut h, true, true),
            listed_uv,
            "level {level} allowList+UV"
        );
    }
    // Level 3 excludes only with UV: without it, makeCredential goes ahead.
    let mut r = mc("l3.example", 2, false);
    r.exclude_list = Some(vec![
        latchkey_ctap::entity::CredentialDescriptor::public_key(ids[2].clone()),
    ]);
    make(&mut h, r.clone());
    let token = h.token(MC, Some("l3.example"));
    assert_eq!(
        h.status(&Request::MakeCredential(with_token_mc(r, &token))),
        StatusCode::CredentialExcluded
    );
}

fn hmac_input(
    h: &mut Harness,
    protocol: PinUvAuthProtocol,
    salts: &[u8],
) -> (HmacSecretInput, SharedSecret) {
    let (key_agreement, shared) = h.shared_secret(protocol);
    let salt_enc = shared.encrypt(&mut h.rng, salts).unwrap();
    let salt_auth = shared.authenticate(&salt_enc);
    (
        HmacSecretInput {
            key_agreement,
            salt_enc,
            salt_auth,
            pin_uv_auth_protocol: Some(protocol),
        },
        shared,
    )
}

fn hmac_get(
    h: &mut Harness,
    id: &[u8],
    protocol: PinUvAuthProtocol,
    salts: &[u8],
    token: Option<&[u8]>,
) -> Vec<u8> {
    let (input, shared) = hmac_input(h, protocol, salts);
    let mut g = ga("a.example", &[id]);
    g.extensions = Some(GetAssertionExtensions {
        hmac_secret: Some(input),
        ..Default::default()
    });
    if let Some(t) = token {
        g = with_token_ga(g, t);
    }
    let r: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(g));
    assert_eq!(r.auth_data[32] & 0x80, 0x80, "ED");
    match ext_outputs(&r.auth_data).hmac_secret {
        Some(HmacSecretOutput::Output(enc)) => shared.decrypt(&enc).unwrap().to_vec(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hmac_secret_is_stable_and_differs_with_uv() {
    let mut h = Harness::new();
    h.set_pin(PIN);
    let ext = MakeCredentialExtensions {
        hmac_secret: Some(true),
        ..Default::default()
    };
    let resp: cmd::MakeCredentialResponse =
        h.ok(&Request::MakeCredential(mc_ext("a.example", 1, false, ext)));
    assert_eq!(
        ext_outputs(&resp.auth_data).hmac_secret,
        Some(HmacSecretOutput::Created(true))
    );
    let id = AuthenticatorData::parse(&resp.auth_data)
        .unwrap()
        .attested_credential_data
        .unwrap()
        .credential_id;

    let salt1 = [0x11u8; 32];
    let mut both = salt1.to_vec();
    both.extend_from_slice(&[0x22; 32]);
    let a = hmac_get(&mut h, &id, PinUvAuthProtocol::Two, &salt1, None);
    let b = hmac_get(&mut h, &id, PinUvAuthProtocol::One, &salt1, None);
    assert_eq!(a.len(), 32);
    assert_eq!(a, b, "stable across protocols and shared secrets");
    let two = hmac_get(&mut h, &id, PinUvAuthProtocol::Two, &both, None);
    assert_eq!(two.len(), 64);
    assert_eq!(&two[..32], a.as_slice());
    assert_ne!(&two[32..], a.as_slice());
    let token = h.token(GA, Some("a.example"));
    let with_uv = hmac_get(&mut h, &id, PinUvAuthProtocol::Two, &salt1, Some(&token));
    assert_ne!(with_uv, a, "CredRandomWithUV differs");
    let token = h.token(GA, Some("a.example"));
    assert_eq!(
        hmac_get(&mut h, &id, PinUvAuthProtocol::One, &salt1, Some(&token)),
        with_uv
    );

    // A bad saltAuth, a bad salt length, and up=false are refused.
    let (mut input, _) = hmac_input(&mut h, PinUvAuthProtocol::Two, &salt1);
    input.salt_auth[0] ^= 1;
    let mut g = ga("a.example", &[&id]);
    g.extensions = Some(GetAssertionExtensions {
        hmac_secret: Some(input),
        ..Default::default()
    });
    assert_eq!(
        h.status(&Request::GetAssertion(g)),
        StatusCode::PinAuthInvalid
    );
    let (input, _) = hmac_input(&mut h, PinUvAuthProtocol::Two, &[0u8; 48]);
    let mut g = ga("a.example", &[&id]);
    g.extensions = Some(GetAssertionExtensions {
        hmac_secret: Some(input.clone()),
        ..Default::default()
    });
    assert_eq!(
        h.status(&Request::GetAssertion(g)),
        StatusCode::InvalidLength
    );
    let (input, _) = hmac_input(&mut h, PinUvAuthProtocol::Two, &salt1);
    let mut g = ga("a.example", &[&id]);
    g.options.up = Some(false);
    g.extensions = Some(GetAssertionExtensions {
        hmac_secret: Some(input),
        ..Default::default()
    });
    assert_eq!(
        h.status(&Request::GetAssertion(g)),
        StatusCode::UnsupportedOption
    );
}

#[test]
fn hmac_secret_mc_matches_a_later_get_assertion() {
    let mut h = Harness::new();
    let salt = [0x5au8; 32];
    let (input, shared) = hmac_input(&mut h, PinUvAuthProtocol::Two, &salt);
    let ext = MakeCredentialExtensions {
        hmac_secret: Some(true),
        hmac_secret_mc: Some(input),
        ..Default::default()
    };
    let resp: cmd::MakeCredentialResponse =
        h.ok(&Request::MakeCredential(mc_ext("a.example", 1, false, ext)));
    let out = ext_outputs(&resp.auth_data);
    let at_creation = shared
        .decrypt(&out.hmac_secret_mc.unwrap())
        .unwrap()
        .to_vec();
    let id = AuthenticatorData::parse(&resp.auth_data)
        .unwrap()
        .attested_credential_data
        .unwrap()
        .credential_id;
    assert_eq!(
        hmac_get(&mut h, &id, PinUvAuthProtocol::Two, &salt, None),
        at_creation
    );
}

#[test]
fn cred_blob_and_large_blob_key() {
    let mut h = Harness::new();
    let ext = MakeCredentialExtensions {
        cred_blob: Some(vec![7; 32]),
        large_blob_key: Some(true),
        ..Default::default()
    };
    let resp: cmd::MakeCredentialResponse =
        h.ok(&Request::MakeCredential(mc_ext("a.example", 1, true, ext)));
    assert_eq!(
        ext_outputs(&resp.auth_data).cred_blob,
        Some(CredBlobOutput::Stored(true))
    );
    let key = resp.large_blob_key.clone().unwrap();
    assert_eq!(key.len(), 32);
    let mut g = ga("a.example", &[]);
    g.extensions = Some(GetAssertionExtensions {
        cred_blob: Some(true),
        large_blob_key: Some(true),
        ..Default::default()
    });
    let r: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(g));
    assert_eq!(
        ext_outputs(&r.auth_data).cred_blob,
        Some(CredBlobOutput::Blob(vec![7; 32]))
    );
    assert_eq!(r.large_blob_key, Some(key));

    // Too long: not stored, output false; asking for it gives an empty blob.
    let ext = MakeCredentialExtensions {
        cred_blob: Some(vec![7; 33]),
        ..Default::default()
    };
    let resp: cmd::MakeCredentialResponse =
        h.ok(&Request::MakeCredential(mc_ext("b.example", 1, true, ext)));
    assert_eq!(
        ext_outputs(&resp.auth_data).cred_blob,
        Some(CredBlobOutput::Stored(false))
    );
    let mut g = ga("b.example", &[]);
    g.extensions = Some(GetAssertionExtensions {
        cred_blob: Some(true),
        ..Default::default()
    });
    let r: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(g));
    assert_eq!(
        ext_outputs(&r.auth_data).cred_blob,
        Some(CredBlobOutput::Blob(vec![]))
    );

    // largeBlobKey needs a discoverable credential, and only `true` is valid.
    let ext = MakeCredentialExtensions {
        large_blob_key: Some(true),
        ..Default::default()
    };
    assert_eq!(
        h.status(&Request::MakeCredential(mc_ext("c.example", 1, false, ext))),
        StatusCode::InvalidOption
    );
    let ext = MakeCredentialExtensions {
        large_blob_key: Some(false),
        ..Default::default()
    };
    assert_eq!(
        h.status(&Request::MakeCredential(mc_ext("c.example", 1, true, ext))),
        StatusCode::InvalidOption
    );
}

#[test]
fn min_pin_length_only_for_listed_rps_and_unknown_extensions_ignored() {
    let mut h = Harness::new();
    // No PIN: authenticatorConfig needs no token.
    let req = Request::Config(cmd::ConfigRequest {
        subcommand: cmd::ConfigSubcommand::SetMinPinLength {
            new_min_pin_length: Some(6),
            min_pin_length_rp_ids: Some(vec!["a.example".into()]),
            force_change_pin: None,
        },
        pin_uv_auth_protocol: None,
        pin_uv_auth_param: None,
        received_params: None,
    });
    assert_eq!(h.status(&req), StatusCode::Ok);
    let ext = MakeCredentialExtensions {
        min_pin_length: Some(true),
        ..Default::default()
    };
    let resp: cmd::MakeCredentialResponse = h.ok(&Request::MakeCredential(mc_ext(
        "a.example",
        1,
        false,
        ext.clone(),
    )));
    assert_eq!(ext_outputs(&resp.auth_data).min_pin_length, Some(6));
    let resp: cmd::MakeCredentialResponse =
        h.ok(&Request::MakeCredential(mc_ext("b.example", 1, false, ext)));
    assert_eq!(resp.auth_data[32] & 0x80, 0, "no ED for an unlisted RP");

    let ext = MakeCredentialExtensions {
        unknown: vec![("fancy".into(), latchkey_ctap::cbor::Value::from(true))],
        ..Default::default()
    };
    let resp: cmd::MakeCredentialResponse =
        h.ok(&Request::MakeCredential(mc_ext("b.example", 2, false, ext)));
    assert_eq!(resp.auth_data[32], 0x41);
}

#[test]
fn hmac_secret_answers_for_every_credential_of_get_next_assertion() {
    let mut h = Harness::new();
    for u in 1..=2 {
        let ext = MakeCredentialExtensions {
            hmac_secret: Some(true),
            ..Default::default()
        };
        make(&mut h, mc_ext("a.example", u, true, ext));
    }
    let salt = [0x33u8; 32];
    let (input, shared) = hmac_input(&mut h, PinUvAuthProtocol::One, &salt);
    let mut g = ga("a.example", &[]);
    g.extensions = Some(GetAssertionExtensions {
        hmac_secret: Some(input),
        ..Default::default()
    });
    let first: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(g));
    assert_eq!(first.number_of_credentials, Some(2));
    let second: cmd::GetAssertionResponse = h.ok(&Request::GetNextAssertion);
    let out = |r: &cmd::GetAssertionResponse| match ext_outputs(&r.auth_data).hmac_secret {
        Some(HmacSecretOutput::Output(enc)) => shared.decrypt(&enc).unwrap().to_vec(),
        other => panic!("{other:?}"),
    };
    let (a, b) = (out(&first), out(&second));
    assert_ne!(a, b, "each credential has its own CredRandom");
    // And each matches what a direct allowList request for that credential gives.
    let id = second.credential.unwrap().id;
    assert_eq!(hmac_get_rp(&mut h, "a.example", &id, &salt), b);
}

fn hmac_get_rp(h: &mut Harness, rp: &str, id: &[u8], salt: &[u8]) -> Vec<u8> {
    let (input, shared) = hmac_input(h, PinUvAuthProtocol::Two, salt);
    let mut g = ga(rp, &[id]);
    g.extensions = Some(GetAssertionExtensions {
        hmac_secret: Some(input),
        ..Default::default()
    });
    let r: cmd::GetAssertionResponse = h.ok(&Request::GetAssertion(g));
    match ext_outputs(&r.auth_data).hmac_secret {
        Some(HmacSecretOutput::Output(enc)) => shared.decrypt(&enc).unwrap().to_vec(),
        other => panic!("{other:?}"),
    }
}
