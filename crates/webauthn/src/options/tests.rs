use super::create::*;
use super::*;
use crate::ids::CoseAlgorithm;

const BASE: &str = r#"{"rp":{"name":"Example","id":"example.com"},
  "user":{"id":"dXNlcg","name":"alice","displayName":"Alice"},
  "challenge":"AAECAwQFBgcICQoLDA0ODw","pubKeyCredParams":[]}"#;

fn with(extra: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(BASE).unwrap();
    let e: serde_json::Value = serde_json::from_str(extra).unwrap();
    for (k, x) in e.as_object().unwrap() {
        v[k] = x.clone();
    }
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn empty_params_default_to_es256_rs256() {
    let o = CreationOptions::from_json(BASE.as_bytes()).unwrap();
    assert_eq!(
        o.algorithms,
        vec![CoseAlgorithm::ES256, CoseAlgorithm::RS256]
    );
    assert_eq!(o.attestation_formats, vec!["none"]);
    assert_eq!(o.resident_key, ResidentKeyRequirement::Discouraged);
}

#[test]
fn params_skip_unknown_types_and_keep_order() {
    let o = CreationOptions::from_json(&with(
        r#"{"pubKeyCredParams":[{"type":"password","alg":-7},{"type":"public-key","alg":-8},{"type":"public-key","alg":-65535},{"type":"public-key","alg":-8},{"type":"public-key","alg":-7}]}"#,
    ))
    .unwrap();
    assert_eq!(
        o.algorithms,
        vec![
            CoseAlgorithm::EDDSA,
            CoseAlgorithm(-65535),
            CoseAlgorithm::ES256
        ]
    );
    assert_eq!(
        o.negotiate(&[CoseAlgorithm::ES256]).unwrap(),
        CoseAlgorithm::ES256
    );
    assert_eq!(
        o.negotiate(&[CoseAlgorithm::RS256]).unwrap_err().name(),
        "NotSupportedError"
    );
    let e = CreationOptions::from_json(&with(
        r#"{"pubKeyCredParams":[{"type":"password","alg":-7}]}"#,
    ))
    .unwrap_err();
    assert_eq!(e.name(), "NotSupportedError");
}

#[test]
fn resident_key_resolution() {
    let rk = |sel: &str| {
        CreationOptions::from_json(&with(&format!(r#"{{"authenticatorSelection":{sel}}}"#)))
            .unwrap()
            .resident_key
    };
    assert_eq!(
        rk(r#"{"requireResidentKey":true}"#),
        ResidentKeyRequirement::Required
    );
    assert_eq!(
        rk(r#"{"requireResidentKey":false}"#),
        ResidentKeyRequirement::Discouraged
    );
    assert_eq!(
        rk(r#"{"residentKey":"preferred","requireResidentKey":true}"#),
        ResidentKeyRequirement::Preferred
    );
    assert_eq!(
        rk(r#"{"residentKey":"discouraged","requireResidentKey":true}"#),
        ResidentKeyRequirement::Discouraged
    );
    assert_eq!(
        rk(r#"{"residentKey":"bogus","requireResidentKey":true}"#),
        ResidentKeyRequirement::Required
    );
    assert_eq!(
        rk(r#"{"residentKey":"bogus"}"#),
        ResidentKeyRequirement::Discouraged
    );
    let o = CreationOptions::from_json(&with(r#"{"authenticatorSelection":{"residentKey":"preferred","userVerification":"required","authenticatorAttachment":"platform"}}"#)).unwrap();
    assert!(o.require_resident_key(true));
    assert!(!o.require_resident_key(false));
    assert!(o.require_user_verification(false));
    assert!(o.authenticator_eligible(AuthenticatorAttachment::Platform, false, true));
    assert!(!o.authenticator_eligible(AuthenticatorAttachment::CrossPlatform, true, true));
    assert!(!o.authenticator_eligible(AuthenticatorAttachment::Platform, true, false));
}

#[test]
fn unknown_enums_and_members_are_ignored() {
    let o = CreationOptions::from_json(&with(
        r#"{"attestation":"fancy","hints":["hybrid","telepathy","hybrid","security-key"],
            "authenticatorSelection":{"authenticatorAttachment":"implant","userVerification":"maybe"},
            "excludeCredentials":[{"type":"public-key","id":"AQ","transports":["usb","carrier-pigeon","nfc","usb"]},{"type":"future","id":"Ag"}],
            "somethingNew":[1,2,3]}"#,
    ))
    .unwrap();
    assert_eq!(o.attestation, AttestationConveyancePreference::None);
    assert_eq!(o.hints, vec![Hint::Hybrid, Hint::SecurityKey]);
    assert_eq!(o.authenticator_attachment, None);
    assert_eq!(o.user_verification, UserVerificationRequirement::Preferred);
    assert_eq!(o.exclude_credentials.len(), 1);
    assert_eq!(
        o.exclude_credentials[0].transports,
        vec![AuthenticatorTransport::Nfc, AuthenticatorTransport::Usb]
    );
}

#[test]
fn attestation_formats_kept_unless_none() {
    let o = CreationOptions::from_json(&with(
        r#"{"attestation":"direct","attestationFormats":["packed","tpm","packed"]}"#,
    ))
    .unwrap();
    assert_eq!(o.attestation, AttestationConveyancePreference::Direct);
    assert_eq!(o.attestation_formats, vec!["packed", "tpm"]);
}

#[test]
fn request_options_parse() {
    let o = RequestOptions::from_json(
        br#"{"challenge":"AAEC","rpId":"example.com","allowCredentials":[{"type":"public-key","id":"AQID","transports":["internal"]}],"userVerification":"required","timeout":60000}"#,
    )
    .unwrap();
    assert_eq!(o.challenge.as_bytes(), &[0, 1, 2]);
    assert_eq!(o.rp_id.as_deref(), Some("example.com"));
    assert_eq!(o.allow_credentials[0].id.as_bytes(), &[1, 2, 3]);
    assert_eq!(o.user_verification, UserVerificationRequirement::Required);
    assert_eq!(o.timeout_ms, Some(60000));
}

#[test]
fn caps() {
    let many: Vec<String> = (0..257)
        .map(|_| r#"{"type":"public-key","id":"AQ"}"#.to_owned())
        .collect();
    let e = RequestOptions::from_json(
        format!(
            r#"{{"challenge":"AA","allowCredentials":[{}]}}"#,
            many.join(",")
        )
        .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(e.name(), "TypeError");
    let big = format!(
        r#"{{"challenge":"AA","x":"{}"}}"#,
        "a".repeat(MAX_OPTIONS_JSON_BYTES)
    );
    let e = RequestOptions::from_json(big.as_bytes()).unwrap_err();
    assert_eq!(e.name(), "TypeError");
}

#[test]
fn timeouts_are_clamped_to_the_recommended_range() {
    assert_eq!(effective_timeout_ms(None), 300_000);
    assert_eq!(effective_timeout_ms(Some(60_000)), 300_000);
    assert_eq!(effective_timeout_ms(Some(450_000)), 450_000);
    assert_eq!(effective_timeout_ms(Some(u32::MAX)), 600_000);
}

#[test]
fn truncation_respects_code_points() {
    assert_eq!(truncate_utf8("alice", 64), "alice");
    // "ü" is two bytes: cutting at 2 would split it.
    assert_eq!(truncate_utf8("aüb", 2), "a");
    assert_eq!(truncate_utf8("aüb", 3), "aü");
    let long = "😀".repeat(20); // 80 bytes
    assert_eq!(truncate_utf8(&long, 64).len(), 64);
    assert_eq!(truncate_utf8(&long, 63).len(), 60);
}
