//! What every ceremony command shares: which authenticator, where PINs come from, how errors
//! are printed.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use latchkey_client::devices::{open_all, Sources};
use latchkey_client::Device;
use latchkey_transport::DeviceSpec;
use latchkey_webauthn::WebAuthnError;

use crate::prompt::{PinSource, TerminalUi};

/// How long `--device all` waits for a key to be touched (or plugged in and touched).
const JOIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Which authenticator, PIN input and output format.
#[derive(Debug, Clone, clap::Args)]
pub struct DeviceArgs {
    /// Use the security key at unix:PATH, udp:HOST:PORT (e.g. a `latchkey virtual-key`),
    /// /dev/hidrawN or hidraw:N, or the NFC card on the PC/SC reader pcsc:READER (a build with
    /// the `pcsc` feature), instead of the platform authenticator. Repeat it to name several
    /// keys: the one touched first is used. `all` means every key present: the USB keys found,
    /// the cards on PC/SC readers, the ones listed in $XDG_CONFIG_HOME/latchkey/devices.toml
    /// (`devices = ["unix:…"]`) and any other `--device`; keys plugged in and cards put on a
    /// reader while it waits join the choice.
    #[arg(
        long,
        value_name = "unix:PATH|udp:HOST:PORT|/dev/hidrawN|pcsc:READER|all"
    )]
    pub device: Vec<String>,
    /// The platform authenticator's credential store [default: $XDG_DATA_HOME/latchkey].
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Read PINs from this open file descriptor, one per line, in the order they are needed
    /// (on first use the first line becomes the new PIN). Without it, PINs are asked on the
    /// terminal with echo off.
    #[arg(long, value_name = "N")]
    pub pin_fd: Option<u32>,
    /// Print errors (and listings) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Run the ceremony in this process rather than through latchkeyd. Without it (and without
    /// --device or --store), latchkeyd is used when it runs or can be started on the session bus.
    #[arg(long)]
    pub local: bool,
    /// Say on standard error which path (latchkeyd or in-process) is taken.
    #[arg(long)]
    pub verbose: bool,
}

impl DeviceArgs {
    /// Whether to go through latchkeyd: no `--local`, `--device` or `--store`, and latchkeyd is on
    /// the session bus (running or activatable).
    pub fn use_daemon(&self) -> bool {
        let eligible = !self.local && self.device.is_empty() && self.store.is_none();
        let chosen = eligible && crate::daemon::available();
        if self.verbose {
            eprintln!(
                "{}",
                if chosen {
                    "Using latchkeyd on the session bus."
                } else {
                    "Running in this process (latchkeyd is not used)."
                }
            );
        }
        chosen
    }

    /// Opens the chosen authenticator. The platform authenticator takes the user's presence as
    /// given: running this command at a terminal is the user's gesture.
    pub fn open(&self, ui: &mut TerminalUi) -> Result<Box<dyn Device>, WebAuthnError> {
        if self.device.is_empty() {
            return crate::local::open(self.store.as_deref())
                .map(|d| Box::new(d) as Box<dyn Device>);
        }
        let devices = self.open_keys()?;
        if !self.all() {
            return latchkey_client::select::select(devices, ui);
        }
        // Keys plugged in (and cards put on a reader) while the user is asked for a touch join
        // the choice.
        let roots = latchkey_transport::Roots::default();
        let joins = match latchkey_client::devices::watch_all(roots, true) {
            Ok(rx) => rx,
            Err(e) => {
                eprintln!("warning: cannot follow keys being plugged in: {e}");
                std::sync::mpsc::channel().1
            }
        };
        if devices.is_empty() && !self.json {
            eprintln!("Plug in a security key and touch it, or hold one to the reader.");
        }
        latchkey_client::select::select_joining(devices, &joins, ui, JOIN_TIMEOUT)
    }

    /// The `--device` specs, with `all` left out.
    pub fn specs(&self) -> Result<Vec<DeviceSpec>, WebAuthnError> {
        self.device
            .iter()
            .filter(|s| s.as_str() != "all")
            .map(|s| {
                s.parse::<DeviceSpec>()
                    .map_err(|e| WebAuthnError::type_error(format!("--device: {e}")))
            })
            .collect()
    }

    /// Whether `--device all` was given.
    pub fn all(&self) -> bool {
        self.device.iter().any(|s| s == "all")
    }

    /// The specs of every key to use: the named ones, plus with `all` the config file's and the
    /// discovered ones.
    pub fn key_specs(&self) -> Result<Vec<DeviceSpec>, WebAuthnError> {
        let named = self.specs()?;
        if !self.all() {
            return Ok(named);
        }
        Sources::system(named)
            .specs()
            .map_err(|e| WebAuthnError::type_error(e.to_string()))
    }

    /// Opens every named key (all present keys with `all`, possibly none yet). A named key that
    /// cannot be opened is an error; with `all`, keys that fail to open are skipped with a
    /// warning.
    pub fn open_keys(&self) -> Result<Vec<Box<dyn Device>>, WebAuthnError> {
        let specs = self.key_specs()?;
        let (opened, failed) = open_all(&specs);
        if let Some(f) = failed.first() {
            if !self.all() {
                return Err(WebAuthnError::not_allowed(format!(
                    "cannot open the authenticator {}: {}",
                    f.spec, f.error
                )));
            }
        }
        for f in &failed {
            eprintln!("warning: skipping {}: {}", f.spec, f.error);
        }
        if opened.is_empty() && !self.all() {
            return Err(WebAuthnError::not_allowed(
                "no security key is present (plug one in, or name one with --device)",
            ));
        }
        Ok(opened)
    }

    /// Whether a security key (rather than the platform authenticator) was named.
    pub fn security_key(&self) -> bool {
        !self.device.is_empty()
    }

    /// The UI: PINs from `--pin-fd` or the terminal.
    pub fn ui(&self) -> Result<TerminalUi, WebAuthnError> {
        let pins = match self.pin_fd {
            Some(fd) => PinSource::from_fd(fd).map_err(|e| {
                WebAuthnError::not_allowed(format!(
                    "cannot read PINs from file descriptor {fd}: {e}"
                ))
            })?,
            None => PinSource::Terminal,
        };
        Ok(TerminalUi::new(pins, self.json))
    }
}

/// Reads options JSON from `path`, or standard input when `None` or `-`.
pub fn read_options(path: Option<&PathBuf>) -> Result<Vec<u8>, WebAuthnError> {
    let mut buf = Vec::new();
    let result = match path {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::File::open(p).and_then(|mut f| f.read_to_end(&mut buf))
        }
        _ => std::io::stdin().read_to_end(&mut buf),
    };
    result.map_err(|e| WebAuthnError::type_error(format!("cannot read the options: {e}")))?;
    Ok(buf)
}

/// Prints a refused request on stderr (`Name: message`, or `{"name","message"}` with `--json`)
/// and returns the failure exit code.
pub fn fail(error: &WebAuthnError, json: bool) -> ExitCode {
    if json {
        eprintln!(
            "{}",
            serde_json::json!({"name": error.name(), "message": error.message()})
        );
    } else {
        eprintln!("{}: {}", error.name(), error.message());
    }
    ExitCode::FAILURE
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &serde_json::Value) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&WebAuthnError::unknown(e.to_string()), false),
    }
}
