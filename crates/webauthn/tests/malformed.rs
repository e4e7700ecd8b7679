#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Malformed options and responses are refused with the DOMException name a browser's
//! `parseCreationOptionsFromJSON()`/`create()`/`get()` would raise.

use latchkey_webauthn::options::{CreationOptions, RequestOptions, MAX_OPTIONS_JSON_BYTES};
use latchkey_webauthn::response::{AuthenticationResponseJSON, RegistrationResponseJSON};
use serde_json::{json, Value};

fn base() -> Value {
    json!({
        "rp": {"name": "Example", "id": "example.com"},
        "user": {"id": "dXNlcg", "name": "alice", "displayName": "Alice"},
        "challenge": "AAECAwQFBgcICQoLDA0ODw",
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}]
    })
}

fn set(path: &[&str], v: Value) -> Vec<u8> {
    let mut doc = base();
    let mut cur = &mut doc;
    for p in &path[..path.len() - 1] {
        cur = &mut cur[*p];
    }
    cur[path[path.len() - 1]] = v;
    serde_json::to_vec(&doc).unwrap()
}

fn remove(path: &[&str]) -> Vec<u8> {
    let mut doc = base();
    let mut cur = &mut doc;
    for p in &path[..path.len() - 1] {
        cur = &mut cur[*p];
    }
    cur.as_object_mut().unwrap().remove(path[path.len() - 1]);
    serde_json::to_vec(&doc).unwrap()
}

fn create_err(json: &[u8]) -> String {
    CreationOptions::from_json(json)
        .map(|_| ())
        .unwrap_err()
        .name()
        .to_owned()
}

fn get_err(json: &Value) -> String {
    RequestOptions::from_json(json.to_string().as_bytes())
        .map(|_| ())
        .unwrap_err()
        .name()
        .to_owned()
}

#[test]
fn base_is_valid() {
    assert!(CreationOptions::from_json(&serde_json::to_vec(&base()).unwrap()).is_ok());
}

#[test]
fn creation_options_errors() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not JSON", b"{rp:".to_vec(), "TypeError"),
        ("a JSON array", b"[]".to_vec(), "TypeError"),
        ("missing challenge", remove(&["challenge"]), "TypeError"),
        ("missing rp", remove(&["rp"]), "TypeError"),
        ("missing rp.name", remove(&["rp", "name"]), "TypeError"),
        (
            "missing user.displayName",
            remove(&["user", "displayName"]),
            "TypeError",
        ),
        (
            "missing pubKeyCredParams",
            remove(&["pubKeyCredParams"]),
            "TypeError",
        ),
        (
            "challenge is a number",
            set(&["challenge"], json!(42)),
            "TypeError",
        ),
        (
            "challenge is not base64url",
            set(&["challenge"], json!("ab!c")),
            "EncodingError",
        ),
        (
            "challenge uses standard base64",
            set(&["challenge"], json!("ab+/")),
            "EncodingError",
        ),
        (
            "user.id is 65 bytes",
            set(&["user", "id"], json!("A".repeat(87))),
            "TypeError",
        ),
        (
            "user.id is empty",
            set(&["user", "id"], json!("")),
            "TypeError",
        ),
        (
            "user.id is not base64url",
            set(&["user", "id"], json!("dXN=lcg")),
            "EncodingError",
        ),
        (
            "user.id is an array",
            set(&["user", "id"], json!([1, 2])),
            "TypeError",
        ),
        (
            "timeout is a string",
            set(&["timeout"], json!("60000")),
            "TypeError",
        ),
        (
            "timeout is negative",
            set(&["timeout"], json!(-1)),
            "TypeError",
        ),
        (
            "alg is a string",
            set(
                &["pubKeyCredParams"],
                json!([{"type": "public-key", "alg": "ES256"}]),
            ),
            "TypeError",
        ),
        (
            "alg overflows long",
            set(
                &["pubKeyCredParams"],
                json!([{"type": "public-key", "alg": 1u64 << 40}]),
            ),
            "TypeError",
        ),
        (
            "only unknown credential types",
            set(
                &["pubKeyCredParams"],
                json!([{"type": "password", "alg": -7}]),
            ),
            "NotSupportedError",
        ),
        (
            "excludeCredentials id not base64url",
            set(
                &["excludeCredentials"],
                json!([{"type": "public-key", "id": "%%"}]),
            ),
            "EncodingError",
        ),
        (
            "excludeCredentials id 1024 bytes",
            set(
                &["excludeCredentials"],
                json!([{"type": "public-key", "id": "A".repeat(1366)}]),
            ),
            "TypeError",
        ),
        (
            "excludeCredentials missing id",
            set(&["excludeCredentials"], json!([{"type": "public-key"}])),
            "TypeError",
        ),
        (
            "hints is a string",
            set(&["hints"], json!("hybrid")),
            "TypeError",
        ),
        (
            "requireResidentKey is a string",
            set(
                &["authenticatorSelection"],
                json!({"requireResidentKey": "yes"}),
            ),
            "TypeError",
        ),
        (
            "prf.evalByCredential at create",
            set(
                &["extensions"],
                json!({"prf": {"evalByCredential": {"AQ": {"first": "AQ"}}}}),
            ),
            "NotSupportedError",
        ),
        (
            "largeBlob.write at create",
            set(&["extensions"], json!({"largeBlob": {"write": "AQ"}})),
            "NotSupportedError",
        ),
        (
            "credBlob not base64url",
            set(&["extensions"], json!({"credBlob": "*"})),
            "EncodingError",
        ),
        (
            "oversized document",
            {
                let mut v = base();
                v["padding"] = json!("x".repeat(MAX_OPTIONS_JSON_BYTES));
                serde_json::to_vec(&v).unwrap()
            },
            "TypeError",
        ),
    ];
    for (what, json, want) in &cases {
        assert_eq!(create_err(json), *want, "{what}");
    }
    assert!(cases.len() >= 25);
}

#[test]
fn unknown_algorithms_are_kept_for_negotiation_not_rejected() {
    let o = CreationOptions::from_json(&set(
        &["pubKeyCredParams"],
        json!([{"type": "public-key", "alg": -999}, {"type": "public-key", "alg": -7}]),
    ))
    .unwrap();
    let alg = o
        .negotiate(&[latchkey_webauthn::ids::CoseAlgorithm::ES256])
        .unwrap();
    assert_eq!(alg.0, -7);
    let o = CreationOptions::from_json(&set(
        &["pubKeyCredParams"],
        json!([{"type": "public-key", "alg": -999}]),
    ))
    .unwrap();
    assert_eq!(
        o.negotiate(&[latchkey_webauthn::ids::CoseAlgorithm::ES256])
            .unwrap_err()
            .name(),
        "NotSupportedError"
    );
}

#[test]
fn request_options_errors() {
    let allow = json!([{"type": "public-key", "id": "AQID"}]);
    let cases = [
        (
            "missing challenge",
            json!({"rpId": "example.com"}),
            "TypeError",
        ),
        ("challenge null", json!({"challenge": null}), "TypeError"),
        ("bad base64url", json!({"challenge": "A"}), "EncodingError"),
        (
            "allowCredentials not a list",
            json!({"challenge": "AA", "allowCredentials": {}}),
            "TypeError",
        ),
        (
            "userVerification a number",
            json!({"challenge": "AA", "userVerification": 1}),
            "TypeError",
        ),
        (
            "prf key not allowed",
            json!({"challenge": "AA", "allowCredentials": allow, "extensions": {"prf": {"evalByCredential": {"BAUG": {"first": "AQ"}}}}}),
            "SyntaxError",
        ),
        (
            "prf key not base64url",
            json!({"challenge": "AA", "allowCredentials": allow, "extensions": {"prf": {"evalByCredential": {"*": {"first": "AQ"}}}}}),
            "SyntaxError",
        ),
        (
            "prf evalByCredential without allowCredentials",
            json!({"challenge": "AA", "extensions": {"prf": {"evalByCredential": {"AQID": {"first": "AQ"}}}}}),
            "NotSupportedError",
        ),
        (
            "prf eval.first missing",
            json!({"challenge": "AA", "extensions": {"prf": {"eval": {}}}}),
            "TypeError",
        ),
        (
            "largeBlob.support at get",
            json!({"challenge": "AA", "extensions": {"largeBlob": {"support": "required"}}}),
            "NotSupportedError",
        ),
        (
            "largeBlob.write without one credential",
            json!({"challenge": "AA", "extensions": {"largeBlob": {"write": "AQ"}}}),
            "NotSupportedError",
        ),
    ];
    for (what, json, want) in &cases {
        assert_eq!(get_err(json), *want, "{what}");
    }
}

#[test]
fn response_errors() {
    let ok = json!({
        "id": "AQID", "rawId": "AQID", "type": "public-key", "clientExtensionResults": {},
        "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"}
    });
    assert!(AuthenticationResponseJSON::from_json(ok.to_string().as_bytes()).is_ok());
    let mut other_id = ok.clone();
    other_id["id"] = json!("BAUG");
    let mut wrong_type = ok.clone();
    wrong_type["type"] = json!("password");
    let mut no_response = ok.clone();
    no_response.as_object_mut().unwrap().remove("response");
    let mut bad_raw = ok.clone();
    bad_raw["rawId"] = json!("A+B/");
    for (what, v, want) in [
        ("id differs from rawId", other_id, "TypeError"),
        ("type is not public-key", wrong_type, "TypeError"),
        ("response missing", no_response, "TypeError"),
        ("rawId standard base64", bad_raw, "EncodingError"),
    ] {
        let e = AuthenticationResponseJSON::from_json(v.to_string().as_bytes()).unwrap_err();
        assert_eq!(e.name(), want, "{what}");
    }
    let e = RegistrationResponseJSON::from_json(ok.to_string().as_bytes()).unwrap_err();
    assert_eq!(e.name(), "TypeError");
}
