//! A prompt that answers from a script and records what it was shown, for tests and benchmarks
//! (`latchkey-test-prompt`). One step per line. Each method has its own queue — consent steps,
//! PIN steps, account steps, where-steps, PIN-change steps — consumed in order, the last step of
//! a queue repeating:
//!
//! ```text
//! approve            # Consent → approved
//! remember           # Consent → approved, results remember = true
//! deny               # Consent → refused
//! hang               # Consent: never answers until Dismiss (then refused)
//! pin 1234           # RequestPin → writes "1234" into the PIN fd (a new PIN too)
//! pin deny           # RequestPin → refused
//! choose 1           # ChooseAccount → index 1
//! choose deny        # ChooseAccount → refused
//! where platform     # Choose → the choice whose id is "platform" (none scripted: the first)
//! where deny         # Choose → refused
//! change 1234 5678   # ChangePin → current PIN 1234, new PIN 5678
//! delay 250 approve  # waits 250 ms, then the step (any queue)
//! after /tmp/go pin 1234  # waits until the file /tmp/go exists, then the step (any queue)
//! cancel on touch-key  # emits Cancelled when ShowStatus shows that kind (not a queue step)
//! version 1          # serve version 1 of the interface only (no version 2 members)
//! ```
//!
//! The record file gets one JSON object per call: `{"method":…,"request_id":…,"details":{…}}`
//! (never a PIN); `Choose` records `{"details":{…},"choices":[…]}`.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::{json, Map, Value as Json};
use zbus::zvariant::{OwnedValue, Value};
use zeroize::Zeroizing;

use crate::StatusKind;

mod serve;
#[cfg(test)]
mod tests;

pub use serve::{serve, ScriptedPromptV1};

/// One scripted answer.
#[derive(Clone, PartialEq, Eq)]
pub enum Step {
    /// Approve a consent.
    Approve,
    /// Approve a consent and tick "always allow".
    Remember,
    /// Refuse anything.
    Deny,
    /// Answer a PIN request.
    Pin(Zeroizing<String>),
    /// Choose an account.
    Choose(u32),
    /// Do not answer until dismissed.
    Hang,
    /// Refuse a PIN request.
    PinDeny,
    /// Refuse an account choice.
    ChooseDeny,
    /// Answer `Choose` with this choice ID.
    Where(String),
    /// Refuse `Choose`.
    WhereDeny,
    /// Answer `ChangePin`: the current PIN, the new PIN.
    Change(Zeroizing<String>, Zeroizing<String>),
    /// Refuse `ChangePin`.
    ChangeDeny,
    /// Emit `Cancelled` when `ShowStatus` shows this kind (a directive, not a queue step).
    CancelOn(StatusKind),
    /// Serve this interface version (a directive).
    Version(u32),
    /// Wait, then do the inner step.
    Delay(Duration, Box<Step>),
    /// Wait until this file exists (a test holds the prompt at a question this way), then do
    /// the inner step.
    After(std::path::PathBuf, Box<Step>),
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Approve => f.write_str("Approve"),
            Step::Remember => f.write_str("Remember"),
            Step::Where(id) => write!(f, "Where({id:?})"),
            Step::WhereDeny => f.write_str("WhereDeny"),
            Step::Change(..) => f.write_str("Change(<redacted>)"),
            Step::ChangeDeny => f.write_str("ChangeDeny"),
            Step::CancelOn(k) => write!(f, "CancelOn({k:?})"),
            Step::Version(v) => write!(f, "Version({v})"),
            Step::Deny => f.write_str("Deny"),
            Step::Pin(_) => f.write_str("Pin(<redacted>)"),
            Step::Choose(i) => write!(f, "Choose({i})"),
            Step::Hang => f.write_str("Hang"),
            Step::PinDeny => f.write_str("PinDeny"),
            Step::ChooseDeny => f.write_str("ChooseDeny"),
            Step::Delay(d, s) => write!(f, "Delay({d:?}, {s:?})"),
            Step::After(p, s) => write!(f, "After({p:?}, {s:?})"),
        }
    }
}

/// A script line that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("script line {line}: {message}")]
pub struct ScriptError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn parse_step(words: &[&str]) -> Result<Step, String> {
    match words {
        ["approve"] => Ok(Step::Approve),
        ["remember"] => Ok(Step::Remember),
        ["where", "deny"] => Ok(Step::WhereDeny),
        ["where", id] => Ok(Step::Where((*id).to_owned())),
        ["change", "deny"] => Ok(Step::ChangeDeny),
        ["change", old, new] => Ok(Step::Change(
            Zeroizing::new((*old).to_owned()),
            Zeroizing::new((*new).to_owned()),
        )),
        ["cancel", "on", kind] => StatusKind::parse(kind)
            .map(Step::CancelOn)
            .ok_or_else(|| format!("unknown status kind {kind:?}")),
        ["version", v] => match *v {
            "1" => Ok(Step::Version(1)),
            "2" => Ok(Step::Version(2)),
            _ => Err(format!("unknown version {v:?}")),
        },
        ["deny"] => Ok(Step::Deny),
        ["hang"] => Ok(Step::Hang),
        ["pin", "deny"] => Ok(Step::PinDeny),
        ["choose", "deny"] => Ok(Step::ChooseDeny),
        ["pin", pin] => Ok(Step::Pin(Zeroizing::new((*pin).to_owned()))),
        ["choose", n] => n
            .parse()
            .map(Step::Choose)
            .map_err(|_| format!("bad index {n:?}")),
        ["delay", ms, rest @ ..] => {
            let ms: u64 = ms.parse().map_err(|_| format!("bad delay {ms:?}"))?;
            Ok(Step::Delay(
                Duration::from_millis(ms),
                Box::new(parse_step(rest)?),
            ))
        }
        ["after", path, rest @ ..] => Ok(Step::After(
            std::path::PathBuf::from(path),
            Box::new(parse_step(rest)?),
        )),
        _ => Err(format!("unknown step {:?}", words.join(" "))),
    }
}

/// The records a [`ScriptedPrompt`] wrote to `path` so far: complete lines only, since the prompt
/// may be appending the next one while a test reads the file. A missing file is no records; a
/// complete line that is not JSON is an error.
pub fn read_record(path: &Path) -> Result<Vec<Json>, serde_json::Error> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().map(serde_json::from_str).collect()
}

/// Parses a script.
pub fn parse_script(text: &str) -> Result<Vec<Step>, ScriptError> {
    let mut steps = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        steps.push(parse_step(&words).map_err(|message| ScriptError {
            line: i + 1,
            message,
        })?);
    }
    if steps.is_empty() {
        return Err(ScriptError {
            line: 0,
            message: "the script is empty".into(),
        });
    }
    Ok(steps)
}

/// Which method a step answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queue {
    Consent,
    Pin,
    Choose,
    Where,
    Change,
    /// Directives: read at start, never answered.
    Directive,
}

fn queue_of(step: &Step) -> Queue {
    match step {
        Step::Delay(_, inner) | Step::After(_, inner) => queue_of(inner),
        Step::Pin(_) | Step::PinDeny => Queue::Pin,
        Step::Choose(_) | Step::ChooseDeny => Queue::Choose,
        Step::Where(_) | Step::WhereDeny => Queue::Where,
        Step::Change(..) | Step::ChangeDeny => Queue::Change,
        Step::CancelOn(_) | Step::Version(_) => Queue::Directive,
        Step::Approve | Step::Remember | Step::Deny | Step::Hang => Queue::Consent,
    }
}

/// The scripted prompt (serve it with [`serve()`], which picks the interface version the script
/// asks for).
pub struct ScriptedPrompt {
    steps: Vec<Step>,
    next: Mutex<HashMap<&'static str, usize>>,
    record: Mutex<Option<std::fs::File>>,
    dismissed: Mutex<HashSet<String>>,
}

impl ScriptedPrompt {
    /// A prompt following `steps`, appending records to `record` if given.
    pub fn new(steps: Vec<Step>, record: Option<&Path>) -> std::io::Result<Self> {
        let record = match record {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
            None => None,
        };
        Ok(Self {
            steps,
            next: Mutex::default(),
            record: Mutex::new(record),
            dismissed: Mutex::default(),
        })
    }

    /// The interface version the script asks for (`version N`; 2 by default).
    pub fn script_version(&self) -> u32 {
        self.steps
            .iter()
            .find_map(|s| match s {
                Step::Version(v) => Some(*v),
                _ => None,
            })
            .unwrap_or(crate::VERSION)
    }

    /// Whether the script cancels when a status of `kind` is shown.
    pub(crate) fn cancels_on(&self, kind: &str) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::CancelOn(k) if k.as_str() == kind))
    }

    /// Whether the script has steps for `queue`.
    pub(crate) fn has(&self, queue: Queue) -> bool {
        self.steps.iter().any(|s| queue_of(s) == queue)
    }

    /// The next step of `queue`'s kind (its last step repeats); refusal if it has none.
    pub(crate) fn take_step(&self, queue: Queue) -> Step {
        let mine: Vec<&Step> = self.steps.iter().filter(|s| queue_of(s) == queue).collect();
        let key = match queue {
            Queue::Consent => "consent",
            Queue::Pin => "pin",
            Queue::Choose => "choose",
            Queue::Where => "where",
            Queue::Change => "change",
            Queue::Directive => "directive",
        };
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let n = next.entry(key).or_insert(0);
        let i = (*n).min(mine.len().saturating_sub(1));
        *n += 1;
        mine.get(i).map(|s| (*s).clone()).unwrap_or(Step::Deny)
    }

    pub(crate) fn record(&self, method: &str, request_id: &str, details: Json) {
        let line = json!({"method": method, "request_id": request_id, "details": details});
        if let Some(f) = self
            .record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            // One write per record, so a reader never sees half of one from a split write.
            let mut text = line.to_string();
            text.push('\n');
            let _ = f.write_all(text.as_bytes());
        }
    }

    /// Whether the request was dismissed.
    fn is_dismissed(&self, request_id: &str) -> bool {
        self.dismissed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(request_id)
    }

    /// Resolves delays, waits and hangs: `None` means dismissed while hanging or waiting.
    pub(crate) async fn resolve(&self, request_id: &str, mut step: Step) -> Option<Step> {
        loop {
            match step {
                Step::Delay(d, inner) => {
                    tokio::time::sleep(d).await;
                    step = *inner;
                }
                Step::After(path, inner) => {
                    while !path.exists() {
                        if self.is_dismissed(request_id) {
                            return None;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    step = *inner;
                }
                Step::Hang => loop {
                    if self.is_dismissed(request_id) {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                },
                other => return Some(other),
            }
        }
    }
}

pub(crate) fn to_json(v: &Value<'_>) -> Json {
    match v {
        Value::Str(s) => Json::String(s.to_string()),
        Value::Bool(b) => Json::Bool(*b),
        Value::U32(n) => json!(n),
        Value::I32(n) => json!(n),
        Value::U64(n) => json!(n),
        Value::I64(n) => json!(n),
        Value::Value(inner) => to_json(inner),
        other => Json::String(format!("<{}>", other.value_signature())),
    }
}

pub(crate) fn dict_to_json(d: &HashMap<String, OwnedValue>) -> Json {
    let mut m = Map::new();
    for (k, v) in d {
        m.insert(k.clone(), to_json(v));
    }
    Json::Object(m)
}
