#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! One owner of the platform store: the real latchkeyd's sandboxed worker holds it for as long as
//! latchkeyd runs, so `latchkey --local` on the same store is refused, naming latchkeyd, and
//! changes nothing — a credential it deleted would have stayed usable through latchkeyd, whose
//! worker serves the store from memory. Once latchkeyd and its worker are gone, `--local` opens
//! the store and finds what latchkeyd made.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use latchkey_api::{CredentialsClient, Kind};
use latchkey_testkit::files::snapshot;
use latchkey_testkit::latchkeyd::Latchkeyd;
use latchkey_testkit::rp::*;
use webauthn_rs_core::proto::{AuthenticatorAttachment, UserVerificationPolicy};

/// `latchkey ARGS --local --json --store STORE`, with the test bus as its session bus.
fn latchkey_local(bus: &TestBus, store: &Path, args: &[&str]) -> Output {
    Command::new(bin("latchkey"))
        .args(args)
        .args(["--local", "--json", "--store"])
        .arg(store)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latchkey_local_is_refused_while_latchkeyds_worker_holds_the_store() {
    let bus = TestBus::start();
    let d = Latchkeyd::start(&bus, &policy_privileged_self(), &[]).await;
    let children = d.children();
    assert_eq!(children.len(), 1, "{children:?}");
    let (worker, name, _) = children[0].clone();
    assert_eq!(name, "latchkey-platform-worker");

    // A platform credential made through latchkeyd (first use: a new PIN, then the PIN).
    let _prompt = Prompt::spawn(&bus, "approve\npin 271828\n", false);
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let core = rp();
    let reg = registration_with(
        &core,
        Some(AuthenticatorAttachment::Platform),
        UserVerificationPolicy::Required,
        None,
        true,
    );
    let out = client.call(Kind::Create, &reg.json, &web()).await.unwrap();
    let response = ok_json(&out);
    let (cred, _) = verify_registration(&core, &reg, &response);
    let id = response["id"].as_str().unwrap().to_owned();

    let store = d.store();
    let before = snapshot(&store);
    let refusal = format!(
        "latchkeyd holds the credential store at {} (its platform authenticator is process \
         {worker}); run without --local and --store to go through latchkeyd",
        store.display()
    );
    for args in [
        &["credentials", "delete", id.as_str()][..],
        &["credentials", "list"],
    ] {
        let out = latchkey_local(&bus, &store, args);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
        assert_eq!(err["name"], "NotAllowedError", "{args:?}: {err}");
        assert_eq!(err["message"], refusal.as_str(), "{args:?}");
    }
    assert_eq!(
        snapshot(&store),
        before,
        "a refused command changed the store"
    );
    // The credential the refused command would have deleted still signs through latchkeyd.
    let (signed, _) = sign_in(&client, &core, &cred, UserVerificationPolicy::Required).await;
    assert_eq!(signed["id"], id.as_str());

    // latchkeyd gone, its worker sees its link close and exits, and the lock goes with it. The
    // store's directory is kept: it is removed with latchkeyd's.
    drop(client);
    let mut d = d;
    let _home = std::mem::replace(&mut d.home, tempfile::tempdir().unwrap());
    drop(d);
    latchkey_testkit::wait::exit(worker, "the worker, latchkeyd gone").await;
    let out = latchkey_local(&bus, &store, &["credentials", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
}
