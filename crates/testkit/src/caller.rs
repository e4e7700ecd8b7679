//! Another process as a caller: a test binary re-runs itself (or a copy of itself under another
//! name) to make one request on the bus, so latchkeyd sees a second process — what per-caller
//! queue shares and native-host recognition are about — rather than a second connection of the
//! test process.
//!
//! A test file that uses it declares the entry point once:
//!
//! ```ignore
//! #[test]
//! #[ignore = "run by the tests as a separate caller process"]
//! fn caller_process() {
//!     latchkey_testkit::caller::serve_if_asked();
//! }
//! ```

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use latchkey_api::Kind;
use latchkey_api::{CallOptions, CredentialsClient};

/// The name of the entry-point test (see the module docs).
pub const ENTRY: &str = "caller_process";
const PREFIX: &str = "LATCHKEY-CALLER-OUTCOME ";

/// One request for the caller process to make.
#[derive(Debug, Clone)]
pub struct CallerRequest {
    /// The bus address.
    pub bus: String,
    /// Create or get.
    pub kind: Kind,
    /// The options JSON.
    pub options_json: String,
    /// The `origin` option.
    pub origin: Option<String>,
}

/// The command that runs `exe` as a caller making `req` `times` times, one after the other
/// (read the outcomes with [`outcomes`]).
pub fn command_repeated(exe: &Path, req: &CallerRequest, times: usize) -> Command {
    let mut cmd = command(exe, req);
    cmd.env("LATCHKEY_TEST_CALLER_REPEAT", times.to_string());
    cmd
}

/// Reads every outcome line of a caller process (see [`outcome`]) until it exits.
pub fn outcomes(child: &mut Child) -> Vec<serde_json::Value> {
    let out = child.stdout.take().unwrap();
    let mut all = Vec::new();
    for line in BufReader::new(out).lines() {
        let line = line.unwrap();
        if let Some(json) = line.find(PREFIX).map(|at| &line[at + PREFIX.len()..]) {
            all.push(serde_json::from_str(json).unwrap());
        }
    }
    let _ = child.wait();
    all
}

/// The command that runs `exe` (this test binary, or a copy) as a caller making `req`.
pub fn command(exe: &Path, req: &CallerRequest) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        ENTRY,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("LATCHKEY_TEST_CALLER_BUS", &req.bus)
    .env("LATCHKEY_TEST_CALLER_KIND", req.kind.as_str())
    .env("LATCHKEY_TEST_CALLER_OPTIONS", &req.options_json)
    .env(
        "LATCHKEY_TEST_CALLER_ORIGIN",
        req.origin.as_deref().unwrap_or(""),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    cmd
}

/// The command that runs `exe` as a caller that calls `ListCredentials` once on `bus` (its
/// outcome, read with [`outcome`]: `{"code":0,"count":N}`, or `{"code":-1,"error":NAME}` with the
/// method error's D-Bus name).
pub fn list_command(exe: &Path, bus: &str) -> Command {
    let mut cmd = command(
        exe,
        &CallerRequest {
            bus: bus.to_owned(),
            kind: Kind::Get,
            options_json: String::new(),
            origin: None,
        },
    );
    cmd.env("LATCHKEY_TEST_CALLER_LIST", "1");
    cmd
}

/// The command that runs `shell` (a copy of `/bin/sh`: the parent, e.g. a browser) which starts
/// `exe` as its child caller making `req` and waits for it.
pub fn command_via(shell: &Path, exe: &Path, req: &CallerRequest) -> Command {
    let inner = command(exe, req);
    let mut cmd = Command::new(shell);
    cmd.arg("-c")
        .arg(format!(
            "'{}' --exact {ENTRY} --ignored --nocapture --test-threads=1; true",
            exe.display()
        ))
        .envs(
            inner
                .get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

/// Reads the outcome line of a caller process: `{"code":…,"error":…,"message":…}`.
pub fn outcome(child: &mut Child) -> serde_json::Value {
    let out = child.stdout.take().unwrap();
    for line in BufReader::new(out).lines() {
        let line = line.unwrap();
        // libtest prints "test NAME ... " before the test's own output on the same line.
        if let Some(json) = line.find(PREFIX).map(|at| &line[at + PREFIX.len()..]) {
            let _ = child.wait();
            return serde_json::from_str(json).unwrap();
        }
    }
    let status = child.wait().unwrap();
    panic!("the caller process printed no outcome ({status})");
}

/// Runs `exe` as a caller making `req` and returns its outcome (blocking).
pub fn call_from_another_process(exe: &Path, req: &CallerRequest) -> serde_json::Value {
    let mut child = command(exe, req).spawn().unwrap();
    outcome(&mut child)
}

/// The entry point: makes the request the environment describes, prints its outcome. Does
/// nothing when the environment describes none (a plain `cargo test -- --ignored`).
pub fn serve_if_asked() {
    let Ok(bus) = std::env::var("LATCHKEY_TEST_CALLER_BUS") else {
        return;
    };
    let kind = match std::env::var("LATCHKEY_TEST_CALLER_KIND").unwrap().as_str() {
        "create" => Kind::Create,
        _ => Kind::Get,
    };
    let options_json = std::env::var("LATCHKEY_TEST_CALLER_OPTIONS").unwrap();
    let origin = std::env::var("LATCHKEY_TEST_CALLER_ORIGIN")
        .ok()
        .filter(|o| !o.is_empty());
    let times: usize = std::env::var("LATCHKEY_TEST_CALLER_REPEAT")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = CredentialsClient::connect(Some(&bus)).await.unwrap();
        if std::env::var_os("LATCHKEY_TEST_CALLER_LIST").is_some() {
            let json = match client.proxy().list_credentials(Default::default()).await {
                Ok(list) => serde_json::json!({ "code": 0, "count": list.len() }),
                Err(e) => {
                    let e = latchkey_api::client::ClientError::from(e);
                    serde_json::json!({ "code": -1, "error": e.dbus_name().unwrap_or("(none)") })
                }
            };
            println!("\n{PREFIX}{json}");
            return;
        }
        let opts = CallOptions {
            origin,
            ..Default::default()
        };
        for _ in 0..times {
            let json = match client.call(kind, &options_json, &opts).await {
                Ok(out) => serde_json::json!({
                    "code": out.code,
                    "error": out.error_name(),
                    "message": out.message(),
                }),
                Err(e) => serde_json::json!({ "code": -1, "error": e.to_string() }),
            };
            println!("\n{PREFIX}{json}");
        }
    });
}
