//! Per-user native messaging host manifests: how a browser finds `latchkey-native-host` and
//! which extension may start it.
//!
//! Chromium and Chrome: `$XDG_CONFIG_HOME/<browser>/NativeMessagingHosts/dev.latchkey.native_host.json`
//! with `allowed_origins`
//! (<https://developer.chrome.com/docs/extensions/develop/concepts/native-messaging#native-messaging-host-location>).
//! Firefox: `~/.mozilla/native-messaging-hosts/dev.latchkey.native_host.json` with
//! `allowed_extensions`
//! (<https://developer.mozilla.org/en-US/docs/Mozilla/Add-ons/WebExtensions/Native_manifests#manifest_location>).
//! Flatpak browsers read other directories and run the host inside their sandbox; see
//! `browser/README.md`.
//!
//! Installing writes one manifest per browser (atomically, mode 0644, through a uniquely named
//! temp file that is never an existing path or symlink), creates the directories it needs and
//! records beside the manifest which of them it created ([`Record`]). Uninstalling removes a
//! manifest only if it is ours ([`check_ours`]), then only the directories its install created,
//! while they are empty, never the browser's base directory (the home directory for Firefox, the
//! XDG config directory for Chromium and Chrome) or above, so that an install followed by an
//! uninstall leaves the disk as it was, and a `~/.mozilla` the browser made stays.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_json::json;

/// The native messaging host name the extension connects to.
pub const HOST_NAME: &str = "dev.latchkey.native_host";
/// The manifest's file name.
pub const MANIFEST_FILE: &str = "dev.latchkey.native_host.json";
/// The Chromium extension ID, fixed by the `key` in `browser/manifest.chromium.json`.
pub const CHROMIUM_EXTENSION_ID: &str = "fffpidmmhigeegjochefhdhalmjmeamj";
/// The Firefox add-on ID (`browser_specific_settings.gecko.id` in `browser/manifest.firefox.json`).
pub const FIREFOX_EXTENSION_ID: &str = "latchkey@latchkey.dev";
/// The mode of a written manifest: browsers only read it, and it holds no secret.
pub const MANIFEST_MODE: u32 = 0o644;

/// A browser whose per-user manifest directory we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    /// Debian's Chromium: `$XDG_CONFIG_HOME/chromium/NativeMessagingHosts`.
    Chromium,
    /// Google Chrome: `$XDG_CONFIG_HOME/google-chrome/NativeMessagingHosts`.
    Chrome,
    /// Firefox and Firefox ESR: `~/.mozilla/native-messaging-hosts`.
    Firefox,
}

/// The directories per-user manifests live under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDirs {
    /// The home directory (Firefox's `~/.mozilla`).
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME`, by default `~/.config` (Chromium's and Chrome's user data).
    pub config: PathBuf,
}

impl UserDirs {
    /// `$HOME` and `$XDG_CONFIG_HOME` (ignored unless absolute, as the XDG Base Directory
    /// specification says).
    pub fn from_env() -> Result<Self, InstallError> {
        Self::from_vars(
            std::env::var_os("HOME"),
            std::env::var_os("XDG_CONFIG_HOME"),
        )
    }

    /// The directories from the values of `HOME` and `XDG_CONFIG_HOME`.
    pub fn from_vars(
        home: Option<OsString>,
        config: Option<OsString>,
    ) -> Result<Self, InstallError> {
        let home = home
            .map(PathBuf::from)
            .filter(|h| h.is_absolute())
            .ok_or(InstallError::NoHome)?;
        let config = config
            .map(PathBuf::from)
            .filter(|c| c.is_absolute())
            .unwrap_or_else(|| home.join(".config"));
        Ok(UserDirs { home, config })
    }
}

impl Browser {
    /// Every browser [`install_manifests`] knows.
    pub const ALL: [Browser; 3] = [Browser::Chromium, Browser::Chrome, Browser::Firefox];

    /// A short lower-case name: `chromium`, `chrome`, `firefox`.
    pub fn name(self) -> &'static str {
        match self {
            Browser::Chromium => "chromium",
            Browser::Chrome => "chrome",
            Browser::Firefox => "firefox",
        }
    }

    /// The directory under which [`Browser::manifest_dir`] lies and above which nothing is
    /// created or removed.
    pub fn base_dir(self, dirs: &UserDirs) -> &Path {
        match self {
            Browser::Chromium | Browser::Chrome => &dirs.config,
            Browser::Firefox => &dirs.home,
        }
    }

    /// The per-user manifest directory.
    pub fn manifest_dir(self, dirs: &UserDirs) -> PathBuf {
        let base = self.base_dir(dirs);
        match self {
            Browser::Chromium => base.join("chromium/NativeMessagingHosts"),
            Browser::Chrome => base.join("google-chrome/NativeMessagingHosts"),
            Browser::Firefox => base.join(".mozilla/native-messaging-hosts"),
        }
    }

    /// The manifest naming `host` (an absolute path).
    pub fn manifest(self, host: &Path) -> serde_json::Value {
        let common = |key: &str, value: serde_json::Value| {
            json!({
                "name": HOST_NAME,
                "description": "Latchkey passkeys for the web",
                "path": host,
                "type": "stdio",
                key: value,
            })
        };
        match self {
            Browser::Chromium | Browser::Chrome => common(
                "allowed_origins",
                json!([format!("chrome-extension://{CHROMIUM_EXTENSION_ID}/")]),
            ),
            Browser::Firefox => common("allowed_extensions", json!([FIREFOX_EXTENSION_ID])),
        }
    }
}

/// An install or uninstall failure.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// `$HOME` is unset or not an absolute path.
    #[error("HOME is not set to an absolute path")]
    NoHome,
    /// The host path must be absolute (browsers resolve relative paths against the manifest).
    #[error("the host path {0} is not absolute")]
    RelativeHost(PathBuf),
    /// The host path cannot be written into a JSON manifest (it is not UTF-8).
    #[error("the host path {0} is not valid UTF-8")]
    NonUtf8Host(PathBuf),
    /// Writing or removing a manifest or directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `browser`'s manifest for `host` into `dir` (for browsers run with a custom profile:
/// Chromium with `--user-data-dir=D` reads `D/NativeMessagingHosts`), atomically and with mode
/// [`MANIFEST_MODE`], and beside it the [`Record`] of this install (the host and how many
/// directory levels it created). Returns the manifest written.
pub fn install_manifest_in(
    dir: &Path,
    browser: Browser,
    host: &Path,
) -> Result<PathBuf, InstallError> {
    if !host.is_absolute() {
        return Err(InstallError::RelativeHost(host.to_owned()));
    }
    let Some(host_str) = host.to_str() else {
        return Err(InstallError::NonUtf8Host(host.to_owned()));
    };
    let mut text = serde_json::to_string_pretty(&browser.manifest(host))
        .map_err(|e| io(host)(std::io::Error::other(e)))?;
    text.push('\n');
    let created = missing_levels(dir);
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    // A reinstall finds the directories present; the first install's count still holds.
    let earlier = Record::read(dir).map_or(0, |r| r.created_dirs);
    let record = Record {
        host: host_str.to_owned(),
        created_dirs: created.max(earlier),
    };
    let write = |name: &str, text: &str| {
        atomic::write(dir, name, text.as_bytes(), MANIFEST_MODE)
            .map_err(|(path, source)| InstallError::Io { path, source })
    };
    // The record first: a manifest never exists without the record that lets uninstall clean up.
    write(RECORD_FILE, &record.to_text())?;
    write(MANIFEST_FILE, &text)
}

/// Installs the manifests for `browsers`; returns the files written, in `browsers`' order.
pub fn install_manifests(
    dirs: &UserDirs,
    host: &Path,
    browsers: &[Browser],
) -> Result<Vec<PathBuf>, InstallError> {
    browsers
        .iter()
        .map(|b| install_manifest_in(&b.manifest_dir(dirs), *b, host))
        .collect()
}

/// A file at our manifest's name that uninstall left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Left {
    /// The file.
    pub path: PathBuf,
    /// Why it is not ours.
    pub reason: Foreign,
}

/// What [`uninstall_manifests`] removed and left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// The files removed: manifests and their install records.
    pub files: Vec<PathBuf>,
    /// The directories removed: ones install created, left empty.
    pub dirs: Vec<PathBuf>,
    /// Manifests at our file name that another program wrote, left in place.
    pub left: Vec<Left>,
}

/// Removes the manifests for `browsers` that are ours (see [`check_ours`]) and their install
/// records, then those directories the record says install created, deepest first, while they
/// are empty and below the browser's [`Browser::base_dir`]. Absent manifests are not an error; a
/// foreign manifest is left in place and reported in [`Removed::left`].
pub fn uninstall_manifests(dirs: &UserDirs, browsers: &[Browser]) -> Result<Removed, InstallError> {
    let mut removed = Removed::default();
    for b in browsers {
        uninstall_in(&b.manifest_dir(dirs), b.base_dir(dirs), &mut removed)?;
    }
    Ok(removed)
}

fn remove_if_present(path: &Path, removed: &mut Removed) -> Result<(), InstallError> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            removed.files.push(path.to_owned());
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

fn uninstall_in(dir: &Path, base: &Path, removed: &mut Removed) -> Result<(), InstallError> {
    let path = dir.join(MANIFEST_FILE);
    let record = Record::read(dir);
    let present = std::fs::symlink_metadata(&path).is_ok();
    let mut foreign = false;
    if present {
        match check_ours(&path, record.as_ref()) {
            Ok(()) => remove_if_present(&path, removed)?,
            Err(reason) => {
                removed.left.push(Left { path, reason });
                foreign = true;
            }
        }
    }
    remove_if_present(&dir.join(RECORD_FILE), removed)?;
    if foreign {
        // The directory still holds that manifest: nothing above it can be empty.
        return Ok(());
    }
    let mut d = dir;
    for _ in 0..record.map_or(0, |r| r.created_dirs) {
        // A directory that holds anything else (or is already gone) stops the climb.
        if d == base || !d.starts_with(base) || std::fs::remove_dir(d).is_err() {
            break;
        }
        removed.dirs.push(d.to_owned());
        let Some(parent) = d.parent() else { break };
        d = parent;
    }
    Ok(())
}

use crate::atomic_file as atomic;
mod record;

pub use record::{check_ours, Foreign, Record, HOST_BINARY, RECORD_FILE};

use record::missing_levels;

#[cfg(test)]
mod tests;
