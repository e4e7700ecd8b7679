//! `latchkey install --user`: D-Bus activation and a systemd user unit for latchkeyd, from the
//! templates in `data/` (`dev.latchkey.Credentials.service.in`, `latchkeyd.service.in`).
//!
//! | file | where |
//! |---|---|
//! | D-Bus service | `$XDG_DATA_HOME/dbus-1/services/dev.latchkey.Credentials.service` |
//! | systemd unit | `$XDG_CONFIG_HOME/systemd/user/latchkeyd.service` |
//!
//! Files are written atomically (temp file, rename). `uninstall_user` removes exactly these.

use std::io::Write as _;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

const DBUS_SERVICE_TEMPLATE: &str =
    include_str!("../../../data/dev.latchkey.Credentials.service.in");
const SYSTEMD_UNIT_TEMPLATE: &str = include_str!("../../../data/latchkeyd.service.in");

/// D-Bus service file name.
pub const DBUS_SERVICE_FILE: &str = "dev.latchkey.Credentials.service";
/// systemd unit name.
pub const SYSTEMD_UNIT_FILE: &str = "latchkeyd.service";

/// Where to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDirs {
    /// `$XDG_DATA_HOME` (default `~/.local/share`).
    pub data_home: PathBuf,
    /// `$XDG_CONFIG_HOME` (default `~/.config`).
    pub config_home: PathBuf,
}

/// An installation failure.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// Neither the XDG variable nor `$HOME` is set (or they are not absolute).
    #[error("cannot find the user's {0} directory ($HOME is not set)")]
    NoHome(&'static str),
    /// The executable path cannot go into an `Exec=` line.
    #[error(
        "the latchkeyd path {0:?} must be absolute and free of spaces, quotes, % and newlines"
    )]
    BadExecutable(PathBuf),
    /// Writing or removing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl UserDirs {
    /// From `$XDG_DATA_HOME`, `$XDG_CONFIG_HOME` and `$HOME` (XDG Base Directory rules: relative
    /// values are ignored).
    pub fn from_env() -> Result<Self, InstallError> {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|h| h.is_absolute());
        let pick = |var: &str, default: &str, what: &'static str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .or_else(|| home.as_ref().map(|h| h.join(default)))
                .ok_or(InstallError::NoHome(what))
        };
        Ok(Self {
            data_home: pick("XDG_DATA_HOME", ".local/share", "data")?,
            config_home: pick("XDG_CONFIG_HOME", ".config", "config")?,
        })
    }

    /// The D-Bus service file path.
    pub fn dbus_service(&self) -> PathBuf {
        self.data_home
            .join("dbus-1/services")
            .join(DBUS_SERVICE_FILE)
    }

    /// The systemd unit path.
    pub fn systemd_unit(&self) -> PathBuf {
        self.config_home
            .join("systemd/user")
            .join(SYSTEMD_UNIT_FILE)
    }
}

fn exec_line(latchkeyd: &Path, args: &[String]) -> Result<String, InstallError> {
    let ok = |s: &str| {
        !s.is_empty()
            && !s
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '%'))
    };
    let exe = latchkeyd
        .to_str()
        .filter(|s| latchkeyd.is_absolute() && ok(s));
    let Some(exe) = exe else {
        return Err(InstallError::BadExecutable(latchkeyd.to_owned()));
    };
    if let Some(bad) = args.iter().find(|a| !ok(a)) {
        return Err(InstallError::BadExecutable(PathBuf::from(bad)));
    }
    Ok(std::iter::once(exe.to_owned())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" "))
}

/// The D-Bus service file text for `latchkeyd` started with `args`.
pub fn dbus_service_text(latchkeyd: &Path, args: &[String]) -> Result<String, InstallError> {
    Ok(DBUS_SERVICE_TEMPLATE.replace("@EXEC@", &exec_line(latchkeyd, args)?))
}

/// The systemd unit text.
pub fn systemd_unit_text(latchkeyd: &Path, args: &[String]) -> Result<String, InstallError> {
    Ok(SYSTEMD_UNIT_TEMPLATE.replace("@EXEC@", &exec_line(latchkeyd, args)?))
}

fn write_atomic(path: &Path, text: &str) -> Result<(), InstallError> {
    let io = |source| InstallError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .ok_or_else(|| io(std::io::Error::other("no parent directory")))?;
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Installs the D-Bus activation file and the systemd user unit for `latchkeyd` (extra `args`
/// are appended to its command line), and creates the credential store's directory (mode 0700):
/// the unit's `ProtectSystem=strict` leaves only that directory writable, so it must exist before
/// the service starts. Returns the files written.
pub fn install_user(
    dirs: &UserDirs,
    latchkeyd: &Path,
    args: &[String],
) -> Result<Vec<PathBuf>, InstallError> {
    let service = dbus_service_text(latchkeyd, args)?;
    let unit = systemd_unit_text(latchkeyd, args)?;
    let store = dirs.data_home.join("latchkey");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&store)
        .map_err(|source| InstallError::Io {
            path: store.clone(),
            source,
        })?;
    write_atomic(&dirs.dbus_service(), &service)?;
    write_atomic(&dirs.systemd_unit(), &unit)?;
    Ok(vec![dirs.dbus_service(), dirs.systemd_unit()])
}

/// Removes what [`install_user`] wrote; returns the files that existed.
pub fn uninstall_user(dirs: &UserDirs) -> Result<Vec<PathBuf>, InstallError> {
    let mut removed = Vec::new();
    for path in [dirs.dbus_service(), dirs.systemd_unit()] {
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(InstallError::Io { path, source }),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let dirs = UserDirs {
            data_home: t.path().join("data"),
            config_home: t.path().join("config"),
        };
        let exe = Path::new("/usr/libexec/latchkeyd");
        let files = install_user(&dirs, exe, &["--log-level=debug".into()]).unwrap();
        assert_eq!(files.len(), 2);
        let service = std::fs::read_to_string(dirs.dbus_service()).unwrap();
        assert!(service.contains("Name=dev.latchkey.Credentials\n"));
        assert!(service.contains("Exec=/usr/libexec/latchkeyd --log-level=debug\n"));
        assert!(service.contains("SystemdService=latchkeyd.service\n"));
        let unit = std::fs::read_to_string(dirs.systemd_unit()).unwrap();
        assert!(
            unit.contains("Type=dbus\n") && unit.contains("BusName=dev.latchkey.Credentials\n")
        );
        assert!(unit.contains("ExecStart=/usr/libexec/latchkeyd --log-level=debug\n"));
        // Hardening that fits a per-user service with the session bus, its data directory,
        // hidraw and HTTPS; the mount-namespace settings need PrivateUsers=yes in a user unit.
        for line in [
            "PrivateUsers=yes",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ReadWritePaths=-%h/.local/share/latchkey",
            "PrivateTmp=yes",
            "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes",
            "ProtectControlGroups=yes",
            "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6",
            "LockPersonality=yes",
            "MemoryDenyWriteExecute=yes",
            "RestrictNamespaces=yes",
            "SystemCallArchitectures=native",
            "UMask=0077",
        ] {
            assert!(
                unit.lines().any(|l| l == line),
                "{line} missing from:\n{unit}"
            );
        }
        assert!(
            !unit.contains("PrivateDevices"),
            "hidraw must stay reachable"
        );
        assert!(
            !unit.contains("ProtectHome"),
            "the data directory is under home"
        );
        use std::os::unix::fs::PermissionsExt;
        let store = dirs.data_home.join("latchkey");
        let mode = std::fs::metadata(&store).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "the store directory exists, private");
        assert_eq!(uninstall_user(&dirs).unwrap().len(), 2);
        assert!(!dirs.dbus_service().exists() && !dirs.systemd_unit().exists());
        assert!(uninstall_user(&dirs).unwrap().is_empty());
    }

    #[test]
    fn refuses_unsafe_exec_lines() {
        for bad in [
            "relative/latchkeyd",
            "/path with space/latchkeyd",
            "/x%i",
            "/a\"b",
        ] {
            assert!(
                matches!(
                    dbus_service_text(Path::new(bad), &[]),
                    Err(InstallError::BadExecutable(_))
                ),
                "{bad}"
            );
        }
        assert!(dbus_service_text(Path::new("/ok"), &["--a b".into()]).is_err());
    }
}
