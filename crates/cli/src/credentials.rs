//! `latchkey credentials list|delete`: the platform authenticator's credentials (straight from
//! its store: no PIN needed to list them), or a security key's (credential management, PIN).

use std::process::ExitCode;

use latchkey_client::manage::{self, CredentialInfo};
use latchkey_webauthn::{b64, WebAuthnError};

use crate::common::{fail, print_json, DeviceArgs};
use crate::daemon;

/// `latchkey credentials` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List credentials (all relying parties, or one).
    List {
        /// Only this RP ID.
        #[arg(long, value_name = "RP_ID")]
        rp_id: Option<String>,
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Delete a credential by its ID (base64url, as `list` prints it).
    Delete {
        /// The credential ID. base64url may begin with '-': it is taken as the ID, not an option.
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        device: DeviceArgs,
    },
}

/// `credentials list` through latchkeyd (platform credentials only; what the daemon lists).
fn list_daemon(rp_id: Option<&str>, json: bool) -> ExitCode {
    match daemon::list(rp_id) {
        Ok(rows) if json => print_json(&serde_json::Value::Array(
            rows.iter()
                .map(|c| {
                    serde_json::json!({
                        "id": c.id,
                        "rpId": c.rp_id,
                        "userName": c.user_name,
                        "userDisplayName": c.user_display_name,
                    })
                })
                .collect(),
        )),
        Ok(rows) => {
            if rows.is_empty() {
                println!("No credentials.");
            }
            for c in &rows {
                println!(
                    "{}  {}  {} ({})  passkey",
                    c.id, c.rp_id, c.user_display_name, c.user_name
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, json),
    }
}

fn list(rp_id: Option<&str>, args: &DeviceArgs) -> Result<Vec<CredentialInfo>, WebAuthnError> {
    match args.security_key() {
        false => {
            let mut platform = crate::local::open(args.store.as_deref())?;
            platform.list(rp_id).map_err(manage::store_error)
        }
        true => {
            let mut ui = args.ui()?;
            let mut device = args.open(&mut ui)?;
            let all = manage::list_device(&mut *device, &mut ui)?;
            Ok(all
                .into_iter()
                .filter(|c| rp_id.is_none_or(|r| c.rp_id == r))
                .collect())
        }
    }
}

fn to_json(c: &CredentialInfo) -> serde_json::Value {
    serde_json::json!({
        "id": b64::encode(&c.credential_id),
        "rpId": c.rp_id,
        "userId": b64::encode(&c.user_id),
        "userName": c.user_name,
        "userDisplayName": c.user_display_name,
        "discoverable": c.discoverable,
        "credProtect": c.cred_protect,
        "signCount": c.sign_count,
    })
}

fn delete(id: &str, args: &DeviceArgs) -> Result<(), WebAuthnError> {
    let id = b64::decode("credential ID", id)?;
    match args.security_key() {
        false => {
            let mut platform = crate::local::open(args.store.as_deref())?;
            if platform.delete(&id).map_err(manage::store_error)? {
                Ok(())
            } else {
                Err(WebAuthnError::not_allowed(
                    "no platform credential has that ID",
                ))
            }
        }
        true => {
            let mut ui = args.ui()?;
            let mut device = args.open(&mut ui)?;
            manage::delete_on_device(&mut *device, &mut ui, &id)
        }
    }
}

/// Runs `latchkey credentials …`.
pub fn run(command: Command) -> ExitCode {
    match command {
        Command::List { rp_id, device } if device.use_daemon() => {
            list_daemon(rp_id.as_deref(), device.json)
        }
        Command::Delete { id, device } if device.use_daemon() => match daemon::delete(&id) {
            Ok(()) => {
                if !device.json {
                    println!("Deleted {id}.");
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e, device.json),
        },
        Command::List { rp_id, device } => match list(rp_id.as_deref(), &device) {
            Ok(creds) if device.json => print_json(&serde_json::Value::Array(
                creds.iter().map(to_json).collect(),
            )),
            Ok(creds) => {
                if creds.is_empty() {
                    println!("No credentials.");
                }
                for c in &creds {
                    println!(
                        "{}  {}  {} ({}){}",
                        b64::encode(&c.credential_id),
                        c.rp_id,
                        c.user_display_name.as_deref().unwrap_or("-"),
                        c.user_name.as_deref().unwrap_or("-"),
                        if c.discoverable { "  passkey" } else { "" }
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e, device.json),
        },
        Command::Delete { id, device } => match delete(&id, &device) {
            Ok(()) => {
                if !device.json {
                    println!("Deleted {id}.");
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e, device.json),
        },
    }
}
