#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Every dialog state of the prompt, driven through AT-SPI the way a screen reader would, on a
//! private Xvfb desktop; latchkeyd's side of `dev.latchkey.Prompt1` is played by the test
//! (owning `dev.latchkey.Credentials`). Screenshots of each state, light and dark, are saved in
//! `target/ui-screenshots/`.

mod gui;

use std::time::Duration;

use futures_util::StreamExt as _;
use gui::caller::{self, consent_details, dict};
use gui::{Desktop, Driver, Scheme};
use zbus::zvariant::{OwnedValue, Value};

struct Session {
    desktop: Desktop,
    _ui: gui::UiProcess,
    rt: tokio::runtime::Handle,
    prompt: caller::Prompt1Proxy<'static>,
    _conn: zbus::Connection,
    at: Driver,
    scheme: Scheme,
}

impl Session {
    /// A desktop with the prompt running; call inside `rt` (zbus tidies up on it when the
    /// session's connection goes).
    fn start(rt: tokio::runtime::Handle, scheme: Scheme, extra_env: &[(&str, &str)]) -> Self {
        let desktop = Desktop::start_with(None, extra_env);
        let ui = desktop.start_ui(scheme, &[]);
        desktop.wait_for_name("dev.latchkey.Prompt");
        let conn = rt.block_on(caller::connect(&desktop.bus_address, true));
        let prompt = rt.block_on(caller::prompt(&conn));
        let at = desktop.driver();
        Self {
            desktop,
            _ui: ui,
            rt,
            prompt,
            _conn: conn,
            at,
            scheme,
        }
    }

    /// A picture of the prompt as it is now.
    fn shot(&self, state: &str) {
        // Let GTK draw the frame the accessibility tree already describes.
        std::thread::sleep(Duration::from_millis(300));
        self.desktop
            .screenshot(None, &format!("{state}-{}", self.scheme.name()));
    }

    fn labels(&mut self) -> Vec<String> {
        self.at.texts().0
    }
}

/// Whether the accessible tree (`Driver::tree`) shows the button `name` as sensitive.
fn button_sensitive(tree: &str, name: &str) -> bool {
    let quoted = format!("'{name}'");
    let line = tree
        .lines()
        .find(|l| l.contains("button") && l.contains(&quoted))
        .unwrap_or_else(|| panic!("no button {name} in\n{tree}"));
    line.split_whitespace()
        .last()
        .is_some_and(|states| states.split(',').any(|st| st == "sensitive"))
}

/// Waits until the button `name` is (or is not) sensitive as AT-SPI reports it, which follows
/// the widget an event later; each look is a call to the application, bounded in number.
fn until_button(at: &mut Driver, name: &str, sensitive: bool) {
    let mut tree = String::new();
    for _ in 0..500 {
        tree = at.tree();
        if button_sensitive(&tree, name) == sensitive {
            return;
        }
    }
    panic!(
        "{name} never became {}sensitive:\n{tree}",
        if sensitive { "" } else { "in" }
    );
}

fn has(texts: &[String], want: &str) -> bool {
    texts.iter().any(|t| t == want)
}

#[track_caller]
fn assert_has(texts: &[String], want: &str) {
    assert!(
        has(texts, want),
        "{want:?} is not shown; labels: {texts:#?}"
    );
}

fn walk_every_state(scheme: Scheme) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _inside = rt.enter();
    let mut s = Session::start(rt.handle().clone(), scheme, &[]);
    let version = s.rt.block_on(s.prompt.version()).unwrap();
    assert_eq!(version, 2);

    // Sign in: consent, then the device PIN, then a wrong PIN with tries left, then cancel.
    let p = s.prompt.clone();
    let call =
        s.rt.spawn(async move { p.consent("r1", consent_details("get", "example.com")).await });
    s.at.wait_text("Sign in to example.com");
    let (texts, buttons) = s.at.texts();
    assert_has(&texts, "example.com");
    assert_has(&texts, "https://example.com");
    assert_has(&texts, "Firefox — via native messaging host");
    assert!(!has(&texts, "Unverified app"));
    assert_eq!(buttons, ["Cancel", "Continue"], "{}", s.at.tree());
    s.shot("consent-get");
    s.at.press("Continue");
    let (code, results) = s.rt.block_on(call).unwrap().unwrap();
    assert_eq!((code, results.len()), (0, 0));

    let p = s.prompt.clone();
    let pin = s.rt.spawn(async move {
        let d = dict(&[
            ("authenticator", Value::from("This device")),
            ("authenticator_kind", Value::from("platform")),
            ("retries", Value::from(8u32)),
            ("rp_id", Value::from("example.com")),
        ]);
        caller::request_pin(&p, "r1", d).await
    });
    s.at.wait_text("Enter your device PIN");
    // The PIN dialog names the site (after a remembered decision it is the only dialog).
    assert_has(&s.labels(), "for example.com");
    s.shot("pin-verify");
    // "Continue" follows whether the field holds anything (asked by length only): typed, it
    // can be pressed; emptied again, it cannot.
    let tree = s.at.tree();
    assert!(!button_sensitive(&tree, "Continue"), "{tree}");
    s.at.set_text("PIN", "12");
    until_button(&mut s.at, "Continue", true);
    s.at.set_text("PIN", "");
    until_button(&mut s.at, "Continue", false);
    s.at.set_text("PIN", "1234");
    s.at.press("Continue");
    assert_eq!(s.rt.block_on(pin).unwrap(), (0, "1234".to_owned()));

    let p = s.prompt.clone();
    let pin = s.rt.spawn(async move {
        let d = dict(&[
            ("authenticator", Value::from("This device")),
            ("authenticator_kind", Value::from("platform")),
            ("retries", Value::from(2u32)),
            ("wrong_pin", Value::from(true)),
            ("rp_id", Value::from("example.com")),
        ]);
        caller::request_pin(&p, "r1", d).await
    });
    s.at.wait_text("Wrong PIN. 2 tries left.");
    // As latchkeyd asks it again: with the site, under the title, above the retries.
    assert_has(&s.labels(), "for example.com");
    s.shot("pin-wrong");
    s.at.press("Cancel");
    assert_eq!(s.rt.block_on(pin).unwrap(), (1, String::new()));
    s.at.wait_gone();

    // Create from an unverified app, embedded in another site; then the first-use PIN.
    let p = s.prompt.clone();
    let call = s.rt.spawn(async move {
        let mut d = consent_details("create", "example.com");
        d.insert("caller", Value::from("helper-tool"));
        d.remove("native_host");
        d.insert("app_id", Value::from("helper-tool"));
        d.insert("caller_verified", Value::from(false));
        d.insert("caller_class", Value::from("unknown"));
        d.insert("top_origin", Value::from("https://news.example.net"));
        d.insert("remember_offer", Value::from(true));
        p.consent("r2", d).await
    });
    s.at.wait_text("Create a passkey for example.com");
    let (texts, buttons) = s.at.texts();
    assert_has(&texts, "Unverified app");
    assert_has(&texts, "helper-tool");
    assert_has(&texts, "https://news.example.net");
    assert_has(&texts, "ada@example.com");
    // No "always allow" for an unverified app, whatever latchkeyd offers.
    assert_eq!(buttons, ["Cancel", "Continue"]);
    s.shot("consent-unverified");
    s.at.press("Continue");
    assert_eq!(s.rt.block_on(call).unwrap().unwrap().0, 0);

    let p = s.prompt.clone();
    let pin = s.rt.spawn(async move {
        let d = dict(&[
            ("authenticator", Value::from("This device")),
            ("authenticator_kind", Value::from("platform")),
            ("new_pin", Value::from(true)),
            ("min_length", Value::from(6u32)),
        ]);
        caller::request_pin(&p, "r2", d).await
    });
    s.at.wait_text("Create a PIN for this device");
    assert_has(&s.labels(), "At least 6 characters.");
    s.shot("pin-create");
    s.at.set_text("New PIN", "123456");
    s.at.set_text("Confirm PIN", "123465");
    s.at.wait_text("The PINs do not match.");
    s.shot("pin-create-mismatch");
    s.at.set_text("Confirm PIN", "123456");
    s.at.press("Continue");
    assert_eq!(s.rt.block_on(pin).unwrap(), (0, "123456".to_owned()));
    s.rt.block_on(s.prompt.dismiss("r2")).unwrap();
    s.at.wait_gone();

    // A privileged browser: "always allow", then where to create, then a security key's states.
    let p = s.prompt.clone();
    let call = s.rt.spawn(async move {
        let mut d = consent_details("create", "example.com");
        d.insert("remember_offer", Value::from(true));
        p.consent("r3", d).await
    });
    s.at.wait_text("Create a passkey for example.com");
    s.shot("consent-create-remember");
    s.at.press("Always allow Firefox to use passkeys for example.com");
    s.at.press("Continue");
    let (code, results) = s.rt.block_on(call).unwrap().unwrap();
    assert_eq!(code, 0);
    assert_eq!(results.get("remember"), Some(&OwnedValue::from(true)));

    let p = s.prompt.clone();
    let choice = s.rt.spawn(async move {
        let choices = vec![
            dict(&[
                ("id", Value::from("platform")),
                ("kind", Value::from("platform")),
            ]),
            dict(&[
                ("id", Value::from("keys")),
                ("kind", Value::from("security-key")),
            ]),
            dict(&[
                ("id", Value::from("hybrid")),
                ("kind", Value::from("hybrid")),
            ]),
            dict(&[
                ("id", Value::from("kp")),
                ("kind", Value::from("provider")),
                ("label", Value::from("KeePassXC")),
                ("detail", Value::from("2 passkeys for this site")),
            ]),
        ];
        let d = dict(&[
            ("kind", Value::from("create")),
            ("rp_id", Value::from("example.com")),
        ]);
        p.choose("r3", d, choices).await
    });
    s.at.wait_text("Where do you want to save your passkey for example.com?");
    let (_, buttons) = s.at.texts();
    for b in [
        "This device",
        "A security key",
        "A phone or tablet",
        "KeePassXC",
        "Cancel",
    ] {
        assert!(
            buttons.iter().any(|x| x == b),
            "{b:?} missing from {buttons:?}"
        );
    }
    s.shot("choose-create");
    s.at.press("A security key");
    assert_eq!(
        s.rt.block_on(choice).unwrap().unwrap(),
        (0, "keys".to_owned())
    );

    // (screenshot, ShowStatus fields, a label it shows)
    type Case<'a> = (&'a str, Vec<(&'a str, Value<'a>)>, &'a str);
    let statuses: [Case<'_>; 7] = [
        (
            "status-insert-key",
            vec![("kind", Value::from("insert-key"))],
            "Insert your security key",
        ),
        (
            "status-touch-key",
            vec![
                ("kind", Value::from("touch-key")),
                ("authenticator", Value::from("YubiKey 5 NFC")),
            ],
            "Touch your security key",
        ),
        (
            "status-select-key",
            vec![("kind", Value::from("select-key"))],
            "Touch the security key you want to use",
        ),
        (
            "status-fingerprint",
            vec![("kind", Value::from("fingerprint"))],
            "Touch the fingerprint sensor",
        ),
        (
            "status-fingerprint-retry",
            vec![
                ("kind", Value::from("fingerprint-retry")),
                ("retries", Value::from(2u32)),
            ],
            "Not recognised. 2 tries left.",
        ),
        (
            "status-error",
            vec![
                ("kind", Value::from("error")),
                ("message", Value::from("The security key was removed.")),
            ],
            "The security key was removed.",
        ),
        (
            "status-pin-set",
            vec![("kind", Value::from("pin-set"))],
            "Your new PIN is set",
        ),
    ];
    for (name, fields, text) in statuses {
        let d = dict(&fields);
        s.rt.block_on(s.prompt.show_status("r3", d)).unwrap();
        s.at.wait_text(text);
        s.shot(name);
    }
    // Version 1's notice lines become the same states.
    s.rt.block_on(s.prompt.notice("r3", "Touch your security key"))
        .unwrap();
    s.at.wait_text("Touch the button or the metal contact on your key.");
    // Cancelling while nothing waits tells latchkeyd with the Cancelled signal.
    let mut cancelled = s.rt.block_on(s.prompt.receive_cancelled()).unwrap();
    s.at.press("Cancel");
    let signal = s.rt.block_on(cancelled.next()).unwrap();
    assert_eq!(signal.args().unwrap().request_id(), "r3");
    s.at.wait_gone();

    // Several accounts, after the request's consent (which names the site, as latchkeyd asks in
    // a get): newest first; the answer is the index in latchkeyd's order.
    let p = s.prompt.clone();
    let consent =
        s.rt.spawn(async move { p.consent("r4", consent_details("get", "example.com")).await });
    s.at.wait_text("Sign in to example.com");
    s.at.press("Continue");
    assert_eq!(s.rt.block_on(consent).unwrap().unwrap().0, 0);
    let p = s.prompt.clone();
    let chosen = s.rt.spawn(async move {
        let accounts = vec![
            dict(&[
                ("name", Value::from("ada")),
                ("display_name", Value::from("Ada Lovelace")),
                ("created", Value::from(100u64)),
            ]),
            dict(&[
                ("name", Value::from("grace")),
                ("display_name", Value::from("Grace Hopper")),
                ("created", Value::from(300u64)),
            ]),
            dict(&[
                ("name", Value::from("alan")),
                ("display_name", Value::from("Alan Turing")),
                ("created", Value::from(200u64)),
            ]),
        ];
        p.choose_account("r4", accounts).await
    });
    s.at.wait_text("Choose an account");
    let (texts, buttons) = s.at.texts();
    assert_eq!(buttons, ["grace", "alan", "ada", "Cancel"], "newest first");
    assert_has(&texts, "Grace Hopper");
    assert_has(&texts, "to sign in to example.com");
    s.shot("accounts");
    s.at.press("grace");
    assert_eq!(s.rt.block_on(chosen).unwrap().unwrap(), (0, 1));

    let p = s.prompt.clone();
    let pin = s.rt.spawn(async move {
        let d = dict(&[
            ("authenticator", Value::from("YubiKey 5 NFC")),
            ("retries", Value::from(0u32)),
        ]);
        caller::request_pin(&p, "r4", d).await
    });
    s.at.wait_text("PIN blocked");
    let (_, buttons) = s.at.texts();
    assert_eq!(buttons, ["Cancel"]);
    s.shot("pin-blocked");
    s.at.press("Cancel");
    assert_eq!(s.rt.block_on(pin).unwrap(), (1, String::new()));
    s.at.wait_gone();

    // Changing a security key's PIN: current, new, confirmation.
    let p = s.prompt.clone();
    let change = s.rt.spawn(async move {
        let d = dict(&[
            ("authenticator", Value::from("YubiKey 5 NFC")),
            ("min_length", Value::from(4u32)),
        ]);
        caller::change_pin(&p, "r5", d).await
    });
    s.at.wait_text("Change the PIN of your security key");
    s.shot("pin-change");
    s.at.set_text("Current PIN", "1111");
    s.at.set_text("New PIN", "2222");
    s.at.set_text("Confirm PIN", "2222");
    s.at.press("Continue");
    assert_eq!(
        s.rt.block_on(change).unwrap(),
        (0, "1111".to_owned(), "2222".to_owned())
    );
    s.rt.block_on(s.prompt.dismiss("r5")).unwrap();
    s.at.wait_gone();
}

#[test]
fn every_state_light() {
    walk_every_state(Scheme::Light);
}

#[test]
fn every_state_dark() {
    walk_every_state(Scheme::Dark);
}
