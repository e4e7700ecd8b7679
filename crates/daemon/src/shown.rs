//! What an authenticator shows while the blocking part of a ceremony runs — a security key
//! waiting for a touch or working (CTAPHID keepalives, CTAP 2.1 §11.2.9.2.2), a fingerprint with
//! the attempts left, "insert your key", "touch the key you want" — sent from the blocking thread
//! without waiting ([`ShowTx`], an unbounded channel) and passed to the prompt on the request's
//! own task by [`showing`], while it awaits the blocking work: once per change, not once per
//! keepalive ([`StatusLine`]). Nothing here waits on the prompt from a blocking thread.

use std::future::Future;

use latchkey_client::ui::Cancelled;
use latchkey_client::{Account, CeremonyUi, Pin, PinRequest, Status, UvReason, UvRequest};
use latchkey_prompt::StatusKind;
use tokio::sync::mpsc;

use crate::session::PromptSession;

pub use latchkey_prompt::v2::{INSERT_KEY, TOUCH_KEY};

/// One thing to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// The client's status.
    Status(Status),
    /// The authenticator verifies the user with its built-in method (a fingerprint).
    Uv(UvRequest),
    /// A state of latchkeyd's own ([`StatusKind::InsertKey`], [`StatusKind::SelectKey`]).
    State(StatusKind),
}

/// The blocking side's end (module doc). As a [`CeremonyUi`] it shows statuses and refuses every
/// question: for work that asks none (finding keys, choosing among several, a reset's touch).
#[derive(Clone)]
pub struct ShowTx(mpsc::UnboundedSender<Shown>);

/// The request task's end.
pub struct ShowRx(mpsc::UnboundedReceiver<Shown>);

/// A new pair.
pub fn channel() -> (ShowTx, ShowRx) {
    let (tx, rx) = mpsc::unbounded_channel();
    (ShowTx(tx), ShowRx(rx))
}

impl ShowTx {
    /// Sends `shown`, without waiting; dropped if the request is gone.
    pub fn send(&self, shown: Shown) {
        let _ = self.0.send(shown);
    }

    /// Shows latchkeyd's own state `kind`.
    pub fn state(&self, kind: StatusKind) {
        self.send(Shown::State(kind));
    }
}

impl CeremonyUi for ShowTx {
    fn pin(&mut self, _: &PinRequest) -> Result<Pin, Cancelled> {
        Err(Cancelled)
    }

    fn choose_credential(&mut self, _: &[Account]) -> Result<usize, Cancelled> {
        Err(Cancelled)
    }

    fn status(&mut self, status: Status) {
        self.send(Shown::Status(status));
    }

    fn user_verification(&mut self, request: &UvRequest) {
        self.send(Shown::Uv(request.clone()));
    }
}

impl ShowRx {
    /// What was sent and not shown yet.
    pub fn queued(mut self) -> Vec<Shown> {
        let mut all = Vec::new();
        while let Ok(shown) = self.0.try_recv() {
            all.push(shown);
        }
        all
    }
}

/// The state for a client status.
pub fn status_kind(status: &Status) -> StatusKind {
    match status {
        Status::TouchNeeded => StatusKind::TouchKey,
        Status::Processing => StatusKind::Working,
        Status::PinSet => StatusKind::PinSet,
    }
}

/// The state when a key verifies the user with its built-in method (a fingerprint).
pub fn uv_status(request: &UvRequest) -> latchkey_prompt::Status {
    let kind = match request.reason {
        UvReason::Verify => StatusKind::Fingerprint,
        _ => StatusKind::FingerprintRetry,
    };
    latchkey_prompt::Status {
        authenticator: request.device.clone(),
        retries: request.retries_left.and_then(|r| u32::try_from(r).ok()),
        ..latchkey_prompt::Status::new(kind)
    }
}

/// What the prompt shows now, for one ceremony: each change is sent once. While several keys
/// wait for the one the user touches ([`StatusKind::SelectKey`]), a key's touch request means
/// "pick one", and stays so until another state comes.
#[derive(Default)]
pub struct StatusLine {
    last: Option<latchkey_prompt::Status>,
    selecting: bool,
}

impl StatusLine {
    /// Forgets what is shown: the prompt asked a question since, so the next status is sent
    /// even if it is the same as before.
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// The prompt status for `shown`, unless it is what the prompt already shows.
    pub fn next(&mut self, shown: Shown) -> Option<latchkey_prompt::Status> {
        let status = match shown {
            Shown::State(kind) => {
                self.selecting = kind == StatusKind::SelectKey;
                latchkey_prompt::Status::new(kind)
            }
            Shown::Uv(request) => {
                self.selecting = false;
                uv_status(&request)
            }
            Shown::Status(status) => {
                let kind = match status_kind(&status) {
                    StatusKind::TouchKey if self.selecting => StatusKind::SelectKey,
                    kind => {
                        self.selecting = false;
                        kind
                    }
                };
                latchkey_prompt::Status::new(kind)
            }
        };
        if self.last.as_ref() == Some(&status) {
            return None;
        }
        self.last = Some(status.clone());
        Some(status)
    }

    async fn show(&mut self, ui: &dyn PromptSession, shown: Shown) {
        if let Some(status) = self.next(shown) {
            ui.status(status).await;
        }
    }
}

/// Awaits `work` (blocking work on another thread, holding the sending end of `rx`) and shows
/// on `ui` what it sends meanwhile, in order, all of it before its result is returned.
pub async fn showing<T>(
    ui: &dyn PromptSession,
    line: &mut StatusLine,
    rx: ShowRx,
    work: impl Future<Output = T>,
) -> T {
    let ShowRx(mut rx) = rx;
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            biased;
            Some(shown) = rx.recv() => line.show(ui, shown).await,
            result = &mut work => break result,
        }
    };
    while let Ok(shown) = rx.try_recv() {
        line.show(ui, shown).await;
    }
    result
}

#[cfg(test)]
mod tests;
