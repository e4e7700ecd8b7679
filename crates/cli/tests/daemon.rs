#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! `latchkey` through latchkeyd, on a private `dbus-daemon` (no machine bus is touched):
//! latchkeyd is served in-process by this test with the real platform authenticator over a
//! memory store, a scripted prompt owns `dev.latchkey.Prompt` (trusted by policy) and records
//! what it was shown — proof the ceremony went through latchkeyd — and the `latchkey` binary is
//! a privileged client by policy. webauthn-rs (an RP library we did not write) makes the options
//! and verifies the responses. Then `latchkey install --user` and D-Bus activation by a
//! `latchkey credentials list` call.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use latchkey_testkit::daemon::Daemon;
use latchkey_testkit::rp::rp;
use latchkey_testkit::{bins, daemon, platform, policy as policies, prompt, TestBus};
use webauthn_rs_core::proto::{
    COSEAlgorithm, PublicKeyCredential, RegisterPublicKeyCredential, UserVerificationPolicy,
};

const LATCHKEY: &str = env!("CARGO_BIN_EXE_latchkey");
const ORIGIN: &str = "https://example.com";
const PIN: &str = "271828";

/// Policy: `latchkey` is a privileged client, this test binary (serving the scripted prompt) a
/// trusted prompt.
fn policy() -> String {
    format!(
        "{}{}",
        policies::privileged("latchkey", Path::new(LATCHKEY)),
        policies::trusted_prompt_at(&policies::this_executable())
    )
}

/// latchkeyd in this process with the platform authenticator over a memory store.
async fn start_latchkeyd(bus: &TestBus) -> Daemon {
    let mut settings = daemon::settings(&policy(), platform::memory_platform());
    settings.queue_capacity = 8;
    daemon::start_with_settings(bus, settings).await
}

/// Serves the scripted prompt owning `dev.latchkey.Prompt`; returns its connection.
async fn scripted_prompt(bus: &TestBus, script: &str, record: &Path) -> zbus::Connection {
    prompt::serve_in_process(&bus.address, script, Some(record))
        .await
        .unwrap()
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `latchkey ARGS` on `bus` with `stdin`, off the async runtime.
async fn latchkey(bus_address: &str, env: &[(&str, PathBuf)], args: &[&str], stdin: &str) -> Out {
    let address = bus_address.to_owned();
    let env: Vec<(String, PathBuf)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(LATCHKEY)
            .args(&args)
            .env("DBUS_SESSION_BUS_ADDRESS", address)
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        let out = child.wait_with_output().unwrap();
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

fn records(path: &Path, method: &str) -> Vec<serde_json::Value> {
    prompt::calls(path, method)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_get_go_through_latchkeyd_and_webauthn_rs_verifies_them() {
    let bus = TestBus::start();
    let _daemon = start_latchkeyd(&bus).await;
    let record = bus.dir.path().join("record.jsonl");
    let script = format!("approve\npin {PIN}\napprove\npin {PIN}\n");
    let _prompt = scripted_prompt(&bus, &script, &record).await;
    let core = rp();

    // Registration: options from webauthn-rs, ceremony by `latchkey create` via latchkeyd.
    let builder = core
        .new_challenge_register_builder(b"alice-id-0001", "alice@example.com", "Alice")
        .unwrap()
        .user_verification_policy(UserVerificationPolicy::Required)
        .require_resident_key(true)
        .credential_algorithms(vec![COSEAlgorithm::ES256, COSEAlgorithm::EDDSA]);
    let (ccr, reg_state) = core.generate_challenge_register(builder).unwrap();
    let options = bus.dir.path().join("create.json");
    std::fs::write(&options, serde_json::to_vec(&ccr.public_key).unwrap()).unwrap();
    let out = latchkey(
        &bus.address,
        &[],
        &[
            "create",
            "--origin",
            ORIGIN,
            "--options",
            options.to_str().unwrap(),
            "--verbose",
        ],
        "",
    )
    .await;
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stderr.contains("Using latchkeyd"), "{}", out.stderr);
    let consents = records(&record, "Consent");
    assert_eq!(consents.len(), 1, "the prompt saw the request");
    assert_eq!(consents[0]["details"]["kind"], "create");
    assert_eq!(consents[0]["details"]["origin"], ORIGIN);
    assert_eq!(consents[0]["details"]["rp_id"], "example.com");
    let parsed: RegisterPublicKeyCredential = serde_json::from_str(&out.stdout).unwrap();
    let cred = core.register_credential(&parsed, &reg_state, None).unwrap();

    // Sign-in: `latchkey get` via latchkeyd, verified by webauthn-rs.
    let builder = core
        .new_challenge_authenticate_builder(
            vec![cred.clone()],
            Some(UserVerificationPolicy::Required),
        )
        .unwrap();
    let (rcr, auth_state) = core.generate_challenge_authenticate(builder).unwrap();
    let options = bus.dir.path().join("get.json");
    std::fs::write(&options, serde_json::to_vec(&rcr.public_key).unwrap()).unwrap();
    let out = latchkey(
        &bus.address,
        &[],
        &[
            "get",
            "--origin",
            ORIGIN,
            "--options",
            options.to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert!(out.ok, "{}", out.stderr);
    let consents = records(&record, "Consent");
    assert_eq!(consents.len(), 2);
    assert_eq!(consents[1]["details"]["kind"], "get");
    let parsed: PublicKeyCredential = serde_json::from_str(&out.stdout).unwrap();
    let result = core.authenticate_credential(&parsed, &auth_state).unwrap();
    assert!(result.user_verified());
    assert!(result.counter() >= 1);

    // The platform credential is listed through latchkeyd.
    let out = latchkey(&bus.address, &[], &["credentials", "list", "--json"], "").await;
    assert!(out.ok, "{}", out.stderr);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(list[0]["rpId"], "example.com");
    assert_eq!(list[0]["userName"], "alice@example.com");
    assert_eq!(list[0]["id"], parsed.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_keeps_the_error_contract() {
    let bus = TestBus::start();
    let _daemon = start_latchkeyd(&bus).await;
    let record = bus.dir.path().join("record.jsonl");
    let _prompt = scripted_prompt(&bus, "deny\n", &record).await;
    let options = bus.dir.path().join("create.json");
    std::fs::write(
        &options,
        r#"{"rp":{"id":"example.com","name":"Example"},"user":{"id":"AQIDBA","name":"alice","displayName":"Alice"},"challenge":"AAECAwQFBgcICQoLDA0ODw","pubKeyCredParams":[{"type":"public-key","alg":-7}]}"#,
    )
    .unwrap();
    let out = latchkey(
        &bus.address,
        &[],
        &[
            "create",
            "--origin",
            ORIGIN,
            "--options",
            options.to_str().unwrap(),
            "--json",
        ],
        "",
    )
    .await;
    assert!(!out.ok);
    assert_eq!(records(&record, "Consent").len(), 1);
    let err: serde_json::Value = serde_json::from_str(out.stderr.trim()).unwrap();
    assert_eq!(err["name"], "NotAllowedError", "{}", out.stderr);

    // An origin the RP ID does not belong to is refused by latchkeyd before any prompt.
    let out = latchkey(
        &bus.address,
        &[],
        &[
            "create",
            "--origin",
            "https://evil.example",
            "--options",
            options.to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert!(!out.ok);
    assert!(out.stderr.starts_with("SecurityError: "), "{}", out.stderr);
    assert_eq!(records(&record, "Consent").len(), 1, "no second prompt");
}

/// `latchkeyd`, with its platform worker beside it.
fn built_latchkeyd() -> PathBuf {
    bins::binary("latchkeyd")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_user_then_a_call_activates_latchkeyd() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let config = home.path().join("config");
    let policy_dir = home.path().join("policy");
    std::fs::create_dir_all(&policy_dir).unwrap();
    std::fs::write(policy_dir.join("50-test.toml"), policy()).unwrap();
    let latchkeyd = built_latchkeyd();
    let env = [
        ("XDG_DATA_HOME", data.clone()),
        ("XDG_CONFIG_HOME", config.clone()),
    ];
    let policy_arg = format!("--policy-system-dir={}", policy_dir.display());
    let none = format!("{}", home.path().join("none").display());
    let admin_arg = format!("--policy-admin-dir={none}");
    let user_arg = format!("--policy-user-dir={none}");
    let store_arg = format!("--data-dir={}", home.path().join("store").display());
    let out = latchkey(
        "unix:path=/nonexistent",
        &env,
        &[
            "install",
            "--user",
            "--latchkeyd",
            latchkeyd.to_str().unwrap(),
            "--",
            &policy_arg,
            &admin_arg,
            &user_arg,
            &store_arg,
        ],
        "",
    )
    .await;
    assert!(out.ok, "{}", out.stderr);
    let service = data.join("dbus-1/services/dev.latchkey.Credentials.service");
    let unit = config.join("systemd/user/latchkeyd.service");
    assert!(
        out.stdout.contains(&service.display().to_string()),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&unit.display().to_string()),
        "{}",
        out.stdout
    );
    let text = std::fs::read_to_string(&service).unwrap();
    assert!(
        text.contains(&format!("Exec={}", latchkeyd.display())),
        "{text}"
    );
    assert!(text.contains(&policy_arg), "{text}");

    // Nothing runs yet; `latchkey credentials list` activates latchkeyd through the bus.
    let bus = TestBus::start_with_services(Some(&data.join("dbus-1/services")));
    let dbus = bus.dbus().await;
    let name = latchkey_testkit::bus::credentials_name();
    assert!(!dbus.name_has_owner(name.clone()).await.unwrap());
    let out = latchkey(
        &bus.address,
        &env,
        &["credentials", "list", "--json", "--verbose"],
        "",
    )
    .await;
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stderr.contains("Using latchkeyd"), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "[]");
    let owner = dbus.get_name_owner(name.clone()).await.unwrap();
    let pid = dbus
        .get_connection_unix_process_id(owner.into())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/exe")).unwrap(),
        latchkeyd
    );
    // Stop the daemon the call started.
    let _ = Command::new("kill").arg(pid.to_string()).status();

    let out = latchkey("unix:path=/nonexistent", &env, &["uninstall", "--user"], "").await;
    assert!(out.ok, "{}", out.stderr);
    assert!(!service.exists() && !unit.exists());
    assert!(out.stdout.contains("Removed"), "{}", out.stdout);
}

/// Runs one step of tests/python/fido2_rp_steps.py (python-fido2's Fido2Server) in `dir`.
fn fido2_step(step: &str, dir: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python");
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("fido2_rp_steps.py"))
        .arg(step)
        .arg(dir)
        .output()
        .expect("tests/python/.venv must exist (python -m venv, pip install -r requirements.txt)");
    assert!(
        out.status.success(),
        "{step}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_fido2_server_verifies_ceremonies_run_through_latchkeyd() {
    let bus = TestBus::start();
    let _daemon = start_latchkeyd(&bus).await;
    let record = bus.dir.path().join("record.jsonl");
    let script = format!("approve\npin {PIN}\napprove\npin {PIN}\n");
    let _prompt = scripted_prompt(&bus, &script, &record).await;
    let dir = bus.dir.path();
    let options = dir.join("options.json");
    for (kind, begin, complete, done) in [
        (
            "create",
            "register-begin",
            "register-complete",
            "registered",
        ),
        (
            "get",
            "authenticate-begin",
            "authenticate-complete",
            "authenticated",
        ),
    ] {
        fido2_step(begin, dir);
        let out = latchkey(
            &bus.address,
            &[],
            &[
                kind,
                "--origin",
                ORIGIN,
                "--options",
                options.to_str().unwrap(),
            ],
            "",
        )
        .await;
        assert!(out.ok, "{kind}: {}", out.stderr);
        std::fs::write(dir.join("response.json"), &out.stdout).unwrap();
        assert_eq!(fido2_step(complete, dir), done);
    }
    let consents = records(&record, "Consent");
    assert_eq!(
        consents.len(),
        2,
        "both ceremonies went through latchkeyd's prompt"
    );
    assert_eq!(consents[0]["details"]["user_name"], "bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_graphical_prompt_the_terminal_prompt_takes_consent_and_the_pin_fd() {
    let bus = TestBus::start();
    let _daemon = start_latchkeyd(&bus).await;
    let dir = bus.dir.path();
    let options = dir.join("create.json");
    std::fs::write(
        &options,
        r#"{"rp":{"id":"example.com","name":"Example"},"user":{"id":"AQIDBA","name":"carol","displayName":"Carol"},"challenge":"AAECAwQFBgcICQoLDA0ODw","pubKeyCredParams":[{"type":"public-key","alg":-7}],"authenticatorSelection":{"residentKey":"required","userVerification":"required"}}"#,
    )
    .unwrap();
    // The user chose the platform PIN in the trusted prompt (a terminal prompt may not choose it).
    {
        let record = dir.join("first.jsonl");
        let trusted = scripted_prompt(&bus, &format!("approve\npin {PIN}\n"), &record).await;
        let first = latchkey(
            &bus.address,
            &[],
            &[
                "create",
                "--origin",
                ORIGIN,
                "--options",
                options.to_str().unwrap(),
            ],
            "",
        )
        .await;
        assert!(first.ok, "{}", first.stderr);
        trusted.release_name("dev.latchkey.Prompt").await.unwrap();
    }
    let pin_file = dir.join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    // A new session (no controlling terminal): consent is read from standard input (which holds
    // nothing else), the PIN only from file descriptor 3.
    let address = bus.address.clone();
    let (opts, pin) = (options.clone(), pin_file.clone());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new("setsid")
            .args([
                "sh",
                "-c",
                &format!("exec \"$0\" \"$@\" 3<'{}'", pin.display()),
            ])
            .arg(LATCHKEY)
            .args(["create", "--origin", ORIGIN, "--pin-fd", "3", "--options"])
            .arg(&opts)
            .env("DBUS_SESSION_BUS_ADDRESS", address)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"y\n").unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("example.com"),
        "the consent question was shown: {stderr}"
    );
    let response: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(response["type"], "public-key");
    let client_data = latchkey_webauthn::b64::decode(
        "clientDataJSON",
        response["response"]["clientDataJSON"].as_str().unwrap(),
    )
    .unwrap();
    let client_data: serde_json::Value = serde_json::from_slice(&client_data).unwrap();
    assert_eq!(client_data["type"], "webauthn.create");
    assert_eq!(client_data["origin"], ORIGIN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_closes_the_request_and_exits_130() {
    let bus = TestBus::start();
    let daemon = start_latchkeyd(&bus).await;
    let record = bus.dir.path().join("record.jsonl");
    // The first consent never comes; the second is refused at once.
    let _prompt = scripted_prompt(&bus, "hang\ndeny\n", &record).await;
    let options = bus.dir.path().join("get.json");
    std::fs::write(
        &options,
        r#"{"rpId":"example.com","challenge":"AAECAwQFBgcICQoLDA0ODw"}"#,
    )
    .unwrap();
    let mut child = Command::new(LATCHKEY)
        .args(["get", "--origin", ORIGIN, "--options"])
        .arg(&options)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    latchkey_testkit::wait::file_until(&record, "the consent asked", || {
        !records(&record, "Consent").is_empty()
    })
    .await;
    let request_id = records(&record, "Consent")[0]["request_id"].clone();
    assert_eq!(daemon.queued(), 1);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || {
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        (status, stderr)
    })
    .await
    .unwrap();
    let (status, stderr) = out;
    assert_eq!(status.code(), Some(130), "{status} {stderr}");
    assert!(
        stderr.contains("interrupted; the request was cancelled"),
        "{stderr}"
    );
    // That message is printed only once latchkeyd accepted Close(). It took the prompt down.
    latchkey_testkit::wait::file_until(&record, "the prompt's dismissal", || {
        records(&record, "Dismiss")
            .iter()
            .any(|r| r["request_id"] == request_id)
    })
    .await;
    assert_eq!(daemon.queued(), 0);
    assert_eq!(daemon.live_requests(), 0);

    // The next request reaches the prompt at once (it would otherwise wait out the first).
    let t = std::time::Instant::now();
    let out = latchkey(
        &bus.address,
        &[],
        &[
            "get",
            "--origin",
            ORIGIN,
            "--options",
            options.to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert!(!out.ok);
    assert!(out.stderr.starts_with("NotAllowedError"), "{}", out.stderr);
    assert_eq!(records(&record, "Consent").len(), 2);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}
