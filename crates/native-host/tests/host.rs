#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The host binary end to end: it refuses to serve unless its parent is a configured browser,
//! and otherwise forwards requests to latchkeyd (on a private bus, with the platform
//! authenticator and a scripted prompt; see examples/latchkey-browser-test-daemon.rs).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use latchkey_native_host::framing;
use serde_json::{json, Value};

const HOST: &str = env!("CARGO_BIN_EXE_latchkey-native-host");

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

struct TestDaemon {
    child: Child,
    address: String,
    record: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestDaemon {
    fn start(script: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script_path = dir.path().join("script");
        std::fs::write(&script_path, script).unwrap();
        let record = dir.path().join("record.jsonl");
        let daemon = example("latchkey-browser-test-daemon");
        // The host this test starts meets that latchkeyd, which no activation file names.
        latchkey_testkit::trust_as_latchkeyd(&daemon);
        let mut child = Command::new(&daemon)
            .arg("--privileged")
            .arg(HOST)
            // The host is started by this test binary, which plays the browser.
            .arg("--browser")
            .arg(this_test_binary())
            .arg("--script")
            .arg(&script_path)
            .arg("--record")
            .arg(&record)
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cargo test builds the examples");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let address = line.trim().strip_prefix("address=").unwrap().to_owned();
        line.clear();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        Self {
            child,
            address,
            record,
            _dir: dir,
        }
    }

    fn prompt_calls(&self, method: &str) -> usize {
        latchkey_testkit::prompt::calls(&self.record, method).len()
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        // Closing stdin stops it cleanly, bus included.
        drop(self.child.stdin.take());
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Host {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
}

impl Host {
    fn spawn(browsers: Option<&str>, bus: Option<&str>) -> Self {
        let mut cmd = Command::new(HOST);
        cmd.arg("chrome-extension://fffpidmmhigeegjochefhdhalmjmeamj/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env_remove("LATCHKEY_NATIVE_HOST_BROWSERS")
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
        if let Some(b) = browsers {
            cmd.env("LATCHKEY_NATIVE_HOST_BROWSERS", b);
        }
        if let Some(a) = bus {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", a);
        }
        let mut child = cmd.spawn().unwrap();
        Self {
            stdin: child.stdin.take(),
            stdout: child.stdout.take().unwrap(),
            child,
        }
    }

    fn send(&mut self, v: Value) {
        let bytes = framing::encode(&serde_json::to_vec(&v).unwrap()).unwrap();
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(&bytes).unwrap();
        stdin.flush().unwrap();
    }

    fn recv(&mut self) -> Value {
        let frame = framing::read_frame(&mut self.stdout).unwrap().unwrap();
        serde_json::from_slice(&frame).unwrap()
    }
}

fn this_test_binary() -> String {
    std::env::current_exe().unwrap().display().to_string()
}

#[test]
fn refuses_to_serve_when_its_parent_is_not_a_configured_browser() {
    // Default list (real browsers) and an explicit list without us: both refuse.
    for browsers in [
        None,
        Some("/usr/lib/chromium/chromium:/opt/google/chrome/chrome"),
    ] {
        let mut host = Host::spawn(browsers, None);
        let reply = host.recv();
        assert_eq!(reply["type"], "error");
        assert_eq!(reply["name"], "NotAllowedError");
        assert_eq!(reply["id"], Value::Null);
        let message = reply["message"].as_str().unwrap();
        assert!(
            message.contains(&this_test_binary()) && message.contains("not a configured browser"),
            "{message}"
        );
        let status = host.child.wait().unwrap();
        assert_eq!(status.code(), Some(2));
        // Nothing else was written.
        let mut rest = Vec::new();
        host.stdout.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }
}

#[test]
fn serves_when_its_parent_is_listed_and_reports_an_unreachable_daemon() {
    let mut host = Host::spawn(
        Some(&this_test_binary()),
        Some("unix:path=/nonexistent/bus"),
    );
    host.send(json!({"id": 4, "type": "getClientCapabilities"}));
    let reply = host.recv();
    assert_eq!(reply["id"], 4);
    assert_eq!(reply["name"], "NotSupportedError");
    assert!(reply["message"]
        .as_str()
        .unwrap()
        .contains("latchkeyd is unavailable"));
    drop(host.stdin.take());
    assert!(host.child.wait().unwrap().success());
}

fn create_options(rp_id: &str) -> Value {
    json!({
        "rp": {"id": rp_id, "name": "Example"},
        "user": {"id": "AQIDBA", "name": "alice", "displayName": "Alice"},
        "challenge": "AAECAwQFBgcICQoLDA0ODw",
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "authenticatorSelection": {"residentKey": "required", "userVerification": "preferred"}
    })
}

#[test]
fn forwards_ceremonies_capabilities_errors_and_cancellation_to_latchkeyd() {
    // Consent: approve, approve, deny, then hang (until dismissed); PIN: set then verify.
    let daemon = TestDaemon::start("approve\napprove\ndeny\nhang\npin 482916\n");
    let mut host = Host::spawn(Some(&this_test_binary()), Some(&daemon.address));
    let origin = "https://login.example.com";

    host.send(json!({"id": 1, "type": "create", "options": create_options("example.com"), "origin": origin, "topOrigin": origin}));
    let reg = host.recv();
    assert_eq!(reg["id"], 1, "{reg}");
    assert_eq!(reg["type"], "result", "{reg}");
    assert_eq!(reg["response"]["type"], "public-key");
    assert_eq!(reg["response"]["authenticatorAttachment"], "platform");
    let cdj = latchkey_webauthn_b64(
        reg["response"]["response"]["clientDataJSON"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(
        cdj,
        r#"{"type":"webauthn.create","challenge":"AAECAwQFBgcICQoLDA0ODw","origin":"https://login.example.com","crossOrigin":false}"#
    );
    let cred_id = reg["response"]["id"].as_str().unwrap().to_owned();

    host.send(json!({"id": 2, "type": "get", "options": {"rpId": "example.com", "challenge": "AAECAwQFBgcICQoLDA0ODw", "userVerification": "preferred"}, "origin": origin}));
    let auth = host.recv();
    assert_eq!(auth["type"], "result", "{auth}");
    assert_eq!(auth["response"]["id"], cred_id.as_str());
    assert_eq!(auth["response"]["response"]["userHandle"], "AQIDBA");

    // The user refuses.
    host.send(json!({"id": 3, "type": "create", "options": create_options("example.com"), "origin": origin}));
    let refused = host.recv();
    assert_eq!(
        (refused["id"].clone(), refused["name"].clone()),
        (json!(3), json!("NotAllowedError")),
        "{refused}"
    );

    // An RP ID the origin may not use.
    host.send(json!({"id": 4, "type": "create", "options": create_options("other.example"), "origin": origin}));
    let wrong = host.recv();
    assert_eq!(
        (wrong["id"].clone(), wrong["name"].clone()),
        (json!(4), json!("SecurityError")),
        "{wrong}"
    );

    // A request hangs in the prompt; another is answered meanwhile; cancel reaches Close().
    host.send(json!({"id": 5, "type": "get", "options": {"rpId": "example.com", "challenge": "AAECAwQFBgcICQoLDA0ODw"}, "origin": origin}));
    let deadline = Instant::now() + Duration::from_secs(10);
    while daemon.prompt_calls("Consent") < 4 {
        assert!(Instant::now() < deadline, "the prompt was never asked");
        std::thread::sleep(Duration::from_millis(20));
    }
    host.send(json!({"id": 6, "type": "getClientCapabilities"}));
    let caps = host.recv();
    assert_eq!(caps["id"], 6);
    assert_eq!(caps["type"], "capabilities");
    assert_eq!(
        caps["capabilities"]["userVerifyingPlatformAuthenticator"], true,
        "{caps}"
    );
    assert_eq!(caps["capabilities"]["hybridTransport"], false);
    // latchkeyd dismisses the prompt after every request; the hanging one is not yet dismissed.
    let dismissed = daemon.prompt_calls("Dismiss");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(daemon.prompt_calls("Dismiss"), dismissed);
    host.send(json!({"id": 5, "type": "cancel"}));
    let aborted = host.recv();
    assert_eq!(
        (aborted["id"].clone(), aborted["name"].clone()),
        (json!(5), json!("AbortError")),
        "{aborted}"
    );
    while daemon.prompt_calls("Dismiss") < dismissed + 1 {
        assert!(
            Instant::now() < deadline,
            "Close() never dismissed the prompt"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Malformed input gets a TypeError and the host keeps serving.
    host.send(json!({"id": 7, "type": "get", "origin": origin}));
    assert_eq!(host.recv()["name"], "TypeError");
    host.send(json!({"id": 8, "type": "getClientCapabilities"}));
    assert_eq!(host.recv()["type"], "capabilities");

    drop(host.stdin.take());
    assert!(host.child.wait().unwrap().success());
}

#[test]
fn an_oversized_frame_fails_alone_and_the_host_keeps_serving() {
    // One create waits in the prompt while the browser sends a frame over the host's limit.
    let daemon = TestDaemon::start("hang\npin 482916\n");
    let mut host = Host::spawn(Some(&this_test_binary()), Some(&daemon.address));
    let origin = "https://login.example.com";
    host.send(json!({"id": 1, "type": "create", "options": create_options("example.com"), "origin": origin}));
    let deadline = Instant::now() + Duration::from_secs(10);
    while daemon.prompt_calls("Consent") < 1 {
        assert!(Instant::now() < deadline, "the prompt was never asked");
        std::thread::sleep(Duration::from_millis(20));
    }
    let len = framing::MAX_INCOMING + 1;
    let mut frame = u32::try_from(len).unwrap().to_ne_bytes().to_vec();
    frame.extend(std::iter::repeat_n(b' ', len));
    // A host that stops reading breaks the pipe; what it answered is checked below.
    let stdin = host.stdin.as_mut().unwrap();
    let _ = stdin.write_all(&frame).and_then(|()| stdin.flush());
    let refused = host.recv();
    assert_eq!(refused["id"], Value::Null, "{refused}");
    assert_eq!(refused["type"], "error", "{refused}");
    // The host still serves, and request 1 still waits in the prompt.
    host.send(json!({"id": 2, "type": "getClientCapabilities"}));
    let caps = host.recv();
    assert_eq!(
        (caps["id"].clone(), caps["type"].clone()),
        (json!(2), json!("capabilities")),
        "{caps}"
    );
    assert_eq!(refused["name"], "TypeError", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("exceeds"),
        "{refused}"
    );
    assert_eq!(daemon.prompt_calls("Dismiss"), 0);
    host.send(json!({"id": 1, "type": "cancel"}));
    let aborted = host.recv();
    assert_eq!(
        (aborted["id"].clone(), aborted["name"].clone()),
        (json!(1), json!("AbortError")),
        "{aborted}"
    );
    drop(host.stdin.take());
    assert!(host.child.wait().unwrap().success());
}

fn latchkey_webauthn_b64(s: &str) -> String {
    // base64url without padding, decoded by hand to keep the test independent of our codecs.
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = A.iter().position(|&a| a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8(out).unwrap()
}
