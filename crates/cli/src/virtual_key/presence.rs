//! How the virtual key answers for its user: `--presence` (granted, refused, asked on the
//! terminal, or never given) and `--uv` (an emulated fingerprint reader's outcomes).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use latchkey_authenticator::env::{PresenceDenied, PresencePurpose, UserPresence, UvMatch};
use latchkey_authenticator::uv::UvScript;
use latchkey_transport::virtual_key::Signals;

use super::PresenceMode;

/// How often a waiting prompt looks at the CANCEL flag.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// The user-presence answer for `--presence`.
pub(super) struct Presence {
    mode: PresenceMode,
    signals: Signals,
    timeout: Duration,
    /// For `prompt`: the terminal to write to and the lines read from it.
    tty: Option<(File, Receiver<String>)>,
    /// `--uv`: what the emulated fingerprint reader answers.
    pub(super) fingers: Option<UvScript>,
}

impl Presence {
    pub(super) fn new(
        mode: PresenceMode,
        signals: &Signals,
        timeout_secs: u64,
    ) -> Result<Self, String> {
        let tty = if mode == PresenceMode::Prompt {
            let write = File::options()
                .write(true)
                .open("/dev/tty")
                .map_err(|e| format!("--presence prompt needs a controlling terminal: {e}"))?;
            let read = File::open("/dev/tty").map_err(|e| format!("cannot read /dev/tty: {e}"))?;
            let (tx, rx) = mpsc::channel();
            // One reader for the whole run: a prompt that was cancelled must not leave a
            // second reader competing for the next answer.
            thread::Builder::new()
                .name("presence-tty".into())
                .spawn(move || {
                    for line in BufReader::new(read).lines() {
                        let Ok(line) = line else { break };
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| format!("cannot start the prompt reader: {e}"))?;
            Some((write, rx))
        } else {
            None
        };
        Ok(Self {
            mode,
            signals: signals.clone(),
            timeout: Duration::from_secs(timeout_secs),
            tty,
            fingers: None,
        })
    }

    fn prompt(&mut self, purpose: &PresencePurpose<'_>) -> Result<(), PresenceDenied> {
        let Some((tty, lines)) = self.tty.as_mut() else {
            return Err(PresenceDenied::Denied);
        };
        // Answers typed before this question do not count.
        while lines.try_recv().is_ok() {}
        let _ = write!(tty, "\n{} Touch? [y/N] ", describe(purpose));
        let _ = tty.flush();
        let deadline = Instant::now() + self.timeout;
        loop {
            if self.signals.is_cancelled() {
                let _ = writeln!(tty, "(cancelled by the client)");
                return Err(PresenceDenied::Cancelled);
            }
            if Instant::now() >= deadline {
                let _ = writeln!(tty, "(timed out)");
                return Err(PresenceDenied::Timeout);
            }
            match lines.recv_timeout(CANCEL_POLL) {
                Ok(answer) => {
                    let yes = matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES");
                    return if yes {
                        Ok(())
                    } else {
                        Err(PresenceDenied::Denied)
                    };
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err(PresenceDenied::Denied),
            }
        }
    }
}

impl UserPresence for Presence {
    fn request_presence(&mut self, purpose: PresencePurpose<'_>) -> Result<(), PresenceDenied> {
        if self.signals.is_cancelled() {
            return Err(PresenceDenied::Cancelled);
        }
        match self.mode {
            PresenceMode::Auto => Ok(()),
            PresenceMode::Deny => Err(PresenceDenied::Denied),
            PresenceMode::Prompt => {
                self.signals.set_up_needed(true);
                let answer = self.prompt(&purpose);
                self.signals.set_up_needed(false);
                answer
            }
            PresenceMode::Wait => {
                self.signals.set_up_needed(true);
                while !self.signals.is_cancelled() {
                    thread::sleep(CANCEL_POLL);
                }
                self.signals.set_up_needed(false);
                Err(PresenceDenied::Cancelled)
            }
        }
    }

    fn verify_user(&mut self, _purpose: PresencePurpose<'_>) -> Result<UvMatch, PresenceDenied> {
        if self.signals.is_cancelled() {
            return Err(PresenceDenied::Cancelled);
        }
        let outcome = self
            .fingers
            .as_mut()
            .map_or(UvMatch::NoMatch, UvScript::next_outcome);
        eprintln!(
            "latchkey virtual-key: fingerprint {}",
            match outcome {
                UvMatch::Matched => "recognised",
                UvMatch::NoMatch => "not recognised",
            }
        );
        Ok(outcome)
    }
}

/// One line saying what the touch is for.
fn describe(purpose: &PresencePurpose<'_>) -> String {
    match purpose {
        PresencePurpose::MakeCredential { rp_id, user_name } => match user_name {
            Some(user) => format!("Register a passkey for {user} on {rp_id}?"),
            None => format!("Register a passkey on {rp_id}?"),
        },
        PresencePurpose::GetAssertion { rp_id } => format!("Sign in to {rp_id}?"),
        PresencePurpose::Selection => "Select this security key?".to_owned(),
        PresencePurpose::Reset => "RESET this key, deleting every credential?".to_owned(),
        PresencePurpose::U2f => "Confirm a U2F request?".to_owned(),
        PresencePurpose::Other => "Confirm a request to this key?".to_owned(),
    }
}
