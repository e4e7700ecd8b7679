//! PC/SC readers through pcsc-lite's `pcscd`: contactless FIDO cards on NFC readers (and
//! vsmartcard's virtual reader in tests). Thin: [`PcscLink`] moves APDUs for
//! [`crate::nfc::NfcChannel`]; [`readers`] lists the readers and whether a card is on each;
//! [`ReaderWatcher`] follows cards arriving and leaving, and readers being plugged in and out
//! (pcscd's reader events: the `\\?PnP?\Notification` pseudo-reader).
//!
//! pcsc-lite's `SCardTransmit` waits for the reader without a timeout. So each card's
//! transmissions run on a thread with a context of its own: a card or reader that never answers
//! holds that thread, while the caller gives up after its timeout or on cancel and is told so.
//! The client honours `PCSCLITE_CSOCK_NAME`, the path of pcscd's socket (tests run a private
//! pcscd).

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use pcsc::{Context, Protocols, ReaderState, Scope, ShareMode, State, PNP_NOTIFICATION};

use crate::nfc::{ApduLink, LinkError};

/// How often a wait for an answer looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(10);
/// Most readers followed at once (pcsc-lite allows 16).
const MAX_READERS: usize = 64;

/// How long a failed transmission waits for pcscd to notice that the card left: pcscd polls
/// its readers for cards (every 400 ms in pcsc-lite), and until it has, a transmission to a
/// card that just left fails as "not transacted".
const REMOVAL_SETTLE: Duration = Duration::from_millis(1500);

/// Whether a PC/SC error means the card (or reader, or pcscd) is gone.
fn is_removal(e: pcsc::Error) -> bool {
    use pcsc::Error as E;
    matches!(
        e,
        E::RemovedCard
            | E::NoSmartcard
            | E::ResetCard
            | E::UnpoweredCard
            | E::ReaderUnavailable
            | E::UnknownReader
            | E::NoReadersAvailable
            | E::NoService
            | E::ServiceStopped
            | E::InvalidHandle
            | E::Shutdown
    )
}

/// A failed transmission's error, or the removal it was a symptom of, once pcscd has seen it.
fn settle(card: &pcsc::Card, error: pcsc::Error) -> pcsc::Error {
    if is_removal(error) {
        return error;
    }
    let deadline = Instant::now() + REMOVAL_SETTLE;
    while Instant::now() < deadline {
        match card.status2_owned() {
            Err(e) if is_removal(e) => return e,
            Ok(s) if s.status().contains(pcsc::Status::ABSENT) => return pcsc::Error::RemovedCard,
            Ok(_) | Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
    error
}

/// What a PC/SC error means for a card: gone, or a failure.
fn link_error(reader: &str, e: pcsc::Error) -> LinkError {
    use pcsc::Error as E;
    match e {
        E::RemovedCard
        | E::NoSmartcard
        | E::ResetCard
        | E::UnpoweredCard
        | E::ReaderUnavailable
        | E::UnknownReader
        | E::NoReadersAvailable
        | E::NoService
        | E::ServiceStopped
        | E::CommError
        | E::InvalidHandle
        | E::Shutdown => LinkError::Removed(format!("{reader}: {e}")),
        other => LinkError::Failed(format!("{reader}: {other}")),
    }
}

/// A card on a reader, connected (shared, so other programs may use the reader too).
#[derive(Debug)]
pub struct PcscLink {
    reader: String,
    jobs: Sender<Vec<u8>>,
    answers: Receiver<Result<Vec<u8>, pcsc::Error>>,
    /// Answers still owed to transmissions given up on: dropped when they come.
    owed: usize,
}

impl PcscLink {
    /// Connects to the card on `reader`, waiting at most `timeout` for pcscd.
    pub fn connect(reader: &str, timeout: Duration) -> Result<Self, LinkError> {
        let name = CString::new(reader)
            .map_err(|_| LinkError::Failed("a reader name with a NUL byte".into()))?;
        let (jobs, job_rx) = mpsc::channel::<Vec<u8>>();
        let (answer_tx, answers) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        thread::Builder::new()
            .name("pcsc-card".into())
            .spawn(move || {
                let card = Context::establish(Scope::User)
                    .and_then(|ctx| ctx.connect(&name, ShareMode::Shared, Protocols::ANY));
                let card = match card {
                    Ok(card) => card,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                if ready_tx.send(Ok(())).is_err() {
                    return;
                }
                let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
                for apdu in job_rx {
                    let answer = match card.transmit(&apdu, &mut buf) {
                        Ok(answer) => Ok(answer.to_vec()),
                        Err(e) => Err(settle(&card, e)),
                    };
                    if answer_tx.send(answer).is_err() {
                        break;
                    }
                }
                // Left as it is, not reset: other programs may share the card, and a reset
                // would break what they are doing (a PIN token dies by its own time limits).
                let _ = card.disconnect(pcsc::Disposition::LeaveCard);
            })
            .map_err(|e| LinkError::Failed(format!("cannot start the card's thread: {e}")))?;
        match ready_rx.recv_timeout(timeout) {
            Ok(Ok(())) => Ok(Self {
                reader: reader.to_owned(),
                jobs,
                answers,
                owed: 0,
            }),
            Ok(Err(e)) => Err(link_error(reader, e)),
            Err(_) => Err(LinkError::Timeout),
        }
    }

    /// The reader's name.
    pub fn reader(&self) -> &str {
        &self.reader
    }
}

impl ApduLink for PcscLink {
    fn transmit(
        &mut self,
        apdu: &[u8],
        timeout: Duration,
        cancel: Option<&AtomicBool>,
    ) -> Result<Vec<u8>, LinkError> {
        if self.jobs.send(apdu.to_vec()).is_err() {
            return Err(LinkError::Removed(format!("{}: disconnected", self.reader)));
        }
        let deadline = Instant::now() + timeout;
        loop {
            if cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
                self.owed += 1;
                return Err(LinkError::Cancelled);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.owed += 1;
                return Err(LinkError::Timeout);
            }
            match self.answers.recv_timeout(left.min(CANCEL_POLL)) {
                Ok(_) if self.owed > 0 => self.owed -= 1,
                Ok(answer) => return answer.map_err(|e| link_error(&self.reader, e)),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(LinkError::Removed(format!("{}: disconnected", self.reader)))
                }
            }
        }
    }
}

/// A reader, and whether a card is on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// The reader's name, as pcscd gives it.
    pub name: String,
    /// A card is present and powered or powerable (not mute).
    pub card_present: bool,
}

fn card_present(state: State) -> bool {
    state.contains(State::PRESENT) && !state.contains(State::MUTE)
}

/// The readers pcscd knows; an error if pcscd cannot be reached.
pub fn readers() -> Result<Vec<ReaderInfo>, LinkError> {
    let ctx = Context::establish(Scope::User).map_err(|e| link_error("pcscd", e))?;
    let names = match ctx.list_readers_owned() {
        Ok(names) => names,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(link_error("pcscd", e)),
    };
    let mut states: Vec<ReaderState> = names
        .into_iter()
        .take(MAX_READERS)
        .map(|n| ReaderState::new(n, State::UNAWARE))
        .collect();
    if !states.is_empty() {
        ctx.get_status_change(Duration::ZERO, &mut states)
            .map_err(|e| link_error("pcscd", e))?;
    }
    Ok(states
        .iter()
        .map(|s| ReaderInfo {
            name: s.name().to_string_lossy().into_owned(),
            card_present: card_present(s.event_state()),
        })
        .collect())
}

/// A card arriving on or leaving a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    /// A card was put on this reader.
    CardPresent(String),
    /// The card left this reader, or the reader went away with it.
    CardGone(String),
}

/// Follows pcscd's readers and their cards.
pub struct ReaderWatcher {
    ctx: Context,
    /// The PnP pseudo-reader first, then every reader.
    states: Vec<ReaderState>,
    /// Readers with a card, as last reported.
    present: Vec<String>,
    queue: std::collections::VecDeque<ReaderEvent>,
}

impl std::fmt::Debug for ReaderWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderWatcher")
            .field("present", &self.present)
            .finish_non_exhaustive()
    }
}

impl ReaderWatcher {
    /// Starts following pcscd. Cards already present are not reported ([`readers`] lists them),
    /// only the ones that arrive or leave from now on.
    pub fn open() -> Result<Self, LinkError> {
        let ctx = Context::establish(Scope::User).map_err(|e| link_error("pcscd", e))?;
        let mut watcher = Self {
            ctx,
            states: vec![ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE)],
            present: Vec::new(),
            queue: std::collections::VecDeque::new(),
        };
        watcher.refresh_readers()?;
        // The first wait reports every reader's state as it is: learn it, say nothing.
        while watcher.next_event(Duration::ZERO)?.is_some() {}
        Ok(watcher)
    }

    /// Adds the readers pcscd lists that are not followed yet (in state "unaware", so the next
    /// wait reports them) and drops the ones it no longer lists.
    fn refresh_readers(&mut self) -> Result<(), LinkError> {
        let names = match self.ctx.list_readers_owned() {
            Ok(names) => names,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(e) => return Err(link_error("pcscd", e)),
        };
        let mut gone = Vec::new();
        self.states.retain(|s| {
            let keep =
                s.name() == PNP_NOTIFICATION() || names.iter().any(|n| n.as_c_str() == s.name());
            if !keep {
                gone.push(s.name().to_string_lossy().into_owned());
            }
            keep
        });
        for name in gone {
            self.card_left(&name);
        }
        for name in names {
            if self.states.len() > MAX_READERS {
                break;
            }
            if !self.states.iter().any(|s| s.name() == name.as_c_str()) {
                self.states.push(ReaderState::new(name, State::UNAWARE));
            }
        }
        Ok(())
    }

    fn card_left(&mut self, name: &str) {
        if let Some(i) = self.present.iter().position(|p| p == name) {
            self.present.swap_remove(i);
            self.queue.push_back(ReaderEvent::CardGone(name.to_owned()));
        }
    }

    /// The next event, waiting at most `timeout`; `Ok(None)` if none came.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<ReaderEvent>, LinkError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Ok(Some(event));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.ctx.get_status_change(left, &mut self.states) {
                Ok(()) => {}
                Err(pcsc::Error::Timeout) => return Ok(None),
                Err(e) => return Err(link_error("pcscd", e)),
            }
            let mut readers_changed = false;
            let mut changes = Vec::new();
            for state in &mut self.states {
                let event = state.event_state();
                if !event.contains(State::CHANGED) {
                    continue;
                }
                state.sync_current_state();
                let name = state.name().to_string_lossy().into_owned();
                if state.name() == PNP_NOTIFICATION() {
                    readers_changed = true;
                } else if event.intersects(State::UNKNOWN | State::IGNORE | State::UNAVAILABLE) {
                    readers_changed = true;
                    changes.push((name, false));
                } else {
                    changes.push((name, card_present(event)));
                }
            }
            for (name, present) in changes {
                let known = self.present.contains(&name);
                if present && !known {
                    self.present.push(name.clone());
                    self.queue.push_back(ReaderEvent::CardPresent(name));
                } else if !present && known {
                    self.card_left(&name);
                }
            }
            if readers_changed {
                self.refresh_readers()?;
            }
            if left.is_zero() && self.queue.is_empty() {
                return Ok(None);
            }
        }
    }
}
