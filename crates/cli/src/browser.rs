//! `latchkey browser install|uninstall`: the per-user native messaging manifests through which
//! Chromium, Chrome and Firefox start `latchkey-native-host` for the Latchkey extension.
//!
//! The files and their contents are `latchkey_native_host::install`'s; this module picks the
//! browsers and the host binary and prints what was done.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use latchkey_native_host::install::{
    install_manifests, uninstall_manifests, Browser, InstallError, UserDirs,
};
use serde_json::json;

/// The native host's file name, looked for next to this program.
const HOST_BINARY: &str = "latchkey-native-host";

/// `latchkey browser …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write the native messaging manifests that let the Latchkey extension start
    /// latchkey-native-host (per user; safe to repeat).
    #[command(after_help = "Examples:\n  latchkey browser install\n  \
        latchkey browser install --browser firefox --host /usr/libexec/latchkey-native-host\n\n\
        Writes dev.latchkey.native_host.json into\n  \
        $XDG_CONFIG_HOME/chromium/NativeMessagingHosts/ (Chromium)\n  \
        $XDG_CONFIG_HOME/google-chrome/NativeMessagingHosts/ (Chrome)\n  \
        ~/.mozilla/native-messaging-hosts/ (Firefox, Firefox ESR)")]
    Install(InstallArgs),
    /// Remove what `latchkey browser install` wrote (safe to repeat): our manifests, and the
    /// directories install created if they are empty. A manifest at our name that another
    /// program wrote is left in place and reported.
    Uninstall(UninstallArgs),
}

/// A `--browser` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// Debian's Chromium.
    Chromium,
    /// Google Chrome.
    Chrome,
    /// Firefox and Firefox ESR.
    Firefox,
    /// All of the above.
    All,
}

/// Options of `latchkey browser install`.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Which browsers (repeatable).
    #[arg(long, value_enum, default_value = "all")]
    pub browser: Vec<Which>,
    /// The native host executable [default: latchkey-native-host next to this program].
    #[arg(long, value_name = "PATH")]
    pub host: Option<PathBuf>,
    /// Print what was written as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `latchkey browser uninstall`.
#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    /// Which browsers (repeatable).
    #[arg(long, value_enum, default_value = "all")]
    pub browser: Vec<Which>,
    /// Print what was removed as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The browsers `which` names, each once, in [`Browser::ALL`]'s order.
fn browsers(which: &[Which]) -> Vec<Browser> {
    let wanted = |b: Browser| {
        which.iter().any(|w| match w {
            Which::All => true,
            Which::Chromium => b == Browser::Chromium,
            Which::Chrome => b == Browser::Chrome,
            Which::Firefox => b == Browser::Firefox,
        })
    };
    Browser::ALL.into_iter().filter(|b| wanted(*b)).collect()
}

/// Why `latchkey browser` failed.
#[derive(Debug)]
enum Error {
    /// No host binary was named and none is next to this program.
    NoHost,
    /// The named host is not a file.
    HostNotAFile(PathBuf),
    /// Writing or removing the manifests failed.
    Install(InstallError),
}

impl From<InstallError> for Error {
    fn from(e: InstallError) -> Self {
        Error::Install(e)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NoHost => write!(
                f,
                "cannot find {HOST_BINARY} next to this program; name it with --host"
            ),
            Error::HostNotAFile(p) => write!(f, "the native host {} is not a file", p.display()),
            Error::Install(e) => e.fmt(f),
        }
    }
}

/// The host to name in the manifests: `--host` made absolute, else the one next to the
/// running program.
fn host_path(host: Option<PathBuf>) -> Result<PathBuf, Error> {
    let host = match host {
        Some(h) => std::path::absolute(&h).unwrap_or(h),
        None => std::env::current_exe()
            .ok()
            .as_deref()
            .and_then(Path::parent)
            .map(|d| d.join(HOST_BINARY))
            .filter(|p| p.is_file())
            .ok_or(Error::NoHost)?,
    };
    if host.is_file() {
        Ok(host)
    } else {
        Err(Error::HostNotAFile(host))
    }
}

fn report(e: &Error, json: bool) -> ExitCode {
    if json {
        eprintln!("{}", json!({ "error": e.to_string() }));
    } else {
        eprintln!("error: {e}");
    }
    ExitCode::FAILURE
}

/// Runs `latchkey browser …`.
pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Install(args) => run_install(args),
        Command::Uninstall(args) => run_uninstall(args),
    }
}

fn run_install(args: InstallArgs) -> ExitCode {
    let browsers = browsers(&args.browser);
    let result = host_path(args.host).and_then(|host| {
        let dirs = UserDirs::from_env()?;
        Ok((install_manifests(&dirs, &host, &browsers)?, host))
    });
    let (files, host) = match result {
        Ok(r) => r,
        Err(e) => return report(&e, args.json),
    };
    if args.json {
        let installed: Vec<_> = browsers
            .iter()
            .zip(&files)
            .map(|(b, f)| json!({ "browser": b.name(), "manifest": f }))
            .collect();
        println!("{}", json!({ "host": host, "installed": installed }));
    } else {
        for f in &files {
            println!("Wrote {}", f.display());
        }
        println!(
            "The Latchkey extension can now start {} in {}.",
            host.display(),
            browsers
                .iter()
                .map(|b| b.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    ExitCode::SUCCESS
}

fn run_uninstall(args: UninstallArgs) -> ExitCode {
    let browsers = browsers(&args.browser);
    let result = UserDirs::from_env().and_then(|dirs| uninstall_manifests(&dirs, &browsers));
    let removed = match result {
        Ok(r) => r,
        Err(e) => return report(&Error::Install(e), args.json),
    };
    if args.json {
        let left: Vec<_> = removed
            .left
            .iter()
            .map(|l| json!({ "path": l.path, "reason": l.reason.to_string() }))
            .collect();
        println!(
            "{}",
            json!({ "removed": removed.files, "removed_dirs": removed.dirs, "left": left })
        );
    } else {
        if removed.files.is_empty() && removed.left.is_empty() {
            println!("Nothing was installed.");
        }
        for f in removed.files.iter().chain(&removed.dirs) {
            println!("Removed {}", f.display());
        }
        for l in &removed.left {
            println!(
                "Left {} in place: {}, so another program wrote it.",
                l.path.display(),
                l.reason
            );
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_choices_are_deduplicated_in_a_fixed_order() {
        assert_eq!(browsers(&[Which::All]), Browser::ALL.to_vec());
        assert_eq!(
            browsers(&[Which::Firefox, Which::Chromium, Which::Firefox]),
            vec![Browser::Chromium, Browser::Firefox]
        );
        assert_eq!(
            browsers(&[Which::Chrome, Which::All]),
            Browser::ALL.to_vec()
        );
    }

    #[test]
    fn a_named_host_must_be_a_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            host_path(Some(dir.path().to_owned())),
            Err(Error::HostNotAFile(_))
        ));
        let f = dir.path().join("host");
        std::fs::write(&f, b"").unwrap();
        assert_eq!(host_path(Some(f.clone())).unwrap(), f);
    }
}
