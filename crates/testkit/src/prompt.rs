//! The scripted prompt (`latchkey_prompt::scripted`: answers from a script, records what it was
//! shown) on a test bus, as its own process ([`Prompt::spawn`], `latchkey-test-prompt`: the
//! prompt latchkeyd identifies through the kernel, trusted by [`crate::policy::trusted_prompt`])
//! or served in this process ([`serve_in_process`], trusted when policy names this executable).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use latchkey_prompt::{scripted, PROMPT_BUS_NAME};

use crate::bus::{first_line, TestBus};
use crate::SetupError;

/// How long the prompt may take to say `ready`.
const READY_LIMIT: Duration = Duration::from_secs(30);

/// The `latchkey-test-prompt` binary.
pub fn prompt_bin() -> PathBuf {
    crate::bins::binary("latchkey-test-prompt")
}

/// A running scripted prompt process, killed on drop; what it recorded through [`Record`]'s
/// methods.
pub struct Prompt {
    child: Child,
    /// What it records it was shown (empty for a prompt that records nothing).
    pub record: Record,
}

impl std::ops::Deref for Prompt {
    type Target = Record;
    fn deref(&self) -> &Record {
        &self.record
    }
}

/// What a scripted prompt records it was shown: JSON lines appended to a file, read as they come
/// (by a prompt process, or one served in this process, as over a socket pair).
#[derive(Debug)]
pub struct Record {
    path: PathBuf,
    /// The directory the file is in, when it is the record's own.
    _dir: Option<tempfile::TempDir>,
}

impl AsRef<Path> for Record {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl Prompt {
    /// Spawns the test prompt with `script` on `bus`; `register` makes it a caller-controlled
    /// prompt (`RegisterPrompt`) instead of the owner of `dev.latchkey.Prompt`.
    pub fn spawn(bus: &TestBus, script: &str, register: bool) -> Self {
        Self::spawn_with(&prompt_bin(), bus, script, register, true)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Self::spawn`] of the prompt at `bin`, recording what it is shown or not (a record line
    /// per call costs time inside a measured path).
    pub fn spawn_with(
        bin: &Path,
        bus: &TestBus,
        script: &str,
        register: bool,
        record: bool,
    ) -> Result<Self, SetupError> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let stamp = format!("{}-{n}", std::process::id());
        let script_path = bus.dir.path().join(format!("script-{stamp}"));
        let record_path = bus.dir.path().join(format!("record-{stamp}.jsonl"));
        std::fs::write(&script_path, script).map_err(|e| SetupError::new("prompt script", e))?;
        let mut cmd = Command::new(bin);
        cmd.arg("--script").arg(&script_path);
        if record {
            cmd.arg("--record").arg(&record_path);
        }
        cmd.arg("--address").arg(&bus.address);
        if register {
            cmd.arg("--register");
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| SetupError::new("latchkey-test-prompt", e))?;
        let line = child
            .stdout
            .take()
            .and_then(|out| first_line(out, READY_LIMIT))
            .unwrap_or_default();
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SetupError::new(
                "latchkey-test-prompt",
                format!("said {line:?}"),
            ));
        }
        Ok(Self {
            child,
            record: Record::at(record_path),
        })
    }
}

impl Record {
    /// The record a prompt writes to `path`.
    pub fn at(path: PathBuf) -> Self {
        Self { path, _dir: None }
    }

    /// A record in a temporary directory of its own, removed with it.
    pub fn temporary() -> Result<Self, SetupError> {
        let dir = tempfile::tempdir().map_err(|e| SetupError::new("prompt record directory", e))?;
        Ok(Self {
            path: dir.path().join("record.jsonl"),
            _dir: Some(dir),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The JSON lines recorded so far.
    pub fn shown(&self) -> Vec<serde_json::Value> {
        read_record(&self.path)
    }

    /// The recorded calls of `method` (`"Consent"`, `"RequestPin"`, …).
    pub fn calls(&self, method: &str) -> Vec<serde_json::Value> {
        calls(&self.path, method)
    }

    /// What each recorded `RequestPin` said of the retries left and of a wrong PIN before it,
    /// in order: `(retries, wrong_pin)`.
    pub fn pin_retries_asked(&self) -> Vec<(serde_json::Value, serde_json::Value)> {
        self.calls("RequestPin")
            .iter()
            .map(|p| {
                (
                    p["details"]["retries"].clone(),
                    p["details"]["wrong_pin"].clone(),
                )
            })
            .collect()
    }

    /// The recorded `Consent` calls.
    pub fn consents(&self) -> Vec<serde_json::Value> {
        self.calls("Consent")
    }

    /// Waits until `done` holds, looking again each time the prompt records a call.
    pub async fn until(&self, what: &str, done: impl FnMut() -> bool) {
        crate::wait::file_until(&self.path, what, done).await;
    }

    /// What the prompt was told to show, in order, as version 1 lines: a `Notice`'s text, or the
    /// line a `ShowStatus` stands for ([`latchkey_prompt::Status::v1_text`]).
    pub fn status_lines(&self) -> Vec<String> {
        status_lines(&self.path)
    }
}

/// [`Record::status_lines`] of the prompt recording into `record`.
pub fn status_lines(record: &Path) -> Vec<String> {
    read_record(record)
        .iter()
        .filter_map(|r| match r["method"].as_str() {
            Some("Notice") => r["details"].as_str().map(str::to_owned),
            Some("ShowStatus") => status_of(&r["details"]).map(|s| s.v1_text()),
            _ => None,
        })
        .collect()
}

/// A recorded `ShowStatus` dictionary as the status it stands for.
pub fn status_of(d: &serde_json::Value) -> Option<latchkey_prompt::Status> {
    let text = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
    Some(latchkey_prompt::Status {
        kind: latchkey_prompt::StatusKind::parse(d["kind"].as_str()?)?,
        authenticator: text("authenticator"),
        retries: d["retries"].as_u64().and_then(|n| u32::try_from(n).ok()),
        message: text("message"),
    })
}

impl Drop for Prompt {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JSON lines a scripted prompt recorded in `record` (none yet: empty).
pub fn read_record(record: &Path) -> Vec<serde_json::Value> {
    if !record.exists() {
        return Vec::new();
    }
    scripted::read_record(record).unwrap_or_else(|e| panic!("{}: {e}", record.display()))
}

/// The recorded calls of `method` in `record`.
pub fn calls(record: &Path, method: &str) -> Vec<serde_json::Value> {
    read_record(record)
        .into_iter()
        .filter(|r| r["method"] == method)
        .collect()
}

/// Serves the scripted prompt in this process on `address`, owning `dev.latchkey.Prompt`,
/// recording into `record`; returns its connection (the prompt lives as long as it).
pub async fn serve_in_process(
    address: &str,
    script: &str,
    record: Option<&Path>,
) -> Result<zbus::Connection, SetupError> {
    let steps = scripted::parse_script(script).map_err(|e| SetupError::new("prompt script", e))?;
    let prompt = scripted::ScriptedPrompt::new(steps, record)
        .map_err(|e| SetupError::new("prompt record", e))?;
    let conn = zbus::connection::Builder::address(address)
        .map_err(|e| SetupError::new("prompt connection", e))?
        .build()
        .await
        .map_err(|e| SetupError::new("prompt connection", e))?;
    scripted::serve(&conn, prompt)
        .await
        .map_err(|e| SetupError::new("prompt object", e))?;
    conn.request_name(PROMPT_BUS_NAME)
        .await
        .map_err(|e| SetupError::new("dev.latchkey.Prompt", e))?;
    Ok(conn)
}
