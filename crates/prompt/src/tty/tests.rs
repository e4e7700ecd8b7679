use super::*;

#[test]
fn consent_text_marks_unverified_callers() {
    let d: HashMap<String, OwnedValue> = [
        ("kind", Value::from("create")),
        ("caller", Value::from("/usr/bin/tool")),
        ("caller_verified", Value::from(false)),
        ("rp_id", Value::from("example.com")),
        ("origin", Value::from("app:tool")),
        ("user_name", Value::from("alice")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), OwnedValue::try_from(v).unwrap()))
    .collect();
    let t = consent_text(&d);
    assert!(t.contains("/usr/bin/tool (UNVERIFIED) wants to create a passkey on example.com for user \"alice\""), "{t}");
}

#[test]
fn nothing_printed_carries_control_characters() {
    let d: HashMap<String, OwnedValue> = [
        ("kind", Value::from("get")),
        ("caller", Value::from("app\x1b[1A\x1b[2K")),
        ("rp_id", Value::from("example.com\r\u{202e}moc.live")),
        ("origin", Value::from("https://example.com\u{9b}2J")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), OwnedValue::try_from(v).unwrap()))
    .collect();
    let t = consent_text(&d);
    assert!(
        !t.chars()
            .any(|c| c != '\n' && (c.is_control() || c == '\u{202e}')),
        "{t:?}"
    );
    assert!(
        t.contains("app\u{fffd}[1A\u{fffd}[2K (UNVERIFIED) wants to sign in"),
        "{t:?}"
    );
    assert_eq!(printable("PIN\x07 ok\u{7f}"), "PIN\u{fffd} ok\u{fffd}");
    assert_eq!(printable("Ünïcode 🔑 stays"), "Ünïcode 🔑 stays");
}

#[test]
fn pin_fd_reads_one_line() {
    let (r, w) = rustix::pipe::pipe().unwrap();
    File::from(w).write_all(b"2468\nrest").unwrap();
    assert_eq!(read_pin_fd(r).unwrap().as_str(), "2468");
}

fn dict(pairs: &[(&str, Value<'_>)]) -> HashMap<String, OwnedValue> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), OwnedValue::try_from(v.clone()).unwrap()))
        .collect()
}

#[test]
fn choices_are_worded_here_and_unknown_kinds_left_out() {
    let details = dict(&[
        ("kind", Value::from("create")),
        ("rp_id", Value::from("example.com\x1b[2J")),
    ]);
    let choices = vec![
        dict(&[("id", Value::from("p")), ("kind", Value::from("platform"))]),
        dict(&[("id", Value::from("x")), ("kind", Value::from("teleport"))]),
        dict(&[
            ("id", Value::from("k")),
            ("kind", Value::from("security-key")),
            ("detail", Value::from("2 present")),
        ]),
    ];
    let (menu, ids) = words::choice_menu(&details, &choices);
    assert_eq!(ids, ["p", "k"]);
    assert_eq!(
        menu,
        "latchkey: where should latchkey create the passkey for example.com\u{fffd}[2J?\n  \
         1) This device\n  2) A security key (2 present)\nNumber (empty to cancel): "
    );
}

#[test]
fn status_lines_use_the_prompts_words_and_mark_errors() {
    let touch = dict(&[("kind", Value::from("touch-key"))]);
    assert_eq!(
        words::status_line(&touch),
        "latchkey: Touch your security key\n"
    );
    let err = dict(&[
        ("kind", Value::from("error")),
        ("message", Value::from("the key is blocked\r")),
    ]);
    assert_eq!(
        words::status_line(&err),
        "latchkey: failed: the key is blocked\u{fffd}\n"
    );
    let odd = dict(&[("kind", Value::from("dance"))]);
    assert!(words::status_line(&odd).contains("does not know"));
}
