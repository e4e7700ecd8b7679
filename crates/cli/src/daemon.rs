//! Running ceremonies and credential management through latchkeyd (`dev.latchkey.Credentials`
//! on the session bus), with a terminal prompt served for the length of the request so PINs can
//! still come from `--pin-fd` or the terminal. See `crates/daemon/PROMPT-TRUST.md`.

use std::collections::HashMap;
use std::time::Duration;

use latchkey_api::{CallOptions, ClientError, Closer, CredentialsClient, Kind, BUS_NAME};
use latchkey_prompt::tty::{
    open_inherited_fd, restore_terminal, serve_and_register, Terminal, TtyPrompt,
};
use latchkey_webauthn::{ErrorName, WebAuthnError};
use tokio::signal::unix::SignalKind;
use zbus::zvariant::{OwnedValue, Value};

/// A ceremony to run through latchkeyd.
pub struct Ceremony<'a> {
    /// Create or get.
    pub kind: Kind,
    /// The options JSON.
    pub options_json: &'a str,
    /// The origin vouched for.
    pub origin: &'a str,
    /// The top-level origin, if embedded.
    pub top_origin: Option<&'a str>,
    /// `--pin-fd`.
    pub pin_fd: Option<u32>,
    /// Whether standard input is free for the terminal prompt (the options came from a file).
    pub stdin_free: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime, WebAuthnError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| WebAuthnError::unknown(format!("cannot start the async runtime: {e}")))
}

/// Whether latchkeyd runs on the session bus or can be started by D-Bus activation. Any failure
/// (no session bus) means "no".
pub fn available() -> bool {
    on_bus(true)
}

/// Whether latchkeyd runs on the session bus now (owns its name). Any failure means "no".
pub fn running() -> bool {
    on_bus(false)
}

fn on_bus(or_activatable: bool) -> bool {
    let Ok(rt) = runtime() else { return false };
    rt.block_on(async {
        let Ok(conn) = zbus::Connection::session().await else {
            return false;
        };
        let Ok(dbus) = zbus::fdo::DBusProxy::new(&conn).await else {
            return false;
        };
        let Ok(name) = zbus::names::BusName::try_from(BUS_NAME) else {
            return false;
        };
        if dbus.name_has_owner(name).await.unwrap_or(false) {
            return true;
        }
        or_activatable
            && dbus
                .list_activatable_names()
                .await
                .map(|names| names.iter().any(|n| n.as_str() == BUS_NAME))
                .unwrap_or(false)
    })
}

/// The terminal for the prompt: the controlling terminal, else standard input (when the options
/// did not come from it) and standard error.
fn terminal(stdin_free: bool) -> Terminal {
    match Terminal::open() {
        Ok(t) => t,
        Err(_) if stdin_free => Terminal::from_streams(
            Box::new(std::io::BufReader::new(std::io::stdin())),
            Box::new(std::io::stderr()),
        ),
        Err(_) => Terminal::from_streams(Box::new(std::io::empty()), Box::new(std::io::stderr())),
    }
}

/// Runs `ceremony` through latchkeyd and returns the response JSON.
pub fn ceremony(c: &Ceremony<'_>) -> Result<serde_json::Value, WebAuthnError> {
    let pin_fd = c
        .pin_fd
        .map(|n| {
            open_inherited_fd(n).map_err(|e| {
                WebAuthnError::not_allowed(format!(
                    "cannot read PINs from file descriptor {n}: {e}"
                ))
            })
        })
        .transpose()?;
    let rt = runtime()?;
    rt.block_on(async {
        let client = CredentialsClient::connect(None)
            .await
            .map_err(|e| e.webauthn_error())?;
        // The terminal prompt, on its own connection: latchkeyd asks it only for this process's
        // requests, and only when no trusted graphical prompt runs.
        let prompt_conn = zbus::Connection::session()
            .await
            .map_err(|e| ClientError::from(e).webauthn_error())?;
        serve_and_register(&prompt_conn, TtyPrompt::new(terminal(c.stdin_free), pin_fd))
            .await
            .map_err(|e| ClientError::from(e).webauthn_error())?;
        let opts = CallOptions {
            origin: Some(c.origin.to_owned()),
            top_origin: c.top_origin.map(str::to_owned),
            handle_token: None,
            parent_window: None,
        };
        // Ctrl-C closes the request, so latchkeyd takes its prompt down and frees the queue at
        // once, then exits 130 (128 + SIGINT) as an interrupted command does.
        let mut interrupt = tokio::signal::unix::signal(SignalKind::interrupt())
            .map_err(|e| WebAuthnError::unknown(format!("cannot watch for Ctrl-C: {e}")))?;
        let pending = client
            .start(c.kind, c.options_json, &opts)
            .await
            .map_err(|e| e.webauthn_error())?;
        let closer = pending.closer();
        let outcome = tokio::select! {
            outcome = pending.response() => outcome.map_err(|e| e.webauthn_error())?,
            _ = interrupt.recv() => interrupted(&closer).await,
        };
        drop(prompt_conn);
        if outcome.code == 0 {
            let text = outcome
                .response_json()
                .ok_or_else(|| WebAuthnError::unknown("latchkeyd answered without a response"))?;
            serde_json::from_str(&text)
                .map_err(|e| WebAuthnError::unknown(format!("latchkeyd's response: {e}")))
        } else {
            let message = outcome.message().unwrap_or_default();
            let name = outcome
                .error_name()
                .as_deref()
                .and_then(ErrorName::from_name);
            Err(match name {
                Some(name) => WebAuthnError::new(name, message),
                None if outcome.code == 1 => WebAuthnError::not_allowed("the request was refused"),
                None => WebAuthnError::unknown(message),
            })
        }
    })
}

/// Exit status of a command interrupted by SIGINT (128 + 2), as shells report it.
pub const INTERRUPTED_EXIT: i32 = 130;

/// How long an interrupted command waits for latchkeyd to acknowledge `Close()`.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The user pressed Ctrl-C during a request: close it, say so, exit 130.
async fn interrupted(closer: &Closer) -> ! {
    restore_terminal();
    let closed = tokio::time::timeout(CLOSE_WAIT, closer.close()).await;
    match closed {
        Ok(Ok(())) => eprintln!("latchkey: interrupted; the request was cancelled"),
        Ok(Err(e)) => eprintln!("latchkey: interrupted; closing the request failed: {e}"),
        Err(_) => eprintln!("latchkey: interrupted; latchkeyd did not confirm the cancellation"),
    }
    std::process::exit(INTERRUPTED_EXIT)
}

/// A platform credential as latchkeyd lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// base64url credential ID.
    pub id: String,
    /// RP ID.
    pub rp_id: String,
    /// User name.
    pub user_name: String,
    /// User display name.
    pub user_display_name: String,
}

fn text(map: &HashMap<String, OwnedValue>, key: &str) -> String {
    match map.get(key).map(|v| &**v) {
        Some(Value::Str(s)) => s.to_string(),
        _ => String::new(),
    }
}

/// Lists the platform credentials through latchkeyd.
pub fn list(rp_id: Option<&str>) -> Result<Vec<Listed>, WebAuthnError> {
    runtime()?.block_on(async {
        let client = CredentialsClient::connect(None)
            .await
            .map_err(|e| e.webauthn_error())?;
        let mut options: HashMap<&str, Value<'_>> = HashMap::new();
        if let Some(r) = rp_id {
            options.insert("rp_id", Value::from(r));
        }
        let rows = client
            .proxy()
            .list_credentials(options)
            .await
            .map_err(|e| ClientError::from(e).webauthn_error())?;
        Ok(rows
            .iter()
            .map(|r| Listed {
                id: text(r, "credential_id"),
                rp_id: text(r, "rp_id"),
                user_name: text(r, "user_name"),
                user_display_name: text(r, "user_display_name"),
            })
            .collect())
    })
}

/// Deletes a platform credential (base64url ID) through latchkeyd.
pub fn delete(id: &str) -> Result<(), WebAuthnError> {
    runtime()?.block_on(async {
        let client = CredentialsClient::connect(None)
            .await
            .map_err(|e| e.webauthn_error())?;
        client
            .proxy()
            .delete_credential(id)
            .await
            .map_err(|e| ClientError::from(e).webauthn_error())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_fields_are_read_from_the_dictionary() {
        let row: HashMap<String, OwnedValue> =
            [("credential_id", "AQID"), ("rp_id", "example.com")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), OwnedValue::from(zbus::zvariant::Str::from(v))))
                .collect();
        assert_eq!(text(&row, "credential_id"), "AQID");
        assert_eq!(text(&row, "rp_id"), "example.com");
        assert_eq!(text(&row, "user_name"), "");
    }
}
