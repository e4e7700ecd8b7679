//! A latchkeyd for browser tests, all in one process: a private `dbus-daemon`, latchkeyd serving
//! the platform authenticator over an in-memory store, and the scripted prompt owning
//! `dev.latchkey.Prompt`. Policy: each `--privileged` executable is a privileged client, except
//! one named `latchkey-native-host`, which is listed as a `[[native_host]]` — trusted only when a
//! `--browser` executable (default: Debian's Chromium) started it; this process is the trusted
//! prompt.
//!
//! Prints `address=<bus address>` then `ready`, and runs until its stdin closes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test tool fails loudly

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use latchkey_testkit::daemon::Timeouts;
use latchkey_testkit::{daemon, platform, prompt, TestBus};

#[derive(Debug, Parser)]
struct Args {
    /// Executables latchkeyd treats as privileged clients.
    #[arg(long)]
    privileged: Vec<PathBuf>,
    /// Browser executables that may start the native host.
    #[arg(long, default_value = "/usr/lib/chromium/chromium")]
    browser: Vec<PathBuf>,
    /// Prompt script (see `latchkey_prompt::scripted`).
    #[arg(long)]
    script: PathBuf,
    /// Where the prompt records what it was shown (JSON lines).
    #[arg(long)]
    record: PathBuf,
    /// Directory under which the bus keeps its socket and config.
    #[arg(long)]
    dir: PathBuf,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let bus = TestBus::try_start_in(&args.dir, None).unwrap();
    let address = bus.address.clone();

    let me = std::env::current_exe().unwrap();
    let mut policy = format!(
        "[[trusted_prompt]]\nexecutable = {:?}\n",
        me.display().to_string()
    );
    let is_host = |p: &PathBuf| p.file_name().is_some_and(|n| n == "latchkey-native-host");
    for p in &args.privileged {
        let table = if is_host(p) {
            "native_host"
        } else {
            "privileged"
        };
        policy.push_str(&format!(
            "[[{table}]]\nexecutable = {:?}\n",
            p.display().to_string()
        ));
    }
    if args.privileged.iter().any(is_host) {
        for b in &args.browser {
            policy.push_str(&format!(
                "[[privileged]]\nname = \"browser under test\"\nexecutable = {:?}\n",
                b.display().to_string()
            ));
        }
    }
    let mut settings = daemon::settings(&policy, platform::memory_platform());
    settings.queue_capacity = 16;
    settings.timeouts = Timeouts {
        min: Duration::from_millis(200),
        max: Duration::from_secs(120),
        default: Duration::from_secs(60),
    };
    let _daemon = daemon::start_with_settings(&bus, settings).await;
    let script = std::fs::read_to_string(&args.script).unwrap();
    let _prompt = prompt::serve_in_process(&address, &script, Some(&args.record))
        .await
        .unwrap();

    println!("address={address}");
    println!("ready");
    // Run until the parent closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .unwrap();
    drop(bus);
}
