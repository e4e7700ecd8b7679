#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Hundreds of malformed calls: each gets the right WebAuthn error name (in `Response`) or the
//! right D-Bus error (for D-Bus-level faults), and latchkeyd stays up.

mod common;

use std::collections::HashMap;

use common::*;
use latchkey_api::CallOptions;
use latchkey_api::Kind;
use serde_json::{json, Value};
use zbus::zvariant::Value as ZValue;

const CH: &str = "AAECAwQFBgcICQoLDA0ODw";

fn good_create() -> Value {
    json!({
        "rp": {"id": "example.com", "name": "Example"},
        "user": {"id": "AQIDBA", "name": "alice", "displayName": "Alice"},
        "challenge": CH,
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
    })
}

fn good_get() -> Value {
    json!({"rpId": "example.com", "challenge": CH})
}

fn set(mut v: Value, path: &[&str], x: Value) -> Value {
    let mut cur = &mut v;
    for p in &path[..path.len() - 1] {
        cur = cur.get_mut(*p).unwrap();
    }
    cur.as_object_mut()
        .unwrap()
        .insert(path[path.len() - 1].to_owned(), x);
    v
}

fn remove(mut v: Value, path: &[&str]) -> Value {
    let mut cur = &mut v;
    for p in &path[..path.len() - 1] {
        cur = cur.get_mut(*p).unwrap();
    }
    cur.as_object_mut().unwrap().remove(path[path.len() - 1]);
    v
}

/// (kind, options_json, origin, expected DOMException name)
fn cases() -> Vec<(Kind, String, &'static str, &'static str)> {
    let o = "https://example.com";
    let mut c: Vec<(Kind, String, &str, &str)> = Vec::new();
    // Not JSON, or not an object.
    for text in [
        "", "{", "}", "null", "[]", "42", "\"str\"", "true", "{\"a\":", "{'a':1}", "\u{1}", "[{}]",
    ] {
        c.push((Kind::Create, text.into(), o, "TypeError"));
        c.push((Kind::Get, text.into(), o, "TypeError"));
    }
    // Oversized.
    let big = format!(
        "{{\"challenge\":\"{CH}\",\"pad\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    c.push((Kind::Create, big.clone(), o, "TypeError"));
    c.push((Kind::Get, big, o, "TypeError"));
    c.push((
        Kind::Create,
        set(good_create(), &["user", "id"], json!("A".repeat(100))).to_string(),
        o,
        "TypeError",
    ));
    c.push((
        Kind::Create,
        set(good_create(), &["user", "id"], json!("")).to_string(),
        o,
        "TypeError",
    ));
    // Missing required members.
    for path in [
        &["rp"][..],
        &["user"],
        &["challenge"],
        &["rp", "name"],
        &["user", "id"],
        &["user", "name"],
        &["user", "displayName"],
    ] {
        c.push((
            Kind::Create,
            remove(good_create(), path).to_string(),
            o,
            "TypeError",
        ));
    }
    c.push((
        Kind::Get,
        remove(good_get(), &["challenge"]).to_string(),
        o,
        "TypeError",
    ));
    // Wrong types, member by member.
    let wrong = [
        json!(1),
        json!(true),
        json!([1]),
        json!({"x": 1}),
        Value::Null,
    ];
    for w in &wrong {
        for path in [
            &["rp"][..],
            &["user"],
            &["challenge"],
            &["user", "id"],
            &["user", "name"],
            &["pubKeyCredParams"],
            &["timeout"],
            &["excludeCredentials"],
        ] {
            let v = set(good_create(), path, w.clone());
            // Some wrong values are legal for some members (null timeout, {} ignored…); only
            // keep the combinations the JSON type forbids.
            let forbidden = !matches!(
                (path, w),
                (["timeout"] | ["excludeCredentials"], Value::Null)
                    | (["timeout"], Value::Number(_))
                    | (
                        ["challenge"] | ["user", "id"] | ["user", "name"],
                        Value::String(_)
                    )
                    | (["rp"] | ["user"], Value::Object(_))
                    | (
                        ["pubKeyCredParams"] | ["excludeCredentials"],
                        Value::Array(_)
                    )
            );
            if forbidden {
                c.push((Kind::Create, v.to_string(), o, "TypeError"));
            }
        }
        for path in [
            &["challenge"][..],
            &["rpId"],
            &["allowCredentials"],
            &["timeout"],
        ] {
            let forbidden = !matches!(
                (path, w),
                (["timeout"] | ["rpId"] | ["allowCredentials"], Value::Null)
                    | (["timeout"], Value::Number(_))
                    | (["allowCredentials"], Value::Array(_))
            );
            if forbidden {
                c.push((
                    Kind::Get,
                    set(good_get(), path, w.clone()).to_string(),
                    o,
                    "TypeError",
                ));
            }
        }
    }
    c.push((
        Kind::Create,
        set(good_create(), &["timeout"], json!(-5)).to_string(),
        o,
        "TypeError",
    ));
    c.push((
        Kind::Create,
        set(good_create(), &["timeout"], json!("60000")).to_string(),
        o,
        "TypeError",
    ));
    // Bad base64url.
    for bad in ["a+b/", "!!!!", "AAECAwQFBgcICQoLDA0ODw+", "A"] {
        c.push((
            Kind::Create,
            set(good_create(), &["challenge"], json!(bad)).to_string(),
            o,
            "EncodingError",
        ));
        c.push((
            Kind::Get,
            set(good_get(), &["challenge"], json!(bad)).to_string(),
            o,
            "EncodingError",
        ));
        c.push((
            Kind::Create,
            set(good_create(), &["user", "id"], json!(bad)).to_string(),
            o,
            "EncodingError",
        ));
    }
    // Unknown algorithms only.
    for algs in [
        json!([{"type": "public-key", "alg": -99999}]),
        json!([{"type": "other", "alg": -7}]),
        json!([{"type": "public-key", "alg": 12345}, {"type": "x", "alg": -7}]),
    ] {
        c.push((
            Kind::Create,
            set(good_create(), &["pubKeyCredParams"], algs).to_string(),
            o,
            "NotSupportedError",
        ));
    }
    // Origins and RP IDs.
    for (origin, name) in [
        ("https://evil.example", "SecurityError"),
        ("http://example.com", "SecurityError"),
        ("https://example.com.evil.org", "SecurityError"),
        ("https://192.0.2.1", "SecurityError"),
        ("https://example.com/path", "SecurityError"),
        ("https://user@example.com", "SecurityError"),
        ("ftp://example.com", "SecurityError"),
        ("not an origin", "SecurityError"),
        ("app:com.example.Fake", "SecurityError"),
        ("null", "NotAllowedError"),
        ("file:///etc/passwd", "NotAllowedError"),
        ("data:text/html,x", "NotAllowedError"),
    ] {
        c.push((Kind::Create, good_create().to_string(), origin, name));
        c.push((Kind::Get, good_get().to_string(), origin, name));
    }
    for rp in [
        "com",
        "co.uk",
        "evil.example",
        "example.com.",
        "",
        "exa mple.com",
        "xn--",
        "-example.com",
        "1.2.3.4",
        "github.io",
    ] {
        c.push((
            Kind::Create,
            set(good_create(), &["rp", "id"], json!(rp)).to_string(),
            o,
            "SecurityError",
        ));
        c.push((
            Kind::Get,
            set(good_get(), &["rpId"], json!(rp)).to_string(),
            o,
            "SecurityError",
        ));
    }
    // Credential descriptors.
    for (d, name) in [
        (json!([{"type": "public-key"}]), "TypeError"),
        (json!([{"id": "AQID"}]), "TypeError"),
        (json!([{"type": "public-key", "id": 5}]), "TypeError"),
        (
            json!([{"type": "public-key", "id": "a+b/"}]),
            "EncodingError",
        ),
        (json!(["AQID"]), "TypeError"),
        (json!([1, 2]), "TypeError"),
        (
            json!([{"type": "public-key", "id": "AQID", "transports": "usb"}]),
            "TypeError",
        ),
    ] {
        c.push((
            Kind::Create,
            set(good_create(), &["excludeCredentials"], d.clone()).to_string(),
            o,
            name,
        ));
        c.push((
            Kind::Get,
            set(good_get(), &["allowCredentials"], d).to_string(),
            o,
            name,
        ));
    }
    // Wrong-typed nested members.
    for w in [json!(1), json!(true), json!([]), json!({})] {
        c.push((
            Kind::Create,
            set(good_create(), &["rp", "id"], w.clone()).to_string(),
            o,
            "TypeError",
        ));
        c.push((
            Kind::Create,
            set(good_create(), &["rp", "name"], w.clone()).to_string(),
            o,
            "TypeError",
        ));
        c.push((
            Kind::Create,
            set(good_create(), &["user", "displayName"], w.clone()).to_string(),
            o,
            "TypeError",
        ));
        if !w.is_object() && !w.is_array() {
            // WebIDL converts any object (an array too) to a dictionary; scalars are TypeError.
            c.push((
                Kind::Create,
                set(good_create(), &["authenticatorSelection"], w.clone()).to_string(),
                o,
                "TypeError",
            ));
        }
        c.push((
            Kind::Get,
            set(good_get(), &["userVerification"], w).to_string(),
            o,
            "TypeError",
        ));
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_calls_get_the_right_error_names() {
    // The API alone: over a socket pair, no bus; this process serves the scripted prompt on its
    // end, trusted as the prompt by policy.
    let policy = latchkey_testkit::policy::privileged_self_prompting();
    let auth = FakeBackend::new(FakeMode::Answer);
    let settings = latchkey_testkit::daemon::settings(&policy, auth.clone());
    let daemon = latchkey_testkit::peer::serve_prompting(settings, "approve\n").await;
    let client = &daemon.client;
    let cases = cases();
    let mut mismatches = Vec::new();
    for (i, (kind, json, origin, want)) in cases.iter().enumerate() {
        let opts = CallOptions {
            origin: Some((*origin).into()),
            ..Default::default()
        };
        let out = client.call(*kind, json, &opts).await.unwrap();
        if out.code != 2 || out.error_name().as_deref() != Some(*want) {
            mismatches.push(format!(
                "#{i} {kind:?} origin={origin} {}: want {want}, got {} {:?} {:?}",
                json.chars().take(120).collect::<String>(),
                out.code,
                out.error_name(),
                out.message()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} mismatched:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
    let webauthn_cases = cases.len();

    // D-Bus-level faults: typed method errors.
    let conn = client.connection();
    let mut dbus_cases = 0;
    let call = |method: &'static str, body: (String, String, HashMap<String, ZValue<'static>>)| async move {
        conn.call_method(
            Some("dev.latchkey.Credentials"),
            "/dev/latchkey/Credentials",
            Some("dev.latchkey.Credentials1"),
            method,
            &body,
        )
        .await
        .map(|_| ())
    };
    for token in [
        "",
        "a-b",
        "../x",
        "a/b",
        "x".repeat(65).as_str(),
        "tök",
        "a.b",
        " ",
    ] {
        for method in ["CreateCredential", "GetCredential"] {
            let opts = HashMap::from([("handle_token".to_owned(), ZValue::from(token.to_owned()))]);
            let e = call(method, (String::new(), good_get().to_string(), opts))
                .await
                .unwrap_err();
            assert!(
                e.to_string()
                    .contains("dev.latchkey.Credentials1.Error.InvalidArgument"),
                "{token:?}: {e}"
            );
            dbus_cases += 1;
        }
    }
    for (key, value) in [
        ("origin", ZValue::from(7u32)),
        ("top_origin", ZValue::from(true)),
        ("handle_token", ZValue::from(1i64)),
    ] {
        for method in ["CreateCredential", "GetCredential"] {
            let opts = HashMap::from([(key.to_owned(), value.try_clone().unwrap())]);
            let e = call(method, (String::new(), good_get().to_string(), opts))
                .await
                .unwrap_err();
            assert!(e.to_string().contains("InvalidArgument"), "{key}: {e}");
            dbus_cases += 1;
        }
    }
    // Wrong signatures.
    for body in [
        zbus::zvariant::Structure::from((1u32,)),
        zbus::zvariant::Structure::from(("a".to_owned(),)),
    ] {
        let e = conn
            .call_method(
                Some("dev.latchkey.Credentials"),
                "/dev/latchkey/Credentials",
                Some("dev.latchkey.Credentials1"),
                "CreateCredential",
                &body,
            )
            .await
            .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("InvalidArgs") || s.contains("Signature mismatch"),
            "{s}"
        );
        dbus_cases += 1;
    }
    // Bogus handles.
    for path in [
        "/dev/latchkey/Credentials/request/x/y",
        "/dev/latchkey/Credentials/request",
        "/dev/latchkey/Credentials/request/1_99/nope",
        "/",
        "/dev/latchkey/Credentials",
    ] {
        let e = conn
            .call_method(
                Some("dev.latchkey.Credentials"),
                path,
                Some("dev.latchkey.Request1"),
                "Close",
                &(),
            )
            .await
            .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("UnknownObject") || s.contains("UnknownInterface") || s.contains("Unknown"),
            "{path}: {s}"
        );
        dbus_cases += 1;
    }
    // A handle in use.
    *auth.mode.lock().unwrap() = FakeMode::Hang;
    let dup = CallOptions {
        origin: Some("https://example.com".into()),
        handle_token: Some("dup".into()),
        ..Default::default()
    };
    let held = client
        .start(Kind::Get, &good_get().to_string(), &dup)
        .await
        .unwrap();
    let e = client
        .start(Kind::Get, &good_get().to_string(), &dup)
        .await
        .err()
        .unwrap();
    assert_eq!(
        e.dbus_name(),
        Some("dev.latchkey.Credentials1.Error.HandleInUse")
    );
    dbus_cases += 1;
    held.close().await.unwrap();

    let total = webauthn_cases + dbus_cases;
    eprintln!("{webauthn_cases} WebAuthn-level + {dbus_cases} D-Bus-level malformed calls");
    assert!(total >= 200, "only {total} cases");
    // Still up and clean.
    assert_eq!(client.proxy().version().await.unwrap(), 1);
    *auth.mode.lock().unwrap() = FakeMode::Answer;
    let ok = client
        .call(
            Kind::Get,
            &good_get().to_string(),
            &CallOptions {
                origin: Some("https://example.com".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ok.code, 0);
    assert_eq!(daemon.live_requests(), 0);
    assert!(
        auth.ceremonies.lock().unwrap().len() <= 2,
        "no malformed request reached the authenticator"
    );
}
