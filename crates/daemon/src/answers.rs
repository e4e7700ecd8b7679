//! A ceremony's user side without a blocking bridge, for every authenticator latchkeyd drives
//! through the client crate (the platform authenticator, security keys, their management): the
//! client's ceremony is synchronous, and its [`CeremonyUi`] here never waits on the prompt. It
//! answers from [`Answers`] the prompt already gave; a question it has no answer for is recorded
//! as a [`Question`] and refused, which ends that run of the ceremony. The async driver (the
//! platform's [`crate::platform::PlatformBackend`], the keys' [`crate::keys::KeyBackend`],
//! [`crate::key_manage`]) then asks the prompt on the runtime ([`ask_pin`]) and runs the
//! ceremony again with one more answer (ARCHITECTURE.md, "Prompt answers ahead of the
//! ceremony").
//!
//! Re-running is sound because an answer is only ever given to the very question it was asked
//! for ([`same_pin_question`]: the PIN's purpose, the retries left, the minimum length, the
//! authenticator; an account list by its credential IDs) and is used at most once per run, in
//! the order the answers were given; and because nothing the user paid for is asked again: every
//! question comes before the authenticator's touch (the PIN right after `getInfo`; a choice among
//! several accounts is asked after the client's part returns, `authenticate_until_choice`, for
//! keys), a security key is opened and chosen once for all the runs, and how its built-in user
//! verification ended is kept ([`BuiltInUvEnd`]) so that a fingerprint is not asked twice.
//! Statuses go to the prompt as they come, through [`crate::shown`], or are kept for the driver.

use latchkey_client::ui::{BuiltInUvEnd, Cancelled};
use latchkey_client::{Account, CeremonyUi, Pin, PinReason, PinRequest, Status, UvRequest};
use latchkey_prompt::ChoiceKind;
use latchkey_webauthn::WebAuthnError;
use zeroize::Zeroizing;

use crate::session::PromptSession;
use crate::shown::{ShowTx, Shown};

/// The most answers one ceremony collects (PIN attempts, account choices) before it gives up:
/// more than the platform PIN's eight retries and a first-use PIN with a choice of account.
pub const MAX_ANSWERS: usize = 12;

/// What a run of the ceremony asked that no answer was ready for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// A PIN.
    Pin(PinRequest),
    /// A choice among these accounts.
    Account(Vec<Account>),
}

/// Whether an answer to `asked` answers `now`: the same authenticator, the same retries left and
/// minimum length, and the same purpose — where "the PIN", "the PIN again, the last one was
/// wrong" and "the current PIN, to change it" are one purpose, the PIN the authenticator holds
/// now (the prompt was told it was wrong; a new run of the ceremony asks plainly, with the
/// retries left that the prompt saw).
pub fn same_pin_question(asked: &PinRequest, now: &PinRequest) -> bool {
    purpose(asked.reason) == purpose(now.reason)
        && asked.retries_left == now.retries_left
        && asked.min_length == now.min_length
        && asked.device == now.device
}

/// What a PIN is for: the PIN the authenticator holds now ([`PinReason::Verify`]), or a new one.
fn purpose(reason: PinReason) -> PinReason {
    match reason {
        PinReason::Verify | PinReason::Retry | PinReason::Current | PinReason::ChangeRequired => {
            PinReason::Verify
        }
        PinReason::New => PinReason::New,
    }
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
    /// How built-in user verification ended in an earlier run, without a token.
    built_in_uv: Option<BuiltInUvEnd>,
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
    answers: &'a mut Answers,
    /// For the current PIN and for a new one, the answers this run may still use: those after
    /// the last one it used for that purpose.
    next_pin: [usize; 2],
    /// Where statuses go as they come; without it they are kept in [`Self::statuses`].
    live: Option<ShowTx>,
    /// The question this run stopped at.
    pub question: Option<Question>,
    /// The statuses this run showed, in order, for the driver to pass on (without a live sink).
    pub statuses: Vec<Status>,
    /// The PIN questions this run asked, answered or not.
    pub pin_questions: Vec<PinRequest>,
}

impl<'a> AnsweredUi<'a> {
    /// A run answered from `answers`.
    pub fn new(answers: &'a mut Answers) -> Self {
        Self {
            answers,
            next_pin: [0; 2],
            live: None,
            question: None,
            statuses: Vec::new(),
            pin_questions: Vec::new(),
        }
    }

    /// The same, its statuses (and built-in UV prompts) sent to the prompt as they come.
    pub fn live(answers: &'a mut Answers, show: ShowTx) -> Self {
        Self {
            live: Some(show),
            ..Self::new(answers)
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
        // The newest answer to this question that this run has not passed yet: a PIN tried and
        // found wrong is never tried again, even where the retries left are unknown.
        let slot = usize::from(purpose(request.reason) == PinReason::New);
        let found = self
            .answers
            .pins
            .iter()
            .enumerate()
            .skip(self.next_pin[slot])
            .rev()
            .find(|(_, (asked, _))| same_pin_question(asked, request))
            .map(|(i, (_, answer))| (i, answer.clone()));
        match found {
            Some((i, Some(pin))) => {
                self.next_pin[slot] = i + 1;
                Ok(Pin::new(pin))
            }
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
        match &self.live {
            Some(show) => show.send(Shown::Status(status)),
            None => self.statuses.push(status),
        }
    }

    fn user_verification(&mut self, request: &UvRequest) {
        match &self.live {
            Some(show) => show.send(Shown::Uv(request.clone())),
            None => self.statuses.push(Status::TouchNeeded),
        }
    }

    fn built_in_uv_ended(&mut self, end: BuiltInUvEnd) {
        self.answers.built_in_uv = Some(end);
    }

    fn earlier_built_in_uv_end(&mut self) -> Option<BuiltInUvEnd> {
        self.answers.built_in_uv
    }
}

/// The prompt's PIN request for the client's, from an authenticator of `kind`.
pub fn pin_request(request: &PinRequest, kind: ChoiceKind) -> crate::ceremony::PinRequest {
    crate::ceremony::PinRequest {
        authenticator: request.device.clone(),
        retries: request.retries_left.and_then(|r| u32::try_from(r).ok()),
        wrong_pin: request.reason == PinReason::Retry,
        new_pin: request.reason == PinReason::New,
        min_length: u32::try_from(request.min_length).unwrap_or(u32::MAX),
        kind: Some(kind),
    }
}

/// Asks `ui` the PIN question `question` of an authenticator of `kind` and keeps its answer (or
/// refusal).
pub async fn ask_pin(
    ui: &dyn PromptSession,
    question: PinRequest,
    kind: ChoiceKind,
    answers: &mut Answers,
) {
    let answer = match ui.pin(pin_request(&question, kind)).await {
        Ok(pin) => std::str::from_utf8(pin.expose())
            .ok()
            .map(|text| Zeroizing::new(text.to_owned())),
        Err(_) => None,
    };
    answers.pin(question, answer);
}

/// The accounts as the prompt shows them.
pub fn shown_accounts(accounts: &[Account]) -> Vec<crate::ceremony::Account> {
    accounts
        .iter()
        .map(|a| crate::ceremony::Account {
            name: a.name.clone().unwrap_or_default(),
            display_name: a.display_name.clone().unwrap_or_default(),
            created: None,
        })
        .collect()
}

/// Asks the user which of `accounts`, all signed by the one touch already, the ceremony ends
/// with: its index, or the user's refusal (typed [`latchkey_client::error::Declined::Account`]).
pub async fn choose_signed_account(
    ui: &dyn PromptSession,
    accounts: &[Account],
) -> Result<usize, WebAuthnError> {
    ui.choose_account(&shown_accounts(accounts))
        .await
        .map_err(|_| {
            latchkey_client::error::declined(
                latchkey_client::error::Declined::Account,
                "the user did not choose an account",
            )
        })
}

#[cfg(test)]
mod tests;
