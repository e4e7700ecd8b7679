//! The person at the terminal, as a [`CeremonyUi`]: PINs from `--pin-fd` (one per line, in the
//! order they are asked for) or typed with echo off on `/dev/tty`; status lines on stderr.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};

use latchkey_client::ui::{Account, Cancelled, CeremonyUi, Pin, PinReason, PinRequest, Status};
use rustix::termios::{self, LocalModes, OptionalActions};
use zeroize::Zeroizing;

/// The most `--pin-fd` gives, in bytes.
pub const PIN_FD_LIMIT: usize = 64 * 1024;

/// Where PINs come from.
pub enum PinSource {
    /// Lines read from a file descriptor, used in order.
    Lines(Vec<Zeroizing<String>>),
    /// Asked on the terminal.
    Terminal,
}

impl PinSource {
    /// Reads every line of file descriptor `fd` (through `/proc/self/fd`, so no unsafe code), at
    /// most [`PIN_FD_LIMIT`] bytes. Read straight into one buffer allocated whole and wiped on
    /// drop: no reader's buffer and no grown-out-of allocation keeps a copy of the PINs.
    pub fn from_fd(fd: u32) -> std::io::Result<Self> {
        let mut file = File::open(format!("/proc/self/fd/{fd}"))?;
        let mut buf = Zeroizing::new(vec![0u8; PIN_FD_LIMIT]);
        let mut len = 0;
        while len < buf.len() {
            match file.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let text = std::str::from_utf8(&buf[..len])
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
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

#[cfg(test)]
mod pin_fd_tests {
    use std::io::Write as _;
    use std::os::fd::AsRawFd as _;

    use super::*;

    fn from_bytes(bytes: &[u8]) -> std::io::Result<PinSource> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        let f = File::open(format!("/proc/self/fd/{}", f.as_raw_fd())).unwrap();
        PinSource::from_fd(u32::try_from(f.as_raw_fd()).unwrap())
    }

    fn lines(source: PinSource) -> Vec<String> {
        match source {
            PinSource::Lines(l) => l.iter().map(|s| s.as_str().to_owned()).collect(),
            PinSource::Terminal => panic!("lines expected"),
        }
    }

    #[test]
    fn pin_fd_lines_come_in_order_and_the_input_is_bounded() {
        // Kept last-first: the next PIN is popped from the end.
        assert_eq!(
            lines(from_bytes(b"1234\r\n5678\n").unwrap()),
            ["5678", "1234"]
        );
        assert_eq!(lines(from_bytes(b"").unwrap()), Vec::<String>::new());
        let mut long = vec![b'7'; PIN_FD_LIMIT + 10];
        long[4] = b'\n';
        let got = lines(from_bytes(&long).unwrap());
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], "7777");
        assert_eq!(
            got[0].len(),
            PIN_FD_LIMIT - 5,
            "read up to the limit, no further"
        );
        let e = from_bytes(b"12\xff34\n").err().unwrap();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    }
}
