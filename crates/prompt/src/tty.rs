//! A terminal prompt in the manner of polkit's `pkttyagent`: the `latchkey` command registers it
//! (`RegisterPrompt`) for the length of a request when no graphical prompt runs, and it asks on
//! the terminal — PIN with echo off, or from `--pin-fd`.
//!
//! It is *caller-controlled* (the caller started it and owns its terminal), so latchkeyd lets it
//! answer only what the caller could decide anyway; see PROMPT-TRUST.md. It answers latchkeyd
//! only: every call from another bus peer (one that would ask for the PIN the user types) is
//! refused with `AccessDenied`, and what it prints is stripped of control characters, so no text
//! from a caller or a relying party can move the cursor or rewrite the screen.
//!
//! It serves version 2 of the interface: `Choose` is a numbered menu, `ChangePin` asks for the
//! current PIN and the new one twice, `ShowStatus` prints a line ([`words`]). It never emits
//! `Cancelled`: a user who gives up presses Ctrl-C, the `latchkey` command exits, and latchkeyd
//! cancels the request when its caller leaves the bus.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read as _, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError};

use zbus::message::Header;
use zbus::names::OwnedUniqueName;
use zbus::zvariant::{OwnedFd as ZOwnedFd, OwnedValue, Value};
use zeroize::Zeroizing;

use crate::{pin, response};

pub mod words;

/// The terminal whose echo a PIN read turned off, and its settings before, while the read lasts.
static ECHO_OFF: Mutex<Option<(File, rustix::termios::Termios)>> = Mutex::new(None);

/// Turns the terminal's echo back on if a PIN read is in progress: for a process about to exit in
/// the middle of one (the user pressed Ctrl-C), so the shell is not left without echo.
pub fn restore_terminal() {
    if let Some((tty, saved)) = ECHO_OFF
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        let _ = rustix::termios::tcsetattr(
            tty.as_fd(),
            rustix::termios::OptionalActions::Flush,
            &saved,
        );
    }
}

/// The terminal: a line reader, a writer, and optionally the tty whose echo to turn off.
pub struct Terminal {
    input: Box<dyn BufRead + Send>,
    output: Box<dyn Write + Send>,
    tty: Option<File>,
}

impl Terminal {
    /// The controlling terminal (`/dev/tty`).
    pub fn open() -> io::Result<Self> {
        let tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")?;
        let input = BufReader::new(tty.try_clone()?);
        let output = tty.try_clone()?;
        Ok(Self {
            input: Box::new(input),
            output: Box::new(output),
            tty: Some(tty),
        })
    }

    /// Any reader and writer (tests, pipes); no echo control.
    pub fn from_streams(input: Box<dyn BufRead + Send>, output: Box<dyn Write + Send>) -> Self {
        Self {
            input,
            output,
            tty: None,
        }
    }

    fn say(&mut self, text: &str) {
        let _ = self.output.write_all(text.as_bytes());
        let _ = self.output.flush();
    }

    fn read_line(&mut self, echo: bool) -> io::Result<Zeroizing<String>> {
        let saved = match (&self.tty, echo) {
            (Some(tty), false) => {
                let saved = rustix::termios::tcgetattr(tty.as_fd())?;
                let mut quiet = saved.clone();
                quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
                rustix::termios::tcsetattr(
                    tty.as_fd(),
                    rustix::termios::OptionalActions::Flush,
                    &quiet,
                )?;
                if let Ok(handle) = tty.try_clone() {
                    *ECHO_OFF.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some((handle, saved.clone()));
                }
                Some(saved)
            }
            _ => None,
        };
        let mut line = Zeroizing::new(String::new());
        let read = self.input.read_line(&mut line);
        if let (Some(saved), Some(tty)) = (saved, &self.tty) {
            let _ = rustix::termios::tcsetattr(
                tty.as_fd(),
                rustix::termios::OptionalActions::Flush,
                &saved,
            );
            ECHO_OFF
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            self.say("\n");
        }
        read?;
        while line.ends_with('\n') || line.ends_with('\r') {
            line.pop();
        }
        Ok(line)
    }
}

/// The terminal prompt object (serve it at [`crate::PROMPT_PATH`]).
pub struct TtyPrompt {
    terminal: Arc<Mutex<Terminal>>,
    pin_source: Mutex<Option<OwnedFd>>,
    /// The verified latchkeyd's unique name, the one peer served ([`serve_and_register`]).
    latchkeyd: Mutex<Option<OwnedUniqueName>>,
}

impl TtyPrompt {
    /// A prompt on `terminal`; PINs come from `pin_fd` (read once, one line) when given.
    pub fn new(terminal: Terminal, pin_fd: Option<OwnedFd>) -> Self {
        Self {
            terminal: Arc::new(Mutex::new(terminal)),
            pin_source: Mutex::new(pin_fd),
            latchkeyd: Mutex::new(None),
        }
    }

    /// Refuses a call that does not come from latchkeyd.
    fn check_latchkeyd(&self, hdr: &Header<'_>) -> zbus::fdo::Result<()> {
        let latchkeyd = self
            .latchkeyd
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match (latchkeyd.as_ref(), hdr.sender()) {
            (Some(l), Some(sender)) if l.as_str() == sender.as_str() => Ok(()),
            _ => Err(zbus::fdo::Error::AccessDenied(
                "this prompt answers latchkeyd only".into(),
            )),
        }
    }

    async fn with_terminal<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Terminal) -> T + Send + 'static,
    ) -> Option<T> {
        let terminal = self.terminal.clone();
        tokio::task::spawn_blocking(move || {
            f(&mut terminal.lock().unwrap_or_else(PoisonError::into_inner))
        })
        .await
        .ok()
    }
}

fn text(details: &HashMap<String, OwnedValue>, key: &str) -> String {
    match details.get(key).map(|v| &**v) {
        Some(Value::Str(s)) => printable(s),
        _ => String::new(),
    }
}

/// `s` with what a terminal would act on replaced by U+FFFD (so the user sees something was
/// there): C0 and C1 control characters (escape sequences, carriage returns, backspaces), DEL,
/// and the bidirectional overrides and isolates that reorder what follows them.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

fn flag(details: &HashMap<String, OwnedValue>, key: &str) -> bool {
    matches!(details.get(key).map(|v| &**v), Some(Value::Bool(true)))
}

/// The consent question shown on the terminal.
pub fn consent_text(details: &HashMap<String, OwnedValue>) -> String {
    let what = if text(details, "kind") == "create" {
        "create a passkey"
    } else {
        "sign in with a passkey"
    };
    let verified = if flag(details, "caller_verified") {
        ""
    } else {
        " (UNVERIFIED)"
    };
    let user = text(details, "user_name");
    let user = if user.is_empty() {
        String::new()
    } else {
        format!(" for user {user:?}")
    };
    format!(
        "latchkey: {}{verified} wants to {what} on {}{user}\n          (origin {})\nAllow? [y/N] ",
        text(details, "caller"),
        text(details, "rp_id"),
        text(details, "origin"),
    )
}

#[zbus::interface(name = "dev.latchkey.Prompt1")]
impl TtyPrompt {
    #[zbus(out_args("response", "results"))]
    async fn consent(
        &self,
        request_id: String,
        details: HashMap<String, OwnedValue>,
        #[zbus(header)] hdr: Header<'_>,
    ) -> zbus::fdo::Result<(u32, HashMap<String, OwnedValue>)> {
        self.check_latchkeyd(&hdr)?;
        let _ = request_id;
        let question = consent_text(&details);
        let answer = self
            .with_terminal(move |t| {
                t.say(&question);
                t.read_line(true)
            })
            .await;
        let yes = matches!(answer, Some(Ok(a)) if matches!(a.trim(), "y" | "Y" | "yes"));
        Ok((
            if yes {
                response::APPROVED
            } else {
                response::DENIED
            },
            HashMap::new(),
        ))
    }

    #[zbus(out_args("response"))]
    async fn request_pin(
        &self,
        request_id: String,
        details: HashMap<String, OwnedValue>,
        pin_sink: ZOwnedFd,
        #[zbus(header)] hdr: Header<'_>,
    ) -> zbus::fdo::Result<u32> {
        self.check_latchkeyd(&hdr)?;
        let _ = request_id;
        let source = self
            .pin_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let pin = match source {
            Some(fd) => read_pin_fd(fd),
            None => {
                let question = if flag(&details, "new_pin") {
                    format!("Choose a PIN for {}: ", text(&details, "authenticator"))
                } else if flag(&details, "wrong_pin") {
                    format!("Wrong PIN. PIN for {}: ", text(&details, "authenticator"))
                } else {
                    format!("PIN for {}: ", text(&details, "authenticator"))
                };
                match self
                    .with_terminal(move |t| {
                        t.say(&question);
                        t.read_line(false)
                    })
                    .await
                {
                    Some(r) => r,
                    None => Err(io::Error::other("terminal thread failed")),
                }
            }
        };
        Ok(match pin {
            Ok(p) if !p.is_empty() => match pin::write_pin(pin_sink.into(), p.as_bytes()) {
                Ok(()) => response::APPROVED,
                Err(_) => response::FAILED,
            },
            _ => response::DENIED,
        })
    }

    #[zbus(out_args("response", "index"))]
    async fn choose_account(
        &self,
        request_id: String,
        accounts: Vec<HashMap<String, OwnedValue>>,
        #[zbus(header)] hdr: Header<'_>,
    ) -> zbus::fdo::Result<(u32, u32)> {
        self.check_latchkeyd(&hdr)?;
        let _ = request_id;
        let mut menu = String::from("latchkey: choose an account:\n");
        for (i, a) in accounts.iter().enumerate() {
            menu.push_str(&format!(
                "  {}) {} {}\n",
                i + 1,
                text(a, "display_name"),
                text(a, "name")
            ));
        }
        menu.push_str("Number (empty to cancel): ");
        let n = accounts.len();
        let answer = self
            .with_terminal(move |t| {
                t.say(&menu);
                t.read_line(true)
            })
            .await;
        Ok(
            match answer
                .and_then(|a| a.ok())
                .and_then(|a| a.trim().parse::<usize>().ok())
            {
                Some(i) if (1..=n).contains(&i) => {
                    (response::APPROVED, u32::try_from(i - 1).unwrap_or(0))
                }
                _ => (response::DENIED, 0),
            },
        )
    }

    #[zbus(out_args("response", "choice"))]
    async fn choose(
        &self,
        request_id: String,
        details: HashMap<String, OwnedValue>,
        choices: Vec<HashMap<String, OwnedValue>>,
        #[zbus(header)] hdr: Header<'_>,
    ) -> zbus::fdo::Result<(u32, String)> {
        self.check_latchkeyd(&hdr)?;
        let _ = request_id;
        let (menu, ids) = words::choice_menu(&details, &choices);
        let answer = self
            .with_terminal(move |t| {
                t.say(&menu);
                t.read_line(true)
            })
            .await;
        let picked = answer
            .and_then(|a| a.ok())
            .and_then(|a| a.trim().parse::<usize>().ok())
            .and_then(|i| ids.get(i.checked_sub(1)?).cloned());
        Ok(match picked {
            Some(id) => (response::APPROVED, id),
            None => (response::DENIED, String::new()),
        })
    }

    #[zbus(out_args("response"))]
    async fn change_pin(
        &self,
        request_id: String,
        details: HashMap<String, OwnedValue>,
        current_sink: ZOwnedFd,
        new_sink: ZOwnedFd,
        #[zbus(header)] hdr: Header<'_>,
    ) -> zbus::fdo::Result<u32> {
        self.check_latchkeyd(&hdr)?;
        let _ = request_id;
        let name = text(&details, "authenticator");
        let pins = self
            .with_terminal(move |t| {
                t.say(&format!("Current PIN for {name}: "));
                let current = t.read_line(false)?;
                t.say("New PIN: ");
                let new = t.read_line(false)?;
                t.say("New PIN again: ");
                let again = t.read_line(false)?;
                if new.as_str() != again.as_str() {
                    t.say("latchkey: the new PINs differ\n");
                    return Err(io::Error::new(io::ErrorKind::InvalidInput, "PINs differ"));
                }
                Ok((current, new))
            })
            .await;
        Ok(match pins {
            Some(Ok((current, new))) if !current.is_empty() && !new.is_empty() => {
                match pin::write_pin(current_sink.into(), current.as_bytes())
                    .and_then(|()| pin::write_pin(new_sink.into(), new.as_bytes()))
                {
                    Ok(()) => response::APPROVED,
                    Err(_) => response::FAILED,
                }
            }
            _ => response::DENIED,
        })
    }

    async fn show_status(
        &self,
        request_id: String,
        status: HashMap<String, OwnedValue>,
        #[zbus(header)] hdr: Header<'_>,
    ) -> zbus::fdo::Result<()> {
        self.check_latchkeyd(&hdr)?;
        let _ = request_id;
        let line = words::status_line(&status);
        let _ = self.with_terminal(move |t| t.say(&line)).await;
        Ok(())
    }

    async fn dismiss(
        &self,
        request_id: String,
        #[zbus(header)] hdr: Header<'_>,
    ) -> zbus::fdo::Result<()> {
        self.check_latchkeyd(&hdr)?;
        let _ = request_id;
        Ok(())
    }

    async fn notice(
        &self,
        request_id: String,
        text: String,
        #[zbus(header)] hdr: Header<'_>,
    ) -> zbus::fdo::Result<()> {
        self.check_latchkeyd(&hdr)?;
        let _ = request_id;
        let line = format!("latchkey: {}\n", printable(&text));
        let _ = self.with_terminal(move |t| t.say(&line)).await;
        Ok(())
    }

    /// Version 2: never emitted (module doc), declared because the interface has it.
    #[zbus(signal)]
    async fn cancelled(
        emitter: &zbus::object_server::SignalEmitter<'_>,
        request_id: &str,
    ) -> zbus::Result<()>;

    #[zbus(property)]
    fn version(&self) -> u32 {
        crate::VERSION
    }
}

/// Reads one line (at most [`pin::MAX_PIN`] bytes) from a PIN file descriptor.
fn read_pin_fd(fd: OwnedFd) -> io::Result<Zeroizing<String>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(pin::MAX_PIN + 1));
    File::from(fd)
        .take(pin::MAX_PIN as u64 + 1)
        .read_to_end(&mut buf)?;
    let line = buf.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > pin::MAX_PIN {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "PIN too long"));
    }
    let s = std::str::from_utf8(line)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "PIN is not UTF-8"))?;
    Ok(Zeroizing::new(s.to_owned()))
}

/// Serves the terminal prompt on `conn` and registers it with latchkeyd; it serves requests from
/// this process and its parent until `conn` closes. This is what `latchkey` calls when no
/// graphical prompt is running. latchkeyd is found and checked through the kernel first
/// ([`latchkey_api::latchkeyd`]); the prompt then answers that unique name only.
pub async fn serve_and_register(conn: &zbus::Connection, prompt: TtyPrompt) -> zbus::Result<()> {
    let latchkeyd = latchkey_api::latchkeyd::verified_owner(conn)
        .await
        .map_err(|e| zbus::Error::Failure(e.to_string()))?;
    *prompt
        .latchkeyd
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(latchkeyd.clone());
    conn.object_server().at(crate::PROMPT_PATH, prompt).await?;
    conn.call_method(
        Some(latchkeyd.as_str()),
        latchkey_api::OBJECT_PATH,
        Some(latchkey_api::INTERFACE),
        "RegisterPrompt",
        &(),
    )
    .await?;
    Ok(())
}

/// Opens an inherited file descriptor number (`--pin-fd N`) without unsafe code, through
/// `/proc/self/fd/N`.
pub fn open_inherited_fd(n: u32) -> io::Result<OwnedFd> {
    Ok(File::open(format!("/proc/self/fd/{n}"))?.into())
}

#[cfg(test)]
mod tests;
