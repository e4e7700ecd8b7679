//! `latchkey-native-host`: started by the browser with the extension's origin (Chromium) or
//! manifest path and extension ID (Firefox) as arguments, which it does not need.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use latchkey_api::CredentialsClient;
use latchkey_native_host::{bridge, framing, message, parent};

fn main() -> ExitCode {
    let allowed = parent::allowed_browsers(std::env::var(parent::BROWSERS_ENV).ok().as_deref());
    if let Err(e) = parent::check_parent(&allowed) {
        eprintln!("latchkey-native-host: refusing to serve: {e}");
        let reply = message::error_reply(None, "NotAllowedError", &e.to_string());
        let _ = framing::write_frame(
            &mut std::io::stdout().lock(),
            &serde_json::to_vec(&reply).unwrap_or_default(),
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("latchkey-native-host: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let address = std::env::var("DBUS_SESSION_BUS_ADDRESS").ok();
        let client = CredentialsClient::connect(address.as_deref())
            .await
            .map_err(|e| e.to_string());
        if let Err(e) = &client {
            eprintln!("latchkey-native-host: cannot reach latchkeyd: {e}");
        }
        match bridge::serve(std::io::stdin(), std::io::stdout(), client).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("latchkey-native-host: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
