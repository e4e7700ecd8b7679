//! Messages between the Latchkey WebExtension's background worker and the host (JSON inside
//! [`crate::framing`] frames). The extension fills `origin`/`topOrigin` from the browser's own
//! sender information; the host passes them on to latchkeyd, which only honours them because it
//! recognises the host as started by a configured browser.
//!
//! Browser → host:
//! ```json
//! {"id":1,"type":"create","options":{…PublicKeyCredentialCreationOptionsJSON…},"origin":"https://a.example","topOrigin":"https://a.example"}
//! {"id":2,"type":"get","options":{…PublicKeyCredentialRequestOptionsJSON…},"origin":"…"}
//! {"id":3,"type":"getClientCapabilities"}
//! {"id":1,"type":"cancel"}
//! ```
//! Host → browser: `{"id":1,"type":"result","response":{…RegistrationResponseJSON or
//! AuthenticationResponseJSON…}}`, `{"id":3,"type":"capabilities","capabilities":{…}}` or
//! `{"id":1,"type":"error","name":"NotAllowedError","message":"…"}` (`id` is `null` when the
//! request could not be read: not JSON, or a frame over the limit, which the host skips; the
//! extension drops such replies rather than failing every request). Options and responses are
//! WebAuthn L3 §5.1.8–§5.1.10 JSON.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The extension's request number; unique among its requests in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub u64);

/// A request from the extension.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum Request {
    /// `navigator.credentials.create({publicKey})`.
    Create(Ceremony),
    /// `navigator.credentials.get({publicKey})`.
    Get(Ceremony),
    /// `PublicKeyCredential.getClientCapabilities()`.
    GetClientCapabilities {
        /// Request number.
        id: RequestId,
    },
    /// Aborts request `id` (its `AbortSignal` fired).
    Cancel {
        /// The request to cancel.
        id: RequestId,
    },
}

/// A create or get request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ceremony {
    /// Request number.
    pub id: RequestId,
    /// The options JSON object (serialised as-is for latchkeyd, which parses it).
    pub options: Map<String, Value>,
    /// The caller's origin, as the browser reported it.
    pub origin: String,
    /// The top-level origin, as the browser reported it.
    #[serde(default)]
    pub top_origin: Option<String>,
}

impl Request {
    /// The request number.
    pub fn id(&self) -> RequestId {
        match self {
            Request::Create(c) | Request::Get(c) => c.id,
            Request::GetClientCapabilities { id } | Request::Cancel { id } => *id,
        }
    }
}

/// The longest error message [`parse_request`] puts in a reply, in bytes: serde's messages quote
/// the input (an unknown variant, a string where a number was expected), which may be as long as
/// the frame.
pub const MAX_ERROR_MESSAGE: usize = 200;

/// Reads a request; on failure returns the error reply to send (with the `id` when readable).
pub fn parse_request(bytes: &[u8]) -> Result<Request, Value> {
    serde_json::from_slice(bytes).map_err(|e| {
        let id = serde_json::from_slice::<Value>(bytes)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_u64));
        let mut message = format!("bad request: {e}");
        if message.len() > MAX_ERROR_MESSAGE {
            let mut end = MAX_ERROR_MESSAGE - 3;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push_str("...");
        }
        error_reply(id.map(RequestId), "TypeError", &message)
    })
}

/// `{"id":…,"type":"error","name":…,"message":…}`; `name` is a DOMException name.
pub fn error_reply(id: Option<RequestId>, name: &str, message: &str) -> Value {
    json!({"id": id, "type": "error", "name": name, "message": message})
}

/// `{"id":…,"type":"result","response":…}`.
pub fn result_reply(id: RequestId, response: Value) -> Value {
    json!({"id": id, "type": "result", "response": response})
}

/// `{"id":…,"type":"capabilities","capabilities":…}`.
pub fn capabilities_reply(id: RequestId, caps: impl IntoIterator<Item = (String, bool)>) -> Value {
    let caps: Map<String, Value> = caps.into_iter().map(|(k, v)| (k, Value::Bool(v))).collect();
    json!({"id": id, "type": "capabilities", "capabilities": caps})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_request_type() {
        let r = parse_request(
            br#"{"id":7,"type":"create","options":{"challenge":"AA"},"origin":"https://a.example","topOrigin":"https://b.example"}"#,
        )
        .unwrap();
        let Request::Create(c) = &r else {
            panic!("{r:?}")
        };
        assert_eq!(c.id, RequestId(7));
        assert_eq!(c.origin, "https://a.example");
        assert_eq!(c.top_origin.as_deref(), Some("https://b.example"));
        assert_eq!(c.options["challenge"], "AA");
        assert!(matches!(
            parse_request(br#"{"id":8,"type":"get","options":{},"origin":"http://localhost:1"}"#),
            Ok(Request::Get(Ceremony {
                top_origin: None,
                ..
            }))
        ));
        assert_eq!(
            parse_request(br#"{"id":9,"type":"getClientCapabilities"}"#).unwrap(),
            Request::GetClientCapabilities { id: RequestId(9) }
        );
        assert_eq!(
            parse_request(br#"{"id":7,"type":"cancel"}"#).unwrap().id(),
            RequestId(7)
        );
    }

    #[test]
    fn bad_requests_get_a_type_error_with_their_id() {
        let e = parse_request(br#"{"id":3,"type":"create","options":{}}"#).unwrap_err();
        assert_eq!(e["id"], 3);
        assert_eq!(e["type"], "error");
        assert_eq!(e["name"], "TypeError");
        assert!(e["message"].as_str().unwrap().contains("origin"));
        let e = parse_request(b"\xff not json").unwrap_err();
        assert_eq!(e["id"], Value::Null);
        let e = parse_request(br#"{"id":4,"type":"launchMissiles"}"#).unwrap_err();
        assert_eq!(e["id"], 4);
        // Options must be an object, not a string the page could smuggle anything in.
        let e = parse_request(br#"{"id":5,"type":"get","options":"{}","origin":"https://a"}"#)
            .unwrap_err();
        assert_eq!(e["name"], "TypeError");
        // Unknown fields are refused, so a page cannot add knobs the host would ignore silently.
        assert!(parse_request(br#"{"id":6,"type":"cancel","origin":"x"}"#).is_err());
    }

    #[test]
    fn error_messages_are_bounded_whatever_the_request_quotes() {
        let long = "é".repeat(10_000);
        let e = parse_request(format!(r#"{{"id":1,"type":"{long}"}}"#).as_bytes()).unwrap_err();
        let message = e["message"].as_str().unwrap();
        assert!(message.len() <= MAX_ERROR_MESSAGE, "{}", message.len());
        assert!(
            message.starts_with("bad request: unknown variant"),
            "{message}"
        );
        assert!(message.ends_with("..."));
        assert_eq!(e["id"], 1);
    }

    #[test]
    fn replies_have_the_documented_shape() {
        // Compared as JSON values: member order depends on serde_json's `preserve_order`
        // feature, which another crate in the workspace may switch on.
        let json = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert_eq!(
            error_reply(Some(RequestId(1)), "AbortError", "x"),
            json(r#"{"id":1,"message":"x","name":"AbortError","type":"error"}"#)
        );
        assert_eq!(
            capabilities_reply(RequestId(2), [("hybridTransport".to_owned(), false)]),
            json(r#"{"capabilities":{"hybridTransport":false},"id":2,"type":"capabilities"}"#)
        );
        assert_eq!(
            result_reply(RequestId(3), json!({"id":"AQ"}))["response"]["id"],
            "AQ"
        );
    }
}
