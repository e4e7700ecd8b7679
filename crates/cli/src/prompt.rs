//! The person at the terminal, as a [`CeremonyUi`]: PINs from `--pin-fd` (one per line, in the
//! order they are asked for) or typed with echo off on `/dev/tty`; status lines on stderr.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};

use latchkey_client::ui::{Account, Cancelled, CeremonyUi, Pin, PinReason, PinRequest, Status};
use rustix::termios::{self, LocalModes, OptionalActions};
use zeroize::Zeroizing;

/// Where PINs come from.
pub enum PinSource {
    /// Lines read from a file descriptor, used in order.
    Lines(Vec<Zeroizing<String>>),
    /// Asked on the terminal.
    Terminal,
}

impl PinSource {
    /// Reads every line of file descriptor `fd` (through `/proc/self/fd`, so no unsafe code).
    pub fn from_fd(fd: u32) -> std::io::Result<Self> {
        let file = File::open(format!("/proc/self/fd/{fd}"))?;
        let mut text = Zeroizing::new(String::new());
        BufReader::new(file)
            .take(64 * 1024)
            .read_to_string(&mut text)?;
        let mut lines: Vec<Zeroizing<String>> = text
            .lines()
            .map(|l| Zeroizing::new(l.trim_end_matches('\r').to_owned()))
            .collect();
        lines.reverse();
        Ok(Self::Lines(lines))
    }
}

/// The terminal UI.
pub struct TerminalUi {
    pins: PinSource,
    quiet: bool,
}

impl TerminalUi {
    /// A UI over `pins`; `quiet` suppresses status lines.
    pub fn new(pins: PinSource, quiet: bool) -> Self {
        Self { pins, quiet }
    }
}

fn read_tty_pin(prompt: &str) -> std::io::Result<Zeroizing<String>> {
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    tty.write_all(prompt.as_bytes())?;
    tty.flush()?;
    let saved = termios::tcgetattr(&tty)?;
    let mut silent = saved.clone();
    silent.local_modes.remove(LocalModes::ECHO);
    termios::tcsetattr(&tty, OptionalActions::Now, &silent)?;
    let mut line = Zeroizing::new(String::new());
    let read = BufReader::new(&tty).read_line(&mut line);
    termios::tcsetattr(&tty, OptionalActions::Now, &saved)?;
    tty.write_all(b"\n")?;
    read?;
    let pin = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_owned());
    Ok(pin)
}

impl CeremonyUi for TerminalUi {
    fn pin(&mut self, request: &PinRequest) -> Result<Pin, Cancelled> {
        let prompt = match request.reason {
            PinReason::Verify => format!("PIN for {}", request.device),
            PinReason::Current => format!("Current PIN for {}", request.device),
            PinReason::Retry => format!("Wrong PIN. PIN for {}", request.device),
            PinReason::ChangeRequired => format!(
                "{} requires a new PIN before it is used again. Current PIN",
                request.device
            ),
            PinReason::New => format!(
                "Choose a new PIN for {} (at least {} characters)",
                request.device, request.min_length
            ),
        };
        let prompt = match request.retries_left {
            Some(n) if request.reason != PinReason::New => {
                format!("{prompt} ({n} attempts left): ")
            }
            _ => format!("{prompt}: "),
        };
        match &mut self.pins {
            PinSource::Lines(lines) => {
                let pin = lines.pop().ok_or(Cancelled)?;
                if !self.quiet && request.reason == PinReason::ChangeRequired {
                    eprintln!(
                        "{} requires a new PIN: changing it with the PINs read from --pin-fd.",
                        request.device
                    );
                }
                if !self.quiet && request.reason == PinReason::New {
                    eprintln!(
                        "{}: setting the new PIN read from --pin-fd.",
                        request.device
                    );
                }
                Ok(Pin::new(pin))
            }
            PinSource::Terminal => {
                let first = read_tty_pin(&prompt).map_err(|_| Cancelled)?;
                if request.reason == PinReason::New {
                    let again = read_tty_pin("Repeat the new PIN: ").map_err(|_| Cancelled)?;
                    if *again != *first {
                        eprintln!("The PINs differ.");
                        return Err(Cancelled);
                    }
                }
                Ok(Pin::new(first))
            }
        }
    }

    fn choose_credential(&mut self, accounts: &[Account]) -> Result<usize, Cancelled> {
        if let PinSource::Lines(_) = self.pins {
            // Non-interactive: the most recently created account (the authenticator lists it first).
            return Ok(0);
        }
        eprintln!("Several accounts can sign in:");
        for (i, a) in accounts.iter().enumerate() {
            eprintln!(
                "  {}. {} ({})",
                i + 1,
                a.display_name.as_deref().unwrap_or("(no display name)"),
                a.name.as_deref().unwrap_or("(no name)")
            );
        }
        let mut tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .map_err(|_| Cancelled)?;
        let _ = tty.write_all(b"Number: ");
        let mut line = String::new();
        BufReader::new(&tty)
            .read_line(&mut line)
            .map_err(|_| Cancelled)?;
        match line.trim().parse::<usize>() {
            Ok(n) if (1..=accounts.len()).contains(&n) => Ok(n - 1),
            _ => Err(Cancelled),
        }
    }

    fn status(&mut self, status: Status) {
        if self.quiet {
            return;
        }
        match status {
            Status::TouchNeeded => eprintln!("Touch your security key."),
            Status::Processing => {}
            Status::PinSet => eprintln!("PIN set."),
        }
    }
}
