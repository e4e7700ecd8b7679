//! `latchkey install --user` / `latchkey uninstall --user`: the D-Bus activation file and the
//! systemd user unit that start latchkeyd on demand, and the same for the prompt (latchkey-ui) plus
//! the Passkeys window's desktop file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod prompt;
mod user;

use user::{install_user, store_dir, uninstall_user, UserDirs};

/// Options of `latchkey install`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  latchkey install --user\n\n\
    Writes $XDG_DATA_HOME/dbus-1/services/dev.latchkey.Credentials.service and\n\
    $XDG_CONFIG_HOME/systemd/user/latchkeyd.service, both naming the credential store\n\
    ($XDG_DATA_HOME/latchkey, or the --data-dir among ARGS) as latchkeyd's --data-dir;\n\
    and, for the prompt at /usr/libexec/latchkey-ui (the path policy trusts),\n\
    dev.latchkey.Prompt.service, latchkey-ui.service and\n\
    $XDG_DATA_HOME/applications/dev.latchkey.Passkeys.desktop.")]
pub struct InstallArgs {
    /// Install for the current user (the only mode).
    #[arg(long, required = true)]
    pub user: bool,
    /// The latchkeyd executable [default: the one next to this program, else from $PATH].
    #[arg(long, value_name = "PATH")]
    pub latchkeyd: Option<PathBuf>,
    /// Extra arguments for latchkeyd's command line (after `--`).
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

/// Options of `latchkey uninstall`.
#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    /// Remove the current user's installation (the only mode).
    #[arg(long, required = true)]
    pub user: bool,
}

/// The `latchkeyd` in `dir`, if it is a file.
fn beside(dir: &Path) -> Option<PathBuf> {
    let p = dir.join("latchkeyd");
    p.is_file().then_some(p)
}

/// The latchkeyd to install: next to the current executable, else the first on `$PATH`.
fn default_latchkeyd() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok();
    if let Some(p) = exe.as_deref().and_then(Path::parent).and_then(beside) {
        return Some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .filter(|d| d.is_absolute())
        .find_map(|d| beside(&d))
}

/// Runs `latchkey install`.
pub fn run_install(args: InstallArgs) -> ExitCode {
    let Some(latchkeyd) = args.latchkeyd.or_else(default_latchkeyd) else {
        eprintln!("error: cannot find latchkeyd next to this program or on $PATH; name it with --latchkeyd");
        return ExitCode::FAILURE;
    };
    let latchkeyd = std::path::absolute(&latchkeyd).unwrap_or(latchkeyd);
    let result = UserDirs::from_env().and_then(|dirs| {
        let mut files = install_user(&dirs, &latchkeyd, &args.args)?;
        files.extend(prompt::install_prompt(&dirs)?);
        Ok((files, store_dir(&dirs, &args.args)?))
    });
    match result {
        Ok((files, store)) => {
            for f in files {
                println!("Wrote {}", f.display());
            }
            println!(
                "latchkeyd ({}) now starts on demand, with its credential store in {}.",
                latchkeyd.display(),
                store.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `latchkey uninstall`.
pub fn run_uninstall(_args: UninstallArgs) -> ExitCode {
    let removed = UserDirs::from_env().and_then(|dirs| {
        let mut files = uninstall_user(&dirs)?;
        files.extend(prompt::uninstall_prompt(&dirs)?);
        Ok(files)
    });
    match removed {
        Ok(files) => {
            if files.is_empty() {
                println!("Nothing was installed.");
            }
            for f in files {
                println!("Removed {}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latchkeyd_is_found_only_as_a_file_in_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(beside(dir.path()), None);
        std::fs::write(dir.path().join("latchkeyd"), b"#!/bin/sh\n").unwrap();
        assert_eq!(beside(dir.path()), Some(dir.path().join("latchkeyd")));
    }
}
