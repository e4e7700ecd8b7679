//! Policy texts for latchkeyd under test (the TOML of `latchkey_daemon::policy`).

use std::path::Path;

/// This executable (the test binary, example or benchmark).
pub fn this_executable() -> std::path::PathBuf {
    std::env::current_exe().unwrap_or_else(|e| panic!("no executable path: {e}"))
}

/// `exe` is a privileged client (a browser) named `name`.
pub fn privileged(name: &str, exe: &Path) -> String {
    format!(
        "[[privileged]]\nname = \"{name}\"\nexecutable = \"{}\"\n",
        exe.display()
    )
}

/// `exe` is the trusted prompt.
pub fn trusted_prompt_at(exe: &Path) -> String {
    format!("[[trusted_prompt]]\nexecutable = \"{}\"\n", exe.display())
}

/// The scripted prompt process (`latchkey-test-prompt`) is the trusted prompt.
pub fn trusted_prompt() -> String {
    trusted_prompt_at(&crate::prompt::prompt_bin())
}

/// This executable is a privileged client and the test prompt is trusted.
pub fn privileged_self() -> String {
    format!(
        "{}{}",
        privileged("test browser", &this_executable()),
        trusted_prompt()
    )
}

/// This executable is a privileged client, and no prompt is trusted: a prompt it serves is one
/// the caller controls ([`crate::peer::serve_registered`]).
pub fn privileged_self_alone() -> String {
    privileged("test browser", &this_executable())
}

/// This executable is the trusted prompt: it serves the scripted prompt itself on its end of a
/// socket pair ([`crate::peer::serve_prompting`]), and no prompt binary is built.
pub fn self_prompting() -> String {
    trusted_prompt_at(&this_executable())
}

/// This executable is a privileged client and the trusted prompt ([`self_prompting`]).
pub fn privileged_self_prompting() -> String {
    format!(
        "{}{}",
        privileged("test browser", &this_executable()),
        self_prompting()
    )
}

/// This executable is an app bound to `rp_ids` (no prompt trusted).
pub fn bound(rp_ids: &[&str]) -> String {
    format!(
        "[[app]]\nname = \"test app\"\nexecutable = \"{}\"\nrp_ids = {:?}\n",
        this_executable().display(),
        rp_ids,
    )
}

/// This executable is an app bound to `rp_ids` and the trusted prompt ([`self_prompting`]).
pub fn bound_self_prompting(rp_ids: &[&str]) -> String {
    format!("{}{}", bound(rp_ids), self_prompting())
}

/// This executable is an app bound to `rp_ids`, and the test prompt is trusted.
pub fn bound_self(rp_ids: &[&str]) -> String {
    format!("{}{}", bound(rp_ids), trusted_prompt())
}
