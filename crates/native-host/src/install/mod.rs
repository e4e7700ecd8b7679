//! Per-user native messaging host manifests: how a browser finds `latchkey-native-host` and
//! which extension may start it.
//!
//! Chromium: `<dir>/dev.latchkey.native_host.json` with `allowed_origins`
//! (<https://developer.chrome.com/docs/extensions/develop/concepts/native-messaging#native-messaging-host-location>).
//! Firefox: `allowed_extensions` (<https://developer.mozilla.org/en-US/docs/Mozilla/Add-ons/WebExtensions/Native_manifests>).
//! Flatpak browsers read other directories and run the host inside their sandbox; see
//! `browser/README.md`.

use std::path::{Path, PathBuf};

use serde_json::json;

/// The native messaging host name the extension connects to.
pub const HOST_NAME: &str = "dev.latchkey.native_host";
/// The Chromium extension ID, fixed by the `key` in `browser/manifest.chromium.json`.
pub const CHROMIUM_EXTENSION_ID: &str = "fffpidmmhigeegjochefhdhalmjmeamj";
/// The Firefox add-on ID (`browser_specific_settings.gecko.id`).
pub const FIREFOX_EXTENSION_ID: &str = "latchkey@latchkey.dev";

/// A browser whose per-user manifest directory we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    /// Debian's Chromium: `~/.config/chromium/NativeMessagingHosts`.
    Chromium,
    /// Google Chrome: `~/.config/google-chrome/NativeMessagingHosts`.
    Chrome,
    /// Firefox and Firefox ESR: `~/.mozilla/native-messaging-hosts`.
    Firefox,
}

impl Browser {
    /// Every browser [`install_manifests`] knows.
    pub const ALL: [Browser; 3] = [Browser::Chromium, Browser::Chrome, Browser::Firefox];

    /// The per-user manifest directory under `home`.
    pub fn manifest_dir(self, home: &Path) -> PathBuf {
        match self {
            Browser::Chromium => home.join(".config/chromium/NativeMessagingHosts"),
            Browser::Chrome => home.join(".config/google-chrome/NativeMessagingHosts"),
            Browser::Firefox => home.join(".mozilla/native-messaging-hosts"),
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

/// An install failure.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The host path must be absolute (browsers resolve relative paths against the manifest).
    #[error("the host path {0} is not absolute")]
    RelativeHost(PathBuf),
    /// Writing or removing a manifest failed.
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
/// Chromium with `--user-data-dir=D` reads `D/NativeMessagingHosts`). Returns the file written.
pub fn install_manifest_in(
    dir: &Path,
    browser: Browser,
    host: &Path,
) -> Result<PathBuf, InstallError> {
    if !host.is_absolute() {
        return Err(InstallError::RelativeHost(host.to_owned()));
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(format!("{HOST_NAME}.json"));
    let text = serde_json::to_string_pretty(&browser.manifest(host)).unwrap_or_default();
    let tmp = dir.join(format!(".{HOST_NAME}.json.tmp"));
    std::fs::write(&tmp, text + "\n").map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(path)
}

/// Installs the manifests for `browsers` under `home`; returns the files written.
pub fn install_manifests(
    home: &Path,
    host: &Path,
    browsers: &[Browser],
) -> Result<Vec<PathBuf>, InstallError> {
    browsers
        .iter()
        .map(|b| install_manifest_in(&b.manifest_dir(home), *b, host))
        .collect()
}

/// Removes the manifests for `browsers` under `home`; returns the files that were removed
/// (absent ones are not an error).
pub fn uninstall_manifests(
    home: &Path,
    browsers: &[Browser],
) -> Result<Vec<PathBuf>, InstallError> {
    let mut removed = Vec::new();
    for b in browsers {
        let path = b.manifest_dir(home).join(format!("{HOST_NAME}.json"));
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_and_uninstalls_under_a_temp_home() {
        let home = tempfile::tempdir().unwrap();
        let host = Path::new("/usr/libexec/latchkey-native-host");
        let written = install_manifests(home.path(), host, &Browser::ALL).unwrap();
        assert_eq!(
            written,
            vec![
                home.path()
                    .join(".config/chromium/NativeMessagingHosts/dev.latchkey.native_host.json"),
                home.path().join(
                    ".config/google-chrome/NativeMessagingHosts/dev.latchkey.native_host.json"
                ),
                home.path()
                    .join(".mozilla/native-messaging-hosts/dev.latchkey.native_host.json"),
            ]
        );
        let chromium: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&written[0]).unwrap()).unwrap();
        assert_eq!(
            chromium,
            json!({
                "name": "dev.latchkey.native_host",
                "description": "Latchkey passkeys for the web",
                "path": "/usr/libexec/latchkey-native-host",
                "type": "stdio",
                "allowed_origins": ["chrome-extension://fffpidmmhigeegjochefhdhalmjmeamj/"],
            })
        );
        let firefox: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&written[2]).unwrap()).unwrap();
        assert_eq!(
            firefox["allowed_extensions"],
            json!(["latchkey@latchkey.dev"])
        );
        assert!(firefox.get("allowed_origins").is_none());
        // No temp files left behind.
        let entries: Vec<_> = std::fs::read_dir(written[0].parent().unwrap())
            .unwrap()
            .collect();
        assert_eq!(entries.len(), 1);

        // Reinstalling overwrites in place.
        install_manifests(home.path(), Path::new("/opt/lk/host"), &[Browser::Chrome]).unwrap();
        assert!(std::fs::read_to_string(&written[1])
            .unwrap()
            .contains("/opt/lk/host"));

        let removed =
            uninstall_manifests(home.path(), &[Browser::Chromium, Browser::Firefox]).unwrap();
        assert_eq!(removed, vec![written[0].clone(), written[2].clone()]);
        assert!(!written[0].exists() && written[1].exists() && !written[2].exists());
        // Uninstalling again removes nothing and is not an error.
        assert!(uninstall_manifests(home.path(), &[Browser::Chromium])
            .unwrap()
            .is_empty());
    }

    #[test]
    fn refuses_a_relative_host_path() {
        let home = tempfile::tempdir().unwrap();
        assert!(matches!(
            install_manifests(home.path(), Path::new("bin/host"), &[Browser::Firefox]),
            Err(InstallError::RelativeHost(_))
        ));
        assert!(!Browser::Firefox.manifest_dir(home.path()).exists());
    }
}
