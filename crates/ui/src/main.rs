//! `latchkey-ui`: the trusted prompt latchkeyd's policy names. It owns `dev.latchkey.Prompt`
//! on the session bus (started by D-Bus activation), shows one window per request, and exits
//! when idle. It never touches keys, stores or devices: everything comes from latchkeyd over the
//! bus. `latchkey-ui --manage` opens the Passkeys window instead.

use latchkey_ui::{app, bus, i18n, manage, service};

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use gtk::prelude::*;
use gtk::{gio, glib};

/// Latchkey's passkey prompt and Passkeys window.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Open the Passkeys window (manage passkeys, remembered sites, PINs).
    #[arg(long)]
    manage: bool,
    /// Seconds the prompt keeps running with no window open.
    #[arg(long, default_value_t = 60)]
    idle_timeout: u64,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LATCHKEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    i18n::init();
    glib::set_prgname(Some("latchkey-ui"));
    glib::set_application_name("Latchkey");
    if args.manage {
        return manage::run();
    }
    run_prompt(Duration::from_secs(args.idle_timeout))
}

fn run_prompt(idle: Duration) -> ExitCode {
    let (to_ui, from_bus) = async_channel::bounded(64);
    let bus = bus::start(move || async move {
        zbus::connection::Builder::session()?
            .serve_at(service::PROMPT_PATH, service::PromptService::new(to_ui))?
            .name(service::PROMPT_BUS_NAME)?
            .build()
            .await
    });
    let bus = match bus {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "latchkey-ui: cannot serve {} on the session bus: {e}",
                service::PROMPT_BUS_NAME
            );
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("serving {}", service::PROMPT_BUS_NAME);
    let app = adw::Application::builder()
        .application_id("dev.latchkey.Prompt")
        .flags(gio::ApplicationFlags::NON_UNIQUE)
        .build();
    app.connect_activate(|_| {});
    app.connect_startup(move |app| {
        let signal_bus = bus.clone();
        let cancelled = Box::new(move |id: String| {
            let conn = signal_bus.conn.clone();
            signal_bus.handle.spawn(async move {
                if let Err(e) = service::emit_cancelled(&conn, &id).await {
                    tracing::warn!(error = %e, "could not tell latchkeyd the user cancelled");
                }
            });
        });
        let release_bus = bus.clone();
        let release = Box::new(move || {
            let conn = release_bus.conn.clone();
            let name = service::PROMPT_BUS_NAME;
            if let Err(e) = release_bus
                .handle
                .block_on(async move { conn.release_name(name).await })
            {
                tracing::warn!(error = %e, "could not release the bus name");
            }
        });
        let prompts = app::Prompts::new(app, idle, cancelled, release);
        let rx = from_bus.clone();
        glib::spawn_future_local(async move {
            while let Ok(request) = rx.recv().await {
                prompts.handle(request);
            }
        });
    });
    let status = app.run_with_args::<&str>(&[]);
    if status == glib::ExitCode::SUCCESS {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
