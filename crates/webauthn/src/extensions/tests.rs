use super::ctap::*;
use super::*;
use crate::ids::CredentialId;

fn inputs(j: &str) -> AuthenticationExtensionsClientInputsJSON {
    serde_json::from_str(j).unwrap()
}

fn allow(ids: &[&[u8]]) -> Vec<CredentialDescriptor> {
    ids.iter()
        .map(|i| CredentialDescriptor {
            id: CredentialId::new("id", i.to_vec()).unwrap(),
            transports: vec![],
        })
        .collect()
}

#[test]
fn prf_salt_matches_spec_vectors() {
    // L3 §16, prf extension, "CTAP2 hmac-secret extension" examples: prf_eval_first / prf_eval_second → salt1 / salt2.
    let first = hex::decode("576562417574686e20505246207465737420766563746f727302").unwrap();
    let second = hex::decode("576562417574686e20505246207465737420766563746f727303").unwrap();
    assert_eq!(
        hex::encode(prf_salt(&first)),
        "527413ebb48293772df30f031c5ac4650c7de14bf9498671ae163447b6a772b3"
    );
    assert_eq!(
        hex::encode(prf_salt(&second)),
        "d68ac03329a10ee5e0ec834492bb9a96a0e547baf563bf78ccbe8789b22e776b"
    );
}

#[test]
fn registration_inputs_map_to_ctap() {
    let i = RegistrationExtensionInputs::parse(&inputs(
        r#"{"credProps":true,"prf":{"eval":{"first":"AQIDBA"}},"largeBlob":{"support":"preferred"},
            "credentialProtectionPolicy":"userVerificationRequired","enforceCredentialProtectionPolicy":true,
            "credBlob":"AAEC","minPinLength":true,"unknownExt":{"x":1}}"#,
    ))
    .unwrap();
    let full = AuthenticatorExtensionSupport {
        hmac_secret: true,
        hmac_secret_mc: true,
        cred_protect: true,
        max_cred_blob_length: 32,
        min_pin_length: true,
        large_blobs: true,
    };
    let c = i.to_ctap(&full).unwrap();
    assert!(c.hmac_secret && c.min_pin_length && c.large_blob_key);
    assert_eq!(c.cred_protect, Some(3));
    assert_eq!(c.cred_blob.as_deref(), Some(&[0u8, 1, 2][..]));
    assert_eq!(c.hmac_secret_mc.unwrap().salt1, prf_salt(&[1, 2, 3, 4]));
    // Enforced credProtect on an authenticator without it: skip that authenticator.
    assert_eq!(
        i.to_ctap(&AuthenticatorExtensionSupport {
            large_blobs: true,
            ..Default::default()
        }),
        Err(Ineligible::CredProtectEnforced)
    );

    let out = i.client_outputs(&RegistrationOutcome {
        rk: Some(true),
        hmac_secret: Some(true),
        large_blob_key_returned: true,
        cred_blob: Some(true),
        ..Default::default()
    });
    assert_eq!(
        serde_json::to_string(&out).unwrap(),
        r#"{"credProps":{"rk":true},"prf":{"enabled":true},"largeBlob":{"supported":true},"credBlob":true}"#
    );
}

#[test]
fn registration_misuse_is_rejected() {
    let e = RegistrationExtensionInputs::parse(&inputs(
        r#"{"prf":{"evalByCredential":{"AQ":{"first":"AQ"}}}}"#,
    ))
    .unwrap_err();
    assert_eq!(e.name(), "NotSupportedError");
    let e =
        RegistrationExtensionInputs::parse(&inputs(r#"{"largeBlob":{"read":true}}"#)).unwrap_err();
    assert_eq!(e.name(), "NotSupportedError");
    let e = RegistrationExtensionInputs::parse(&inputs(r#"{"prf":{"eval":{"first":"a+b/"}}}"#))
        .unwrap_err();
    assert_eq!(e.name(), "EncodingError");
    let i = RegistrationExtensionInputs::parse(&inputs(r#"{"largeBlob":{"support":"required"}}"#))
        .unwrap();
    assert_eq!(
        i.to_ctap(&AuthenticatorExtensionSupport::default()),
        Err(Ineligible::LargeBlobRequired)
    );
}

#[test]
fn prf_eval_by_credential_rules() {
    let a = allow(&[b"\x01\x02", b"\x03"]);
    let i = AuthenticationExtensionInputs::parse(
        &inputs(r#"{"prf":{"eval":{"first":"AA"},"evalByCredential":{"AQI":{"first":"AQ","second":"Ag"}}}}"#),
        &a,
    )
    .unwrap();
    let support = AuthenticatorExtensionSupport {
        hmac_secret: true,
        ..Default::default()
    };
    let by_cred = i.to_ctap(&support, Some(&a[0].id)).hmac_secret.unwrap();
    assert_eq!(by_cred.salt1, prf_salt(&[1]));
    assert_eq!(by_cred.salt2, Some(prf_salt(&[2])));
    let fallback = i.to_ctap(&support, Some(&a[1].id)).hmac_secret.unwrap();
    assert_eq!(fallback.salt1, prf_salt(&[0]));
    assert_eq!(fallback.salt2, None);
    assert_eq!(
        i.to_ctap(&AuthenticatorExtensionSupport::default(), Some(&a[0].id))
            .hmac_secret,
        None
    );

    // Unknown credential key: SyntaxError. Empty allowCredentials: NotSupportedError.
    let e = AuthenticationExtensionInputs::parse(
        &inputs(r#"{"prf":{"evalByCredential":{"BQ":{"first":"AQ"}}}}"#),
        &a,
    )
    .unwrap_err();
    assert_eq!(e.name(), "SyntaxError");
    let e = AuthenticationExtensionInputs::parse(
        &inputs(r#"{"prf":{"evalByCredential":{"":{"first":"AQ"}}}}"#),
        &a,
    )
    .unwrap_err();
    assert_eq!(e.name(), "SyntaxError");
    let e = AuthenticationExtensionInputs::parse(
        &inputs(r#"{"prf":{"evalByCredential":{"AQI":{"first":"AQ"}}}}"#),
        &[],
    )
    .unwrap_err();
    assert_eq!(e.name(), "NotSupportedError");
}

#[test]
fn authentication_outputs() {
    let a = allow(&[b"\x01"]);
    let i = AuthenticationExtensionInputs::parse(
        &inputs(r#"{"appid":"https://example.com/app-id.json","prf":{"eval":{"first":"AA"}},"largeBlob":{"write":"AQID"},"getCredBlob":true}"#),
        &a,
    )
    .unwrap();
    assert_eq!(
        i.large_blob,
        Some(LargeBlobAuthentication::Write(vec![1, 2, 3]))
    );
    let out = i.client_outputs(&AuthenticationOutcome {
        appid_used: false,
        prf_results: Some(PrfOutputs {
            first: [0xaa; 32],
            second: None,
        }),
        large_blob: None,
        large_blob_written: true,
        cred_blob: Some(vec![9]),
    });
    let j = serde_json::to_value(&out).unwrap();
    assert_eq!(j["appid"], false);
    assert_eq!(
        j["prf"]["results"]["first"],
        crate::b64::encode(&[0xaa; 32])
    );
    assert!(j["prf"].get("enabled").is_none());
    assert_eq!(j["largeBlob"]["written"], true);
    assert_eq!(j["getCredBlob"], "CQ");
    assert_eq!(
        format!(
            "{:?}",
            PrfOutputs {
                first: [1; 32],
                second: None
            }
        ),
        "PrfOutputs(<redacted>)"
    );
}

#[test]
fn large_blob_authentication_misuse() {
    let two = allow(&[b"\x01", b"\x02"]);
    for (j, name) in [
        (
            r#"{"largeBlob":{"support":"required"}}"#,
            "NotSupportedError",
        ),
        (
            r#"{"largeBlob":{"read":true,"write":"AQ"}}"#,
            "NotSupportedError",
        ),
        (r#"{"largeBlob":{"write":"AQ"}}"#, "NotSupportedError"),
    ] {
        assert_eq!(
            AuthenticationExtensionInputs::parse(&inputs(j), &two)
                .unwrap_err()
                .name(),
            name,
            "{j}"
        );
    }
}
