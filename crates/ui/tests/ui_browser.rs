#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The browser end to end through the graphical prompt: Debian's Chromium (headless, with the
//! extension; `tests/browser/chromium-page.mjs`) → the native messaging host → the real
//! latchkeyd (its platform worker and file store) → latchkey-ui, started by D-Bus activation and
//! answered through AT-SPI as a person would: the test finds the dialog, reads the RP ID and the
//! caller from it, types the PIN and presses "Continue". The page's RP (python-fido2's
//! `Fido2Server`, `tests/browser/rp_server.py`) verifies a registration and a sign-in.
//!
//! It needs Node.js with `tests/browser`'s packages (`npm ci` there), Chromium and the Python
//! environment of `tests/python`; without them it is skipped, unless `LATCHKEY_REQUIRE_PEERS` is
//! set (`scripts/test.sh` sets it, and prepares all three first).

mod gui;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

use gui::latchkeyd::{person, workspace_binary};
use gui::session::{create_pin, Session};
use gui::Desktop;
use serde_json::Value;

const PIN: &str = "482916";
/// The browser policy names as Debian installs it (`data/policy.d/50-browsers.toml`).
const CHROMIUM: &str = "/usr/lib/chromium/chromium";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What the browser side needs, or why it cannot run.
fn missing() -> Option<String> {
    let browser = root().join("tests/browser");
    let needs = [
        (
            browser.join("node_modules/playwright-core"),
            "npm ci in tests/browser",
        ),
        (
            root().join("tests/python/.venv/bin/python"),
            "the Python environment of tests/python",
        ),
        (PathBuf::from("/usr/bin/chromium"), "Debian's chromium"),
        (PathBuf::from(CHROMIUM), "Debian's chromium"),
    ];
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node {
        return Some("node".into());
    }
    needs
        .iter()
        .find(|(p, _)| !p.exists())
        .map(|(p, what)| format!("{} ({what})", p.display()))
}

/// Chromium on the RP page, its native host reaching latchkeyd on `d`'s bus.
struct Browser {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    origin: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing its stdin ends the script, which closes Chromium and stops the RP server; a
        // kill would leave the server behind.
        drop(self.stdin.take());
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn start(d: &Desktop, host: &Path) -> Self {
        let mut child = d
            .command("node")
            .arg(root().join("tests/browser/chromium-page.mjs"))
            .arg(host)
            .current_dir(root().join("tests/browser"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut b = Self {
            child,
            stdin: Some(stdin),
            stdout,
            origin: String::new(),
        };
        let ready = b.line();
        assert_eq!(ready["ready"], Value::Bool(true), "{ready}");
        b.origin = ready["origin"].as_str().unwrap().to_owned();
        b
    }

    fn line(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("the page said {line:?}: {e}"))
    }

    /// The page's `window.rp.register()` or `signIn()`, as `chromium-page.mjs` reports it.
    fn call(&mut self, what: &str) -> Value {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{what}").unwrap();
        stdin.flush().unwrap();
        self.line()
    }
}

#[test]
fn chromium_registers_and_signs_in_through_latchkey_ui_and_the_rp_verifies() {
    if let Some(what) = missing() {
        assert!(
            std::env::var_os("LATCHKEY_REQUIRE_PEERS").is_none(),
            "{what} is required (LATCHKEY_REQUIRE_PEERS is set)"
        );
        eprintln!("skipped: no {what}");
        return;
    }
    let host = workspace_binary("latchkey-native-host");
    // As the installed policy has it: the native host is privileged when Chromium started it.
    let policy = format!(
        "[[native_host]]\nexecutable = \"{}\"\n[[privileged]]\nname = \"Chromium\"\nexecutable = \"{CHROMIUM}\"\n",
        host.display()
    );
    let s = Session::start_with(&policy, &[]);
    let mut browser = Browser::start(&s.d, &host);
    let origin = browser.origin.clone();

    // Register: the consent names the RP ID, the page's origin and Chromium through its native
    // host; the passkey goes to this device, and the platform PIN is created.
    let camera = s.d.camera();
    let o = origin.clone();
    let gui = person(s.d.driver(), move |at| {
        at.wait_text("Create a passkey for localhost");
        let (texts, _) = at.texts();
        assert!(texts.iter().any(|t| t == "localhost"), "{texts:?}");
        assert!(texts.contains(&o), "{texts:?}");
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with("Chromium") && t.contains("via native messaging host")),
            "{texts:?}"
        );
        assert!(!texts.iter().any(|t| t == "Unverified app"), "{texts:?}");
        camera.screenshot(None, "browser-consent-light");
        at.press("Continue");
        // The page leaves the authenticator open and latchkeyd may use keys (on PC/SC readers):
        // it asks where.
        at.wait_text("Where do you want to save your passkey for localhost?");
        at.press("This device");
        create_pin(at, PIN);
    });
    let reg = browser.call("register");
    let at = gui.join().unwrap();
    assert_eq!(
        reg["done"]["ok"],
        Value::Bool(true),
        "{reg}\n{}",
        s.lk.log()
    );
    assert_eq!(reg["done"]["uv"], Value::Bool(true), "{reg}");
    assert_eq!(reg["clientData"]["type"], "webauthn.create");
    assert_eq!(reg["clientData"]["origin"], Value::String(origin.clone()));
    assert_eq!(reg["authenticatorAttachment"], "platform");
    assert_eq!(reg["status"], "Passkey registered");

    // Sign in: the consent, then the PIN just made; the RP checks the signature.
    let gui = person(at, |at| {
        at.wait_text("Sign in to localhost");
        at.press("Continue");
        at.wait_text("Enter your device PIN");
        at.set_text("PIN", PIN);
        at.press("Continue");
        at.wait_gone();
    });
    let get = browser.call("signIn");
    gui.join().unwrap();
    assert_eq!(
        get["done"]["ok"],
        Value::Bool(true),
        "{get}\n{}",
        s.lk.log()
    );
    assert_eq!(get["done"]["user"], "alice");
    assert_eq!(get["clientData"]["type"], "webauthn.get");
    assert_eq!(get["userHandle"], "user-alice");
    assert_eq!(get["status"], "Signed in as alice");

    // Cancel in the dialog: the page's call rejects with NotAllowedError.
    let gui = person(s.d.driver(), |at| {
        at.wait_text("Sign in to localhost");
        at.press("Cancel");
        at.wait_gone();
    });
    let refused = browser.call("signIn");
    gui.join().unwrap();
    assert_eq!(refused["error"], "NotAllowedError", "{refused}");
}
