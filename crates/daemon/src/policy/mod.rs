//! Who may ask for what: TOML policy files in three layers.
//!
//! `/usr/share/latchkey/policy.d` (packaged) < `/etc/latchkey/policy.d` (administrator) <
//! `$XDG_CONFIG_HOME/latchkey/policy.d` (user). Files are read in name order; a file in the
//! administrator directory replaces the packaged file of the same name (the systemd drop-in
//! convention). The user layer may only *narrow*: it can `[[deny]]` callers, set
//! `unknown_callers = "deny"`, and remove native hosts (a `[[native_host]]` entry in the user layer
//! drops the trusted entry with that executable; it never adds one); anything that would widen
//! trust there is ignored with a warning.
//!
//! ```toml
//! [[privileged]]              # browsers: may vouch for any https origin
//! name = "Firefox (Flatpak)"
//! flatpak = "org.mozilla.firefox"     # or executable = "/usr/lib/firefox-esr/firefox-esr", or snap = "firefox"
//!
//! [[app]]                     # other apps: origin app:<app-id>, only these RP IDs
//! flatpak = "com.example.Chat"
//! rp_ids = ["chat.example.com"]
//!
//! [[native_host]]             # a native messaging host: privileged when a [[privileged]] browser started it
//! executable = "/usr/libexec/latchkey-native-host"
//!
//! [[trusted_prompt]]          # the graphical prompt allowed to approve on the user's behalf
//! executable = "/usr/libexec/latchkey-ui"
//!
//! [[deny]]                    # never serve this caller
//! snap = "chromium"
//!
//! unknown_callers = "prompt"  # or "deny"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::identity::CallerIdentity;

/// One way to recognise a process. Exactly one field must be set.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// A human-readable name for prompts and logs.
    #[serde(default)]
    pub name: Option<String>,
    /// An absolute executable path (matched by path, device and inode, unsandboxed only).
    #[serde(default)]
    pub executable: Option<PathBuf>,
    /// A Flatpak application ID.
    #[serde(default)]
    pub flatpak: Option<String>,
    /// A Snap name.
    #[serde(default)]
    pub snap: Option<String>,
    /// For `[[app]]`: the RP IDs the app may use.
    #[serde(default)]
    pub rp_ids: Vec<String>,
    /// For `[[trusted_prompt]]`: trusted only when the session bus or `systemd --user` started it
    /// (its parent process), not any process that runs the same executable (PROMPT-TRUST.md).
    #[serde(default)]
    pub bus_started: bool,
}

impl Matcher {
    fn is_well_formed(&self) -> bool {
        let set = [
            self.executable.is_some(),
            self.flatpak.is_some(),
            self.snap.is_some(),
        ];
        set.iter().filter(|b| **b).count() == 1
            && self.executable.as_deref().is_none_or(Path::is_absolute)
    }

    /// Whether `id` is the process this entry names.
    pub fn matches(&self, id: &CallerIdentity) -> bool {
        if let Some(f) = &self.flatpak {
            return id.flatpak_app_id.as_deref() == Some(f.as_str());
        }
        if let Some(s) = &self.snap {
            return id.flatpak_app_id.is_none() && id.snap_name.as_deref() == Some(s.as_str());
        }
        if let Some(e) = &self.executable {
            return !id.sandboxed() && id.executable_is(e);
        }
        false
    }

    fn label(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        if let Some(f) = &self.flatpak {
            return f.clone();
        }
        if let Some(s) = &self.snap {
            return s.clone();
        }
        self.executable
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
}

/// What to do with a caller no policy entry names.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UnknownCallers {
    /// Show it to the user as unverified and ask (the default).
    #[default]
    Prompt,
    /// Refuse it.
    Deny,
}

/// One policy file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    #[serde(default)]
    privileged: Vec<Matcher>,
    #[serde(default)]
    app: Vec<Matcher>,
    #[serde(default)]
    native_host: Vec<Matcher>,
    #[serde(default)]
    trusted_prompt: Vec<Matcher>,
    #[serde(default)]
    deny: Vec<Matcher>,
    #[serde(default)]
    unknown_callers: Option<UnknownCallers>,
}

/// Where the three layers live (overridable for tests and `latchkeyd --policy-dir`).
#[derive(Debug, Clone)]
pub struct PolicyDirs {
    /// Packaged defaults.
    pub system: PathBuf,
    /// Administrator.
    pub admin: PathBuf,
    /// The user's (may only narrow).
    pub user: Option<PathBuf>,
}

impl PolicyDirs {
    /// The standard locations.
    pub fn standard() -> Self {
        let user = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .map(|c| c.join("latchkey/policy.d"));
        Self {
            system: PathBuf::from("/usr/share/latchkey/policy.d"),
            admin: PathBuf::from("/etc/latchkey/policy.d"),
            user,
        }
    }
}

/// How policy classifies a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerClass {
    /// A configured browser: may vouch for any https origin.
    Privileged {
        /// Its policy name (for a native host: the browser's).
        name: String,
        /// The native messaging host executable the browser reached us through, if it did.
        via_native_host: Option<PathBuf>,
    },
    /// An app bound to some RP IDs.
    Bound {
        /// Its policy name.
        name: String,
        /// The RP IDs it may use.
        rp_ids: Vec<String>,
    },
    /// Named by no policy entry; the user decides.
    Unknown,
    /// Refused by policy.
    Denied,
}

/// A failure to load policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file is not valid policy TOML.
    #[error("parsing {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
}

/// The merged policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    privileged: Vec<Matcher>,
    app: Vec<Matcher>,
    native_host: Vec<Matcher>,
    trusted_prompt: Vec<Matcher>,
    deny: Vec<Matcher>,
    unknown_callers: UnknownCallers,
    /// Entries that were ignored, for the log.
    pub warnings: Vec<String>,
}

impl Policy {
    /// Loads and merges the three layers. A missing directory is an empty layer.
    pub fn load(dirs: &PolicyDirs) -> Result<Self, PolicyError> {
        let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
        for dir in [&dirs.system, &dirs.admin] {
            for (name, path) in list_toml(dir)? {
                files.insert(name, path);
            }
        }
        let mut policy = Policy::default();
        for path in files.values() {
            policy.merge_trusted(parse_file(path)?, path);
        }
        if let Some(user) = &dirs.user {
            for (_, path) in list_toml(user)? {
                policy.merge_user(parse_file(&path)?, &path);
            }
        }
        Ok(policy)
    }

    /// Parses one policy text as a trusted (system/admin) layer; for tests and tools.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyError::Parse {
            path: PathBuf::from("<string>"),
            message: e.to_string(),
        })?;
        let mut p = Policy::default();
        p.merge_trusted(file, Path::new("<string>"));
        Ok(p)
    }

    fn keep_well_formed(&mut self, list: Vec<Matcher>, path: &Path) -> Vec<Matcher> {
        let (good, bad): (Vec<_>, Vec<_>) = list.into_iter().partition(Matcher::is_well_formed);
        for m in bad {
            self.warnings.push(format!(
                "{}: entry {:?} must name exactly one of executable (absolute), flatpak, snap",
                path.display(),
                m.label()
            ));
        }
        good
    }

    /// Native hosts are named by executable only: the Flatpak/Snap case needs no entry (see
    /// [`Policy::classify`]).
    fn keep_native_hosts(&mut self, list: Vec<Matcher>, path: &Path) -> Vec<Matcher> {
        let (good, bad): (Vec<_>, Vec<_>) = list
            .into_iter()
            .partition(|m| m.is_well_formed() && m.executable.is_some());
        for m in bad {
            self.warnings.push(format!(
                "{}: native_host {:?} must name an absolute executable (and nothing else)",
                path.display(),
                m.label()
            ));
        }
        good
    }

    fn merge_trusted(&mut self, f: PolicyFile, path: &Path) {
        let privileged = self.keep_well_formed(f.privileged, path);
        let app = self.keep_well_formed(f.app, path);
        let trusted_prompt = self.keep_well_formed(f.trusted_prompt, path);
        let deny = self.keep_well_formed(f.deny, path);
        let native_host = self.keep_native_hosts(f.native_host, path);
        self.native_host.extend(native_host);
        self.privileged.extend(privileged);
        self.app.extend(app);
        self.trusted_prompt.extend(trusted_prompt);
        self.deny.extend(deny);
        if let Some(u) = f.unknown_callers {
            self.unknown_callers = u;
        }
    }

    fn merge_user(&mut self, f: PolicyFile, path: &Path) {
        let widening = f.privileged.len() + f.app.len() + f.trusted_prompt.len();
        if widening > 0 {
            self.warnings.push(format!(
                "{}: {widening} privileged/app/trusted_prompt entries ignored: user policy may only narrow",
                path.display()
            ));
        }
        let deny = self.keep_well_formed(f.deny, path);
        self.deny.extend(deny);
        for removed in self.keep_native_hosts(f.native_host, path) {
            self.native_host
                .retain(|m| m.executable != removed.executable);
        }
        if f.unknown_callers == Some(UnknownCallers::Deny) {
            self.unknown_callers = UnknownCallers::Deny;
        }
    }

    /// Classifies a caller. Deny wins over everything; privileged over bound.
    pub fn classify(&self, id: &CallerIdentity) -> CallerClass {
        if self.deny.iter().any(|m| m.matches(id)) {
            return CallerClass::Denied;
        }
        if let Some(m) = self.privileged.iter().find(|m| m.matches(id)) {
            return CallerClass::Privileged {
                name: m.label(),
                via_native_host: None,
            };
        }
        if let Some(class) = self.classify_native_host(id) {
            return class;
        }
        let bound: Vec<&Matcher> = self.app.iter().filter(|m| m.matches(id)).collect();
        if let Some(first) = bound.first() {
            let rp_ids = bound
                .iter()
                .flat_map(|m| m.rp_ids.iter().cloned())
                .collect();
            return CallerClass::Bound {
                name: first.label(),
                rp_ids,
            };
        }
        match self.unknown_callers {
            UnknownCallers::Prompt => CallerClass::Unknown,
            UnknownCallers::Deny => CallerClass::Denied,
        }
    }

    /// A configured native messaging host started by a privileged browser is that browser.
    ///
    /// The host must be the configured file (path, device, inode, our mount namespace, unsandboxed:
    /// [`Matcher::matches`]); its parent is read from the kernel like any caller
    /// ([`crate::identity::identify_parent`]), never from what the host says. A Flatpak browser
    /// needs nothing here: the host it starts runs inside the browser's sandbox, carries the
    /// browser's app ID and so matches the browser's own `flatpak =` entry (likewise a Snap).
    fn classify_native_host(&self, id: &CallerIdentity) -> Option<CallerClass> {
        let host = self.native_host.iter().find(|m| m.matches(id))?;
        let parent = crate::identity::identify_parent(id).ok()?;
        if self.deny.iter().any(|m| m.matches(&parent)) {
            return None;
        }
        let browser = self.privileged.iter().find(|m| m.matches(&parent))?;
        Some(CallerClass::Privileged {
            name: browser.label(),
            via_native_host: host.executable.clone(),
        })
    }

    /// Whether `id` is a prompt trusted to approve on the user's behalf.
    pub fn is_trusted_prompt(&self, id: &CallerIdentity) -> bool {
        !self.deny.iter().any(|m| m.matches(id))
            && self.trusted_prompt.iter().any(|m| m.matches(id))
    }

    /// Whether the trusted prompt entries `id` matches all ask that the bus started it
    /// (`bus_started = true`).
    pub fn trusted_prompt_needs_bus_start(&self, id: &CallerIdentity) -> bool {
        let mut entries = self
            .trusted_prompt
            .iter()
            .filter(|m| m.matches(id))
            .peekable();
        entries.peek().is_some() && entries.all(|m| m.bus_started)
    }
}

fn list_toml(dir: &Path) -> Result<Vec<(String, PathBuf)>, PolicyError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(PolicyError::Io {
                path: dir.to_owned(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| PolicyError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".toml") && !name.starts_with('.') {
            out.push((name, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn parse_file(path: &Path) -> Result<PolicyFile, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| PolicyError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
