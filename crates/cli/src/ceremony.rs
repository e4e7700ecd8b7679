//! `latchkey create` and `latchkey get`: WebAuthn ceremonies from options JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use latchkey_api::Kind;
use latchkey_client::{CreateRequest, GetRequest};
use latchkey_webauthn::WebAuthnError;

use crate::common::{fail, print_json, read_options, DeviceArgs};
use crate::daemon;

/// Options of `latchkey create`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    latchkey create --origin https://example.com --options creation.json > registration.json\n  \
    latchkey create --origin https://example.com --device udp:127.0.0.1:8111 < creation.json\n\n\
    A refused request exits with status 1 and prints the WebAuthn error name and message\n\
    (NotAllowedError, InvalidStateError, SecurityError, ...) on standard error.")]
pub struct CreateArgs {
    /// The web origin asking, e.g. https://example.com (the RP ID must be its domain or a
    /// registrable suffix of it).
    // The comment is `--help` text, read in a terminal: its URL stays bare.
    #[allow(rustdoc::bare_urls)]
    #[arg(long, value_name = "ORIGIN")]
    pub origin: String,
    /// The top-level origin, when the request comes from an embedded (cross-origin) frame.
    #[arg(long, value_name = "ORIGIN")]
    pub top_origin: Option<String>,
    /// PublicKeyCredentialCreationOptionsJSON [default: standard input].
    #[arg(long, value_name = "FILE")]
    pub options: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Options of `latchkey get`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
    latchkey get --origin https://example.com --options request.json > assertion.json")]
pub struct GetArgs {
    /// The web origin asking, e.g. https://example.com.
    // As on `CreateArgs::origin`: `--help` text, so the URL stays bare.
    #[allow(rustdoc::bare_urls)]
    #[arg(long, value_name = "ORIGIN")]
    pub origin: String,
    /// The top-level origin, when the request comes from an embedded (cross-origin) frame.
    #[arg(long, value_name = "ORIGIN")]
    pub top_origin: Option<String>,
    /// PublicKeyCredentialRequestOptionsJSON [default: standard input].
    #[arg(long, value_name = "FILE")]
    pub options: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Whether `options` leaves standard input free (the options come from a file).
fn stdin_free(options: Option<&PathBuf>) -> bool {
    options.is_some_and(|p| p.as_os_str() != "-")
}

/// Runs the ceremony through latchkeyd when `--local` and `--device` are absent and latchkeyd
/// runs (or can be activated); `None` means "do it in this process".
fn through_daemon(
    kind: Kind,
    json: &[u8],
    origin: &str,
    top_origin: Option<&str>,
    options: Option<&PathBuf>,
    device: &DeviceArgs,
) -> Option<Result<serde_json::Value, WebAuthnError>> {
    if !device.use_daemon() {
        return None;
    }
    let options_json = match std::str::from_utf8(json) {
        Ok(s) => s,
        Err(_) => return Some(Err(WebAuthnError::type_error("the options are not UTF-8"))),
    };
    Some(daemon::ceremony(&daemon::Ceremony {
        kind,
        options_json,
        origin,
        top_origin,
        pin_fd: device.pin_fd,
        stdin_free: stdin_free(options),
    }))
}

fn create(args: &CreateArgs) -> Result<serde_json::Value, WebAuthnError> {
    let json = read_options(args.options.as_ref())?;
    if let Some(r) = through_daemon(
        Kind::Create,
        &json,
        &args.origin,
        args.top_origin.as_deref(),
        args.options.as_ref(),
        &args.device,
    ) {
        return r;
    }
    let request = CreateRequest::new(&json, &args.origin, args.top_origin.as_deref())?;
    let mut ui = args.device.ui()?;
    let mut device = args.device.open(&mut ui)?;
    latchkey_client::register(&mut *device, &request, &mut ui)?.to_json()
}

fn get(args: &GetArgs) -> Result<serde_json::Value, WebAuthnError> {
    let json = read_options(args.options.as_ref())?;
    if let Some(r) = through_daemon(
        Kind::Get,
        &json,
        &args.origin,
        args.top_origin.as_deref(),
        args.options.as_ref(),
        &args.device,
    ) {
        return r;
    }
    let request = GetRequest::new(&json, &args.origin, args.top_origin.as_deref())?;
    let mut ui = args.device.ui()?;
    let mut device = args.device.open(&mut ui)?;
    latchkey_client::authenticate(&mut *device, &request, &mut ui)?.to_json()
}

/// Runs `latchkey create`.
pub fn run_create(args: CreateArgs) -> ExitCode {
    match create(&args) {
        Ok(v) => print_json(&v),
        Err(e) => fail(&e, args.device.json),
    }
}

/// Runs `latchkey get`.
pub fn run_get(args: GetArgs) -> ExitCode {
    match get(&args) {
        Ok(v) => print_json(&v),
        Err(e) => fail(&e, args.device.json),
    }
}
