//! The platform authenticator's user side without a blocking bridge: the client crate's ceremony
//! is synchronous, and its [`CeremonyUi`] here never waits on the prompt. It answers from
//! [`Answers`] the prompt already gave; a question it has no answer for is recorded as a
//! [`Question`] and refused, which ends that run of the ceremony. The async driver
//! ([`super::PlatformBackend`]) then asks the prompt on the runtime and runs the ceremony again
//! with one more answer (ARCHITECTURE.md, "The platform ceremony's prompt answers").
//!
//! Re-running is sound because an answer is only ever given to the very question it was asked
//! for ([`same_pin_question`]: the PIN's purpose, the retries left, the minimum length, the
//! authenticator; an account list by its credential IDs), and it is cheap because the platform
//! authenticator asks at most a few questions, each before it signs anything: the PIN comes
//! right after `getInfo`, and only a choice among several accounts comes after a signature.

use latchkey_client::ui::Cancelled;
use latchkey_client::{Account, CeremonyUi, Pin, PinReason, PinRequest, Status};
use zeroize::Zeroizing;

/// What a run of the ceremony asked that no answer was ready for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// A PIN.
    Pin(PinRequest),
    /// A choice among these accounts.
    Account(Vec<Account>),
}

/// Whether an answer to `asked` answers `now`: the same authenticator, the same retries left and
/// minimum length, and the same purpose — where "the PIN again, the last one was wrong" and
/// "the PIN" are one purpose (the prompt was told it was wrong; a new run of the ceremony asks
/// plainly, with the retries left that the prompt saw).
pub fn same_pin_question(asked: &PinRequest, now: &PinRequest) -> bool {
    let purpose = |r: PinReason| match r {
        PinReason::Verify | PinReason::Retry => PinReason::Verify,
        other => other,
    };
    purpose(asked.reason) == purpose(now.reason)
        && asked.retries_left == now.retries_left
        && asked.min_length == now.min_length
        && asked.device == now.device
}

/// A choice the prompt made: the credential IDs it was offered, the one chosen (`None`: refused).
struct Choice {
    offered: Vec<Vec<u8>>,
    chosen: Option<Vec<u8>>,
}

/// What the prompt answered, kept across the runs of one ceremony. `None` is a refusal (the
/// prompt cancelled, or the platform PIN guard refused a caller-controlled prompt): the ceremony
/// then fails as the client crate says when its UI cancels.
#[derive(Default)]
pub struct Answers {
    pins: Vec<(PinRequest, Option<Zeroizing<String>>)>,
    accounts: Vec<Choice>,
}

impl Answers {
    /// Keeps the prompt's answer to the PIN question `asked`.
    pub fn pin(&mut self, asked: PinRequest, answer: Option<Zeroizing<String>>) {
        self.pins.push((asked, answer));
    }

    /// Keeps the prompt's choice among `offered` (the chosen account's credential ID).
    pub fn account(&mut self, offered: &[Account], chosen: Option<Vec<u8>>) {
        let offered = offered.iter().map(|a| a.credential_id.clone()).collect();
        self.accounts.push(Choice { offered, chosen });
    }

    /// How many answers are kept.
    pub fn count(&self) -> usize {
        self.pins.len() + self.accounts.len()
    }
}

/// One run's [`CeremonyUi`] (module doc).
pub struct AnsweredUi<'a> {
    answers: &'a Answers,
    /// The question this run stopped at.
    pub question: Option<Question>,
    /// The statuses this run showed, in order, for the driver to pass on.
    pub statuses: Vec<Status>,
    /// The PIN questions this run asked, answered or not.
    pub pin_questions: Vec<PinRequest>,
}

impl<'a> AnsweredUi<'a> {
    /// A run answered from `answers`.
    pub fn new(answers: &'a Answers) -> Self {
        Self {
            answers,
            question: None,
            statuses: Vec::new(),
            pin_questions: Vec::new(),
        }
    }

    fn ask(&mut self, question: Question) -> Cancelled {
        // The first unanswered question ends the run; the client crate gives up on a cancel.
        if self.question.is_none() {
            self.question = Some(question);
        }
        Cancelled
    }
}

impl CeremonyUi for AnsweredUi<'_> {
    fn pin(&mut self, request: &PinRequest) -> Result<Pin, Cancelled> {
        self.pin_questions.push(request.clone());
        if self.question.is_some() {
            return Err(Cancelled);
        }
        let answer = self
            .answers
            .pins
            .iter()
            .rev()
            .find(|(asked, _)| same_pin_question(asked, request));
        match answer {
            Some((_, Some(pin))) => Ok(Pin::new(pin.clone())),
            Some((_, None)) => Err(Cancelled),
            None => Err(self.ask(Question::Pin(request.clone()))),
        }
    }

    fn choose_credential(&mut self, accounts: &[Account]) -> Result<usize, Cancelled> {
        if self.question.is_some() {
            return Err(Cancelled);
        }
        let offered = accounts.iter().map(|a| &a.credential_id);
        let answer = self
            .answers
            .accounts
            .iter()
            .rev()
            .find(|choice| choice.offered.iter().eq(offered.clone()));
        match answer {
            Some(Choice {
                chosen: Some(chosen),
                ..
            }) => accounts
                .iter()
                .position(|a| &a.credential_id == chosen)
                .ok_or(Cancelled),
            Some(Choice { chosen: None, .. }) => Err(Cancelled),
            None => Err(self.ask(Question::Account(accounts.to_vec()))),
        }
    }

    fn status(&mut self, status: Status) {
        self.statuses.push(status);
    }
}

#[cfg(test)]
mod tests;
