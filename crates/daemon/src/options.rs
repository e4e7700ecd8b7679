//! The caller's options JSON, parsed by `latchkey_webauthn::options` (L3 §5.1.8
//! `parseCreationOptionsFromJSON`, §5.1.9 `parseRequestOptionsFromJSON`) after latchkeyd's own
//! size bound. Errors carry the DOMException name the caller gets (`TypeError`, `EncodingError`,
//! `NotSupportedError`, …).

use std::time::Duration;

use latchkey_webauthn::ids::Challenge;
use latchkey_webauthn::options::{CreationOptions, RequestOptions};
use latchkey_webauthn::WebAuthnError;

pub use latchkey_api::Kind;

/// Largest accepted `options_json`, in bytes.
pub const MAX_OPTIONS_JSON: usize = 64 * 1024;

/// COSE algorithms latchkeyd recognises (IANA COSE Algorithms registry; ML-DSA-44/65/87, -48 to
/// -50, from draft-ietf-cose-dilithium). Per §5.1.3 step 10 the client skips algorithms it does
/// not recognise; if none is left the result is `NotSupportedError`.
pub const KNOWN_ALGORITHMS: [i32; 17] = [
    -7, -8, -9, -19, -35, -36, -37, -38, -39, -47, -48, -49, -50, -257, -258, -259, -65535,
];

/// Bounds for a request's `timeout` (WebAuthn L3 §15.1 recommends 5–10 minutes for UV).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Shortest allowed.
    pub min: Duration,
    /// Longest allowed.
    pub max: Duration,
    /// When the options give none.
    pub default: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            min: Duration::from_secs(30),
            max: Duration::from_secs(600),
            default: Duration::from_secs(300),
        }
    }
}

impl Timeouts {
    /// The timeout for a request whose options asked for `ms` milliseconds.
    pub fn clamp(&self, ms: Option<u64>) -> Duration {
        ms.map_or(self.default, |ms| {
            Duration::from_millis(ms).clamp(self.min, self.max)
        })
    }
}

/// Parsed options of either ceremony.
#[derive(Debug, Clone)]
pub enum CheckedOptions {
    /// Creation options.
    Create(Box<CreationOptions>),
    /// Request options.
    Get(Box<RequestOptions>),
}

impl CheckedOptions {
    /// `rp.id` / `rpId`.
    pub fn rp_id(&self) -> Option<&str> {
        match self {
            Self::Create(o) => o.rp_id.as_deref(),
            Self::Get(o) => o.rp_id.as_deref(),
        }
    }
    /// The challenge.
    pub fn challenge(&self) -> &Challenge {
        match self {
            Self::Create(o) => &o.challenge,
            Self::Get(o) => &o.challenge,
        }
    }
    /// `timeout` in milliseconds.
    pub fn timeout_ms(&self) -> Option<u64> {
        match self {
            Self::Create(o) => o.timeout_ms.map(u64::from),
            Self::Get(o) => o.timeout_ms.map(u64::from),
        }
    }
    /// These options with `userVerification` raised to `required` (a remembered decision skipped
    /// the consent step; the user still verifies).
    pub fn requiring_user_verification(mut self) -> Self {
        use latchkey_webauthn::options::UserVerificationRequirement::Required;
        match &mut self {
            Self::Create(o) => o.user_verification = Required,
            Self::Get(o) => o.user_verification = Required,
        }
        self
    }

    /// The FIDO AppID the options name for an RP ID of its own: `appid` (get, L3 §10.1.1) or
    /// `appidExclude` (create, §10.1.2). The caller's origin must be authorized for it as for
    /// the RP ID (`crate::request::steps`).
    pub fn app_id(&self) -> Option<&str> {
        match self {
            Self::Create(o) => o.extensions.appid_exclude.as_deref(),
            Self::Get(o) => o.extensions.appid.as_deref(),
        }
    }

    /// Replaces the FIDO AppID with the one its check settled on (see [`Self::app_id`]).
    pub fn set_app_id(&mut self, app_id: String) {
        match self {
            Self::Create(o) => o.extensions.appid_exclude = Some(app_id),
            Self::Get(o) => o.extensions.appid = Some(app_id),
        }
    }

    /// `user.name` (create only), for the prompt.
    pub fn user_name(&self) -> Option<&str> {
        match self {
            Self::Create(o) => Some(&o.user.name),
            Self::Get(_) => None,
        }
    }
}

/// Bounds and parses the options JSON.
pub fn check(kind: Kind, text: &str) -> Result<CheckedOptions, WebAuthnError> {
    if text.len() > MAX_OPTIONS_JSON {
        return Err(WebAuthnError::type_error(format!(
            "options JSON is larger than {MAX_OPTIONS_JSON} bytes"
        )));
    }
    Ok(match kind {
        Kind::Create => {
            let mut o = CreationOptions::from_json(text.as_bytes())?;
            o.algorithms.retain(|a| KNOWN_ALGORITHMS.contains(&a.0));
            if o.algorithms.is_empty() {
                return Err(WebAuthnError::not_supported(
                    "pubKeyCredParams names no algorithm latchkeyd recognises",
                ));
            }
            CheckedOptions::Create(Box::new(o))
        }
        Kind::Get => CheckedOptions::Get(Box::new(RequestOptions::from_json(text.as_bytes())?)),
    })
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
        assert_eq!(c.rp_id(), Some("example.com"));
        assert_eq!(c.timeout_ms(), Some(60000));
        assert_eq!(c.user_name(), Some("alice"));
        assert_eq!(c.challenge().as_bytes().len(), 16);
        let g = check(
            Kind::Get,
            &format!(r#"{{"challenge":"{CH}","rpId":"example.com"}}"#),
        )
        .unwrap();
        assert_eq!(g.rp_id(), Some("example.com"));
    }

    #[test]
    fn error_names() {
        let name = |k, s: &str| check(k, s).unwrap_err().name();
        assert_eq!(name(Kind::Get, "{"), "TypeError");
        assert_eq!(name(Kind::Get, "[]"), "TypeError");
        assert_eq!(name(Kind::Get, r#"{"rpId":"a.com"}"#), "TypeError");
        assert_eq!(name(Kind::Get, r#"{"challenge":"!!!"}"#), "EncodingError");
        assert_eq!(
            name(Kind::Create, &create("").replace("-7", "-99999")),
            "NotSupportedError"
        );
        assert_eq!(
            name(Kind::Get, &" ".repeat(MAX_OPTIONS_JSON + 1)),
            "TypeError"
        );
    }

    /// ML-DSA requests reach the authenticators: the platform authenticator makes those
    /// credentials when its configuration offers them.
    #[test]
    fn ml_dsa_algorithms_are_recognised() {
        for alg in ["-48", "-49", "-50"] {
            let c = check(Kind::Create, &create("").replace("-7", alg)).unwrap();
            let CheckedOptions::Create(o) = c else {
                panic!("creation options");
            };
            assert_eq!(o.algorithms.len(), 1, "{alg}");
            assert_eq!(o.algorithms[0].0.to_string(), alg);
        }
    }
}
