//! The list of security keys a ceremony may use: every FIDO hidraw node discovery finds
//! ([`latchkey_transport::enumerate`]), the keys named on the command line (`--device`), and the
//! keys named in the config file `$XDG_CONFIG_HOME/latchkey/devices.toml`
//! (`devices = ["unix:/run/…", "udp:127.0.0.1:8111", "hidraw:3"]`). All are opened as CTAPHID
//! [`Device`]s by [`crate::hid::open_spec`].

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use latchkey_transport::discovery::SpecError;
use latchkey_transport::{enumerate, DeviceInfo, DeviceSpec, DeviceWatcher, Roots, WatchEvent};

use crate::device::{Device, DeviceError};
use crate::hid::open_spec;

/// Why the device list could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListError {
    /// The config file exists but cannot be read.
    #[error("cannot read {path}: {error}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The config file (or a `--device` argument) is not a valid device list.
    #[error("{origin}: {error}")]
    Spec {
        /// The file, or `--device`.
        origin: String,
        /// What is wrong.
        error: SpecError,
    },
}

/// `$XDG_CONFIG_HOME/latchkey/devices.toml` (`~/.config/latchkey/devices.toml` when the variable
/// is unset or not absolute); `None` without a usable home either.
pub fn config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".config"))
        })?;
    Some(base.join("latchkey").join("devices.toml"))
}

/// The specs listed in the config file at `path`; a missing file is an empty list.
pub fn read_config(path: &Path, dev_root: &Path) -> Result<Vec<DeviceSpec>, ListError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(ListError::ReadConfig {
                path: path.to_owned(),
                error,
            })
        }
    };
    DeviceSpec::parse_config_with_dev_root(&text, dev_root).map_err(|error| ListError::Spec {
        origin: path.display().to_string(),
        error,
    })
}

/// Where keys are looked for.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// sysfs and `/dev` for hidraw discovery; `None` skips discovery.
    pub roots: Option<Roots>,
    /// The config file; `None` skips it.
    pub config: Option<PathBuf>,
    /// Keys named explicitly (`--device`).
    pub extra: Vec<DeviceSpec>,
}

impl Sources {
    /// The system's hidraw keys, the user's config file, and `extra`.
    pub fn system(extra: Vec<DeviceSpec>) -> Self {
        Self {
            roots: Some(Roots::default()),
            config: config_path(),
            extra,
        }
    }

    /// Every spec, without duplicates, in the order: `extra`, config file, discovered keys.
    /// A discovery failure (no sysfs) means no discovered keys, not an error.
    pub fn specs(&self) -> Result<Vec<DeviceSpec>, ListError> {
        let dev_root = self
            .roots
            .as_ref()
            .map_or_else(|| PathBuf::from("/dev"), |r| r.dev.clone());
        let mut all = self.extra.clone();
        if let Some(path) = &self.config {
            all.extend(read_config(path, &dev_root)?);
        }
        if let Some(roots) = &self.roots {
            if let Ok(found) = enumerate(roots) {
                all.extend(found.devices.iter().map(|d| d.spec()));
            }
        }
        let mut unique: Vec<DeviceSpec> = Vec::with_capacity(all.len());
        for spec in all {
            if !unique.contains(&spec) {
                unique.push(spec);
            }
        }
        Ok(unique)
    }
}

/// A key that could not be opened.
#[derive(Debug)]
pub struct OpenFailure {
    /// Which.
    pub spec: DeviceSpec,
    /// Why.
    pub error: DeviceError,
}

/// Opens every spec; the ones that fail are returned beside the ones that opened.
pub fn open_all(specs: &[DeviceSpec]) -> (Vec<Box<dyn Device>>, Vec<OpenFailure>) {
    let mut opened = Vec::new();
    let mut failed = Vec::new();
    for spec in specs {
        match open_spec(spec, None) {
            Ok(d) => opened.push(d),
            Err(error) => failed.push(OpenFailure {
                spec: spec.clone(),
                error,
            }),
        }
    }
    (opened, failed)
}

/// How long one wait for a uevent lasts.
const WATCH_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Follows `watcher` on a thread and sends every FIDO key that appears, opened, to the returned
/// receiver (for [`crate::select::select_joining`]). Keys that fail to open are skipped. The
/// thread ends when the watcher fails, or at the first key that arrives after the receiver was
/// dropped (until then it sleeps in the watcher's poll).
pub fn watch_with(watcher: DeviceWatcher) -> mpsc::Receiver<Box<dyn Device>> {
    watch_with_opener(watcher, |info| {
        open_spec(&info.spec(), Some(&info.display_name()))
    })
}

/// [`watch_with`], opening each key that appears with `open` instead of as a hidraw node: the
/// seam where a test (or another transport) decides what a discovered node connects to.
pub fn watch_with_opener<F>(mut watcher: DeviceWatcher, open: F) -> mpsc::Receiver<Box<dyn Device>>
where
    F: Fn(&DeviceInfo) -> Result<Box<dyn Device>, DeviceError> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || loop {
        match watcher.next_event(WATCH_POLL) {
            Ok(Some(WatchEvent::Added(info))) => {
                if let Ok(device) = open(&info) {
                    if tx.send(device).is_err() {
                        return;
                    }
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    });
    rx
}

/// [`watch_with`] over the system's uevents (or inotify on `/dev` without them).
pub fn watch(roots: Roots) -> std::io::Result<mpsc::Receiver<Box<dyn Device>>> {
    let (watcher, _) = DeviceWatcher::open(roots)?;
    Ok(watch_with(watcher))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_and_extra_are_merged_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("devices.toml");
        std::fs::write(
            &config,
            "devices = [\"unix:/run/a\", \"udp:127.0.0.1:8111\", \"hidraw:3\"]\n",
        )
        .unwrap();
        let sources = Sources {
            roots: Some(Roots {
                sysfs: dir.path().join("sys"),
                dev: dir.path().join("dev"),
            }),
            config: Some(config),
            extra: vec!["unix:/run/a".parse().unwrap()],
        };
        let specs = sources.specs().unwrap();
        let names: Vec<String> = specs.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "unix:/run/a".to_string(),
                "udp:127.0.0.1:8111".to_string(),
                dir.path().join("dev/hidraw3").display().to_string(),
            ]
        );
    }

    #[test]
    fn a_missing_config_is_empty_and_a_bad_one_names_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.toml");
        assert!(read_config(&missing, Path::new("/dev")).unwrap().is_empty());
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "devices = [\"unix:/ok\", \"tcp:1\"]").unwrap();
        let err = read_config(&bad, Path::new("/dev")).unwrap_err();
        assert!(err.to_string().contains("devices[1]"), "{err}");
    }

    #[test]
    fn an_absent_key_fails_to_open_as_gone() {
        let dir = tempfile::tempdir().unwrap();
        let spec = DeviceSpec::Unix(dir.path().join("nothing"));
        let (opened, failed) = open_all(std::slice::from_ref(&spec));
        assert!(opened.is_empty());
        assert_eq!(failed.len(), 1);
        assert!(
            matches!(failed[0].error, DeviceError::Gone(_)),
            "{:?}",
            failed[0].error
        );
    }
}
