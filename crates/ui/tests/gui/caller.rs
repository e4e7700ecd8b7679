//! latchkeyd's side of `dev.latchkey.Prompt1` for the dialog tests: a connection that owns
//! `dev.latchkey.Credentials` (the prompt answers only that name's owner) and calls the prompt
//! as latchkeyd does, PINs through a pipe.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read as _;
use std::os::fd::AsFd as _;

use zbus::zvariant::Value;

/// The prompt interface as latchkeyd calls it: the prompt crate's own proxy
/// (data/dev.latchkey.Prompt1.xml, version 2).
pub use latchkey_prompt::Prompt1Proxy;

/// A pipe as latchkeyd makes one for a PIN: `(reader, writer)`.
pub fn pipe() -> (std::fs::File, std::fs::File) {
    let (r, w) = rustix::pipe::pipe().unwrap();
    (std::fs::File::from(r), std::fs::File::from(w))
}

/// A dictionary from string pairs and typed values.
pub fn dict<'a>(entries: &[(&'a str, Value<'a>)]) -> HashMap<&'a str, Value<'a>> {
    entries.iter().map(|(k, v)| (*k, v.clone())).collect()
}

/// Connects to `address` as latchkeyd would: owning `dev.latchkey.Credentials` (if `own`).
pub async fn connect(address: &str, own: bool) -> zbus::Connection {
    let mut b = zbus::connection::Builder::address(address).unwrap();
    if own {
        b = b.name("dev.latchkey.Credentials").unwrap();
    }
    b.build().await.unwrap()
}

/// A proxy to the prompt on `conn`.
pub async fn prompt(conn: &zbus::Connection) -> Prompt1Proxy<'static> {
    Prompt1Proxy::builder(conn)
        .destination(latchkey_prompt::PROMPT_BUS_NAME)
        .unwrap()
        .build()
        .await
        .unwrap()
}

/// Calls `RequestPin` and returns the response and what the prompt wrote into the pipe.
pub async fn request_pin(
    p: &Prompt1Proxy<'_>,
    id: &str,
    details: HashMap<&str, Value<'_>>,
) -> (u32, String) {
    let (mut reader, writer) = pipe();
    let code = p
        .request_pin(id, details, zbus::zvariant::Fd::from(writer.as_fd()))
        .await
        .unwrap();
    drop(writer);
    let mut pin = String::new();
    reader.read_to_string(&mut pin).unwrap();
    (code, pin)
}

/// Calls `ChangePin`; returns the response, the current PIN and the new PIN.
pub async fn change_pin(
    p: &Prompt1Proxy<'_>,
    id: &str,
    details: HashMap<&str, Value<'_>>,
) -> (u32, String, String) {
    let (mut cr, cw) = pipe();
    let (mut nr, nw) = pipe();
    let code = p
        .change_pin(
            id,
            details,
            zbus::zvariant::Fd::from(cw.as_fd()),
            zbus::zvariant::Fd::from(nw.as_fd()),
        )
        .await
        .unwrap();
    drop((cw, nw));
    let (mut c, mut n) = (String::new(), String::new());
    cr.read_to_string(&mut c).unwrap();
    nr.read_to_string(&mut n).unwrap();
    (code, c, n)
}

/// Consent details for `kind` on `rp_id`, from a verified privileged browser.
pub fn consent_details<'a>(kind: &'a str, rp_id: &'a str) -> HashMap<&'a str, Value<'a>> {
    dict(&[
        ("kind", Value::from(kind)),
        ("rp_id", Value::from(rp_id)),
        ("origin", Value::from("https://example.com")),
        ("caller", Value::from("Firefox (via native messaging host)")),
        (
            "native_host",
            Value::from("/usr/libexec/latchkey-native-host"),
        ),
        ("app_id", Value::from("firefox-esr")),
        ("caller_verified", Value::from(true)),
        ("caller_class", Value::from("privileged")),
        ("user_name", Value::from("ada@example.com")),
    ])
}
