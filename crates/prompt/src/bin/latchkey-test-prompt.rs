//! `latchkey-test-prompt`: a prompt that answers from a script and records what it was shown.
//!
//! Owns `dev.latchkey.Prompt` (default) or registers with latchkeyd as a terminal-style prompt
//! (`--register`). Serves version 2 of the interface, or version 1 when the script says
//! `version 1`. Prints `ready` on stdout once it serves.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use latchkey_prompt::{scripted, PROMPT_BUS_NAME};

/// Scripted prompt for latchkeyd tests and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "latchkey-test-prompt", version, about)]
struct Args {
    /// The script (see `latchkey_prompt::scripted`).
    #[arg(long)]
    script: PathBuf,
    /// Append a JSON line per prompt call here.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Bus address (default: the session bus).
    #[arg(long, env = "LATCHKEY_BUS_ADDRESS")]
    address: Option<String>,
    /// Register with latchkeyd (`RegisterPrompt`) instead of owning dev.latchkey.Prompt.
    #[arg(long)]
    register: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latchkey-test-prompt: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(&args.script)?;
    let prompt =
        scripted::ScriptedPrompt::new(scripted::parse_script(&text)?, args.record.as_deref())?;
    let builder = match &args.address {
        Some(a) => zbus::connection::Builder::address(a.as_str())?,
        None => zbus::connection::Builder::session()?,
    };
    let conn = builder.build().await?;
    scripted::serve(&conn, prompt).await?;
    if args.register {
        conn.call_method(
            Some(latchkey_api::BUS_NAME),
            latchkey_api::OBJECT_PATH,
            Some(latchkey_api::INTERFACE),
            "RegisterPrompt",
            &(),
        )
        .await?;
    } else {
        conn.request_name(PROMPT_BUS_NAME).await?;
    }
    println!("ready");
    // Serve until the bus goes away or we are killed.
    let dbus = zbus::fdo::DBusProxy::new(&conn).await?;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        dbus.get_id().await?;
    }
}
