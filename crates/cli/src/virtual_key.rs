//! `latchkey virtual-key`: the software authenticator as a CTAPHID device.

use std::process::ExitCode;

/// Options of `latchkey virtual-key`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the virtual key until SIGINT/SIGTERM.
pub fn run(_args: Args) -> ExitCode {
    ExitCode::FAILURE
}
