//! A local HTTPS server for `/.well-known/webauthn` (Related Origin Requests, WebAuthn L3 §5.11)
//! with a certificate made here, and a [`RelatedOrigins`] fetcher that trusts only it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use latchkey_daemon::related::{Limits, RelatedOrigins};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A running well-known server for `example.com` and the fetcher pointed at it.
pub struct WellKnown {
    /// The fetcher to put in `Settings::related_origins`.
    pub related: Arc<RelatedOrigins>,
    /// Requests served so far.
    pub fetches: Arc<AtomicUsize>,
}

impl WellKnown {
    /// Documents fetched so far.
    pub fn fetched(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// Serves `{"origins": origins}` as `https://example.com/.well-known/webauthn`.
pub async fn serve_related_origins(origins: &[&str]) -> WellKnown {
    let body = serde_json::json!({ "origins": origins }).to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();
    let key = rcgen::generate_simple_self_signed(vec!["example.com".to_owned()]).unwrap();
    let cert_der = key.cert.der().clone();
    let key_der =
        rustls::pki_types::PrivateKeyDer::try_from(key.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key_der)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let count = fetches.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let response = response.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 2048];
                let n = tls.read(&mut buf).await.unwrap_or(0);
                if buf[..n].starts_with(b"GET /.well-known/webauthn ") {
                    count.fetch_add(1, Ordering::SeqCst);
                    let _ = tls.write_all(&response).await;
                }
                let _ = tls.shutdown().await;
            });
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let related =
        Arc::new(RelatedOrigins::with_roots(roots, Limits::default(), Some(addr)).unwrap());
    WellKnown { related, fetches }
}
