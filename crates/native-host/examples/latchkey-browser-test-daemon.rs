//! A latchkeyd for browser tests, all in one process: a private `dbus-daemon`, latchkeyd serving
//! the platform authenticator over an in-memory store, and the scripted prompt owning
//! `dev.latchkey.Prompt`. Policy: each `--privileged` executable is a privileged client, except
//! one named `latchkey-native-host`, which is listed as a `[[native_host]]` — trusted only when a
//! `--browser` executable (default: Debian's Chromium) started it; this process is the trusted
//! prompt.
//!
//! Prints `address=<bus address>` then `ready`, and runs until its stdin closes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test tool fails loudly

use std::io::{BufRead, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use latchkey_daemon::policy::Policy;
use latchkey_daemon::server::{Daemon, Settings, Timeouts};
use latchkey_prompt::{scripted, PROMPT_BUS_NAME, PROMPT_PATH};

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
    /// Directory for the bus socket and config.
    #[arg(long)]
    dir: PathBuf,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let config = format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        dir = args.dir.display()
    );
    let conf = args.dir.join("bus.conf");
    std::fs::write(&conf, config).unwrap();
    let mut bus = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", conf.display()))
        .args(["--print-address", "--nofork"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("dbus-daemon");
    let mut address = String::new();
    BufReader::new(bus.stdout.take().unwrap())
        .read_line(&mut address)
        .unwrap();
    let address = address.trim().to_owned();

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
    let policy = Policy::from_toml(&policy).unwrap();
    assert!(policy.warnings.is_empty(), "{:?}", policy.warnings);
    let settings = Settings {
        policy,
        authenticators: platform_authenticator(),
        queue_capacity: 16,
        timeouts: Timeouts {
            min: Duration::from_millis(200),
            max: Duration::from_secs(120),
            default: Duration::from_secs(60),
        },
        uid: rustix::process::getuid().as_raw(),
        related_origins: None,
    };
    let _daemon = Daemon::start(Some(&address), settings).await.unwrap();

    let text = std::fs::read_to_string(&args.script).unwrap();
    let prompt =
        scripted::ScriptedPrompt::new(scripted::parse_script(&text).unwrap(), Some(&args.record))
            .unwrap();
    let _prompt = zbus::connection::Builder::address(address.as_str())
        .unwrap()
        .serve_at(PROMPT_PATH, prompt)
        .unwrap()
        .name(PROMPT_BUS_NAME)
        .unwrap()
        .build()
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
    let _ = bus.kill();
    let _ = bus.wait();
}

fn platform_authenticator() -> Arc<dyn latchkey_daemon::authenticators::Authenticators> {
    use latchkey_client::platform::{self, PlatformDevice, Presence};
    let cancel = latchkey_client::CancelHandle::new();
    let device = PlatformDevice::with_store(
        platform::config(),
        latchkey_authenticator::memory::MemoryStore::default(),
        Presence::granted(cancel.clone()),
        cancel,
        "memory".into(),
    );
    Arc::new(latchkey_daemon::platform::ClientAuthenticators::new(
        Box::new(device),
        true,
    ))
}
