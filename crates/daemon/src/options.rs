//! The first look at a caller's options JSON: size, shape, and the members latchkeyd itself needs
//! (RP ID, challenge, timeout, algorithms). Full member-by-member parsing belongs to the
//! authenticator side, which receives the parsed JSON value.
//!
//! Errors follow WebAuthn L3: a malformed dictionary is `TypeError` (§5.1.3 step 1 / WebIDL
//! conversion; §5.1.8 `parseCreationOptionsFromJSON`), bad base64url is `EncodingError` (§5.1.8),
//! no supported algorithm is `NotSupportedError` (§5.1.3 step 10).

use latchkey_webauthn::ids::Challenge;
use latchkey_webauthn::{b64, WebAuthnError};
use serde_json::{Map, Value};

/// Largest accepted `options_json`, in bytes.
pub const MAX_OPTIONS_JSON: usize = 64 * 1024;
/// Longest accepted challenge, in bytes (after decoding).
pub const MAX_CHALLENGE: usize = 1024;
/// Shortest challenge an RP should send (§13.4.3 recommends ≥ 16 random bytes).
pub const MIN_CHALLENGE: usize = 16;
/// Most entries accepted in `pubKeyCredParams`, `excludeCredentials`, `allowCredentials`.
pub const MAX_LIST: usize = 64;

/// COSE algorithms latchkeyd knows (IANA COSE registry); unknown ones are skipped (§5.1.3 step 10).
pub const KNOWN_ALGORITHMS: [i64; 10] = [-7, -8, -35, -36, -37, -38, -39, -257, -258, -259];

/// Options that passed the first look.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedOptions {
    /// The whole options dictionary, for the authenticator side.
    pub json: Value,
    /// `rp.id` / `rpId`, if present.
    pub rp_id: Option<String>,
    /// The decoded challenge.
    pub challenge: Challenge,
    /// `timeout` in milliseconds, if present.
    pub timeout_ms: Option<u64>,
    /// The known algorithms asked for, in the RP's order (create only; empty means the defaults).
    pub algorithms: Vec<i64>,
    /// `user.name` (create only), for the prompt.
    pub user_name: Option<String>,
}

/// Which ceremony the options are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `navigator.credentials.create()`.
    Create,
    /// `navigator.credentials.get()`.
    Get,
}

impl Kind {
    /// `"create"` / `"get"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Create => "create",
            Kind::Get => "get",
        }
    }
}

/// Checks `PublicKeyCredentialCreationOptionsJSON` / `…RequestOptionsJSON` (§5.1.8, §5.1.9).
pub fn check(kind: Kind, text: &str) -> Result<CheckedOptions, WebAuthnError> {
    if text.len() > MAX_OPTIONS_JSON {
        return Err(WebAuthnError::type_error(format!(
            "options JSON is larger than {MAX_OPTIONS_JSON} bytes"
        )));
    }
    let json: Value = serde_json::from_str(text)
        .map_err(|e| WebAuthnError::type_error(format!("options are not JSON: {e}")))?;
    let obj = json
        .as_object()
        .ok_or_else(|| WebAuthnError::type_error("options must be a JSON object"))?;
    let challenge = b64::decode("challenge", required_str(obj, "challenge")?)?;
    if challenge.len() > MAX_CHALLENGE {
        return Err(WebAuthnError::type_error("challenge is too long"));
    }
    if challenge.len() < MIN_CHALLENGE {
        return Err(WebAuthnError::type_error(format!(
            "challenge must be at least {MIN_CHALLENGE} bytes"
        )));
    }
    let timeout_ms = match obj.get("timeout") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| WebAuthnError::type_error("timeout must be an unsigned integer"))?,
        ),
    };
    let (rp_id, algorithms, user_name) = match kind {
        Kind::Create => {
            let rp = required_obj(obj, "rp")?;
            required_str(rp, "name")?;
            let rp_id = optional_str(rp, "id")?.map(str::to_owned);
            let user = required_obj(obj, "user")?;
            let id = b64::decode("user.id", required_str(user, "id")?)?;
            if id.is_empty() || id.len() > 64 {
                return Err(WebAuthnError::type_error("user.id must be 1 to 64 bytes"));
            }
            let name = required_str(user, "name")?.to_owned();
            required_str(user, "displayName")?;
            (rp_id, algorithms(obj)?, Some(name))
        }
        Kind::Get => (
            optional_str(obj, "rpId")?.map(str::to_owned),
            Vec::new(),
            None,
        ),
    };
    for list in ["excludeCredentials", "allowCredentials"] {
        check_descriptors(obj, list)?;
    }
    Ok(CheckedOptions {
        json,
        rp_id,
        challenge: Challenge::new(challenge),
        timeout_ms,
        algorithms,
        user_name,
    })
}

fn algorithms(obj: &Map<String, Value>) -> Result<Vec<i64>, WebAuthnError> {
    let params = match obj.get("pubKeyCredParams") {
        Some(Value::Array(a)) => a,
        _ => {
            return Err(WebAuthnError::type_error(
                "pubKeyCredParams must be an array",
            ))
        }
    };
    if params.is_empty() {
        // §5.1.3 step 10: an empty list means ES256 and RS256.
        return Ok(vec![-7, -257]);
    }
    if params.len() > MAX_LIST {
        return Err(WebAuthnError::type_error(
            "pubKeyCredParams has too many entries",
        ));
    }
    let mut known = Vec::new();
    for p in params {
        let p = p
            .as_object()
            .ok_or_else(|| WebAuthnError::type_error("pubKeyCredParams entries must be objects"))?;
        let ty = required_str(p, "type")?;
        let alg = p.get("alg").and_then(Value::as_i64).ok_or_else(|| {
            WebAuthnError::type_error("pubKeyCredParams[].alg must be an integer")
        })?;
        if ty == "public-key" && KNOWN_ALGORITHMS.contains(&alg) && !known.contains(&alg) {
            known.push(alg);
        }
    }
    if known.is_empty() {
        return Err(WebAuthnError::not_supported(
            "no supported algorithm in pubKeyCredParams",
        ));
    }
    Ok(known)
}

fn check_descriptors(obj: &Map<String, Value>, key: &str) -> Result<(), WebAuthnError> {
    let list = match obj.get(key) {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(WebAuthnError::type_error(format!("{key} must be an array"))),
    };
    if list.len() > MAX_LIST {
        return Err(WebAuthnError::type_error(format!(
            "{key} has too many entries"
        )));
    }
    for d in list {
        let d = d
            .as_object()
            .ok_or_else(|| WebAuthnError::type_error(format!("{key} entries must be objects")))?;
        required_str(d, "type")?;
        let id = b64::decode(&format!("{key}[].id"), required_str(d, "id")?)?;
        if id.is_empty() || id.len() > 1023 {
            return Err(WebAuthnError::type_error(format!(
                "{key}[].id must be 1 to 1023 bytes"
            )));
        }
    }
    Ok(())
}

fn required_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, WebAuthnError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(WebAuthnError::type_error(format!("{key} must be a string"))),
        None => Err(WebAuthnError::type_error(format!("{key} is required"))),
    }
}

fn optional_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, WebAuthnError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(WebAuthnError::type_error(format!("{key} must be a string"))),
    }
}

fn required_obj<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<&'a Map<String, Value>, WebAuthnError> {
    match obj.get(key) {
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(WebAuthnError::type_error(format!(
            "{key} must be an object"
        ))),
        None => Err(WebAuthnError::type_error(format!("{key} is required"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CH: &str = "AAECAwQFBgcICQoLDA0ODw";

    fn create(extra: &str) -> String {
        format!(
            r#"{{"rp":{{"id":"example.com","name":"Ex"}},"user":{{"id":"AQID","name":"alice","displayName":"Alice"}},"challenge":"{CH}","pubKeyCredParams":[{{"type":"public-key","alg":-7}}]{extra}}}"#
        )
    }

    #[test]
    fn accepts_minimal_create_and_get() {
        let c = check(Kind::Create, &create(r#","timeout":60000"#)).unwrap();
        assert_eq!(c.rp_id.as_deref(), Some("example.com"));
        assert_eq!(c.timeout_ms, Some(60000));
        assert_eq!(c.algorithms, vec![-7]);
        assert_eq!(c.challenge.as_bytes().len(), 16);
        let g = check(
            Kind::Get,
            &format!(r#"{{"challenge":"{CH}","rpId":"example.com"}}"#),
        )
        .unwrap();
        assert_eq!(g.rp_id.as_deref(), Some("example.com"));
    }

    #[test]
    fn error_names() {
        let name = |k, s: &str| check(k, s).unwrap_err().name();
        assert_eq!(name(Kind::Get, "{"), "TypeError");
        assert_eq!(name(Kind::Get, "[]"), "TypeError");
        assert_eq!(name(Kind::Get, r#"{"rpId":"a.com"}"#), "TypeError");
        assert_eq!(name(Kind::Get, r#"{"challenge":"!!!"}"#), "EncodingError");
        assert_eq!(name(Kind::Get, r#"{"challenge":"AAAA"}"#), "TypeError");
        assert_eq!(
            name(
                Kind::Get,
                &format!(r#"{{"challenge":"{CH}","timeout":-1}}"#)
            ),
            "TypeError"
        );
        assert_eq!(
            name(Kind::Create, &create("").replace("-7", "-99999")),
            "NotSupportedError"
        );
        assert_eq!(
            name(
                Kind::Create,
                &create("").replace(r#""id":"AQID""#, r#""id":"""#)
            ),
            "TypeError"
        );
        assert_eq!(
            name(Kind::Get, &" ".repeat(MAX_OPTIONS_JSON + 1)),
            "TypeError"
        );
        assert_eq!(
            name(
                Kind::Create,
                &create(r#","excludeCredentials":[{"type":"public-key","id":5}]"#)
            ),
            "TypeError"
        );
    }
}
