//! `latchkey devices`: the security keys present and what they support; `latchkey reset`: erase
//! one key (CTAP 2.1 §6.6), after a typed confirmation.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use latchkey_client::devices::open_all;
use latchkey_client::manage::{self, KeyReport};
use latchkey_client::Transport;
use latchkey_webauthn::WebAuthnError;

use crate::common::{fail, print_json, DeviceArgs};

/// Options of `latchkey devices`.
#[derive(Debug, clap::Args)]
pub struct DevicesArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Options of `latchkey reset`.
#[derive(Debug, clap::Args)]
pub struct ResetArgs {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

fn aaguid(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn transport(t: Transport) -> &'static str {
    match t {
        Transport::Internal => "internal",
        Transport::Usb => "usb",
        Transport::Virtual => "virtual",
        Transport::Nfc => "nfc",
    }
}

fn report_json(r: &KeyReport) -> serde_json::Value {
    serde_json::json!({
        "name": r.description.name,
        "path": r.description.path,
        "connection": transport(r.description.transport),
        "aaguid": aaguid(&r.info.aaguid.0),
        "versions": r.info.versions,
        "options": r.info.options,
        "extensions": r.info.extensions,
        "pinSet": r.info.option("clientPin") == Some(true),
        "pinRetries": r.pin_retries,
        "transports": r.info.transports,
        "firmwareVersion": r.info.firmware_version,
    })
}

fn list(args: &DeviceArgs) -> Result<Vec<serde_json::Value>, WebAuthnError> {
    let mut args = args.clone();
    if args.device.is_empty() {
        args.device.push("all".into());
    }
    let specs = args.key_specs()?;
    let (opened, failed) = open_all(&specs);
    let mut out = Vec::new();
    for mut device in opened {
        let path = device.info().path;
        match manage::describe(&mut *device) {
            Ok(r) => out.push(report_json(&r)),
            Err(e) => out.push(serde_json::json!({"path": path, "error": e.message()})),
        }
    }
    for f in failed {
        out.push(serde_json::json!({"path": f.spec.to_string(), "error": f.error.to_string()}));
    }
    Ok(out)
}

/// Runs `latchkey devices`.
pub fn run_devices(args: DevicesArgs) -> ExitCode {
    let keys = match list(&args.device) {
        Ok(k) => k,
        Err(e) => return fail(&e, args.device.json),
    };
    if args.device.json {
        return print_json(&serde_json::Value::Array(keys));
    }
    if keys.is_empty() {
        println!("No security keys found.");
    }
    for k in &keys {
        let s = |key: &str| k[key].as_str().unwrap_or("-").to_owned();
        if let Some(err) = k["error"].as_str() {
            println!("{}: error: {err}", s("path"));
            continue;
        }
        println!("{} ({})", s("name"), s("path"));
        println!("  AAGUID:     {}", s("aaguid"));
        println!("  versions:   {}", k["versions"]);
        println!("  transports: {}", k["transports"]);
        println!("  options:    {}", k["options"]);
        match k["pinRetries"].as_u64() {
            Some(n) if k["pinSet"] == true => println!("  PIN:        set, {n} retries left"),
            _ if k["pinSet"] == true => println!("  PIN:        set"),
            _ => println!("  PIN:        not set"),
        }
    }
    ExitCode::SUCCESS
}

fn confirm(what: &str) -> Result<(), WebAuthnError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(WebAuthnError::not_allowed(
            "reset needs a typed confirmation on the terminal, or --yes",
        ));
    }
    eprint!(
        "WARNING: resetting {what} erases every credential on it and its PIN, for good.\n\
         Type \"yes\" to reset it: "
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| WebAuthnError::not_allowed(format!("cannot read the answer: {e}")))?;
    if line.trim() == "yes" {
        Ok(())
    } else {
        Err(WebAuthnError::not_allowed(
            "not confirmed; nothing was erased",
        ))
    }
}

fn reset(args: &ResetArgs) -> Result<String, WebAuthnError> {
    let specs = args.device.specs()?;
    let [spec] = specs.as_slice() else {
        return Err(WebAuthnError::type_error(
            "name exactly one key to reset with --device (not all)",
        ));
    };
    if args.device.all() {
        return Err(WebAuthnError::type_error(
            "name exactly one key to reset with --device (not all)",
        ));
    }
    if !args.yes {
        confirm(&spec.to_string())?;
    }
    let mut ui = args.device.ui()?;
    let mut device = latchkey_client::hid::open_spec(spec, None).map_err(|e| {
        WebAuthnError::not_allowed(format!("cannot open the authenticator {spec}: {e}"))
    })?;
    if !args.device.json {
        eprintln!("Touch the key to confirm the reset.");
    }
    manage::reset(&mut *device, &mut ui)?;
    Ok(spec.to_string())
}

/// Runs `latchkey reset`.
pub fn run_reset(args: ResetArgs) -> ExitCode {
    match reset(&args) {
        Ok(path) if args.device.json => print_json(&serde_json::json!({"reset": path})),
        Ok(path) => {
            println!("Reset {path}: its credentials and PIN are erased.");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, args.device.json),
    }
}
