//! The list of security keys a ceremony may use: every FIDO hidraw node discovery finds
//! ([`latchkey_transport::enumerate`]), every card on a PC/SC reader (with the `pcsc` feature,
//! [`pcsc`]), the keys named on the command line (`--device`), and the keys named in the config
//! file `$XDG_CONFIG_HOME/latchkey/devices.toml`
//! (`devices = ["unix:/run/…", "udp:127.0.0.1:8111", "hidraw:3", "pcsc:Reader 00 00"]`). All
//! are opened as [`Device`]s by [`crate::hid::open_spec`]; keys and cards that appear later
//! reach a ceremony through [`watch_all`].

pub mod pcsc;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

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
    /// Whether the cards on PC/SC readers are looked for (always none without the `pcsc`
    /// feature, or without pcscd).
    pub pcsc: bool,
}

impl Sources {
    /// The system's hidraw keys and NFC cards, the user's config file, and `extra`.
    pub fn system(extra: Vec<DeviceSpec>) -> Self {
        Self {
            roots: Some(Roots::default()),
            config: config_path(),
            extra,
            pcsc: true,
        }
    }

    /// Every spec, without duplicates, in the order: `extra`, config file, discovered keys,
    /// cards on PC/SC readers. A discovery failure (no sysfs, no pcscd) means no discovered
    /// keys, not an error.
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
        if self.pcsc {
            all.extend(pcsc::present_cards());
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
pub(crate) const WATCH_POLL: Duration = Duration::from_millis(200);

/// The pauses before each new attempt at opening a key whose node has just appeared (doubling
/// from 10 ms, one second in all). A node can be seen before it can be opened: udev applies the
/// desktop user's ACL to a hidraw node a moment after the kernel creates it (EACCES/EPERM until
/// then), and a Unix socket's node exists between its bind and its listen (ECONNREFUSED).
const OPEN_RETRY_PAUSES: [Duration; 7] = [
    Duration::from_millis(10),
    Duration::from_millis(20),
    Duration::from_millis(40),
    Duration::from_millis(80),
    Duration::from_millis(160),
    Duration::from_millis(320),
    Duration::from_millis(370),
];

/// Whether an open that failed with `error` may succeed a moment later, when the node that just
/// appeared is ready: only [`DeviceError::NotReady`] (no ACL yet, a socket not yet listening).
/// A key that is gone (unplugged again, its node removed) is not waited for, and a timeout or a
/// malformed answer comes from a key that was reached.
fn may_succeed_later(error: &DeviceError) -> bool {
    matches!(error, DeviceError::NotReady(_))
}

/// Calls `attempt` until it succeeds, fails for good (not [`may_succeed_later`]), or the
/// [`OPEN_RETRY_PAUSES`] are used up, calling `pause` with each pause between attempts. The last
/// error is returned with the number of attempts made.
pub(crate) fn open_with_retries<T>(
    mut attempt: impl FnMut() -> Result<T, DeviceError>,
    mut pause: impl FnMut(Duration),
) -> Result<T, (DeviceError, usize)> {
    let mut pauses = OPEN_RETRY_PAUSES.iter();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match attempt() {
            Ok(found) => return Ok(found),
            Err(error) => match pauses.next() {
                Some(&wait) if may_succeed_later(&error) => pause(wait),
                _ => return Err((error, attempts)),
            },
        }
    }
}

/// Follows `watcher` on a thread and sends every FIDO key that appears, opened, to the returned
/// receiver (for [`crate::select::select_joining`]). A key that fails to open is tried again
/// for about a second while the failure may be its node not being ready yet, then skipped
/// (logged at debug level). The
/// thread ends when the watcher fails, or at the first key that arrives after the receiver was
/// dropped (until then it sleeps in the watcher's poll).
pub fn watch_with(watcher: DeviceWatcher) -> mpsc::Receiver<Box<dyn Device>> {
    watch_with_opener(watcher, |info| {
        open_spec(&info.spec(), Some(&info.display_name()))
    })
}

/// [`watch_with`], opening each key that appears with `open` instead of as a hidraw node: the
/// seam where a test (or another transport) decides what a discovered node connects to.
pub fn watch_with_opener<F>(watcher: DeviceWatcher, open: F) -> mpsc::Receiver<Box<dyn Device>>
where
    F: Fn(&DeviceInfo) -> Result<Box<dyn Device>, DeviceError> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    spawn_watch(watcher, tx, open);
    rx
}

/// The thread of [`watch_with_opener`], sending to `tx`.
fn spawn_watch<F>(mut watcher: DeviceWatcher, tx: mpsc::Sender<Box<dyn Device>>, open: F)
where
    F: Fn(&DeviceInfo) -> Result<Box<dyn Device>, DeviceError> + Send + 'static,
{
    std::thread::spawn(move || loop {
        match watcher.next_event(WATCH_POLL) {
            Ok(Some(WatchEvent::Added(info))) => {
                match open_with_retries(|| open(&info), std::thread::sleep) {
                    Ok(device) => {
                        if tx.send(device).is_err() {
                            return;
                        }
                    }
                    Err((error, attempts)) => tracing::debug!(
                        path = %info.path.display(),
                        attempts,
                        %error,
                        "a key that appeared could not be opened; skipping it"
                    ),
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    });
}

/// [`watch_with`] over the system's uevents (or inotify on `/dev` without them).
pub fn watch(roots: Roots) -> std::io::Result<mpsc::Receiver<Box<dyn Device>>> {
    let (watcher, _) = DeviceWatcher::open(roots)?;
    Ok(watch_with(watcher))
}

/// Every key that appears from now on, opened: hidraw keys plugged in ([`watch`]) and, with
/// `pcsc`, cards put on PC/SC readers ([`pcsc::watch_into`]), on one receiver. Either source may
/// be unavailable (no uevents nor `/dev`, no pcscd); `Err` only if neither can be followed.
pub fn watch_all(
    roots: Roots,
    with_pcsc: bool,
) -> std::io::Result<mpsc::Receiver<Box<dyn Device>>> {
    let (tx, rx) = mpsc::channel();
    let hidraw = DeviceWatcher::open(roots).map(|(watcher, _)| {
        spawn_watch(watcher, tx.clone(), |info| {
            open_spec(&info.spec(), Some(&info.display_name()))
        })
    });
    let cards = with_pcsc && pcsc::watch_into(tx).is_ok();
    match hidraw {
        Err(e) if !cards => Err(e),
        _ => Ok(rx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Gone, Malformed, Unreachable};

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
            pcsc: false,
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

    /// An opener that fails with each of `failures` in turn, then succeeds; counts its calls.
    fn failing_then_open(
        failures: Vec<DeviceError>,
    ) -> (
        impl FnMut() -> Result<&'static str, DeviceError>,
        std::rc::Rc<std::cell::Cell<usize>>,
    ) {
        let calls = std::rc::Rc::new(std::cell::Cell::new(0));
        let counted = calls.clone();
        let mut failures = failures.into_iter();
        let attempt = move || {
            counted.set(counted.get() + 1);
            failures.next().map_or(Ok("opened"), Err)
        };
        (attempt, calls)
    }

    fn refused() -> DeviceError {
        DeviceError::NotReady(Unreachable::new(
            "/dev/hidraw7",
            std::io::Error::from_raw_os_error(111),
        ))
    }

    fn no_acl() -> DeviceError {
        DeviceError::NotReady(Unreachable::new(
            "/dev/hidraw7",
            std::io::Error::from_raw_os_error(13),
        ))
    }

    fn io(kind: std::io::ErrorKind) -> DeviceError {
        DeviceError::Io(std::io::Error::from(kind))
    }

    #[test]
    fn a_node_that_fails_to_open_at_first_is_opened_after_backing_off() {
        let (attempt, calls) = failing_then_open(vec![refused(), no_acl(), refused()]);
        let mut paused = Vec::new();
        let opened = open_with_retries(attempt, |d| paused.push(d)).unwrap();
        assert_eq!(opened, "opened");
        assert_eq!(calls.get(), 4);
        assert_eq!(
            paused,
            [10, 20, 40].map(Duration::from_millis),
            "doubling pauses between the attempts"
        );
    }

    #[test]
    fn a_node_that_never_opens_is_given_up_after_about_a_second() {
        let (attempt, calls) = failing_then_open((0..100).map(|_| refused()).collect());
        let mut paused = Vec::new();
        let (error, attempts) = open_with_retries(attempt, |d| paused.push(d)).unwrap_err();
        assert_eq!(attempts, OPEN_RETRY_PAUSES.len() + 1);
        assert_eq!(calls.get(), attempts);
        assert_eq!(paused, OPEN_RETRY_PAUSES);
        assert_eq!(paused.iter().sum::<Duration>(), Duration::from_secs(1));
        assert_eq!(
            error.to_string(),
            "the authenticator is not ready yet: /dev/hidraw7: Connection refused (os error 111)"
        );
    }

    #[test]
    fn a_key_that_is_gone_is_not_retried() {
        // An unplugged key: its node is removed (ENOENT) or the kernel says no device.
        for failure in [
            DeviceError::Gone(Gone::Os(Unreachable::new(
                "/dev/hidraw7",
                std::io::Error::from_raw_os_error(2),
            ))),
            DeviceError::Gone(Gone::Os(Unreachable::new(
                "/dev/hidraw7",
                std::io::Error::from_raw_os_error(19),
            ))),
        ] {
            let shown = failure.to_string();
            let (attempt, calls) = failing_then_open(vec![failure]);
            let mut paused = Vec::new();
            let (error, attempts) = open_with_retries(attempt, |d| paused.push(d)).unwrap_err();
            assert_eq!((attempts, calls.get()), (1, 1), "{shown}");
            assert!(paused.is_empty(), "{shown}");
            assert_eq!(error.to_string(), shown);
        }
    }

    #[test]
    fn a_key_that_was_reached_but_failed_is_not_retried() {
        for failure in [
            DeviceError::Timeout,
            DeviceError::Garbage(Malformed::Ctaphid(
                latchkey_ctap::hid::HostError::BadInitResponse,
            )),
            io(std::io::ErrorKind::InvalidData),
            io(std::io::ErrorKind::PermissionDenied),
        ] {
            let shown = failure.to_string();
            let (attempt, calls) = failing_then_open(vec![failure]);
            let mut paused = Vec::new();
            let (error, attempts) = open_with_retries(attempt, |d| paused.push(d)).unwrap_err();
            assert_eq!((attempts, calls.get()), (1, 1), "{shown}");
            assert!(paused.is_empty(), "{shown}");
            assert_eq!(error.to_string(), shown);
        }
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

    #[test]
    fn a_socket_nobody_listens_on_yet_is_not_ready() {
        // A socket node with no listener behind it: the state between a key's bind and its
        // listen (connection refused).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let (opened, failed) = open_all(&[DeviceSpec::Unix(path)]);
        assert!(opened.is_empty());
        assert!(
            matches!(&failed[0].error, DeviceError::NotReady(why)
                if why.error.kind() == std::io::ErrorKind::ConnectionRefused),
            "{:?}",
            failed[0].error
        );
    }
}
