//! What a test's `tracing` subscriber wrote, kept to assert on: [`LogCapture`] is the writer
//! (`tracing_subscriber::fmt().with_writer(capture.clone())`), and says when a line arrives, so a
//! test waits for the line it expects instead of looking again after a sleep.

use std::sync::{Arc, Mutex, PoisonError};

use crate::wait::Changes;

/// Everything written to it, shared between its clones.
#[derive(Clone, Default)]
pub struct LogCapture {
    bytes: Arc<Mutex<Vec<u8>>>,
    /// Ticks at each write.
    written: Changes,
}

impl LogCapture {
    /// What was written so far (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        let bytes = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Waits until some line written satisfies `line` (panics after [`crate::wait::LIMIT`],
    /// naming `what`); returns that line.
    pub async fn until(&self, what: &str, mut line: impl FnMut(&str) -> bool) -> String {
        let mut found = None;
        self.written
            .until(what, || {
                found = self.text().lines().find(|l| line(l)).map(str::to_owned);
                found.is_some()
            })
            .await;
        found.unwrap_or_default()
    }

    /// [`Self::until`] from a thread outside a runtime.
    pub fn blocking_until(&self, what: &str, mut line: impl FnMut(&str) -> bool) -> String {
        let mut found = None;
        self.written.blocking_until(what, || {
            found = self.text().lines().find(|l| line(l)).map(str::to_owned);
            found.is_some()
        });
        found.unwrap_or_default()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        self.written.tick();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_line_written_is_found_and_returned() {
        let log = LogCapture::default();
        let mut writer = log.clone();
        let waiting = {
            let log = log.clone();
            tokio::spawn(async move { log.until("the second line", |l| l.contains("two")).await })
        };
        std::io::Write::write_all(&mut writer, b"one\n").unwrap();
        std::io::Write::write_all(&mut writer, b"line two here\nthree\n").unwrap();
        assert_eq!(waiting.await.unwrap(), "line two here");
        assert_eq!(log.text(), "one\nline two here\nthree\n");
    }

    #[test]
    fn blocking_waits_see_writes_from_another_thread() {
        let log = LogCapture::default();
        let mut writer = log.clone();
        let t = std::thread::spawn(move || {
            std::io::Write::write_all(&mut writer, b"\xffsandboxed: yes\n").unwrap()
        });
        let line = log.blocking_until("the line", |l| l.contains("sandboxed"));
        t.join().unwrap();
        assert_eq!(line, "\u{fffd}sandboxed: yes");
    }
}
