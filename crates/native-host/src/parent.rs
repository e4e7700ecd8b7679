//! The host serves only when the process that started it is a configured browser.
//!
//! This is defence in depth, not the security boundary: latchkeyd identifies the host from the
//! kernel (D-Bus peer credentials) and decides itself whether a host whose parent is a
//! configured browser may vouch for web origins. The host only refuses early, so that a program
//! that merely runs `latchkey-native-host` gets nothing from it.
//!
//! The parent is read from `/proc/PPID/exe` and compared by path and by device and inode with
//! each allowed executable; the parent PID is read again afterwards, so a parent that exited
//! while we looked (and whose PID could be reused) is refused.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// The browsers the host serves by default: Debian/Ubuntu package paths of Chromium, Google
/// Chrome, Firefox ESR and Firefox.
pub const DEFAULT_BROWSERS: &[&str] = &[
    "/usr/lib/chromium/chromium",
    "/opt/google/chrome/chrome",
    "/usr/lib/firefox-esr/firefox-esr",
    "/usr/lib/firefox/firefox",
];

/// Replaces [`DEFAULT_BROWSERS`] with a colon-separated list of absolute executable paths.
pub const BROWSERS_ENV: &str = "LATCHKEY_NATIVE_HOST_BROWSERS";

/// Why the host refuses to serve.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParentError {
    /// The parent runs an executable that is not a configured browser.
    #[error("the parent process runs {0}, which is not a configured browser")]
    NotABrowser(PathBuf),
    /// The parent's executable could not be read (it exited, or belongs to someone else).
    #[error("the parent process ({0}) cannot be inspected")]
    Unreadable(u32),
    /// The parent exited while it was inspected.
    #[error("the parent process exited while it was inspected")]
    Gone,
}

/// The allowed browser executables: [`BROWSERS_ENV`] if set (absolute entries only), else
/// [`DEFAULT_BROWSERS`].
pub fn allowed_browsers(env: Option<&str>) -> Vec<PathBuf> {
    match env {
        Some(list) => list
            .split(':')
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .collect(),
        None => DEFAULT_BROWSERS.iter().map(PathBuf::from).collect(),
    }
}

/// Whether `exe` (a `/proc/PID/exe` target whose file has device and inode `file`) is one of
/// `allowed`: same path, and that path names the same file now.
pub fn is_allowed(exe: &Path, file: (u64, u64), allowed: &[PathBuf]) -> bool {
    allowed.iter().any(|a| {
        a == exe
            && std::fs::metadata(a)
                .map(|m| (m.dev(), m.ino()) == file)
                .unwrap_or(false)
    })
}

/// Checks this process's parent against `allowed`; returns the browser's executable.
pub fn check_parent(allowed: &[PathBuf]) -> Result<PathBuf, ParentError> {
    let ppid = std::os::unix::process::parent_id();
    if ppid <= 1 {
        return Err(ParentError::Gone);
    }
    let link = PathBuf::from(format!("/proc/{ppid}/exe"));
    let exe = std::fs::read_link(&link).map_err(|_| ParentError::Unreadable(ppid))?;
    let meta = std::fs::metadata(&link).map_err(|_| ParentError::Unreadable(ppid))?;
    if std::os::unix::process::parent_id() != ppid {
        return Err(ParentError::Gone);
    }
    if is_allowed(&exe, (meta.dev(), meta.ino()), allowed) {
        Ok(exe)
    } else {
        Err(ParentError::NotABrowser(exe))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_list_replaces_defaults_and_drops_relative_entries() {
        assert_eq!(allowed_browsers(None).len(), DEFAULT_BROWSERS.len());
        assert_eq!(
            allowed_browsers(Some("/a/b::relative:/c")),
            vec![PathBuf::from("/a/b"), PathBuf::from("/c")]
        );
        assert!(allowed_browsers(Some("")).is_empty());
    }

    #[test]
    fn matches_by_path_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let browser = dir.path().join("browser");
        let other = dir.path().join("other");
        std::fs::write(&browser, b"b").unwrap();
        std::fs::write(&other, b"o").unwrap();
        let m = std::fs::metadata(&browser).unwrap();
        let file = (m.dev(), m.ino());
        let allowed = vec![browser.clone()];
        assert!(is_allowed(&browser, file, &allowed));
        // Same path but another file (replaced after the parent started): refused.
        let o = std::fs::metadata(&other).unwrap();
        assert!(!is_allowed(&browser, (o.dev(), o.ino()), &allowed));
        // Another path: refused.
        assert!(!is_allowed(&other, (o.dev(), o.ino()), &allowed));
    }

    #[test]
    fn the_test_runner_is_not_a_default_browser() {
        match check_parent(&allowed_browsers(None)) {
            Err(ParentError::NotABrowser(exe)) => assert!(exe.is_absolute()),
            other => panic!("{other:?}"),
        }
    }
}
