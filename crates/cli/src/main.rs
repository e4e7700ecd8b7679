//! `latchkey`: passkeys on the Linux desktop, from the command line.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod virtual_key;

/// Latchkey: the passkey platform for the Linux desktop.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a software security key over CTAPHID (UDP or a Unix socket), for testing clients.
    VirtualKey(virtual_key::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::VirtualKey(args) => virtual_key::run(args),
    }
}
