//! The workspace's binaries for the tests that run them (`latchkeyd`, `latchkey-platform-worker`,
//! `latchkey-test-prompt`, `latchkey-tty-prompt`, `latchkey`, `latchkey-native-host`).
//!
//! Cargo builds a package's own binaries for its tests, not those of other packages: latchkeyd's
//! tests need the prompt's and the worker's. So the first call in a process runs `cargo build
//! --bins` for the packages that have binaries, with this executable's profile (`--release` under
//! `cargo bench`), with the worker's TPM store when this kit has its `tpm` feature and with NFC
//! keys through PC/SC when it has its `pcsc` feature (a no-op when they are current), and
//! every call returns a path in that profile's directory (`target/debug`). `LATCHKEY_BIN_DIR`
//! names a directory of binaries built beforehand instead (the test script sets it to what it
//! just built, so nothing is rebuilt under running tests).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::SetupError;

/// The environment variable naming a directory of prebuilt binaries.
pub const BIN_DIR_ENV: &str = "LATCHKEY_BIN_DIR";

/// The packages whose binaries the tests run.
const PACKAGES: [&str; 5] = [
    "latchkey-daemon",
    "latchkey-prompt",
    "latchkey-worker",
    "latchkey-cli",
    "latchkey-native-host",
];

/// The features that give latchkeyd and `latchkey` NFC keys through PC/SC.
const PCSC_FEATURES: &str = "latchkey-daemon/pcsc,latchkey-cli/pcsc";

/// Where this executable's profile puts binaries (`target/debug`, `target/release`).
fn profile_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("no executable path: {e}"))?;
    // target/PROFILE/deps/TEST or target/PROFILE/examples/EXAMPLE.
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} has no profile directory", exe.display()))
}

/// Builds the binaries (a no-op when current) and returns their directory.
fn build(tpm: bool, pcsc: bool) -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        return Ok(PathBuf::from(dir));
    }
    let dir = profile_dir()?;
    let release = dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let mut cmd = Command::new(cargo);
    // Not `--quiet`: cargo then says what a long wait is (compiling, or "Blocking waiting for
    // file lock on build directory" while another cargo builds in the same target directory).
    cmd.args(["build", "--bins", "--manifest-path"])
        .arg(&manifest);
    for p in PACKAGES {
        cmd.args(["-p", p]);
    }
    if release {
        cmd.arg("--release");
    }
    if tpm {
        cmd.args(["--features", "latchkey-worker/tpm"]);
    }
    if pcsc {
        cmd.args(["--features", PCSC_FEATURES]);
    }
    eprintln!(
        "building the test binaries: cargo build --bins -p {}{}{}{}",
        PACKAGES.join(" -p "),
        if release { " --release" } else { "" },
        if tpm {
            " --features latchkey-worker/tpm"
        } else {
            ""
        },
        if pcsc {
            format!(" --features {PCSC_FEATURES}")
        } else {
            String::new()
        }
    );
    let status = cmd
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build of the test binaries failed: {status}"));
    }
    Ok(dir)
}

/// The binary `name`, built with the worker's TPM store when this kit has its `tpm` feature
/// (latchkey-daemon's `tpm` feature turns it on for latchkeyd's tests) and with PC/SC when it
/// has its `pcsc` feature (latchkey-daemon's and latchkey-cli's turn it on), or why there is none.
pub fn try_binary(name: &str) -> Result<PathBuf, SetupError> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR
        .get_or_init(|| build(cfg!(feature = "tpm"), cfg!(feature = "pcsc")))
        .as_ref()
        .map_err(|e| SetupError::new("the test binaries", e))?;
    let path = dir.join(name);
    if !path.is_file() {
        return Err(SetupError::new(name, format!("not in {}", dir.display())));
    }
    if name == "latchkeyd" {
        // This process's clients meet the latchkeyd under test, which no installed activation
        // file names.
        crate::trust_as_latchkeyd(&path);
    }
    Ok(path)
}

/// [`try_binary`], for tests: panics without it.
pub fn binary(name: &str) -> PathBuf {
    try_binary(name).unwrap_or_else(|e| panic!("{e}"))
}
