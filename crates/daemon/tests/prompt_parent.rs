#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! A trusted prompt entry with `bus_started = true` (the shipped policy's `latchkey-ui`) is
//! trusted only in the process the session bus started: a process of the user that runs the same
//! executable itself (and could drive it, or have exec'd it after connecting) is ignored.

mod common;

use common::*;
use latchkey_api::Kind;
use latchkey_api::{CallOptions, CredentialsClient};

fn policy() -> String {
    format!(
        "[[trusted_prompt]]\nexecutable = \"{}\"\nbus_started = true\n",
        prompt_bin().display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_prompt_binary_started_by_another_process_is_not_trusted() {
    let bus = TestBus::start();
    let _d = start_daemon(&bus, &policy(), FakeBackend::new(FakeMode::Answer)).await;
    // This test process (an unknown caller) starts the trusted prompt's executable itself.
    let p = Prompt::spawn(&bus, "approve\n", false);
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let out = client
        .call(
            Kind::Create,
            &create_options("example.com"),
            &CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (out.code, out.error_name().as_deref()),
        (2, Some("NotAllowedError")),
        "a prompt this caller started approved it: {:?}",
        out.message()
    );
    assert!(p.consents().is_empty(), "{:?}", p.consents());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_dbus_daemon_activates_without_systemd_is_orphaned_so_not_bus_started() {
    // What `bus_started` can and cannot see: dbus-daemon 1.14 (no systemd) does not stay the
    // parent of a service it activates — the prompt ends up reparented (PID 1 or a subreaper),
    // like any orphan, so it is not trusted either. latchkey-ui is to be activated through
    // systemd --user (`SystemdService=`), whose unit makes systemd its parent.
    let services = tempfile::tempdir().unwrap();
    let script = services.path().join("script");
    let record = services.path().join("record.jsonl");
    std::fs::write(&script, "approve\n").unwrap();
    // `exec`: the prompt replaces the shell, so its parent is the bus daemon.
    std::fs::write(
        services.path().join("dev.latchkey.Prompt.service"),
        format!(
            "[D-BUS Service]\nName=dev.latchkey.Prompt\nExec=/bin/sh -c 'exec \"$0\" --address \"$DBUS_STARTER_ADDRESS\" --script \"$1\" --record \"$2\" >/dev/null' {} {} {}\n",
            prompt_bin().display(),
            script.display(),
            record.display()
        ),
    )
    .unwrap();
    // A bus that is not a subreaper, as dbus-daemon runs without systemd.
    let bus = TestBus::start_orphaning(Some(services.path()));
    let _d = start_daemon(&bus, &policy(), FakeBackend::new(FakeMode::Answer)).await;
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let out = client
        .call(
            Kind::Create,
            &create_options("example.com"),
            &CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (out.code, out.error_name().as_deref()),
        (2, Some("NotAllowedError")),
        "{:?}",
        out.message()
    );
    // It was started (it recorded nothing, being asked nothing).
    assert!(latchkey_testkit::prompt::calls(&record, "Consent").is_empty());
}
