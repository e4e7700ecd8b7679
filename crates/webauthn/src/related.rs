//! Related Origin Requests (L3 §5.11, §5.11.1 "related origins validation procedure"), the
//! pure part: parse the RP ID's `/.well-known/webauthn` document and decide whether the caller
//! origin is listed within the label budget. Fetching (https only, no credentials, no referrer,
//! status 200, `application/json`) is the daemon's job; it passes the body here.

use crate::error::WebAuthnError;
use crate::origin::{registrable_domain, AuthorizedRpId, RpId, WebOrigin};
use serde::Deserialize;

/// The largest `/.well-known/webauthn` body parsed, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// The most `origins` entries considered.
pub const MAX_ORIGINS: usize = 1024;
/// The label budget: §5.11 requires support for at least five registrable origin labels.
pub const MIN_LABELS: usize = 5;

/// A parsed `/.well-known/webauthn` document: `{"origins": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedOrigins {
    origins: Vec<String>,
}

#[derive(Deserialize)]
struct Doc {
    origins: Option<serde_json::Value>,
}

impl RelatedOrigins {
    /// Parse the body. Anything but a JSON object whose `origins` is an array of strings is a
    /// `SecurityError` (§5.11.1 step 2).
    pub fn parse(body: &[u8]) -> Result<Self, WebAuthnError> {
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(WebAuthnError::security(format!(
                "/.well-known/webauthn is {} bytes; the limit is {MAX_DOCUMENT_BYTES}",
                body.len()
            )));
        }
        let doc: Doc = serde_json::from_slice(body).map_err(|e| {
            WebAuthnError::security(format!("/.well-known/webauthn is not a JSON object: {e}"))
        })?;
        let Some(serde_json::Value::Array(items)) = doc.origins else {
            return Err(WebAuthnError::security(
                "/.well-known/webauthn has no \"origins\" array",
            ));
        };
        if items.len() > MAX_ORIGINS {
            return Err(WebAuthnError::security(format!(
                "/.well-known/webauthn lists {} origins; the limit is {MAX_ORIGINS}",
                items.len()
            )));
        }
        let origins = items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                _ => Err(WebAuthnError::security(
                    "/.well-known/webauthn \"origins\" holds a non-string",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { origins })
    }

    /// The listed origin strings, as given.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// Run §5.11.1 steps 3–5 for `caller` and `rp_id`. `max_labels` below [`MIN_LABELS`] is
    /// raised to it. Returns the authorisation, or `SecurityError`.
    pub fn authorize(
        &self,
        caller: &WebOrigin,
        rp_id: &RpId,
        max_labels: usize,
    ) -> Result<AuthorizedRpId, WebAuthnError> {
        let max_labels = max_labels.max(MIN_LABELS);
        let mut labels_seen: Vec<String> = Vec::new();
        for item in &self.origins {
            let Ok(url) = url::Url::parse(item) else {
                continue;
            };
            let Some(url::Host::Domain(domain)) = url.host() else {
                continue;
            };
            let Some(label) = registrable_origin_label(domain) else {
                continue;
            };
            let seen = labels_seen.iter().any(|l| *l == label);
            if labels_seen.len() >= max_labels && !seen {
                continue;
            }
            let origin = url.origin();
            if origin.is_tuple() && origin.ascii_serialization() == caller.as_str() {
                return Ok(AuthorizedRpId::related(caller.clone(), rp_id.clone()));
            }
            if labels_seen.len() < max_labels && !seen {
                labels_seen.push(label.to_owned());
            }
        }
        Err(WebAuthnError::security(format!(
            "origin {:?} is not listed in /.well-known/webauthn for RP ID {:?} within {max_labels} registrable origin labels",
            caller.as_str(),
            rp_id.as_str()
        )))
    }
}

/// The first label of the registrable domain (L3 §4 "Registrable Origin Label").
pub fn registrable_origin_label(domain: &str) -> Option<&str> {
    let reg = registrable_domain(domain)?;
    reg.split('.').next().filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::{Authorization, Origin};

    fn web(s: &str) -> WebOrigin {
        match Origin::parse(s).unwrap() {
            Origin::Web(w) => w,
            Origin::App(_) => panic!("not web"),
        }
    }

    #[test]
    fn labels() {
        assert_eq!(
            registrable_origin_label("www.example.co.uk"),
            Some("example")
        );
        assert_eq!(registrable_origin_label("www.example.de"), Some("example"));
        assert_eq!(registrable_origin_label("co.uk"), None);
        assert_eq!(registrable_origin_label("foo.github.io"), Some("foo"));
    }

    #[test]
    fn spec_example_document() {
        let doc = RelatedOrigins::parse(
            br#"{"origins":["https://example.co.uk","https://example.de","https://example.sg",
            "https://example.net","https://exampledelivery.com","https://exampledelivery.co.uk",
            "https://exampledelivery.de","https://exampledelivery.sg","https://myexamplerewards.com",
            "https://examplecars.com"]}"#,
        )
        .unwrap();
        let rp = RpId::parse("example.com").unwrap();
        let a = doc.authorize(&web("https://example.sg"), &rp, 5).unwrap();
        assert_eq!(a.via(), Authorization::RelatedOrigins);
        assert_eq!(a.rp_id().as_str(), "example.com");
        // Labels: example, exampledelivery, myexamplerewards, examplecars = 4 ≤ 5.
        assert!(doc
            .authorize(&web("https://examplecars.com"), &rp, 5)
            .is_ok());
        // Same origin means same port too.
        assert!(doc
            .authorize(&web("https://example.de:8443"), &rp, 5)
            .is_err());
        assert!(doc.authorize(&web("https://evil.com"), &rp, 5).is_err());
    }

    #[test]
    fn label_budget_is_enforced() {
        let doc = RelatedOrigins::parse(
            br#"{"origins":["https://a.com","https://b.com","https://c.com","https://d.com",
            "https://e.com","https://f.com","https://a.org","not a url","https://10.0.0.1"]}"#,
        )
        .unwrap();
        let rp = RpId::parse("a.com").unwrap();
        // Sixth label exceeds a budget of five and is skipped; a.org reuses label "a".
        assert!(doc.authorize(&web("https://e.com"), &rp, 5).is_ok());
        assert!(doc.authorize(&web("https://f.com"), &rp, 5).is_err());
        assert!(doc.authorize(&web("https://a.org"), &rp, 5).is_ok());
        assert!(doc.authorize(&web("https://f.com"), &rp, 6).is_ok());
        // A budget below five is raised to five.
        assert!(doc.authorize(&web("https://e.com"), &rp, 1).is_ok());
    }

    #[test]
    fn malformed_documents_are_security_errors() {
        for body in [
            &b"[]"[..],
            b"{}",
            br#"{"origins":"https://a.com"}"#,
            br#"{"origins":[1]}"#,
            b"not json",
        ] {
            assert_eq!(
                RelatedOrigins::parse(body).unwrap_err().name(),
                "SecurityError"
            );
        }
        let big = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        assert_eq!(
            RelatedOrigins::parse(&big).unwrap_err().name(),
            "SecurityError"
        );
    }
}
