//! Caller origins, RP IDs and the check that binds one to the other (L3 §5.1.3 steps 6–8,
//! §5.1.4.1 steps 5–7, §4 "RP ID"; HTML "is a registrable domain suffix of or is equal to").
//!
//! Decisions, with their security reasons:
//! - **Origins** are parsed with the WHATWG URL parser (`url` crate): IDNA to A-labels,
//!   lowercase, default ports dropped. Userinfo, a query, a fragment or a path other than `/`
//!   mean the string is not an origin and is refused. Opaque origins (`null`, `file:`,
//!   `data:`) are `NotAllowedError` as in §5.1.3 step 6.
//! - **Schemes**: `https`, or `http` when the host is `localhost` or ends in `.localhost`
//!   (Secure Contexts treats both as potentially trustworthy; L3 §4 names `localhost`).
//! - **IP addresses** are refused outright (`SecurityError`): §5.1.3 step 7 requires the
//!   effective domain to be a *valid domain*, which no IPv4/IPv6 host is, so an IP literal
//!   never matches, not even exactly.
//! - **Valid domain**: after host parsing every label is 1–63 bytes of `[a-z0-9-]` (strict
//!   UTS #46 / STD3 rules, as "valid domain" uses), at most 253 bytes; one trailing dot is kept
//!   and is significant (`example.com.` ≠ `example.com`, as in HTML's table).
//! - **RP IDs** are canonicalised with the same host parser: `Bücher.Example` becomes
//!   `xn--bcher-kva.example`, which is also the string hashed into `rpIdHash`.
//! - **Public suffixes** come from the `psl` crate's compiled-in list (ICANN and private
//!   sections, so `github.io` and `blogspot.com` are suffixes), with the list's implicit `*`
//!   rule for unknown TLDs.
//! - **`app:` origins** are for non-browser callers (`app:<app-id>`): they have no effective
//!   domain; the daemon's policy binds RP IDs to them ([`AuthorizedRpId::bound_by_policy`]).

use crate::error::WebAuthnError;
use std::fmt;

/// Why an origin or RP ID was refused. Each variant maps to one DOMException name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// The origin is opaque (`null`, `file:`, `data:`…): `NotAllowedError` (§5.1.3 step 6).
    #[error("the caller's origin {0:?} is opaque")]
    Opaque(String),
    /// Not parseable as an origin, or carries userinfo/path/query/fragment: `SecurityError`.
    #[error("{0:?} is not an origin: {1}")]
    Malformed(String, &'static str),
    /// Scheme other than https (or http on localhost): `SecurityError`.
    #[error("origin {0:?} is not https (http is only allowed for localhost)")]
    InsecureScheme(String),
    /// The effective domain is an IP address or otherwise not a valid domain: `SecurityError`.
    #[error("the effective domain of {0:?} is not a valid domain")]
    NotValidDomain(String),
    /// The RP ID string is not a valid domain string: `SecurityError`.
    #[error("RP ID {0:?} is not a valid domain")]
    InvalidRpId(String),
    /// The RP ID is neither the effective domain nor a registrable suffix of it: `SecurityError`.
    #[error(
        "RP ID {rp_id:?} is not equal to or a registrable domain suffix of {effective_domain:?}"
    )]
    NotRegistrableSuffix {
        /// The canonical RP ID requested.
        rp_id: String,
        /// The caller's effective domain.
        effective_domain: String,
    },
    /// An `app:` origin asked for an RP ID without a policy binding: `SecurityError`.
    #[error("application origin {0:?} has no RP ID bound to it by policy")]
    AppNotBound(String),
    /// An `app:` origin with an empty or ill-formed application ID: `SecurityError`.
    #[error("{0:?} is not a valid app:<app-id> origin")]
    BadAppId(String),
}

impl From<OriginError> for WebAuthnError {
    fn from(e: OriginError) -> Self {
        match e {
            OriginError::Opaque(_) => WebAuthnError::not_allowed(e.to_string()),
            _ => WebAuthnError::security(e.to_string()),
        }
    }
}

/// A web origin's scheme that may use WebAuthn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `https`.
    Https,
    /// `http`, only for `localhost` and `*.localhost`.
    HttpLocalhost,
}

/// A tuple origin that passed the scheme and valid-domain checks.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WebOrigin {
    serialized: String,
    host: String,
    https: bool,
}

impl WebOrigin {
    /// The ASCII serialization (`https://example.com:8443`), as it goes into clientDataJSON.
    pub fn as_str(&self) -> &str {
        &self.serialized
    }
    /// The effective domain: the host, a valid domain in A-label form.
    pub fn effective_domain(&self) -> &str {
        &self.host
    }
    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        if self.https {
            Scheme::Https
        } else {
            Scheme::HttpLocalhost
        }
    }
}

impl fmt::Debug for WebOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebOrigin({})", self.serialized)
    }
}

/// An application identity (`app:<app-id>`), e.g. a Flatpak app ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppId(String);

impl AppId {
    /// Longest accepted application ID.
    pub const MAX_LEN: usize = 255;

    /// Accepts 1..=255 characters of `[A-Za-z0-9._-]` (Flatpak app IDs, Snap names, unit names).
    pub fn new(id: &str) -> Result<Self, OriginError> {
        let ok = !id.is_empty()
            && id.len() <= Self::MAX_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(id.to_owned()))
        } else {
            Err(OriginError::BadAppId(format!("app:{id}")))
        }
    }
    /// The bare application ID.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The caller as clientDataJSON names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A web origin vouched for by a privileged client (a browser).
    Web(WebOrigin),
    /// A native or sandboxed application, `app:<app-id>`.
    App(AppId),
}

impl Origin {
    /// Parse an origin string: `app:<id>` or a web origin.
    pub fn parse(s: &str) -> Result<Self, OriginError> {
        match s.strip_prefix("app:") {
            Some(id) => Ok(Self::App(AppId::new(id)?)),
            None => parse_web_origin(s).map(Self::Web),
        }
    }
    /// The string that goes into clientDataJSON's `origin`.
    pub fn serialize(&self) -> String {
        match self {
            Self::Web(w) => w.serialized.clone(),
            Self::App(a) => format!("app:{}", a.0),
        }
    }
}

fn parse_web_origin(s: &str) -> Result<WebOrigin, OriginError> {
    if s == "null" {
        return Err(OriginError::Opaque(s.to_owned()));
    }
    let url = url::Url::parse(s)
        .map_err(|_| OriginError::Malformed(s.to_owned(), "URL parse failure"))?;
    let origin = url.origin();
    if !origin.is_tuple() {
        return Err(OriginError::Opaque(s.to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(OriginError::Malformed(
            s.to_owned(),
            "origins carry no userinfo",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
        return Err(OriginError::Malformed(
            s.to_owned(),
            "origins carry no path, query or fragment",
        ));
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_owned(),
        Some(_) | None => return Err(OriginError::NotValidDomain(s.to_owned())),
    };
    let https = match url.scheme() {
        "https" => true,
        "http" if is_localhost(&host) => false,
        _ => return Err(OriginError::InsecureScheme(s.to_owned())),
    };
    if !is_valid_domain(&host) {
        return Err(OriginError::NotValidDomain(s.to_owned()));
    }
    Ok(WebOrigin {
        serialized: origin.ascii_serialization(),
        host,
        https,
    })
}

fn is_localhost(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost")
}

/// The longest canonical RP ID in bytes: a valid domain of 253 and the one trailing dot kept.
/// Whatever carries or keeps an RP ID (the worker protocol, remembered sites) takes this bound.
pub const MAX_RP_ID_LEN: usize = 254;

/// Strict valid-domain check on an already host-parsed (lowercase, A-label) domain.
pub(crate) fn is_valid_domain(d: &str) -> bool {
    let body = d.strip_suffix('.').unwrap_or(d);
    !body.is_empty()
        && body.len() <= 253
        && body.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A canonical RP ID: a valid domain in lowercase A-label form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RpId(String);

impl RpId {
    /// Canonicalise with the URL host parser (IDNA, lowercase, percent-decoding) and require a
    /// valid domain (no IP address, no empty label).
    pub fn parse(s: &str) -> Result<Self, OriginError> {
        match url::Host::parse(s) {
            Ok(url::Host::Domain(d)) if is_valid_domain(&d) => Ok(Self(d)),
            _ => Err(OriginError::InvalidRpId(s.to_owned())),
        }
    }
    /// The canonical string (what `rpIdHash` hashes and what CTAP's `rp.id` carries).
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// SHA-256 of the RP ID (`rpIdHash`, L3 §6.1).
    pub fn hash(&self) -> [u8; 32] {
        crate::ids::sha256(&[self.0.as_bytes()])
    }
}

impl fmt::Debug for RpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RpId({})", self.0)
    }
}

impl fmt::Display for RpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The public suffix of a canonical domain, per the URL Standard (a trailing dot is kept).
pub(crate) fn public_suffix(domain: &str) -> &str {
    match psl::suffix(domain.as_bytes()) {
        Some(s) => std::str::from_utf8(s.as_bytes()).unwrap_or(domain),
        None => domain,
    }
}

/// The registrable domain of a canonical domain, or `None` when it is itself a public suffix.
pub(crate) fn registrable_domain(domain: &str) -> Option<&str> {
    psl::domain(domain.as_bytes()).and_then(|d| std::str::from_utf8(d.as_bytes()).ok())
}

/// `"." + suffix` matches the end of `s`, with room for the dot (HTML's phrasing).
fn dot_suffix_of(suffix: &str, s: &str) -> bool {
    s.len() > suffix.len()
        && s.ends_with(suffix)
        && s.as_bytes().get(s.len() - suffix.len() - 1) == Some(&b'.')
}

/// HTML "is a registrable domain suffix of or is equal to", on canonical domains.
pub fn is_registrable_suffix_or_equal(rp_id: &RpId, effective_domain: &str) -> bool {
    let suffix = rp_id.as_str();
    if suffix == effective_domain {
        return true;
    }
    if !dot_suffix_of(suffix, effective_domain) {
        return false;
    }
    if suffix == public_suffix(suffix) || dot_suffix_of(suffix, public_suffix(effective_domain)) {
        return false;
    }
    true
}

/// Parse `origin` and authorise `requested` (or the default RP ID) for it, with the
/// DOMException names of §5.1.3/§5.1.4: the one-call form of [`Origin::parse`] and
/// [`AuthorizedRpId::check_origin`].
pub fn authorize(origin: &str, requested: Option<&str>) -> Result<AuthorizedRpId, WebAuthnError> {
    let origin = Origin::parse(origin)?;
    Ok(AuthorizedRpId::check_origin(&origin, requested)?)
}

/// How an RP ID came to be authorised for an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization {
    /// Equal to, or a registrable suffix of, the origin's effective domain.
    EffectiveDomain,
    /// Listed by the RP ID's `/.well-known/webauthn` document (§5.11).
    RelatedOrigins,
    /// Bound to an `app:` origin by the daemon's policy.
    AppPolicy,
}

/// Proof that an origin may act for an RP ID. Only this crate's checks (and the explicit
/// policy door) mint it, so code that signs cannot skip the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedRpId {
    origin: Origin,
    rp_id: RpId,
    via: Authorization,
}

impl AuthorizedRpId {
    /// Check `requested` (or default to the effective domain) for a web origin (§5.1.3 step 8).
    /// A failure here is where a client supporting related origins would fetch
    /// `/.well-known/webauthn` and call [`crate::related::RelatedOrigins::authorize`].
    pub fn check(origin: &WebOrigin, requested: Option<&str>) -> Result<Self, OriginError> {
        let rp_id = match requested {
            None => RpId(origin.host.clone()),
            Some(s) => RpId::parse(s)?,
        };
        if !is_registrable_suffix_or_equal(&rp_id, &origin.host) {
            return Err(OriginError::NotRegistrableSuffix {
                rp_id: rp_id.0,
                effective_domain: origin.host.clone(),
            });
        }
        Ok(Self {
            origin: Origin::Web(origin.clone()),
            rp_id,
            via: Authorization::EffectiveDomain,
        })
    }

    /// Check any origin: web origins as [`Self::check`]; `app:` origins are refused because
    /// only policy can bind them ([`Self::bound_by_policy`]).
    pub fn check_origin(origin: &Origin, requested: Option<&str>) -> Result<Self, OriginError> {
        match origin {
            Origin::Web(w) => Self::check(w, requested),
            Origin::App(a) => Err(OriginError::AppNotBound(format!("app:{}", a.0))),
        }
    }

    /// The daemon's policy bound `rp_id` to this application. The caller vouches for that.
    pub fn bound_by_policy(app: AppId, rp_id: RpId) -> Self {
        Self {
            origin: Origin::App(app),
            rp_id,
            via: Authorization::AppPolicy,
        }
    }

    pub(crate) fn related(origin: WebOrigin, rp_id: RpId) -> Self {
        Self {
            origin: Origin::Web(origin),
            rp_id,
            via: Authorization::RelatedOrigins,
        }
    }

    /// The caller's origin.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }
    /// The authorised RP ID.
    pub fn rp_id(&self) -> &RpId {
        &self.rp_id
    }
    /// How it was authorised.
    pub fn via(&self) -> Authorization {
        self.via
    }
}

#[cfg(test)]
mod tests;
