//! `latchkey create` and `latchkey get`: WebAuthn ceremonies from options JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use latchkey_client::{CreateRequest, GetRequest};
use latchkey_webauthn::WebAuthnError;

use crate::common::{fail, print_json, read_options, DeviceArgs};

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

fn create(args: &CreateArgs) -> Result<serde_json::Value, WebAuthnError> {
    let json = read_options(args.options.as_ref())?;
    let request = CreateRequest::new(&json, &args.origin, args.top_origin.as_deref())?;
    let mut ui = args.device.ui()?;
    let mut device = args.device.open(&mut ui)?;
    latchkey_client::register(&mut *device, &request, &mut ui)?.to_json()
}

fn get(args: &GetArgs) -> Result<serde_json::Value, WebAuthnError> {
    let json = read_options(args.options.as_ref())?;
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
