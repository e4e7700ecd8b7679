//! What an install leaves next to a manifest so that uninstall undoes exactly that install, and
//! how uninstall tells our manifest from another program's.
//!
//! Why a record file: after the fact, nothing on disk says whether `~/.mozilla` or
//! `~/.config/chromium` was created by us or by the browser (which may simply not have run yet).
//! Install is the only moment that knows, so it writes `.dev.latchkey.native_host.install`
//! beside the manifest: the host path it wrote and how many directory levels, counted upward
//! from the manifest directory, it created. Uninstall removes at most those levels, and only
//! when empty. A missing or unreadable record means "created nothing", so an old install (or a
//! damaged record) leaves every directory in place rather than guessing.

use std::path::Path;

use serde_json::json;

use super::HOST_NAME;

/// The record's file name, next to the manifest (hidden; browsers look only for
/// `dev.latchkey.native_host.json`).
pub const RECORD_FILE: &str = ".dev.latchkey.native_host.install";

/// The file name of the host binary we ship; a manifest naming a file so named is ours even
/// without a record (it was written before records existed, or the record is lost).
pub const HOST_BINARY: &str = "latchkey-native-host";

/// The largest manifest or record read (ours are a few hundred bytes).
const MAX_READ: u64 = 64 * 1024;

/// An install's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The host path written into the manifest.
    pub host: String,
    /// How many directory levels, from the manifest directory upward, install created.
    pub created_dirs: usize,
}

impl Record {
    /// The record's JSON text.
    pub fn to_text(&self) -> String {
        let mut s = json!({ "host": self.host, "created_dirs": self.created_dirs }).to_string();
        s.push('\n');
        s
    }

    /// Parses a record; `None` for anything that is not exactly what [`Record::to_text`] writes.
    pub fn parse(text: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let host = v.get("host")?.as_str()?.to_owned();
        let created_dirs = usize::try_from(v.get("created_dirs")?.as_u64()?).ok()?;
        Some(Record { host, created_dirs })
    }

    /// Reads the record in `dir`; `None` if absent or unreadable.
    pub fn read(dir: &Path) -> Option<Self> {
        Self::parse(&read_small(&dir.join(RECORD_FILE))?)
    }
}

/// A regular file's text, if it is one (not a symlink), at most [`MAX_READ`] bytes and UTF-8.
pub(super) fn read_small(path: &Path) -> Option<String> {
    use std::io::Read as _;
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_file() || meta.len() > MAX_READ {
        return None;
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_READ)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// Why a manifest at our file name is not ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Foreign {
    /// It is a symlink, a directory or something else that is not a regular file.
    #[error("it is not a regular file")]
    NotAFile,
    /// It is not a JSON object we can read.
    #[error("it is not a JSON manifest")]
    NotJson,
    /// Its `name` is another host's.
    #[error("its name is {0:?}, not {HOST_NAME:?}")]
    OtherName(String),
    /// Its `path` is neither the host install wrote nor a `latchkey-native-host`.
    #[error("its path {0:?} is not latchkey-native-host")]
    OtherHost(String),
}

/// Whether the manifest at `path` is one we wrote: a regular JSON file naming [`HOST_NAME`] whose
/// `path` is the host recorded at install, or any file called [`HOST_BINARY`].
pub fn check_ours(path: &Path, record: Option<&Record>) -> Result<(), Foreign> {
    let meta = std::fs::symlink_metadata(path).map_err(|_| Foreign::NotAFile)?;
    if !meta.file_type().is_file() {
        return Err(Foreign::NotAFile);
    }
    let text = read_small(path).ok_or(Foreign::NotJson)?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|_| Foreign::NotJson)?;
    let field = |k: &str| v.get(k).and_then(|s| s.as_str());
    let name = field("name").ok_or(Foreign::NotJson)?;
    if name != HOST_NAME {
        return Err(Foreign::OtherName(name.to_owned()));
    }
    let host = field("path").ok_or(Foreign::NotJson)?;
    let recorded = record.is_some_and(|r| r.host == host);
    let named_ours = Path::new(host).file_name() == Some(HOST_BINARY.as_ref());
    if recorded || named_ours {
        Ok(())
    } else {
        Err(Foreign::OtherHost(host.to_owned()))
    }
}

/// How many directory levels of `dir`, from `dir` upward, do not exist.
pub fn missing_levels(dir: &Path) -> usize {
    dir.ancestors()
        .take_while(|d| {
            matches!(std::fs::symlink_metadata(d), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
        })
        .count()
}
