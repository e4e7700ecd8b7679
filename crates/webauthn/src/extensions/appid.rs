//! The FIDO AppID check behind the `appid` and `appidExclude` extensions (L3 §10.1.1,
//! §10.1.2; FIDO AppID and Facet Specification §3.1.2 "Determining if a Caller's FacetID is
//! Authorized for an AppID").
//!
//! Like browsers, the Trusted Facet List fetch (steps 4 onward) is not done: step 3's
//! same-host comparison is relaxed to same site (equal registrable domains), as L3 notes.

use crate::error::WebAuthnError;
use crate::origin::{registrable_domain, Origin, Scheme};

/// A FIDO AppID authorised for the caller: the U2F application parameter is its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FidoAppId(String);

impl FidoAppId {
    /// The AppID string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// SHA-256 of the AppID: the U2F `application parameter` (and the `rpIdHash` an RP must
    /// then expect, §10.1.1).
    pub fn hash(&self) -> [u8; 32] {
        crate::ids::sha256(&[self.0.as_bytes()])
    }
}

/// Check `app_id` for `caller`; `SecurityError` when the caller may not use it.
pub fn authorize_appid(caller: &Origin, app_id: &str) -> Result<FidoAppId, WebAuthnError> {
    let Origin::Web(web) = caller else {
        return Err(WebAuthnError::security(
            "FIDO AppIDs are only available to web origins",
        ));
    };
    let facet_id = web.as_str();
    // Step 2: an empty AppID is the caller's FacetID.
    if app_id.is_empty() {
        return Ok(FidoAppId(facet_id.to_owned()));
    }
    let refuse = |why: &str| {
        WebAuthnError::security(format!(
            "AppID {app_id:?} is not authorised for {facet_id:?}: {why}"
        ))
    };
    let url = url::Url::parse(app_id).map_err(|_| refuse("not a URL"))?;
    if url.scheme() != "https" {
        // Step 1: a non-https AppID must equal the FacetID.
        return if app_id == facet_id {
            Ok(FidoAppId(app_id.to_owned()))
        } else {
            Err(refuse("not an https URL"))
        };
    }
    if web.scheme() != Scheme::Https {
        return Err(refuse("the caller is not https"));
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return Err(refuse("the AppID host is not a domain"));
    };
    let caller_host = web.effective_domain();
    let same_site = host == caller_host
        || matches!(
            (registrable_domain(host), registrable_domain(caller_host)),
            (Some(a), Some(b)) if a == b
        );
    if !same_site {
        return Err(refuse("the AppID is on another site"));
    }
    Ok(FidoAppId(app_id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(s: &str) -> Origin {
        Origin::parse(s).unwrap()
    }

    #[test]
    fn same_site_https_app_ids_are_allowed() {
        let a = authorize_appid(
            &o("https://login.example.com"),
            "https://example.com/appid.json",
        )
        .unwrap();
        assert_eq!(a.as_str(), "https://example.com/appid.json");
        assert_eq!(
            a.hash(),
            crate::ids::sha256(&[b"https://example.com/appid.json"])
        );
        assert!(authorize_appid(&o("https://example.com"), "https://u2f.example.com").is_ok());
    }

    #[test]
    fn empty_app_id_is_the_facet_id() {
        let a = authorize_appid(&o("https://example.com:8443"), "").unwrap();
        assert_eq!(a.as_str(), "https://example.com:8443");
    }

    #[test]
    fn other_sites_and_schemes_are_refused() {
        for (origin, appid) in [
            ("https://example.com", "https://evil.com/appid"),
            ("https://a.github.io", "https://b.github.io/appid"),
            ("https://example.com", "http://example.com/appid"),
            ("http://localhost", "https://localhost/appid"),
            ("https://example.com", "not a url"),
            ("app:org.example.App", "https://example.com"),
        ] {
            let e = authorize_appid(&o(origin), appid).unwrap_err();
            assert_eq!(e.name(), "SecurityError", "{origin} {appid}");
        }
    }
}
