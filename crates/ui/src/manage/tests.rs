use zbus::zvariant::{OwnedValue, Str, Value};

use super::*;

fn dict(entries: &[(&str, Value<'static>)]) -> Dict {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), OwnedValue::try_from(v.clone()).unwrap()))
        .collect()
}

fn s(text: &str) -> Value<'static> {
    Value::Str(Str::from(text.to_owned()))
}

#[test]
fn passkeys_are_grouped_by_site_and_entries_without_an_id_dropped() {
    let list = [
        dict(&[
            ("credential_id", s("AQID")),
            ("rp_id", s("b.example")),
            ("user_name", s("bob")),
        ]),
        dict(&[
            ("credential_id", s("BAUG")),
            ("rp_id", s("a.example")),
            ("user_name", s("ada")),
            ("user_display_name", s("Ada")),
        ]),
        dict(&[("rp_id", s("c.example"))]),
    ];
    let sites = by_site(&list);
    assert_eq!(
        sites.keys().collect::<Vec<_>>(),
        vec!["a.example", "b.example"]
    );
    assert_eq!(sites["a.example"][0].user_display_name, "Ada");
    assert_eq!(sites["b.example"][0].credential_id, "AQID");
}

#[test]
fn remembered_decisions_are_sorted_and_incomplete_ones_dropped() {
    let list = [
        dict(&[
            ("browser", s("Firefox")),
            ("rp_id", s("z.example")),
            ("created", Value::U64(7)),
        ]),
        dict(&[("browser", s("Chromium")), ("rp_id", s("a.example"))]),
        dict(&[("browser", s("Firefox")), ("rp_id", s(""))]),
        dict(&[("rp_id", s("b.example"))]),
        dict(&[("browser", Value::U32(1)), ("rp_id", s("c.example"))]),
    ];
    assert_eq!(
        remembered(&list),
        vec![
            Remembered {
                browser: "Chromium".into(),
                rp_id: "a.example".into(),
                created: 0
            },
            Remembered {
                browser: "Firefox".into(),
                rp_id: "z.example".into(),
                created: 7
            },
        ]
    );
    assert_eq!(
        sites::revoke_name("Firefox", "z.example"),
        "Stop always allowing Firefox for z.example"
    );
}

#[test]
fn security_keys_keep_their_fields_and_entries_without_a_handle_are_dropped() {
    let list = [
        dict(&[
            ("handle", s("key1")),
            ("name", s("Key <b>One</b>")),
            ("transport", s("usb")),
            ("pin_set", Value::Bool(true)),
            ("pin_retries", Value::U32(5)),
            ("credential_management", Value::Bool(true)),
        ]),
        dict(&[("handle", s("key2")), ("name", s("Two"))]),
        dict(&[("name", s("no handle"))]),
    ];
    let keys = security_keys(&list);
    assert_eq!(
        keys,
        vec![
            SecurityKey {
                handle: "key1".into(),
                name: "Key <b>One</b>".into(),
                transport: "usb".into(),
                pin_set: true,
                pin_retries: Some(5),
                credential_management: true,
            },
            SecurityKey {
                handle: "key2".into(),
                name: "Two".into(),
                transport: String::new(),
                pin_set: false,
                pin_retries: None,
                credential_management: false,
            },
        ]
    );
}
