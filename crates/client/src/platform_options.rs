//! The platform authenticator's own settings: `platform.toml` in `/etc/latchkey/` and in the
//! user's `$XDG_CONFIG_HOME/latchkey/` (the user's file wins for each setting it names).
//!
//! ```toml
//! # Offer post-quantum passkeys: ML-DSA-65 and ML-DSA-44 (FIPS 204; COSE -49, -48), after
//! # ES256, EdDSA and ES384. Off by default.
//! post_quantum = true
//! ```
//!
//! ML-DSA is opt-in because few relying parties verify it yet and its keys and signatures are
//! large (a makeCredential answer grows from about 300 bytes to about 5.5 KB). An RP still gets
//! one only if it lists -48 or -49 in `pubKeyCredParams`, and in its order of preference.
//! The file is read when the platform authenticator opens (before the worker's sandbox); a file
//! that does not parse stops it with the file's name and the reason.

use std::path::{Path, PathBuf};

use latchkey_authenticator::Config;

/// The file name in each configuration directory.
pub const FILE_NAME: &str = "platform.toml";

/// Settings of the platform authenticator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlatformOptions {
    /// Offer ML-DSA-65 and ML-DSA-44 credentials.
    pub post_quantum: bool,
}

/// One file's settings, each absent unless named.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    post_quantum: Option<bool>,
}

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct OptionsError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

impl PlatformOptions {
    /// The files read, system first: `/etc/latchkey/platform.toml`, then
    /// `$XDG_CONFIG_HOME/latchkey/platform.toml` (`~/.config/...` when the variable is unset or
    /// not absolute).
    pub fn paths() -> Vec<PathBuf> {
        let mut paths = vec![Path::new("/etc/latchkey").join(FILE_NAME)];
        let user = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .map(|h| h.join(".config"))
            });
        if let Some(base) = user {
            paths.push(base.join("latchkey").join(FILE_NAME));
        }
        paths
    }

    /// The settings from [`PlatformOptions::paths`].
    pub fn load() -> Result<Self, OptionsError> {
        Self::load_from(&Self::paths())
    }

    /// The settings from `paths`, later files overriding earlier ones; missing files are
    /// skipped.
    pub fn load_from(paths: &[PathBuf]) -> Result<Self, OptionsError> {
        let mut options = Self::default();
        for path in paths {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(OptionsError {
                        path: path.clone(),
                        reason: e.to_string(),
                    })
                }
            };
            let file: File = toml::from_str(&text).map_err(|e| OptionsError {
                path: path.clone(),
                reason: e.message().to_owned(),
            })?;
            if let Some(pq) = file.post_quantum {
                options.post_quantum = pq;
            }
        }
        Ok(options)
    }

    /// The authenticator configuration: [`crate::platform::config`] with these settings.
    pub fn config(self) -> Config {
        let config = crate::platform::config();
        if self.post_quantum {
            config.with_post_quantum()
        } else {
            config
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_authenticator::store::Algorithm;

    #[test]
    fn the_user_file_overrides_the_system_file_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let system = dir.path().join("system.toml");
        let user = dir.path().join("user.toml");
        let missing = dir.path().join("missing.toml");
        assert_eq!(
            PlatformOptions::load_from(std::slice::from_ref(&missing)).unwrap(),
            PlatformOptions::default()
        );
        std::fs::write(&system, "post_quantum = true\n").unwrap();
        let on = PlatformOptions::load_from(&[system.clone(), missing]).unwrap();
        assert!(on.post_quantum);
        assert_eq!(
            on.config().algorithms,
            [
                Algorithm::Es256,
                Algorithm::EdDsa,
                Algorithm::Es384,
                Algorithm::MlDsa65,
                Algorithm::MlDsa44
            ]
        );
        std::fs::write(&user, "# nothing set\n").unwrap();
        assert!(
            PlatformOptions::load_from(&[system.clone(), user.clone()])
                .unwrap()
                .post_quantum
        );
        std::fs::write(&user, "post_quantum = false\n").unwrap();
        let off = PlatformOptions::load_from(&[system.clone(), user.clone()]).unwrap();
        assert!(!off.post_quantum);
        assert!(!off.config().algorithms.iter().any(|a| a.is_post_quantum()));
        for bad in ["post_quantum = \"yes\"\n", "postquantum = true\n", "[[["] {
            std::fs::write(&user, bad).unwrap();
            let err = PlatformOptions::load_from(&[system.clone(), user.clone()]).unwrap_err();
            assert_eq!(err.path, user, "{bad}");
            assert!(err.to_string().starts_with(&user.display().to_string()));
        }
    }
}
