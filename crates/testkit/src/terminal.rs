//! The terminal prompt (`latchkey_prompt::tty`, what `latchkey` registers as a caller-controlled
//! prompt) served in this process on a test bus, with a keyboard the test types on and a screen
//! it reads: [`TerminalPrompt::typed`] has its answers typed up front (then end of input),
//! [`TerminalPrompt::held`] holds every answer until the test types it
//! ([`TerminalPrompt::type_line`]), so a test can act while a question waits.

use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use latchkey_prompt::tty::{serve_and_register, Terminal, TtyPrompt};

use crate::bus::TestBus;

/// What the terminal prompt showed, as text.
#[derive(Clone, Default)]
pub struct Screen(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Screen {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Screen {
    /// Everything shown so far.
    pub fn text(&self) -> String {
        String::from_utf8(
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
        .unwrap()
    }
}

/// A registered terminal prompt in this process (module doc); unregistered when dropped (its
/// connection closes).
pub struct TerminalPrompt {
    conn: zbus::Connection,
    screen: Screen,
    /// The keyboard's end of the terminal's input; `None` once input ended.
    keyboard: Mutex<Option<std::fs::File>>,
}

impl TerminalPrompt {
    /// A terminal prompt on `bus` whose user already typed `typed` (then nothing more: a later
    /// question reads end of input, a refusal); `pin`, when given, waits in its PIN descriptor
    /// (`latchkey get --pin-fd`).
    pub async fn typed(bus: &TestBus, typed: &str, pin: Option<&[u8]>) -> Self {
        let prompt = Self::register(bus, pin).await;
        prompt.type_raw(typed);
        prompt.end_input();
        prompt
    }

    /// A terminal prompt on `bus` whose user types nothing until the test says
    /// ([`Self::type_line`]): a question waits for its answer as long as the test likes.
    pub async fn held(bus: &TestBus) -> Self {
        Self::register(bus, None).await
    }

    async fn register(bus: &TestBus, pin: Option<&[u8]>) -> Self {
        let (input, keyboard) = rustix::pipe::pipe().unwrap();
        let screen = Screen::default();
        let terminal = Terminal::from_streams(
            Box::new(std::io::BufReader::new(std::fs::File::from(input))),
            Box::new(screen.clone()),
        );
        let pin_fd = pin.map(|p| {
            let (r, w) = rustix::pipe::pipe().unwrap();
            std::fs::File::from(w).write_all(p).unwrap();
            r
        });
        let conn = zbus::connection::Builder::address(bus.address.as_str())
            .unwrap()
            .build()
            .await
            .unwrap();
        serve_and_register(&conn, TtyPrompt::new(terminal, pin_fd))
            .await
            .unwrap();
        Self {
            conn,
            screen,
            keyboard: Mutex::new(Some(std::fs::File::from(keyboard))),
        }
    }

    /// Types `line` and Enter (several lines when it holds several).
    pub fn type_line(&self, line: &str) {
        self.type_raw(&format!("{line}\n"));
    }

    fn type_raw(&self, text: &str) {
        let mut keyboard = self.keyboard.lock().unwrap_or_else(PoisonError::into_inner);
        let keyboard = keyboard.as_mut().expect("input already ended");
        keyboard.write_all(text.as_bytes()).unwrap();
    }

    /// Ends the input: every later question reads end of input.
    pub fn end_input(&self) {
        self.keyboard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// What it showed so far.
    pub fn screen(&self) -> String {
        self.screen.text()
    }

    /// Its bus connection (its unique name is the prompt latchkeyd talks to).
    pub fn connection(&self) -> &zbus::Connection {
        &self.conn
    }
}
