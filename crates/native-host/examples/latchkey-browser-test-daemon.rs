//! A latchkeyd for browser tests: a private `dbus-daemon`, latchkeyd serving the platform
//! authenticator over an in-memory store, and the scripted prompt owning `dev.latchkey.Prompt`.
//! Policy: each `--privileged` executable is a privileged client, except one named
//! `latchkey-native-host`, which is listed as a `[[native_host]]` — trusted only when a
//! `--browser` executable (default: Debian's Chromium) started it; this program is the trusted
//! prompt.
//!
//! latchkeyd's clients (the native host) take only a latchkeyd the bus started, so this process
//! serves the bus and the prompt, and the bus starts latchkeyd: this program again, with
//! `--serve-latchkeyd` (`latchkey_testkit::activation`), which runs until the bus goes away.
//!
//! Prints `address=<bus address>` then `ready`, and runs until its stdin closes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test tool fails loudly

use std::ffi::OsString;
use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use latchkey_testkit::activation::{self, Activated};
use latchkey_testkit::daemon::{Daemon, Timeouts};
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
    /// Serve latchkeyd on the bus at `--address` (as the bus's activated service).
    #[arg(long, hide = true)]
    serve_latchkeyd: bool,
    /// The bus, with `--serve-latchkeyd`.
    #[arg(long)]
    address: Option<String>,
}

/// The policy for these arguments (module documentation).
fn policy(args: &Args) -> String {
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
    policy
}

/// latchkeyd, started by the bus: serves until the bus goes away.
async fn serve_latchkeyd(args: &Args, address: &str) {
    let mut settings = daemon::settings(&policy(args), platform::memory_platform());
    settings.queue_capacity = 16;
    settings.timeouts = Timeouts {
        min: Duration::from_millis(200),
        max: Duration::from_secs(120),
        default: Duration::from_secs(60),
    };
    let _daemon = Daemon::start(Some(address), settings).await.unwrap();
    let conn = zbus::connection::Builder::address(address)
        .unwrap()
        .build()
        .await
        .unwrap();
    let dbus = zbus::fdo::DBusProxy::new(&conn).await.unwrap();
    while dbus.get_id().await.is_ok() {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    if args.serve_latchkeyd {
        let address = args.address.clone().expect("--address");
        serve_latchkeyd(&args, &address).await;
        return;
    }
    let bus = TestBus::try_start_in(&args.dir, None).unwrap();
    let address = bus.address.clone();
    let script = std::fs::read_to_string(&args.script).unwrap();
    let _prompt = prompt::serve_in_process(&address, &script, Some(&args.record))
        .await
        .unwrap();
    let mut serve: Vec<OsString> = vec![
        "--serve-latchkeyd".into(),
        format!("--address={address}").into(),
    ];
    for (flag, value) in [
        ("--script", &args.script),
        ("--record", &args.record),
        ("--dir", &args.dir),
    ] {
        serve.push(flag.into());
        serve.push(value.into());
    }
    for p in &args.privileged {
        serve.push("--privileged".into());
        serve.push(p.into());
    }
    for b in &args.browser {
        serve.push("--browser".into());
        serve.push(b.into());
    }
    activation::write_latchkeyd_service(
        &bus.services(),
        &std::env::current_exe().unwrap(),
        &serve,
        &activation::environment_with(&[]),
        &args.dir.join("latchkeyd.log"),
    )
    .unwrap();
    let latchkeyd = Activated::start_latchkeyd(&bus.dbus().await)
        .await
        .unwrap_or_else(|e| {
            let log = std::fs::read_to_string(args.dir.join("latchkeyd.log")).unwrap_or_default();
            panic!("latchkeyd did not start: {e}\n{log}")
        });

    println!("address={address}");
    println!("ready");
    // Run until the parent closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .unwrap();
    latchkeyd.kill();
    drop(bus);
}
