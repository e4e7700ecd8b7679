//! Related Origin Requests (WebAuthn L3 §5.11): fetching `https://<rp-id>/.well-known/webauthn`.
//! Placeholder until the fetcher lands; `None` in [`crate::server::Settings`] disables §5.11.

/// The `/.well-known/webauthn` fetcher and cache.
#[derive(Debug, Default)]
pub struct RelatedOrigins {}

impl RelatedOrigins {
    /// Authorises `origin` for `rp_id` through the RP's `/.well-known/webauthn`, or returns
    /// `fallback`.
    pub async fn authorize(
        &self,
        _origin: &str,
        _rp_id: Option<&str>,
        _top_origin: Option<&str>,
        fallback: latchkey_webauthn::WebAuthnError,
    ) -> Result<crate::authorize::Grant, latchkey_webauthn::WebAuthnError> {
        Err(fallback)
    }
}
