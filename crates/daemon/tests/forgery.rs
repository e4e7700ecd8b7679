#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Attacks on latchkeyd's clients from other peers on the bus: a `Response` forged by a peer that
//! watched the request go by, a process squatting on `dev.latchkey.Credentials`, a second
//! latchkeyd queueing for the name. Each client must take latchkeyd's word only
//! (`latchkey_api::latchkeyd`), and latchkeyd must own its name or stop.

mod common;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::*;
use futures_lite::StreamExt as _;
use latchkey_api::BUS_NAME;
use latchkey_api::{handle_path, CredentialsClient, Kind};
use latchkey_testkit::terminal::TerminalPrompt;
use latchkey_testkit::wait;
use zbus::zvariant::{OwnedValue, Value};

const FORGED: &str = r#"{"id":"forged","rawId":"forged","type":"public-key","response":{"clientDataJSON":"forged","attestationObject":"forged"}}"#;

async fn connect(bus: &TestBus) -> zbus::Connection {
    zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .build()
        .await
        .unwrap()
}

/// A peer that becomes a bus monitor (what any process of the user may do on the session bus),
/// waits for a `CreateCredential` call, and answers its handle with a forged `Response` — sent
/// both to the caller directly and broadcast — before latchkeyd can. Returns once it has sent
/// them and the bus has routed them (a round trip after the sends).
async fn forge_the_next_response(bus: &TestBus) -> tokio::task::JoinHandle<()> {
    let monitor = connect(bus).await;
    let forger = connect(bus).await;
    let mut seen = zbus::MessageStream::from(&monitor);
    monitor
        .call_method(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            Some("org.freedesktop.DBus.Monitoring"),
            "BecomeMonitor",
            &(
                vec!["type='method_call',interface='dev.latchkey.Credentials1',member='CreateCredential'"],
                0u32,
            ),
        )
        .await
        .unwrap();
    tokio::spawn(async move {
        let _monitor = monitor;
        while let Some(Ok(msg)) = seen.next().await {
            let hdr = msg.header();
            if hdr.member().map(|m| m.as_str()) != Some("CreateCredential") {
                continue;
            }
            let caller = hdr.sender().unwrap().to_owned();
            let (_, _, options): (String, String, HashMap<String, OwnedValue>) =
                msg.body().deserialize().unwrap();
            let token: String = options["handle_token"].clone().try_into().unwrap();
            let path = handle_path(&caller, &token).unwrap();
            let results = HashMap::from([("registration_response_json", Value::from(FORGED))]);
            for dest in [Some(caller.as_str()), None] {
                forger
                    .emit_signal(
                        dest,
                        path.as_str(),
                        "dev.latchkey.Request1",
                        "Response",
                        &(0u32, &results),
                    )
                    .await
                    .unwrap();
            }
            // The bus handles one connection's messages in order: once this returns, both
            // signals are on their way to the caller, ahead of anything latchkeyd sends later.
            zbus::fdo::DBusProxy::new(&forger)
                .await
                .unwrap()
                .get_id()
                .await
                .unwrap();
            return;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_forged_by_another_peer_is_not_taken_for_latchkeyds() {
    let bus = TestBus::start();
    // This test binary is a browser to policy; its own terminal prompt answers for it.
    let _d = start_daemon(
        &bus,
        &policy_privileged_self(),
        FakeBackend::new(FakeMode::Answer),
    )
    .await;
    let prompt = Arc::new(TerminalPrompt::held(&bus).await);
    let forger = forge_the_next_response(&bus).await;
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let web = latchkey_testkit::rp::web();
    let pending = client
        .start(Kind::Create, &create_options("example.com"), &web)
        .await
        .unwrap();
    // The forged Response is on its way before the user has even answered the prompt.
    forger.await.unwrap();
    prompt.type_line("y");
    let out = pending.response().await.unwrap();
    let json = out.response_json().unwrap();
    assert_ne!(json, FORGED, "the client took the forger's Response");
    assert_eq!(out.code, 0, "{:?}", out.message());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["id"], "AQID", "latchkeyd's own answer: {json}");
    assert!(client_data(&json).contains("\"origin\":\"https://example.com\""));
}

#[test]
#[ignore = "run by the tests as a process squatting on dev.latchkey.Credentials"]
fn squatter_process() {
    let Ok(bus) = std::env::var("LATCHKEY_TEST_SQUAT_BUS") else {
        return;
    };
    // Two threads: the bus connection answers (with an error) the calls sent to it meanwhile.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conn = zbus::connection::Builder::address(bus.as_str())
            .unwrap()
            .build()
            .await
            .unwrap();
        // An object server, so that the calls sent here get an error rather than no reply.
        let _ = conn.object_server();
        conn.request_name("dev.latchkey.Credentials").await.unwrap();
        println!("\nsquatting");
        // Until the test closes our standard input.
        tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new()))
            .await
            .unwrap()
            .unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_squatting_on_the_name_is_not_taken_for_latchkeyd() {
    let bus = TestBus::start();
    // A copy of this test binary: another file than the one this process (which serves latchkeyd
    // in other tests) vouches for.
    let dir = tempfile::tempdir().unwrap();
    let squatter_exe = dir.path().join("squatter");
    std::fs::copy(std::env::current_exe().unwrap(), &squatter_exe).unwrap();
    let mut squatter = Command::new(&squatter_exe)
        .args([
            "--exact",
            "squatter_process",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LATCHKEY_TEST_SQUAT_BUS", &bus.address)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(squatter.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("squatting") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the squatter exited");
    }
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let web = latchkey_testkit::rp::web();
    let err = match client
        .start(Kind::Create, &create_options("example.com"), &web)
        .await
    {
        Ok(_) => panic!("the client sent its request to the squatter"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(
        text.contains("owns dev.latchkey.Credentials but is not latchkeyd"),
        "{text}"
    );
    assert_eq!(err.webauthn_error().name(), "SecurityError", "{text}");
    drop(squatter.stdin.take());
    squatter.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_latchkeyd_stops_instead_of_queueing_for_the_name() {
    let bus = TestBus::start();
    let first = start_daemon(&bus, "", FakeBackend::new(FakeMode::Answer)).await;
    let settings = latchkey_testkit::daemon::settings("", FakeBackend::new(FakeMode::Answer));
    let second = latchkey_daemon::server::Daemon::start(Some(&bus.address), settings).await;
    let err = match second {
        Ok(_) => panic!("a second latchkeyd started (queued behind the first)"),
        Err(e) => e.to_string(),
    };
    let owner = first.connection().unique_name().unwrap().to_string();
    assert!(
        err.contains("already owned by") && err.contains(&owner),
        "{err}"
    );
}

use latchkey_testkit::latchkeyd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_latchkeyd_binary_exits_with_a_reason_when_its_name_is_taken() {
    let bus = TestBus::start();
    let first = start_daemon(&bus, "", FakeBackend::new(FakeMode::Answer)).await;
    let home = tempfile::tempdir().unwrap();
    let none = home.path().join("none");
    let log = home.path().join("latchkeyd.log");
    let mut child = Command::new(latchkeyd::latchkeyd_bin())
        .arg(format!("--address={}", bus.address))
        .arg(format!(
            "--data-dir={}",
            home.path().join("store").display()
        ))
        .arg(format!("--policy-system-dir={}", none.display()))
        .arg(format!("--policy-admin-dir={}", none.display()))
        .arg(format!("--policy-user-dir={}", none.display()))
        .arg(format!("--devices-config={}/devices.toml", none.display()))
        .arg("--no-usb")
        .arg("--no-pcsc")
        .env_remove("JOURNAL_STREAM")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // It should stop at once; one that waits in the name's queue is stopped here after a minute.
    let status = if wait::exited_within(child.id(), std::time::Duration::from_secs(60)).await {
        Some(child.wait().unwrap())
    } else {
        let _ = child.kill();
        let _ = child.wait();
        None
    };
    let stderr = std::fs::read_to_string(&log).unwrap();
    let Some(status) = status else {
        panic!("the second latchkeyd kept running (queued for its name): {stderr}");
    };
    assert!(!status.success(), "{stderr}");
    let owner = first.connection().unique_name().unwrap().to_string();
    assert!(
        stderr.contains("dev.latchkey.Credentials is already owned by") && stderr.contains(&owner),
        "{stderr}"
    );
}

/// The real latchkeyd binary, run by a process of the user with arguments of its choosing (here a
/// policy that makes every caller privileged), is not the session's latchkeyd: clients take only a
/// latchkeyd the bus (or `systemd --user`) started, as the Electron bridge does. The same binary
/// started by the private bus's activation is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_latchkeyd_started_by_hand_is_refused_and_one_the_bus_started_is_taken() {
    let bus = TestBus::start();
    let home = tempfile::tempdir().unwrap();
    let policy = home.path().join("policy");
    let none = home.path().join("none");
    std::fs::create_dir_all(&policy).unwrap();
    std::fs::write(policy.join("50-mine.toml"), policy_privileged_self()).unwrap();
    // latchkeyd_bin() makes this process's clients take the binary for latchkeyd by executable:
    // only its parentage is left to tell the two apart.
    let mut by_hand = Command::new(latchkeyd::latchkeyd_bin())
        .arg(format!("--address={}", bus.address))
        .arg(format!(
            "--data-dir={}",
            home.path().join("store").display()
        ))
        .arg(format!("--policy-system-dir={}", policy.display()))
        .arg(format!("--policy-admin-dir={}", none.display()))
        .arg(format!("--policy-user-dir={}", none.display()))
        .arg(format!("--devices-config={}/devices.toml", none.display()))
        .args(["--no-usb", "--no-pcsc"])
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dbus = bus.dbus().await;
    tokio::select! {
        () = wait::name_owned(dbus.inner().connection(), BUS_NAME, "latchkeyd by hand") => {}
        () = wait::exit(by_hand.id(), "latchkeyd by hand") => panic!("latchkeyd exited"),
    }
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let refused = client.latchkeyd(false).await.unwrap_err();
    let pid = by_hand.id();
    match &refused {
        latchkey_api::ClientError::Method { name, message } => {
            assert_eq!(name, "dev.latchkey.Credentials1.Error.Security");
            assert!(
                message.contains(&format!(
                    "runs latchkeyd (PID {pid}) but was not started by the bus"
                )),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let out = client
        .call(
            Kind::Create,
            &create_options("example.com"),
            &latchkey_api::CallOptions::default(),
        )
        .await;
    assert!(out.is_err(), "a request went to it: {out:?}");
    by_hand.kill().unwrap();
    by_hand.wait().unwrap();
    wait::name_released(dbus.inner().connection(), BUS_NAME, "latchkeyd killed").await;

    let activated = latchkeyd::Latchkeyd::start(&bus, &policy_privileged_self(), &[]).await;
    let owner = client.latchkeyd(true).await.unwrap();
    let owner_pid = dbus
        .get_connection_unix_process_id(owner.as_ref().into())
        .await
        .unwrap();
    assert_eq!(owner_pid, activated.pid());
    let parent = std::fs::read_to_string(format!("/proc/{owner_pid}/stat")).unwrap();
    let bus_pid = dbus
        .get_connection_unix_process_id(
            zbus::names::BusName::try_from("org.freedesktop.DBus").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        latchkey_api::started::proc_stat(&parent).unwrap().ppid,
        bus_pid,
        "the bus's child"
    );
    let caps = client.proxy().get_client_capabilities().await.unwrap();
    assert!(!caps.is_empty(), "{caps:?}");
}
