//! A prompt that answers from a script and records what it was shown, for tests and benchmarks
//! (`latchkey-test-prompt`). One step per line. Each method has its own queue — consent steps,
//! PIN steps, account steps — consumed in order, the last step of a queue repeating:
//!
//! ```text
//! approve            # Consent → approved
//! remember           # Consent → approved, with "Always allow" ticked (results remember = true)
//! deny               # Consent → refused
//! hang               # Consent: never answers until Dismiss (then refused)
//! pin 1234           # RequestPin → writes "1234" into the PIN fd
//! pin deny           # RequestPin → refused
//! choose 1           # ChooseAccount → index 1
//! choose deny        # ChooseAccount → refused
//! delay 250 approve  # waits 250 ms, then the step (any queue)
//! ```
//!
//! The record file gets one JSON object per call: `{"method":…,"request_id":…,"details":{…}}`
//! (never a PIN).

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::{json, Map, Value as Json};
use zbus::zvariant::{OwnedFd, OwnedValue, Value};
use zeroize::Zeroizing;

use crate::response;

/// One scripted answer.
#[derive(Clone, PartialEq, Eq)]
pub enum Step {
    /// Approve a consent.
    Approve,
    /// Approve a consent and ask latchkeyd to remember it.
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
    /// Wait, then do the inner step.
    Delay(Duration, Box<Step>),
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Approve => f.write_str("Approve"),
            Step::Remember => f.write_str("Remember"),
            Step::Deny => f.write_str("Deny"),
            Step::Pin(_) => f.write_str("Pin(<redacted>)"),
            Step::Choose(i) => write!(f, "Choose({i})"),
            Step::Hang => f.write_str("Hang"),
            Step::PinDeny => f.write_str("PinDeny"),
            Step::ChooseDeny => f.write_str("ChooseDeny"),
            Step::Delay(d, s) => write!(f, "Delay({d:?}, {s:?})"),
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
        _ => Err(format!("unknown step {:?}", words.join(" "))),
    }
}

/// Parses a script.
/// The records a [`ScriptedPrompt`] wrote to `path` so far: complete lines only, since the prompt
/// may be appending the next one while a test reads the file. A missing file is no records; a
/// complete line that is not JSON is an error.
pub fn read_record(path: &Path) -> Result<Vec<Json>, serde_json::Error> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().map(serde_json::from_str).collect()
}

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
enum Queue {
    Consent,
    Pin,
    Choose,
}

fn queue_of(step: &Step) -> Queue {
    match step {
        Step::Delay(_, inner) => queue_of(inner),
        Step::Pin(_) | Step::PinDeny => Queue::Pin,
        Step::Choose(_) | Step::ChooseDeny => Queue::Choose,
        Step::Approve | Step::Remember | Step::Deny | Step::Hang => Queue::Consent,
    }
}

/// The scripted prompt object (serve it at [`crate::PROMPT_PATH`]).
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

    /// The next step of `queue`'s kind (its last step repeats); refusal if it has none.
    fn take_step(&self, queue: Queue) -> Step {
        let mine: Vec<&Step> = self.steps.iter().filter(|s| queue_of(s) == queue).collect();
        let key = match queue {
            Queue::Consent => "consent",
            Queue::Pin => "pin",
            Queue::Choose => "choose",
        };
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let n = next.entry(key).or_insert(0);
        let i = (*n).min(mine.len().saturating_sub(1));
        *n += 1;
        mine.get(i).map(|s| (*s).clone()).unwrap_or(Step::Deny)
    }

    fn record(&self, method: &str, request_id: &str, details: Json) {
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

    /// Resolves delays and hangs: `None` means dismissed while hanging.
    async fn resolve(&self, request_id: &str, mut step: Step) -> Option<Step> {
        loop {
            match step {
                Step::Delay(d, inner) => {
                    tokio::time::sleep(d).await;
                    step = *inner;
                }
                Step::Hang => loop {
                    if self
                        .dismissed
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .contains(request_id)
                    {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                },
                other => return Some(other),
            }
        }
    }
}

fn to_json(v: &Value<'_>) -> Json {
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

fn dict_to_json(d: &HashMap<String, OwnedValue>) -> Json {
    let mut m = Map::new();
    for (k, v) in d {
        m.insert(k.clone(), to_json(v));
    }
    Json::Object(m)
}

#[zbus::interface(name = "dev.latchkey.Prompt1")]
impl ScriptedPrompt {
    #[zbus(out_args("response", "results"))]
    async fn consent(
        &self,
        request_id: String,
        details: HashMap<String, OwnedValue>,
    ) -> (u32, HashMap<String, OwnedValue>) {
        self.record("Consent", &request_id, dict_to_json(&details));
        let step = self.take_step(Queue::Consent);
        let mut results = HashMap::new();
        let code = match self.resolve(&request_id, step).await {
            Some(Step::Approve) => response::APPROVED,
            Some(Step::Remember) => {
                results.insert("remember".to_owned(), OwnedValue::from(true));
                response::APPROVED
            }
            Some(Step::Deny) | None => response::DENIED,
            Some(_) => response::FAILED,
        };
        (code, results)
    }

    #[zbus(out_args("response"))]
    async fn request_pin(
        &self,
        request_id: String,
        details: HashMap<String, OwnedValue>,
        pin_sink: OwnedFd,
    ) -> u32 {
        self.record("RequestPin", &request_id, dict_to_json(&details));
        let step = self.take_step(Queue::Pin);
        match self.resolve(&request_id, step).await {
            Some(Step::Pin(pin)) => match crate::pin::write_pin(pin_sink.into(), pin.as_bytes()) {
                Ok(()) => response::APPROVED,
                Err(_) => response::FAILED,
            },
            Some(Step::PinDeny | Step::Deny) | None => response::DENIED,
            Some(_) => response::FAILED,
        }
    }

    #[zbus(out_args("response", "index"))]
    async fn choose_account(
        &self,
        request_id: String,
        accounts: Vec<HashMap<String, OwnedValue>>,
    ) -> (u32, u32) {
        self.record(
            "ChooseAccount",
            &request_id,
            Json::Array(accounts.iter().map(dict_to_json).collect()),
        );
        let step = self.take_step(Queue::Choose);
        match self.resolve(&request_id, step).await {
            Some(Step::Choose(i)) => (response::APPROVED, i),
            Some(Step::ChooseDeny | Step::Deny) | None => (response::DENIED, 0),
            Some(_) => (response::FAILED, 0),
        }
    }

    async fn dismiss(&self, request_id: String) {
        self.record("Dismiss", &request_id, Json::Null);
        self.dismissed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(request_id);
    }

    async fn notice(&self, request_id: String, text: String) {
        self.record("Notice", &request_id, Json::String(text));
    }

    #[zbus(property)]
    fn version(&self) -> u32 {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_steps() {
        let s =
            parse_script("# c\napprove\n\ndelay 5 pin 1234\nchoose 2\nhang\ndeny # x\n").unwrap();
        assert_eq!(s.len(), 5);
        assert_eq!(s[0], Step::Approve);
        assert_eq!(
            s[1],
            Step::Delay(
                Duration::from_millis(5),
                Box::new(Step::Pin(Zeroizing::new("1234".into())))
            )
        );
        assert_eq!(format!("{:?}", s[1]), "Delay(5ms, Pin(<redacted>))");
        assert_eq!(s[2], Step::Choose(2));
        assert_eq!(parse_script("bogus").unwrap_err().line, 1);
        let p = ScriptedPrompt::new(
            parse_script("approve\npin 1\ndeny\npin deny\n").unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(
            p.take_step(Queue::Pin),
            Step::Pin(Zeroizing::new("1".into()))
        );
        assert_eq!(p.take_step(Queue::Consent), Step::Approve);
        assert_eq!(p.take_step(Queue::Consent), Step::Deny);
        assert_eq!(p.take_step(Queue::Consent), Step::Deny);
        assert_eq!(p.take_step(Queue::Pin), Step::PinDeny);
        assert_eq!(p.take_step(Queue::Choose), Step::Deny);
        assert!(parse_script("\n#\n").is_err());
    }
}
