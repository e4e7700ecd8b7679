//! `latchkey pin set|change`: the platform PIN (or a security key's PIN with `--device`).

use std::process::ExitCode;

use latchkey_client::manage;

use crate::common::{fail, DeviceArgs};

/// `latchkey pin` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Set the first PIN (the platform authenticator also sets it on first use).
    Set {
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Change the PIN: asks for the current one, then the new one.
    Change {
        #[command(flatten)]
        device: DeviceArgs,
    },
}

/// Runs `latchkey pin …`.
pub fn run(command: Command) -> ExitCode {
    let (args, change) = match &command {
        Command::Set { device } => (device, false),
        Command::Change { device } => (device, true),
    };
    let result = args.ui().and_then(|mut ui| {
        let mut device = args.open(&mut ui)?;
        if change {
            manage::change_pin(&mut *device, &mut ui)
        } else {
            manage::set_pin(&mut *device, &mut ui)
        }
    });
    match result {
        Ok(()) => {
            if !args.json {
                println!("PIN {}.", if change { "changed" } else { "set" });
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, args.json),
    }
}
