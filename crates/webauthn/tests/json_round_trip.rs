#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Options and responses as relying parties send them and as Chrome's `toJSON()` produces them:
//! they parse, the checked forms carry the right values, and they serialize back unchanged.

mod common;

use latchkey_webauthn::b64;
use latchkey_webauthn::extensions::ctap::RegistrationOutcome;
use latchkey_webauthn::ids::CoseAlgorithm;
use latchkey_webauthn::options::create::{AuthenticatorAttachment, ResidentKeyRequirement};
use latchkey_webauthn::options::{
    AuthenticatorTransport, CreationOptions, PublicKeyCredentialCreationOptionsJSON,
    PublicKeyCredentialRequestOptionsJSON, RequestOptions, UserVerificationRequirement,
};
use latchkey_webauthn::response::{AuthenticationResponseJSON, RegistrationResponseJSON};
use serde_json::{json, Value};

/// A creation request shaped like those RP libraries emit (all members, no empty defaults).
fn creation_sample() -> Value {
    json!({
        "rp": {"name": "Example Corp", "id": "example.com"},
        "user": {"id": "Y2FyYm9uLXVzZXItMQ", "name": "alice@example.com", "displayName": "Alice Müller"},
        "challenge": "mFsYxzL2xzB0ZsYCG6bH8qRzHc1jXUeI8bCY1gFj2Xs",
        "pubKeyCredParams": [
            {"type": "public-key", "alg": -8},
            {"type": "public-key", "alg": -7},
            {"type": "public-key", "alg": -257}
        ],
        "timeout": 60000,
        "excludeCredentials": [
            {"type": "public-key", "id": "AAECAwQFBgcICQoLDA0ODw", "transports": ["hybrid", "internal"]}
        ],
        "authenticatorSelection": {
            "authenticatorAttachment": "platform",
            "residentKey": "required",
            "requireResidentKey": true,
            "userVerification": "required"
        },
        "hints": ["client-device"],
        "attestation": "direct",
        "attestationFormats": ["packed"],
        "extensions": {
            "credProps": true,
            "prf": {"eval": {"first": "AQIDBA", "second": "BQYHCA"}},
            "largeBlob": {"support": "preferred"},
            "credentialProtectionPolicy": "userVerificationOptionalWithCredentialIDList",
            "enforceCredentialProtectionPolicy": false,
            "minPinLength": true
        }
    })
}

#[test]
fn creation_options_round_trip() {
    let sample = creation_sample();
    let wire: PublicKeyCredentialCreationOptionsJSON =
        serde_json::from_value(sample.clone()).unwrap();
    assert_eq!(serde_json::to_value(&wire).unwrap(), sample);

    let o = CreationOptions::from_json(sample.to_string().as_bytes()).unwrap();
    assert_eq!(o.rp_id.as_deref(), Some("example.com"));
    assert_eq!(o.user.id.as_bytes(), b"carbon-user-1");
    assert_eq!(o.user.display_name, "Alice Müller");
    assert_eq!(
        o.algorithms,
        vec![
            CoseAlgorithm::EDDSA,
            CoseAlgorithm::ES256,
            CoseAlgorithm::RS256
        ]
    );
    assert_eq!(
        o.exclude_credentials[0].id.as_bytes(),
        (0u8..16).collect::<Vec<_>>().as_slice()
    );
    assert_eq!(
        o.exclude_credentials[0].transports,
        vec![
            AuthenticatorTransport::Hybrid,
            AuthenticatorTransport::Internal
        ]
    );
    assert_eq!(
        o.authenticator_attachment,
        Some(AuthenticatorAttachment::Platform)
    );
    assert_eq!(o.resident_key, ResidentKeyRequirement::Required);
    assert_eq!(o.user_verification, UserVerificationRequirement::Required);
    assert_eq!(o.attestation_formats, vec!["packed"]);
    assert_eq!(o.timeout_ms, Some(60000));
    let ext = &o.extensions;
    assert!(ext.cred_props && ext.min_pin_length);
    assert_eq!(
        ext.prf
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap()
            .second
            .as_deref(),
        Some(&[5u8, 6, 7, 8][..])
    );
    assert_eq!(ext.cred_protect.unwrap().policy.ctap_value(), 2);
}

#[test]
fn request_options_round_trip() {
    let sample = json!({
        "challenge": "q83vEjRWeJA",
        "timeout": 120000,
        "rpId": "example.com",
        "allowCredentials": [
            {"type": "public-key", "id": "AAECAwQFBgcICQoLDA0ODw", "transports": ["usb", "nfc"]},
            {"type": "public-key", "id": "EBESExQVFhcYGRobHB0eHw"}
        ],
        "userVerification": "discouraged",
        "hints": ["security-key", "hybrid"],
        "extensions": {
            "appid": "https://example.com/appid.json",
            "prf": {"evalByCredential": {"EBESExQVFhcYGRobHB0eHw": {"first": "AQ"}}},
            "getCredBlob": true
        }
    });
    let wire: PublicKeyCredentialRequestOptionsJSON =
        serde_json::from_value(sample.clone()).unwrap();
    assert_eq!(serde_json::to_value(&wire).unwrap(), sample);
    let o = RequestOptions::from_json(sample.to_string().as_bytes()).unwrap();
    assert_eq!(
        o.challenge.as_bytes(),
        &[0xab, 0xcd, 0xef, 0x12, 0x34, 0x56, 0x78, 0x90]
    );
    assert_eq!(o.allow_credentials.len(), 2);
    assert_eq!(
        o.user_verification,
        UserVerificationRequirement::Discouraged
    );
    let prf = o.extensions.prf.as_ref().unwrap();
    assert_eq!(prf.eval_by_credential[0].0, o.allow_credentials[1].id);
    assert_eq!(
        o.extensions.appid.as_deref(),
        Some("https://example.com/appid.json")
    );
    assert!(o.extensions.get_cred_blob);
}

#[test]
fn registration_response_from_attestation_object_matches_to_json() {
    // W3C §16 none.ES256 registration.
    let v = &common::w3c_vectors::VECTORS[0];
    let att = hex::decode(v.attestation_object).unwrap();
    let cdj = hex::decode(v.reg_client_data_json).unwrap();
    let opts = CreationOptions::from_json(creation_sample().to_string().as_bytes()).unwrap();
    let ext = opts.extensions.client_outputs(&RegistrationOutcome {
        rk: Some(true),
        hmac_secret: Some(true),
        large_blob_key_returned: false,
        ..Default::default()
    });
    let r = RegistrationResponseJSON::from_attestation_object(
        &cdj,
        &att,
        &[
            AuthenticatorTransport::Usb,
            AuthenticatorTransport::Hybrid,
            AuthenticatorTransport::Usb,
        ],
        Some(AuthenticatorAttachment::CrossPlatform),
        ext,
    )
    .unwrap();
    let j = serde_json::to_value(&r).unwrap();
    let id = b64::encode(&hex::decode(v.credential_id).unwrap());
    assert_eq!(j["id"], id);
    assert_eq!(j["rawId"], id);
    assert_eq!(j["type"], "public-key");
    assert_eq!(j["authenticatorAttachment"], "cross-platform");
    assert_eq!(j["response"]["transports"], json!(["hybrid", "usb"]));
    assert_eq!(j["response"]["publicKeyAlgorithm"], -7);
    assert_eq!(
        j["clientExtensionResults"],
        json!({"credProps": {"rk": true}, "prf": {"enabled": true}, "largeBlob": {"supported": false}})
    );
    // authenticatorData is the attestation object's authData: 164 bytes starting with rpIdHash.
    let auth_data = b64::decode("x", j["response"]["authenticatorData"].as_str().unwrap()).unwrap();
    assert_eq!(auth_data.len(), 164);
    assert_eq!(
        hex::encode(&auth_data[..32]),
        "bfabc37432958b063360d3ad6461c9c4735ae7f8edd46592a5e0f01452b2e4b5"
    );
    // publicKey is SPKI: the P-256 prefix, then the vector's COSE x and y.
    let spki = b64::decode("x", j["response"]["publicKey"].as_str().unwrap()).unwrap();
    assert_eq!(
        hex::encode(&spki),
        "3059301306072a8648ce3d020106082a8648ce3d03010703420004\
         afefa16f97ca9b2d23eb86ccb64098d20db90856062eb249c33a9b672f26df61\
         930a56b87a2fca66334b03458abf879717c12cc68ed73290af2e2664796b9220"
    );
    // Round trip through text.
    let back =
        RegistrationResponseJSON::from_json(serde_json::to_string(&r).unwrap().as_bytes()).unwrap();
    assert_eq!(back, r);
}

#[test]
fn chrome_shaped_responses_parse_and_round_trip() {
    let reg = json!({
        "id": "9B85HbTJsv3g6nAYnLo_tj9Xm6YSKzOtlP8-wzAIS-Q",
        "rawId": "9B85HbTJsv3g6nAYnLo_tj9Xm6YSKzOtlP8-wzAIS-Q",
        "response": {
            "attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVik",
            "authenticatorData": "v6vDdDKViwYzYNOtZGHJxHNa5_jt1GWSpeDwFFKy5LU",
            "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIn0",
            "publicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
            "publicKeyAlgorithm": -7,
            "transports": ["hybrid", "internal"]
        },
        "type": "public-key",
        "clientExtensionResults": {"credProps": {"rk": true}, "prf": {"enabled": false}},
        "authenticatorAttachment": "platform"
    });
    let r = RegistrationResponseJSON::from_json(reg.to_string().as_bytes()).unwrap();
    assert_eq!(serde_json::to_value(&r).unwrap(), reg);

    let auth = json!({
        "id": "9B85HbTJsv3g6nAYnLo_tj9Xm6YSKzOtlP8-wzAIS-Q",
        "rawId": "9B85HbTJsv3g6nAYnLo_tj9Xm6YSKzOtlP8-wzAIS-Q",
        "response": {
            "authenticatorData": "v6vDdDKViwYzYNOtZGHJxHNa5_jt1GWSpeDwFFKy5LUZAAAAAA",
            "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0",
            "signature": "MEUCIQD1Ck4uRAkknEqFO6NhKC8JhB303UVHoTqHeAIY3v_NOA",
            "userHandle": "Y2FyYm9uLXVzZXItMQ"
        },
        "type": "public-key",
        "clientExtensionResults": {"prf": {"results": {"first": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}},
        "authenticatorAttachment": "cross-platform"
    });
    let a = AuthenticationResponseJSON::from_json(auth.to_string().as_bytes()).unwrap();
    assert_eq!(serde_json::to_value(&a).unwrap(), auth);
    assert_eq!(
        a.response.user_handle.as_deref(),
        Some("Y2FyYm9uLXVzZXItMQ")
    );
}

#[test]
fn attestation_none_replaces_all_but_zero_aaguid_self_attestation() {
    use latchkey_webauthn::options::create::AttestationConveyancePreference as P;
    use latchkey_webauthn::response::convey_attestation;
    // W3C §16 packed.ES256 (x5c) and packed-self.ES256 (non-zero AAGUID): both become none.
    for v in &common::w3c_vectors::VECTORS[..6] {
        let att = hex::decode(v.attestation_object).unwrap();
        let out = convey_attestation(&att, P::None).unwrap();
        let before = latchkey_ctap::authdata::AttestationObject::from_bytes(&att).unwrap();
        let after = latchkey_ctap::authdata::AttestationObject::from_bytes(&out).unwrap();
        assert_eq!(
            after.att_stmt,
            latchkey_ctap::authdata::AttestationStatement::None,
            "{}",
            v.anchor
        );
        assert_eq!(after.auth_data, before.auth_data, "{}", v.anchor);
        if v.anchor == "sctn-test-vectors-none-es256" {
            // Already none: byte-identical {"fmt":"none","attStmt":{},"authData":…}.
            assert_eq!(out, att);
        }
        assert_eq!(convey_attestation(&att, P::Direct).unwrap(), att);
    }
    // A packed self attestation with an all-zero AAGUID passes unchanged.
    let key = common::softkey::Key::p256();
    let hash = latchkey_webauthn::ids::ClientDataHash::of(b"{}");
    let mut att = key.attest([1; 32], 0x05, &[9; 16], &hash, true);
    // Zero the AAGUID: authData starts after the 0x58 0xXX byte-string header; AAGUID at +37.
    let at = att.windows(16).position(|w| w == [7u8; 16]).unwrap();
    att[at..at + 16].copy_from_slice(&[0; 16]);
    assert_eq!(convey_attestation(&att, P::None).unwrap(), att);
}
