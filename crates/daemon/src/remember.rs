//! Remembered site decisions: "Always allow Firefox to use passkeys for example.com".
//!
//! The user ticks "Always allow" in the trusted prompt's consent dialog; latchkeyd (never the
//! prompt) keeps the decision, keyed by the privileged browser as policy names it
//! (`[[privileged]] name`, the identity policy vouches for from the kernel's view of the caller)
//! and the RP ID. The top-level origin is not part of the key because a decision is made and
//! used only for top-level, same-origin requests whose origin's effective domain is the RP ID or
//! under it ([`Eligible`]): an embedded frame, an origin authorized through Related Origin
//! Requests, an unverified or non-browser caller, and a caller-controlled prompt always get the
//! consent dialog. A remembered decision skips only the consent step: the ceremony is then run
//! with user verification required (see `crate::ceremony::Ceremony::new`), so the PIN (or the
//! key's own verification) is still asked.
//!
//! Stored in `remembered.json` in latchkeyd's state directory (`$XDG_STATE_HOME/latchkey`, or
//! systemd's `$STATE_DIRECTORY`), mode 0600, written atomically (temporary file, fsync, rename,
//! fsync of the directory). Bounded: at most [`MAX_DECISIONS`] entries and [`MAX_FILE_BYTES`]
//! on disk; a file that is larger, malformed or of another version is reported in the log and
//! ignored (latchkeyd starts with no decision), and moved aside to `remembered.json.malformed`
//! when the next decision is saved, so nothing of it is silently lost.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

/// Most decisions kept; remembering one more forgets the oldest.
pub const MAX_DECISIONS: usize = 1000;
/// Largest file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 256 * 1024;
/// Longest browser name kept (policy names are short).
pub const MAX_BROWSER_CHARS: usize = 128;
/// Longest RP ID (a DNS name and the trailing dot a canonical RP ID keeps).
pub const MAX_RP_ID_CHARS: usize = latchkey_webauthn::origin::MAX_RP_ID_LEN;
/// The file's name in the state directory.
pub const FILE_NAME: &str = "remembered.json";
/// The on-disk format's version.
const VERSION: u32 = 1;

/// One remembered decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The privileged browser, as policy names it.
    pub browser: String,
    /// The RP ID.
    pub rp_id: String,
    /// When it was made, in seconds since 1970.
    pub created: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    version: u32,
    decisions: Vec<Decision>,
}

/// A request that may be remembered or skip consent by a remembered decision: only
/// [`Eligible::check`] makes one, from what the request's authorization established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eligible {
    browser: String,
    rp_id: String,
}

/// What [`Eligible::check`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The browser's policy name when policy classified the caller as privileged.
    pub privileged_browser: Option<&'a str>,
    /// The caller is verified (policy allowed it; no approval of an unknown caller needed).
    pub verified: bool,
    /// The request comes from a top-level document (not a cross-origin frame).
    pub top_level: bool,
    /// The origin's effective domain is the RP ID or under it (not Related Origin Requests).
    pub own_domain: bool,
    /// The prompt is the trusted one (not a prompt the caller controls).
    pub trusted_prompt: bool,
    /// The authorized RP ID.
    pub rp_id: &'a str,
}

impl Eligible {
    /// The key of a request that may use or make a remembered decision, if it may.
    pub fn check(facts: Facts<'_>) -> Option<Self> {
        let browser = facts.privileged_browser?;
        let ok = facts.verified
            && facts.top_level
            && facts.own_domain
            && facts.trusted_prompt
            && !browser.is_empty()
            && browser.chars().count() <= MAX_BROWSER_CHARS
            && !facts.rp_id.is_empty()
            && facts.rp_id.chars().count() <= MAX_RP_ID_CHARS;
        ok.then(|| Self {
            browser: browser.to_owned(),
            rp_id: facts.rp_id.to_owned(),
        })
    }

    /// The browser.
    pub fn browser(&self) -> &str {
        &self.browser
    }

    /// The RP ID.
    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }
}

/// Why the decisions could not be saved.
#[derive(Debug, thiserror::Error)]
#[error("saving remembered decisions in {path}: {source}")]
pub struct SaveError {
    /// The file or directory that failed.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// Why a decisions file was ignored.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// It could not be read.
    #[error("cannot read {0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// It is larger than [`MAX_FILE_BYTES`].
    #[error("{0} is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge(PathBuf),
    /// It is not the expected JSON.
    #[error("{0} is malformed: {1}")]
    Malformed(PathBuf, serde_json::Error),
    /// It has another version, too many entries, or an entry out of bounds.
    #[error("{0} is not a version {VERSION} decisions file within bounds")]
    OutOfBounds(PathBuf),
}

struct Inner {
    decisions: Vec<Decision>,
    /// The file on disk was ignored as malformed: move it aside before the next save.
    broken: bool,
}

/// The remembered decisions of one latchkeyd: in memory, and in a file when given one.
pub struct Remembered {
    file: Option<PathBuf>,
    inner: Mutex<Inner>,
}

impl Default for Remembered {
    fn default() -> Self {
        Self::in_memory()
    }
}

impl Remembered {
    /// Decisions kept in memory only (tests, or no state directory).
    pub fn in_memory() -> Self {
        Self {
            file: None,
            inner: Mutex::new(Inner {
                decisions: Vec::new(),
                broken: false,
            }),
        }
    }

    /// Decisions kept in `dir`/[`FILE_NAME`], loaded now. A file that cannot be used is
    /// reported (the error is returned beside the store) and ignored.
    pub fn in_dir(dir: &Path) -> (Self, Option<LoadError>) {
        let file = dir.join(FILE_NAME);
        let (decisions, error) = match load(&file) {
            Ok(d) => (d, None),
            Err(LoadError::Io(_, e)) if e.kind() == std::io::ErrorKind::NotFound => {
                (Vec::new(), None)
            }
            Err(e) => (Vec::new(), Some(e)),
        };
        let broken = matches!(
            error,
            Some(LoadError::TooLarge(_) | LoadError::Malformed(..) | LoadError::OutOfBounds(_))
        );
        (
            Self {
                file: Some(file),
                inner: Mutex::new(Inner { decisions, broken }),
            },
            error,
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the user always allows `key`.
    pub fn contains(&self, key: &Eligible) -> bool {
        self.lock()
            .decisions
            .iter()
            .any(|d| d.browser == key.browser && d.rp_id == key.rp_id)
    }

    /// Every decision, oldest first.
    pub fn list(&self) -> Vec<Decision> {
        self.lock().decisions.clone()
    }

    /// Remembers `key` (made at `now`, seconds since 1970) and saves.
    pub fn remember(&self, key: &Eligible, now: u64) -> Result<(), SaveError> {
        let mut inner = self.lock();
        if inner
            .decisions
            .iter()
            .any(|d| d.browser == key.browser && d.rp_id == key.rp_id)
        {
            return Ok(());
        }
        let mut next = inner.decisions.clone();
        if next.len() >= MAX_DECISIONS {
            next.remove(0);
        }
        next.push(Decision {
            browser: key.browser.clone(),
            rp_id: key.rp_id.clone(),
            created: now,
        });
        self.save(&mut inner, next)
    }

    /// Forgets the decision for `browser` and `rp_id`; `Ok(false)` if there was none.
    pub fn revoke(&self, browser: &str, rp_id: &str) -> Result<bool, SaveError> {
        let mut inner = self.lock();
        let next: Vec<Decision> = inner
            .decisions
            .iter()
            .filter(|d| !(d.browser == browser && d.rp_id == rp_id))
            .cloned()
            .collect();
        if next.len() == inner.decisions.len() {
            return Ok(false);
        }
        self.save(&mut inner, next).map(|()| true)
    }

    /// Writes `next` to the file (if any), then makes it the decisions in memory.
    fn save(&self, inner: &mut Inner, next: Vec<Decision>) -> Result<(), SaveError> {
        if let Some(file) = &self.file {
            if inner.broken {
                let aside = file.with_extension("json.malformed");
                std::fs::rename(file, &aside).map_err(|source| SaveError {
                    path: aside.clone(),
                    source,
                })?;
                tracing::warn!(file = %file.display(), kept = %aside.display(), "the malformed decisions file was moved aside");
                inner.broken = false;
            }
            let text = serde_json::to_vec_pretty(&FileFormat {
                version: VERSION,
                decisions: next.clone(),
            })
            .map_err(|e| SaveError {
                path: file.clone(),
                source: std::io::Error::other(e),
            })?;
            write_atomic(file, &text)?;
        }
        inner.decisions = next;
        Ok(())
    }
}

fn load(file: &Path) -> Result<Vec<Decision>, LoadError> {
    let io = |e| LoadError::Io(file.to_owned(), e);
    let f = std::fs::File::open(file).map_err(io)?;
    if f.metadata().map_err(io)?.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge(file.to_owned()));
    }
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(&f, MAX_FILE_BYTES + 1), &mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge(file.to_owned()));
    }
    let parsed: FileFormat =
        serde_json::from_slice(&text).map_err(|e| LoadError::Malformed(file.to_owned(), e))?;
    let in_bounds = parsed.version == VERSION
        && parsed.decisions.len() <= MAX_DECISIONS
        && parsed.decisions.iter().all(|d| {
            !d.browser.is_empty()
                && d.browser.chars().count() <= MAX_BROWSER_CHARS
                && !d.rp_id.is_empty()
                && d.rp_id.chars().count() <= MAX_RP_ID_CHARS
        });
    if !in_bounds {
        return Err(LoadError::OutOfBounds(file.to_owned()));
    }
    Ok(parsed.decisions)
}

/// Writes `text` to `file` atomically: a temporary file beside it (mode 0600), fsync, rename,
/// fsync of the directory. Creates the directory (mode 0700) if needed.
fn write_atomic(file: &Path, text: &[u8]) -> Result<(), SaveError> {
    let err = |path: &Path| {
        let path = path.to_owned();
        move |source| SaveError { path, source }
    };
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(err(dir))?;
    let tmp = file.with_extension(format!("json.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(file)(e));
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err(dir))
}

/// latchkeyd's state directory: systemd's `$STATE_DIRECTORY` (the unit's `StateDirectory=`),
/// else `$XDG_STATE_HOME/latchkey`, else `~/.local/state/latchkey`.
pub fn state_dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(dir) = std::env::var_os("STATE_DIRECTORY").and_then(absolute) {
        return Some(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").and_then(absolute) {
        return Some(dir.join("latchkey"));
    }
    std::env::var_os("HOME")
        .and_then(absolute)
        .map(|h| h.join(".local/state/latchkey"))
}

#[cfg(test)]
mod tests;
