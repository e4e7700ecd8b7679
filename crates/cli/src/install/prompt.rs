//! `latchkey install --user`, the prompt's half: D-Bus activation of `dev.latchkey.Prompt`
//! through a systemd user unit, and the desktop file of the Passkeys window, from the templates in
//! `data/` (`dev.latchkey.Prompt.service.in`, `latchkey-ui.service.in`,
//! `dev.latchkey.Passkeys.desktop.in`).
//!
//! | file | where |
//! |---|---|
//! | D-Bus service | `$XDG_DATA_HOME/dbus-1/services/dev.latchkey.Prompt.service` |
//! | systemd unit | `$XDG_CONFIG_HOME/systemd/user/latchkey-ui.service` |
//! | desktop file | `$XDG_DATA_HOME/applications/dev.latchkey.Passkeys.desktop` |
//!
//! All three start [`TRUSTED_UI`], the path the shipped policy trusts
//! (`data/policy.d/50-browsers.toml`, `[[trusted_prompt]]` with `bus_started = true`): a prompt
//! started from anywhere else would not be trusted, so there is no option to point them elsewhere.
//! A developer build is trusted through the admin policy layer (README, PROMPT-TRUST.md).

use std::path::PathBuf;

use super::user::{InstallError, UserDirs};

const DBUS_SERVICE_TEMPLATE: &str = include_str!("../../../../data/dev.latchkey.Prompt.service.in");
const SYSTEMD_UNIT_TEMPLATE: &str = include_str!("../../../../data/latchkey-ui.service.in");
const DESKTOP_TEMPLATE: &str = include_str!("../../../../data/dev.latchkey.Passkeys.desktop.in");

/// The prompt executable the shipped policy trusts.
pub const TRUSTED_UI: &str = "/usr/libexec/latchkey-ui";

/// The three files, in the order they are written.
pub fn prompt_files(dirs: &UserDirs) -> [PathBuf; 3] {
    [
        dirs.data_home
            .join("dbus-1/services/dev.latchkey.Prompt.service"),
        dirs.config_home.join("systemd/user/latchkey-ui.service"),
        dirs.data_home
            .join("applications/dev.latchkey.Passkeys.desktop"),
    ]
}

/// The texts of [`prompt_files`], each starting [`TRUSTED_UI`].
pub fn prompt_texts() -> [String; 3] {
    [
        DBUS_SERVICE_TEMPLATE.replace("@EXEC@", TRUSTED_UI),
        SYSTEMD_UNIT_TEMPLATE.replace("@EXEC@", TRUSTED_UI),
        DESKTOP_TEMPLATE.replace("@EXEC@", TRUSTED_UI),
    ]
}

/// Writes [`prompt_files`]; returns them.
pub fn install_prompt(dirs: &UserDirs) -> Result<Vec<PathBuf>, InstallError> {
    let files = prompt_files(dirs);
    for (path, text) in files.iter().zip(prompt_texts()) {
        super::user::write_atomic(path, &text)?;
    }
    Ok(files.to_vec())
}

/// Removes what [`install_prompt`] wrote; returns the files that existed.
pub fn uninstall_prompt(dirs: &UserDirs) -> Result<Vec<PathBuf>, InstallError> {
    let mut removed = Vec::new();
    for path in prompt_files(dirs) {
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(InstallError::Io { path, source }),
        }
    }
    Ok(removed)
}

/// Whether `path` is the executable of a `[[trusted_prompt]]` in the shipped policy.
#[cfg(test)]
fn shipped_policy_trusts(path: &std::path::Path) -> bool {
    let policy = include_str!("../../../../data/policy.d/50-browsers.toml");
    let mut in_prompt = false;
    policy.lines().any(|l| {
        if l.starts_with('[') {
            in_prompt = l == "[[trusted_prompt]]";
        }
        in_prompt
            && l.as_bytes() == format!("executable = {:?}", path.display().to_string()).as_bytes()
    })
}

#[cfg(test)]
#[path = "prompt_tests.rs"]
mod tests;
