//! `latchkey`: passkeys on the Linux desktop, from the command line.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod browser;
mod ceremony;
mod common;
mod credentials;
mod daemon;
mod demo;
mod demo_verify;
mod devices;
mod install;
mod local;
mod pin;
mod prompt;
mod virtual_key;

/// Latchkey: the passkey platform for the Linux desktop.
///
/// Start with `latchkey demo`: it registers a passkey for a demo website with the platform
/// authenticator in a throwaway store and signs in with it, explaining each step.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register a passkey for a demo website and sign in with it, showing every step (no setup,
    /// no hardware: a throwaway credential store).
    Demo(demo::Args),
    /// Create a credential: reads PublicKeyCredentialCreationOptionsJSON (standard input by
    /// default), prints RegistrationResponseJSON.
    Create(ceremony::CreateArgs),
    /// Sign in: reads PublicKeyCredentialRequestOptionsJSON (standard input by default), prints
    /// AuthenticationResponseJSON.
    Get(ceremony::GetArgs),
    /// List or delete credentials.
    #[command(subcommand)]
    Credentials(credentials::Command),
    /// Set or change a PIN.
    #[command(subcommand)]
    Pin(pin::Command),
    /// List the security keys present (USB, --device, devices.toml) and what they support.
    Devices(devices::DevicesArgs),
    /// Erase a security key's credentials and PIN (asks for confirmation; keys accept it only
    /// within 10 seconds of being plugged in).
    Reset(devices::ResetArgs),
    /// Install latchkeyd for D-Bus activation (a D-Bus service file and a systemd user unit).
    Install(install::InstallArgs),
    /// Remove what `latchkey install --user` wrote.
    Uninstall(install::UninstallArgs),
    /// Install or remove the native messaging manifests the browser extension needs.
    #[command(subcommand)]
    Browser(browser::Command),
    /// Serve a software security key over CTAPHID (UDP or a Unix socket), for testing clients.
    VirtualKey(virtual_key::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Create(args) => ceremony::run_create(args),
        Command::Get(args) => ceremony::run_get(args),
        Command::Credentials(c) => credentials::run(c),
        Command::Pin(c) => pin::run(c),
        Command::Devices(args) => devices::run_devices(args),
        Command::Reset(args) => devices::run_reset(args),
        Command::Install(args) => install::run_install(args),
        Command::Uninstall(args) => install::run_uninstall(args),
        Command::Browser(c) => browser::run(c),
        Command::VirtualKey(args) => virtual_key::run(args),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::{credentials, Cli, Command};

    #[test]
    fn a_credential_id_that_begins_with_a_hyphen_is_an_id() {
        // base64url's alphabet has '-': one ID in 64 begins with it.
        let cli = Cli::try_parse_from([
            "latchkey",
            "credentials",
            "delete",
            "-zQ3a_w",
            "--device",
            "unix:/tmp/key",
        ])
        .unwrap();
        match cli.command {
            Command::Credentials(credentials::Command::Delete { id, .. }) => {
                assert_eq!(id, "-zQ3a_w")
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
