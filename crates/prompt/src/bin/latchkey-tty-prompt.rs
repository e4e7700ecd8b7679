//! `latchkey-tty-prompt`: a terminal prompt for latchkeyd (like polkit's `pkttyagent`). The
//! `latchkey` command starts it for the length of a request when no graphical prompt runs; it
//! serves requests of its parent process. PINs are read with echo off, or from `--pin-fd`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use latchkey_prompt::tty::{open_inherited_fd, serve_and_register, Terminal, TtyPrompt};

/// Terminal prompt for latchkeyd.
#[derive(Debug, Parser)]
#[command(name = "latchkey-tty-prompt", version, about)]
struct Args {
    /// Bus address (default: the session bus).
    #[arg(long, env = "LATCHKEY_BUS_ADDRESS")]
    address: Option<String>,
    /// Read the PIN (one line) from this inherited file descriptor instead of the terminal.
    #[arg(long)]
    pin_fd: Option<u32>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latchkey-tty-prompt: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let pin_fd = args.pin_fd.map(open_inherited_fd).transpose()?;
    let prompt = TtyPrompt::new(Terminal::open()?, pin_fd);
    let conn = match &args.address {
        Some(a) => {
            zbus::connection::Builder::address(a.as_str())?
                .build()
                .await?
        }
        None => zbus::Connection::session().await?,
    };
    serve_and_register(&conn, prompt).await?;
    // Serve until the parent (the requesting command) kills us or the bus goes away.
    let dbus = zbus::fdo::DBusProxy::new(&conn).await?;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        dbus.get_id().await?;
    }
}
