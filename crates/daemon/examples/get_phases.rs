//! Where latchkeyd spends a get: serves latchkeyd in this process on a private `dbus-daemon`
//! with the scripted test prompt and the platform authenticator over a memory store (as
//! `cargo bench -p latchkey-bench` row 3 does), runs `N` gets (default 200) and prints the
//! median of each phase the daemon logs at `debug` (`phase=… us=…`) and of the whole call.
//!
//! `cargo build --release -p latchkey-daemon --examples && target/release/examples/get_phases [N]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a measuring tool: fail loudly

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use latchkey_api::{CallOptions, CredentialsClient, Kind};
use latchkey_daemon::server::Timeouts;
use latchkey_testkit::prompt::{self, Prompt};
use latchkey_testkit::{daemon, platform, policy, TestBus};

/// Collects the formatted log lines.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let lines = Lines::default();
    let sink = lines.clone();
    tracing_subscriber::fmt()
        .with_env_filter("latchkey_daemon=debug")
        .with_ansi(false)
        .without_time()
        .with_writer(move || sink.clone())
        .init();

    let bus = TestBus::start();
    // No record: a JSON line per prompt call would be written inside the measured path.
    let _prompt = Prompt::spawn_with(
        &prompt::prompt_bin(),
        &bus,
        "approve\npin 482916\n",
        false,
        false,
    )
    .unwrap();
    let policy = format!(
        "{}{}",
        policy::privileged("phases", &policy::this_executable()),
        policy::trusted_prompt()
    );
    let mut settings = daemon::settings(&policy, platform::memory_platform());
    settings.timeouts = Timeouts::default();
    let address = bus.address.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut totals = Vec::new();
    rt.block_on(async {
        let _daemon = daemon::start_with_settings(&bus, settings).await;
        let client = CredentialsClient::connect(Some(&address)).await.unwrap();
        let opts = CallOptions {
            origin: Some("https://login.example.com".into()),
            ..CallOptions::default()
        };
        let create = serde_json::json!({
            "rp": {"id": "example.com", "name": "Example"},
            "user": {"id": b64(b"phases-user"), "name": "phases", "displayName": "Phases"},
            "challenge": b64(&[7; 32]),
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
            "authenticatorSelection": {"residentKey": "required", "userVerification": "required"},
            "attestation": "none",
        })
        .to_string();
        let out = client.call(Kind::Create, &create, &opts).await.unwrap();
        assert_eq!(out.code, 0, "{:?}", out.message());
        lines.0.lock().unwrap().clear();
        for i in 0..n {
            let get = serde_json::json!({
                "challenge": b64(&[u8::try_from(i % 256).unwrap(); 32]),
                "rpId": "example.com",
                "userVerification": "required",
            })
            .to_string();
            let t = Instant::now();
            let out = client.call(Kind::Get, &get, &opts).await.unwrap();
            totals.push(u64::try_from(t.elapsed().as_micros()).unwrap());
            assert_eq!(out.code, 0, "{:?}", out.message());
        }
    });

    let text = String::from_utf8_lossy(&lines.0.lock().unwrap()).into_owned();
    let mut phases: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in text.lines() {
        let field = |name: &str| {
            let at = line.find(&format!(" {name}="))? + name.len() + 2;
            line[at..]
                .split_whitespace()
                .next()
                .map(|v| v.trim_matches('"').to_owned())
        };
        if let (Some(p), Some(us)) = (field("phase"), field("us")) {
            if let Ok(us) = us.parse() {
                phases.entry(p).or_default().push(us);
            }
        }
    }
    println!("{n} gets; medians:");
    for (p, v) in &mut phases {
        println!("  {p:<14} {:>6} µs  ({} samples)", median(v), v.len());
    }
    println!("  {:<14} {:>6} µs", "whole call", median(&mut totals));
}
