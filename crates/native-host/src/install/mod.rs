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
//! Installing writes one file per browser (atomically, mode 0644) and creates the directories
//! it needs; uninstalling removes that file and then those directories that are left empty, up
//! to the browser's base directory (the home directory for Firefox, the XDG config directory for
//! Chromium and Chrome), so that an install followed by an uninstall leaves the disk as it was.

use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
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
/// [`MANIFEST_MODE`]. Returns the file written.
pub fn install_manifest_in(
    dir: &Path,
    browser: Browser,
    host: &Path,
) -> Result<PathBuf, InstallError> {
    if !host.is_absolute() {
        return Err(InstallError::RelativeHost(host.to_owned()));
    }
    if host.to_str().is_none() {
        return Err(InstallError::NonUtf8Host(host.to_owned()));
    }
    let mut text = serde_json::to_string_pretty(&browser.manifest(host))
        .map_err(|e| io(host)(std::io::Error::other(e)))?;
    text.push('\n');
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(MANIFEST_FILE);
    let tmp = dir.join(format!(".{MANIFEST_FILE}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(MANIFEST_MODE))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(path)
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

/// What [`uninstall_manifests`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// The manifests removed.
    pub files: Vec<PathBuf>,
    /// The directories removed because they were left empty.
    pub dirs: Vec<PathBuf>,
}

/// Removes the manifests for `browsers`, then the directories between each manifest and its
/// browser's [`Browser::base_dir`] that are left empty. Absent manifests are not an error.
pub fn uninstall_manifests(dirs: &UserDirs, browsers: &[Browser]) -> Result<Removed, InstallError> {
    let mut removed = Removed::default();
    for b in browsers {
        let dir = b.manifest_dir(dirs);
        let path = dir.join(MANIFEST_FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => removed.files.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
        let base = b.base_dir(dirs);
        let mut d: &Path = &dir;
        while d != base && d.starts_with(base) {
            // A directory that holds anything else (or is already gone) stops the climb.
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            removed.dirs.push(d.to_owned());
            let Some(parent) = d.parent() else { break };
            d = parent;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests;
