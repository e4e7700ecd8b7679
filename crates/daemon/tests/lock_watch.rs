#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The platform store's session ends when the user leaves: logind's `PrepareForSleep(true)` and a
//! session's `Lock` on the system bus, the screen saver's `ActiveChanged(true)` on the session bus.
//! The shipped latchkeyd and its worker run on a private bus that stands for both buses
//! (`DBUS_SYSTEM_BUS_ADDRESS` points at it), with a fake logind on it served by this test. That a
//! session ended is seen in the worker's log: the next PIN starts a new session, which only a PIN
//! checked with Argon2id does.

mod common;

use common::*;
use latchkey_api::{CallOptions, CredentialsClient, Kind};
use latchkey_testkit::latchkeyd::Latchkeyd;

const STARTED: &str = "the store's session started: a PIN was checked with Argon2id";
const OVER: &str = "the platform store's session is over";

fn web() -> CallOptions {
    CallOptions {
        origin: Some("https://example.com".into()),
        ..Default::default()
    }
}

/// The log lines of latchkeyd (and its worker) containing `needle`.
fn lines(d: &Latchkeyd, needle: &str) -> Vec<String> {
    d.log()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Waits until `needle` has been logged `n` times (woken by each write to the log); the lines.
async fn logged(d: &Latchkeyd, needle: &str, n: usize) -> Vec<String> {
    let what = format!("{needle:?} logged {n} times");
    d.until_logged(&what, || lines(d, needle).len() >= n).await;
    lines(d, needle)
}

async fn ceremony(client: &CredentialsClient, kind: Kind) {
    let options = match kind {
        Kind::Create => create_options("example.com"),
        Kind::Get => get_options("example.com"),
    };
    let out = client.call(kind, &options, &web()).await.unwrap();
    assert_eq!(out.code, 0, "{:?} {:?}", out.error_name(), out.message());
}

/// logind, as far as latchkeyd uses it: it takes a sleep inhibitor (any descriptor here).
struct FakeLogind;

#[zbus::interface(name = "org.freedesktop.login1.Manager")]
impl FakeLogind {
    fn inhibit(
        &self,
        what: &str,
        _who: &str,
        _why: &str,
        mode: &str,
    ) -> zbus::fdo::Result<zbus::zvariant::OwnedFd> {
        assert_eq!((what, mode), ("sleep", "delay"));
        let fd = std::fs::File::open("/dev/null").unwrap();
        Ok(std::os::fd::OwnedFd::from(fd).into())
    }
}

async fn emit(
    conn: &zbus::Connection,
    path: &str,
    interface: &str,
    member: &str,
    body: &(impl serde::Serialize + zbus::zvariant::DynamicType),
) {
    conn.emit_signal(None::<()>, path, interface, member, body)
        .await
        .unwrap();
    // A round trip to the bus: it has routed the signal before the next message is sent.
    zbus::fdo::DBusProxy::new(conn)
        .await
        .unwrap()
        .get_id()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_session_ends_at_suspend_at_session_lock_and_at_screen_lock() {
    let bus = TestBus::start();
    let logind = zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name("org.freedesktop.login1")
        .unwrap()
        .serve_at("/org/freedesktop/login1", FakeLogind)
        .unwrap()
        .build()
        .await
        .unwrap();
    let d = Latchkeyd::start_with_env(
        &bus,
        &policy_privileged_self(),
        &[],
        None,
        &[("DBUS_SYSTEM_BUS_ADDRESS", Some(bus.address.as_str()))],
    )
    .await;
    let _prompt = Prompt::spawn(&bus, "approve\npin 271828\n", false);
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();

    // The first create sets the PIN and verifies it: a session starts.
    ceremony(&client, Kind::Create).await;
    let started = logged(&d, STARTED, 1).await.len();

    // A PrepareForSleep from another sender than logind's is ignored; logind's, sent after it
    // on the same bus, ends the session (handled in order: one line, for logind's).
    emit(
        client.connection(),
        "/org/freedesktop/login1",
        "org.freedesktop.login1.Manager",
        "PrepareForSleep",
        &(true,),
    )
    .await;
    emit(
        &logind,
        "/org/freedesktop/login1",
        "org.freedesktop.login1.Manager",
        "PrepareForSleep",
        &(true,),
    )
    .await;
    let over = logged(&d, OVER, 1).await;
    assert_eq!(over.len(), 1, "{over:?}");
    assert!(
        over[0].contains("suspend") && over[0].contains("ended=true"),
        "{over:?}"
    );
    emit(
        &logind,
        "/org/freedesktop/login1",
        "org.freedesktop.login1.Manager",
        "PrepareForSleep",
        &(false,),
    )
    .await;
    // The next PIN pays Argon2id again: a new session.
    ceremony(&client, Kind::Get).await;
    logged(&d, STARTED, started + 1).await;

    // A session's Lock from logind.
    emit(
        &logind,
        "/org/freedesktop/login1/session/_32",
        "org.freedesktop.login1.Session",
        "Lock",
        &(),
    )
    .await;
    let over = logged(&d, OVER, 2).await;
    assert!(
        over[1].contains("session lock") && over[1].contains("ended=true"),
        "{over:?}"
    );
    ceremony(&client, Kind::Get).await;
    logged(&d, STARTED, started + 2).await;

    // The screen saver turning off ends nothing; turning on (the screen locked) ends it.
    emit(
        client.connection(),
        "/org/freedesktop/ScreenSaver",
        "org.freedesktop.ScreenSaver",
        "ActiveChanged",
        &(false,),
    )
    .await;
    emit(
        client.connection(),
        "/org/freedesktop/ScreenSaver",
        "org.freedesktop.ScreenSaver",
        "ActiveChanged",
        &(true,),
    )
    .await;
    let over = logged(&d, OVER, 3).await;
    assert_eq!(over.len(), 3, "{over:?}");
    assert!(
        over[2].contains("screen saver") && over[2].contains("ended=true"),
        "{over:?}"
    );
    ceremony(&client, Kind::Get).await;
    let all = logged(&d, STARTED, started + 3).await;
    assert_eq!(all.len(), started + 3, "{all:?}");

    // A second lock with no session live ends nothing, and says so.
    for _ in 0..2 {
        emit(
            client.connection(),
            "/org/gnome/ScreenSaver",
            "org.gnome.ScreenSaver",
            "ActiveChanged",
            &(true,),
        )
        .await;
    }
    let over = logged(&d, OVER, 5).await;
    assert!(over[3].contains("ended=true"), "{over:?}");
    assert!(over[4].contains("ended=false"), "{over:?}");
}
