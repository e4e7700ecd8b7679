#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The prompt's bus contract: its introspection matches the committed interface XML; only the
//! owner of `dev.latchkey.Credentials` may call it; malformed, oversized and hostile input is
//! refused or shown as plain, cut text; D-Bus activation starts it and it exits when idle.

mod gui;

use std::time::{Duration, Instant};

use gui::caller::{self, consent_details, dict};
use gui::{Desktop, Scheme};
use zbus::zvariant::Value;

/// The committed contract, version 2 (data/dev.latchkey.Prompt1.xml).
const XML: &str = latchkey_prompt::INTERFACE_XML;

/// Methods (with typed, directed arguments), signals and properties of `dev.latchkey.Prompt1`.
fn shape(xml: &str) -> Vec<String> {
    let node = zbus_xml::Node::from_reader(xml.as_bytes()).unwrap();
    let iface = node
        .interfaces()
        .iter()
        .find(|i| i.name() == "dev.latchkey.Prompt1")
        .expect("no dev.latchkey.Prompt1");
    let mut out = Vec::new();
    for m in iface.methods() {
        let args: Vec<String> = m
            .args()
            .iter()
            .map(|a| format!("{:?} {:?} {:?}", a.name(), a.ty(), a.direction()))
            .collect();
        out.push(format!("method {}({})", m.name(), args.join(", ")));
    }
    for s in iface.signals() {
        let args: Vec<String> = s
            .args()
            .iter()
            .map(|a| format!("{:?} {:?}", a.name(), a.ty()))
            .collect();
        out.push(format!("signal {}({})", s.name(), args.join(", ")));
    }
    for p in iface.properties() {
        out.push(format!(
            "property {} {:?} {:?}",
            p.name(),
            p.ty(),
            p.access()
        ));
    }
    out.sort();
    out
}

#[test]
fn introspection_matches_the_committed_xml() {
    let d = Desktop::start(None);
    let _ui = d.start_ui(Scheme::Light, &[]);
    d.wait_for_name("dev.latchkey.Prompt");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let live = rt.block_on(async {
        let conn = caller::connect(&d.bus_address, false).await;
        let p = zbus::fdo::IntrospectableProxy::builder(&conn)
            .destination("dev.latchkey.Prompt")
            .unwrap()
            .path("/dev/latchkey/Prompt")
            .unwrap()
            .build()
            .await
            .unwrap();
        p.introspect().await.unwrap()
    });
    let expected = shape(XML);
    assert!(expected.len() >= 10, "{expected:#?}");
    assert_eq!(shape(&live), expected);
}

/// Version 2 only adds: every method, signal and property of version 1 as it was committed
/// (`latchkey_prompt::INTERFACE_XML_V1`, what a version 1 prompt serves and latchkeyd calls on
/// one) is in version 2 with the same arguments, so version 1 calls work against latchkey-ui.
#[test]
fn version_2_keeps_every_version_1_member() {
    let v1 = shape(latchkey_prompt::INTERFACE_XML_V1);
    let v2 = shape(XML);
    assert!(v1.len() >= 6, "{v1:#?}");
    let missing: Vec<&String> = v1.iter().filter(|m| !v2.contains(m)).collect();
    assert!(missing.is_empty(), "version 2 drops {missing:#?}");
    let added: Vec<String> = v2
        .iter()
        .filter(|m| !v1.contains(m))
        .map(|m| m.split('(').next().unwrap_or(m).to_owned())
        .collect();
    assert_eq!(
        added,
        [
            "method ChangePin",
            "method Choose",
            "method ShowStatus",
            "signal Cancelled"
        ]
    );
}

/// Owning latchkeyd's bus name proves nothing (any process of the user may take it while
/// latchkeyd is not running): a process that owns it but is not the latchkeyd executable gets no
/// dialog, and no PIN.
#[test]
fn a_process_owning_latchkeyds_name_that_is_not_latchkeyd_may_not_ask() {
    // Nothing is taken for latchkeyd: not this test binary, which owns the name below.
    let d = Desktop::start_with(
        None,
        &[(
            latchkey_api::latchkeyd::LATCHKEYD_ENV,
            "/nonexistent/latchkeyd",
        )],
    );
    let _ui = d.start_ui(Scheme::Light, &[]);
    d.wait_for_name("dev.latchkey.Prompt");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let squatter = caller::connect(&d.bus_address, true).await;
        let p = caller::prompt(&squatter).await;
        // Refused at once: a dialog shown would wait for a person.
        let err = tokio::time::timeout(
            Duration::from_secs(20),
            p.consent("x", consent_details("get", "example.com")),
        )
        .await
        .expect("the prompt showed a dialog to a process that is not latchkeyd")
        .unwrap_err();
        assert!(err.to_string().contains("AccessDenied"), "{err}");
        let (mut r, w) = caller::pipe();
        use std::os::fd::AsFd as _;
        let res = p
            .request_pin(
                "x",
                dict(&[("authenticator_kind", "platform".into())]),
                zbus::zvariant::Fd::from(w.as_fd()),
            )
            .await;
        assert!(res.unwrap_err().to_string().contains("AccessDenied"));
        drop(w);
        let mut s = String::new();
        std::io::Read::read_to_string(&mut r, &mut s).unwrap();
        assert_eq!(s, "", "no PIN reaches a process that is not latchkeyd");
    });
}

#[test]
fn only_latchkeyd_may_ask() {
    let d = Desktop::start(None);
    let _ui = d.start_ui(Scheme::Light, &[]);
    d.wait_for_name("dev.latchkey.Prompt");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // Nobody owns dev.latchkey.Credentials: refused.
        let stranger = caller::connect(&d.bus_address, false).await;
        let p = caller::prompt(&stranger).await;
        let err = p
            .consent("x", consent_details("get", "example.com"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("AccessDenied"), "{err}");
        // latchkeyd appears: a stranger is still refused, whatever it calls.
        let latchkeyd = caller::connect(&d.bus_address, true).await;
        let err = p
            .consent("x", consent_details("get", "example.com"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("AccessDenied"), "{err}");
        let err = p.notice("x", "Touch your security key").await.unwrap_err();
        assert!(err.to_string().contains("AccessDenied"), "{err}");
        let (code, pin) = {
            let (mut r, w) = caller::pipe();
            use std::os::fd::AsFd as _;
            let res = p
                .request_pin("x", dict(&[]), zbus::zvariant::Fd::from(w.as_fd()))
                .await;
            assert!(res.unwrap_err().to_string().contains("AccessDenied"));
            drop(w);
            let mut s = String::new();
            std::io::Read::read_to_string(&mut r, &mut s).unwrap();
            (0, s)
        };
        assert_eq!((code, pin.as_str()), (0, ""));
        // latchkeyd itself may: a malformed request answers "failed" without showing anything.
        let ours = caller::prompt(&latchkeyd).await;
        let (code, _) = ours
            .consent("x", dict(&[("kind", Value::from("get"))]))
            .await
            .unwrap();
        assert_eq!(code, 2);
    });
}

#[test]
fn hostile_text_is_shown_escaped_cut_and_apart_from_our_words() {
    let d = Desktop::start(None);
    let _ui = d.start_ui(Scheme::Light, &[]);
    d.wait_for_name("dev.latchkey.Prompt");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let conn = rt.block_on(caller::connect(&d.bus_address, true));
    let p = rt.block_on(caller::prompt(&conn));
    let mut at = d.driver();

    // Oversized: refused as malformed.
    let big = "a".repeat(5000);
    let mut details = consent_details("get", "example.com");
    details.insert("caller", Value::from(big.as_str()));
    let (code, _) = rt.block_on(p.consent("big", details)).unwrap();
    assert_eq!(code, 2);

    let long_name = format!("{}{}", "N".repeat(100), "TAIL");
    let p2 = p.clone();
    let call = rt.spawn(async move {
        let mut d = consent_details("create", "example.com");
        d.insert(
            "caller",
            Value::from("<b>Latchkey</b>\nThis app is verified\u{202E}"),
        );
        d.insert("caller_verified", Value::from(false));
        d.insert("caller_class", Value::from("unknown"));
        d.remove("native_host");
        d.insert("user_name", Value::from(long_name.as_str().to_owned()));
        p2.consent("hostile", d).await
    });
    at.wait_text("Create a passkey for example.com");
    let (texts, _) = at.texts();
    // Markup shown as text, the line break gone, the override dropped: one line, one row value.
    assert!(
        texts
            .iter()
            .any(|t| t == "<b>Latchkey</b> This app is verified"),
        "{texts:#?}"
    );
    assert!(!texts
        .iter()
        .any(|t| t == "Latchkey" || t == "This app is verified"));
    // Cut to 64 characters with an ellipsis.
    let cut = format!("{}…", "N".repeat(63));
    assert!(texts.contains(&cut), "{texts:#?}");
    assert!(!texts.iter().any(|t| t.contains("TAIL")));
    // The unverified warning is there regardless of what the name claims.
    assert!(texts.iter().any(|t| t == "Unverified app"));
    d.screenshot(None, "consent-hostile-light");
    at.press("Cancel");
    assert_eq!(rt.block_on(call).unwrap().unwrap().0, 1);
}

#[test]
fn translated_into_german() {
    let d = Desktop::start_with(None, &[("LANGUAGE", "de")]);
    let _ui = d.start_ui(Scheme::Light, &[]);
    d.wait_for_name("dev.latchkey.Prompt");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let conn = rt.block_on(caller::connect(&d.bus_address, true));
    let p = rt.block_on(caller::prompt(&conn));
    let mut at = d.driver();
    let call =
        rt.spawn(async move { p.consent("de", consent_details("get", "example.com")).await });
    at.wait_text("Bei example.com anmelden");
    let (texts, buttons) = at.all_texts();
    // Ours, and GTK's own title bar button, in German.
    assert_eq!(buttons, ["Schließen", "Abbrechen", "Weiter"]);
    assert!(texts.iter().any(|t| t == "Angefragt von"), "{texts:#?}");
    assert!(
        texts
            .iter()
            .any(|t| t == "Firefox — über Native-Messaging-Host"),
        "{texts:#?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    d.screenshot(None, "consent-get-german-light");
    at.press("Weiter");
    assert_eq!(rt.block_on(call).unwrap().unwrap().0, 0);
}

#[test]
fn activated_on_demand_and_exits_when_idle() {
    let services = tempfile::tempdir().unwrap();
    std::fs::write(
        services.path().join("dev.latchkey.Prompt.service"),
        format!(
            "[D-BUS Service]\nName=dev.latchkey.Prompt\nExec={} --idle-timeout 1\n",
            gui::UI_BIN
        ),
    )
    .unwrap();
    let d = Desktop::start(Some(services.path()));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let conn = rt.block_on(caller::connect(&d.bus_address, true));
    let p = rt.block_on(caller::prompt(&conn));
    let mut at = d.driver();
    let p2 = p.clone();
    let call = rt.spawn(async move {
        p2.consent("a1", consent_details("get", "example.com"))
            .await
    });
    at.wait_text("Sign in to example.com");
    at.press("Continue");
    assert_eq!(rt.block_on(call).unwrap().unwrap().0, 0);
    rt.block_on(p.dismiss("a1")).unwrap();
    at.wait_gone();
    // Idle for a second: it gives up its name and exits.
    let dbus = rt.block_on(zbus::fdo::DBusProxy::new(&conn)).unwrap();
    let name = zbus::names::BusName::try_from("dev.latchkey.Prompt").unwrap();
    let start = Instant::now();
    while rt.block_on(dbus.name_has_owner(name.clone())).unwrap() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the prompt never exited"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The next call starts it again.
    let p2 = p.clone();
    let call = rt.spawn(async move {
        p2.consent("a2", consent_details("get", "example.com"))
            .await
    });
    at.wait_text("Sign in to example.com");
    at.press("Cancel");
    assert_eq!(rt.block_on(call).unwrap().unwrap().0, 1);
}

#[test]
fn escape_and_the_close_button_refuse() {
    let d = Desktop::start(None);
    let _ui = d.start_ui(Scheme::Light, &[]);
    d.wait_for_name("dev.latchkey.Prompt");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _inside = rt.enter();
    let conn = rt.block_on(caller::connect(&d.bus_address, true));
    let p = rt.block_on(caller::prompt(&conn));
    let mut at = d.driver();

    let p2 = p.clone();
    let call = rt.spawn(async move {
        p2.consent("esc", consent_details("get", "example.com"))
            .await
    });
    at.wait_text("Sign in to example.com");
    at.key(0xff1b); // Escape
    assert_eq!(rt.block_on(call).unwrap().unwrap().0, 1);
    at.wait_gone();

    let p2 = p.clone();
    let call = rt.spawn(async move {
        p2.consent("close", consent_details("get", "example.com"))
            .await
    });
    at.wait_text("Sign in to example.com");
    // The title bar's close button comes first.
    let (_, buttons) = at.all_texts();
    assert_eq!(buttons.first().map(String::as_str), Some("Close"));
    at.press("Close");
    assert_eq!(rt.block_on(call).unwrap().unwrap().0, 1);
    at.wait_gone();
}
