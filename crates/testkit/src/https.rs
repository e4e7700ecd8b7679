//! A local HTTPS server for `/.well-known/webauthn` (Related Origin Requests, WebAuthn L3 §5.11)
//! with a certificate made here for `example.com`, and a [`RelatedOrigins`] fetcher that trusts
//! only it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use latchkey_daemon::related::{Limits, RelatedOrigins};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A running server.
pub struct Server {
    /// Where it listens (127.0.0.1, a free port).
    pub addr: SocketAddr,
    /// The only root a client needs: the server's own certificate.
    pub roots: rustls::RootCertStore,
    /// Requests for `/.well-known/webauthn` served so far.
    pub fetches: Arc<AtomicUsize>,
}

impl Server {
    /// Documents fetched so far.
    pub fn fetched(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// A fetcher that trusts only this server and sends every request for any host to it.
    pub fn fetcher(&self, limits: Limits) -> Arc<RelatedOrigins> {
        Arc::new(
            RelatedOrigins::with_roots(self.roots.clone(), limits, Some(self.addr))
                .unwrap_or_else(|e| panic!("the related origins fetcher: {e}")),
        )
    }
}

/// An HTTP/1.1 200 answer with a JSON `body`.
pub fn json_response(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `response` to every TLS connection for `example.com` that asks for
/// `GET /.well-known/webauthn` as latchkeyd does (HTTP/1.0, `Host: example.com`), and counts
/// them; with `hang` it never answers.
pub async fn serve(response: Vec<u8>, hang: bool) -> Server {
    let key = rcgen::generate_simple_self_signed(vec!["example.com".to_owned()])
        .unwrap_or_else(|e| panic!("certificate: {e}"));
    let cert_der = key.cert.der().clone();
    let key_der = rustls::pki_types::PrivateKeyDer::try_from(key.signing_key.serialize_der())
        .unwrap_or_else(|e| panic!("key: {e}"));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(vec![cert_der.clone()], key_der)
        })
        .unwrap_or_else(|e| panic!("TLS server: {e}"));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("listening: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local address: {e}"));
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
                if !buf[..n]
                    .starts_with(b"GET /.well-known/webauthn HTTP/1.0\r\nHost: example.com\r\n")
                {
                    return;
                }
                count.fetch_add(1, Ordering::SeqCst);
                if hang {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                let _ = tls.write_all(&response).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(cert_der)
        .unwrap_or_else(|e| panic!("root store: {e}"));
    Server {
        addr,
        roots,
        fetches,
    }
}

/// A running well-known server for `example.com` and the fetcher pointed at it.
pub struct WellKnown {
    /// The fetcher to put in `Settings::related_origins`.
    pub related: Arc<RelatedOrigins>,
    server: Server,
}

impl WellKnown {
    /// Documents fetched so far.
    pub fn fetched(&self) -> usize {
        self.server.fetched()
    }
}

/// Serves `{"origins": origins}` as `https://example.com/.well-known/webauthn`.
pub async fn serve_related_origins(origins: &[&str]) -> WellKnown {
    let body = serde_json::json!({ "origins": origins }).to_string();
    let server = serve(json_response(&body), false).await;
    WellKnown {
        related: server.fetcher(Limits::default()),
        server,
    }
}
