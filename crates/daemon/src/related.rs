//! Related Origin Requests (WebAuthn L3 §5.11): when a privileged client's origin is not a
//! registrable suffix match for the RP ID, fetch `https://<rp-id>/.well-known/webauthn` and let
//! `latchkey_webauthn::related` decide (§5.11.1, ≥ 5 registrable origin labels).
//!
//! The fetch: HTTPS only (rustls, the system's roots), `GET` with no credentials or referrer,
//! HTTP/1.0 (so no chunked bodies), status 200, `Content-Type: application/json`, redirects
//! refused, at most [`MAX_RESPONSE`] bytes, a connect timeout and a total timeout. Results — a
//! document or a failure — are cached per RP ID for [`Limits::ttl`] (failures for a tenth).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use latchkey_webauthn::clientdata::Ancestry;
use latchkey_webauthn::origin::{AuthorizedRpId, Origin, RpId};
use latchkey_webauthn::related::{RelatedOrigins as Document, MAX_DOCUMENT_BYTES, MIN_LABELS};
use latchkey_webauthn::WebAuthnError;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Largest response (headers + body) read.
pub const MAX_RESPONSE: usize = MAX_DOCUMENT_BYTES + 16 * 1024;

/// Timeouts and cache lifetime.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// TCP connect + TLS handshake.
    pub connect: Duration,
    /// The whole fetch.
    pub total: Duration,
    /// How long a fetched document is reused.
    pub ttl: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(3),
            total: Duration::from_secs(10),
            ttl: Duration::from_secs(600),
        }
    }
}

type Cached = (Instant, Result<Arc<Document>, WebAuthnError>);

/// Most RP IDs whose answer is kept. Any web page can name RP IDs for latchkeyd to fetch (each
/// answer up to [`MAX_RESPONSE`], failures too), so the cache is bounded: expired answers go
/// first, then the oldest.
pub const MAX_CACHED: usize = 256;

/// Whether `answer`, fetched at `at`, is still fresh at `now`: a document for `ttl`, a failure
/// for a tenth of it.
fn fresh(
    ttl: Duration,
    at: Instant,
    answer: &Result<Arc<Document>, WebAuthnError>,
    now: Instant,
) -> bool {
    let ttl = if answer.is_ok() { ttl } else { ttl / 10 };
    now.saturating_duration_since(at) < ttl
}

/// The answers fetched, per RP ID, for [`Limits::ttl`] (failures for a tenth of it), at most
/// [`MAX_CACHED`] of them.
struct Cache {
    entries: HashMap<String, Cached>,
    /// How long a document is reused ([`Limits::ttl`]).
    ttl: Duration,
}

impl Cache {
    fn new(ttl: Duration) -> Self {
        Self {
            entries: HashMap::new(),
            ttl,
        }
    }

    /// The answer for `rp_id`, while it is fresh at `now`.
    fn get(&self, rp_id: &str, now: Instant) -> Option<Result<Arc<Document>, WebAuthnError>> {
        let (at, answer) = self.entries.get(rp_id)?;
        fresh(self.ttl, *at, answer, now).then(|| answer.clone())
    }

    /// Keeps `answer` for `rp_id`, fetched at `now`, within [`MAX_CACHED`] entries.
    fn insert(&mut self, rp_id: &str, now: Instant, answer: Result<Arc<Document>, WebAuthnError>) {
        if !self.entries.contains_key(rp_id) && self.entries.len() >= MAX_CACHED {
            let ttl = self.ttl;
            self.entries.retain(|_, (at, a)| fresh(ttl, *at, a, now));
            while self.entries.len() >= MAX_CACHED {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => self.entries.remove(&k),
                    None => break,
                };
            }
        }
        self.entries.insert(rp_id.to_owned(), (now, answer));
    }
}

/// The `/.well-known/webauthn` fetcher and its cache.
pub struct RelatedOrigins {
    tls: Arc<rustls::ClientConfig>,
    limits: Limits,
    connect_to: Option<SocketAddr>,
    cache: Mutex<Cache>,
    fetches: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for RelatedOrigins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelatedOrigins")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Building the fetcher failed.
#[derive(Debug, thiserror::Error)]
#[error("TLS setup for related origins failed: {0}")]
pub struct SetupError(String);

impl RelatedOrigins {
    /// A fetcher trusting the system's root certificates.
    pub fn with_system_roots(limits: Limits) -> Result<Self, SetupError> {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err(SetupError("no system root certificates".into()));
        }
        Self::with_roots(roots, limits, None)
    }

    /// A fetcher trusting `roots`; `connect_to` sends every connection to one address (tests).
    pub fn with_roots(
        roots: rustls::RootCertStore,
        limits: Limits,
        connect_to: Option<SocketAddr>,
    ) -> Result<Self, SetupError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SetupError(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            tls: Arc::new(tls),
            limits,
            connect_to,
            cache: Mutex::new(Cache::new(limits.ttl)),
            fetches: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// How many network fetches were made (cache misses).
    pub fn fetches(&self) -> usize {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Authorises `origin` for `rp_id` through the RP's document, or returns `fallback` (the
    /// suffix-check error) when the document cannot be had; a document that does not list the
    /// origin gives its own `SecurityError`.
    pub async fn check(
        &self,
        origin: &str,
        rp_id: Option<&str>,
        top_origin: Option<&str>,
        fallback: WebAuthnError,
    ) -> Result<(AuthorizedRpId, Ancestry), WebAuthnError> {
        let Ok(Origin::Web(web)) = Origin::parse(origin) else {
            return Err(fallback);
        };
        let Some(rp_id) = rp_id.and_then(|r| RpId::parse(r).ok()) else {
            return Err(fallback);
        };
        let doc = match self.document(&rp_id).await {
            Ok(d) => d,
            Err(e) => {
                tracing::info!(rp_id = rp_id.as_str(), error = %e, "related origins unavailable");
                return Err(fallback);
            }
        };
        let authorized = doc.authorize(&web, &rp_id, MIN_LABELS)?;
        let ancestry = match top_origin {
            None => Ancestry::SameOrigin,
            Some(top) => {
                let top = Origin::parse(top)?.serialize();
                if top == web.as_str() {
                    Ancestry::SameOrigin
                } else {
                    Ancestry::CrossOrigin {
                        top_origin: Some(top),
                    }
                }
            }
        };
        Ok((authorized, ancestry))
    }

    async fn document(&self, rp_id: &RpId) -> Result<Arc<Document>, WebAuthnError> {
        if let Some(answer) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(rp_id.as_str(), Instant::now())
        {
            return answer;
        }
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result =
            match tokio::time::timeout(self.limits.total, self.fetch(rp_id.as_str())).await {
                Ok(r) => r,
                Err(_) => Err(WebAuthnError::security(
                    "fetching /.well-known/webauthn timed out",
                )),
            }
            .and_then(|body| Document::parse(&body))
            .map(Arc::new);
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(rp_id.as_str(), Instant::now(), result.clone());
        result
    }

    async fn fetch(&self, host: &str) -> Result<Vec<u8>, WebAuthnError> {
        let err = |what: &str| {
            WebAuthnError::security(format!("/.well-known/webauthn from {host}: {what}"))
        };
        let connect = async {
            let tcp = match self.connect_to {
                Some(addr) => tokio::net::TcpStream::connect(addr).await,
                None => tokio::net::TcpStream::connect((host, 443)).await,
            }
            .map_err(|e| err(&format!("connect: {e}")))?;
            let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                .map_err(|_| err("bad server name"))?;
            tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| err(&format!("TLS: {e}")))
        };
        let mut tls = tokio::time::timeout(self.limits.connect, connect)
            .await
            .map_err(|_| err("connect timed out"))??;
        let request = format!(
            "GET /.well-known/webauthn HTTP/1.0\r\nHost: {host}\r\nAccept: application/json\r\nUser-Agent: latchkeyd\r\n\r\n"
        );
        tls.write_all(request.as_bytes())
            .await
            .map_err(|e| err(&e.to_string()))?;
        let mut raw = Vec::new();
        (&mut tls)
            .take(MAX_RESPONSE as u64 + 1)
            .read_to_end(&mut raw)
            .await
            .map_err(|e| err(&e.to_string()))?;
        if raw.len() > MAX_RESPONSE {
            return Err(err("response too large"));
        }
        parse_response(&raw).map_err(err)
    }
}

/// Checks an HTTP/1.x response: status 200, `application/json`; returns the body.
pub fn parse_response(raw: &[u8]) -> Result<Vec<u8>, &'static str> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status = lines.next().ok_or("no status line")?;
    let mut parts = status.split(' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") || parts.next() != Some("200") {
        return Err("status is not 200 (redirects are not followed)");
    }
    let json = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("content-type")
                && v.trim()
                    .split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        })
    });
    if !json {
        return Err("Content-Type is not application/json");
    }
    Ok(raw[end + 4..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any page can make latchkeyd fetch for RP IDs of its choosing: at most [`MAX_CACHED`]
    /// answers stay, expired ones go before fresh ones, and then the oldest.
    #[test]
    fn the_cache_keeps_at_most_its_bound_expired_answers_first() {
        let limits = Limits::default();
        let mut cache = Cache::new(limits.ttl);
        let start = Instant::now();
        let failed = || Err(WebAuthnError::security("no document"));
        let ok = || Ok(Arc::new(Document::parse(br#"{"origins":[]}"#).unwrap()));
        // A failure kept a tenth of the ttl, then many answers long after it.
        cache.insert("failed.example", start, failed());
        cache.insert("kept.example", start, ok());
        let later = start + limits.ttl / 5;
        for i in 0..1000 {
            let at = later + Duration::from_millis(i);
            cache.insert(&format!("a{i}.example"), at, ok());
            assert!(cache.entries.len() <= MAX_CACHED);
        }
        assert_eq!(cache.entries.len(), MAX_CACHED);
        let now = later + Duration::from_secs(1);
        // The newest answers are there; the oldest went.
        assert!(cache.get("a999.example", now).is_some());
        assert!(cache.get("a0.example", now).is_none());
        assert!(!cache.entries.contains_key("failed.example"));
        // Within its ttl an answer is reused, after it not.
        assert!(cache.get("a999.example", later + limits.ttl).is_some());
        assert!(cache.get("a999.example", later + limits.ttl * 2).is_none());
    }

    #[test]
    fn responses() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n\r\n{\"origins\":[]}";
        assert_eq!(parse_response(ok).unwrap(), b"{\"origins\":[]}");
        assert!(parse_response(b"HTTP/1.1 302 Found\r\nLocation: x\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n{}").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
