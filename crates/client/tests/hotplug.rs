#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! A key plugged in while a ceremony waits, found the way a real one is: the [`DeviceWatcher`]
//! sees its node appear in the device directory (inotify on a temporary directory that plays
//! `/dev`), reads its report descriptor from a fake sysfs (the transport's descriptor fixtures),
//! and hands it to `select_joining`. The node is a virtual key's Unix socket, bound and listening
//! under a temporary name and then renamed to `hidrawN`, so that it appears ready to open as a
//! real node does; the watcher's opener connects to it where a real node would be opened as
//! hidraw.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use latchkey_client::devices::watch_with_opener;
use latchkey_client::select::select_joining;
use latchkey_client::{Device, ScriptedUi};
use latchkey_transport::discovery::Roots;
use latchkey_transport::hotplug::InotifySource;
use latchkey_transport::DeviceWatcher;
use serde_json::json;

/// The transport crate's report-descriptor and uevent fixtures.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../transport/tests/fixtures/hidraw")
        .join(name)
}

fn descriptor(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(fixture(&format!("{name}.hex"))).unwrap();
    let digits: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap())
        .flat_map(|l| l.split_whitespace())
        .collect();
    hex::decode(digits).unwrap()
}

/// Writes the sysfs side of `hidrawN` (as the kernel does before the node appears).
fn add_sysfs(roots: &Roots, n: u32, name: &str) -> PathBuf {
    let sys = roots.sysfs.join(format!("class/hidraw/hidraw{n}/device"));
    std::fs::create_dir_all(&sys).unwrap();
    std::fs::write(sys.join("report_descriptor"), descriptor(name)).unwrap();
    std::fs::copy(fixture(&format!("{name}.uevent")), sys.join("uevent")).unwrap();
    roots.dev.join(format!("hidraw{n}"))
}

#[test]
fn a_key_found_by_the_device_watcher_joins_a_waiting_ceremony_and_wins() {
    let dir = tempfile::tempdir().unwrap();
    let roots = Roots {
        sysfs: dir.path().join("sys"),
        dev: dir.path().join("dev"),
    };
    std::fs::create_dir_all(roots.sysfs.join("class/hidraw")).unwrap();
    std::fs::create_dir_all(&roots.dev).unwrap();
    // A keyboard is already there: the watcher lists it and ignores it.
    let keyboard = add_sysfs(&roots, 0, "keyboard");
    std::fs::write(&keyboard, b"").unwrap();

    let source = InotifySource::open(&roots.dev).unwrap();
    let watcher = DeviceWatcher::with_source(roots.clone(), Box::new(source)).unwrap();
    assert_eq!(watcher.devices().count(), 0, "a keyboard is no FIDO key");
    let opened = Arc::new(Mutex::new(Vec::new()));
    let seen = opened.clone();
    let joins = watch_with_opener(watcher, move |info| {
        seen.lock()
            .unwrap()
            .push((info.path.clone(), info.vendor_id, info.product_id));
        Ok(Box::new(latchkey_client::hid::open_unix(&info.path)?) as Box<dyn Device>)
    });

    // One key waits for a touch that never comes.
    let waiting = VirtualKeyServer::start();
    waiting.hold.store(true, Ordering::SeqCst);

    // Once the ceremony waits on that key, a Nitrokey 3 is plugged in: sysfs first, then its
    // node (the virtual key's socket).
    let sysfs_roots = roots.clone();
    let asked = waiting.touches.clone();
    let plugged = std::thread::spawn(move || {
        wait_for("the first key was asked for a touch", || asked.count() == 1);
        let node = add_sysfs(&sysfs_roots, 7, "nitrokey3");
        VirtualKeyServer::start_ready_at(&node)
    });

    let mut ui = ScriptedUi::default();
    let started = Instant::now();
    let mut chosen = select_joining(
        vec![waiting.open()],
        &joins,
        &mut ui,
        Duration::from_secs(10),
    )
    .unwrap();
    let late = plugged.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));

    let node = roots.dev.join("hidraw7");
    assert_eq!(
        *opened.lock().unwrap(),
        [(node.clone(), 0x20a0, 0x42b2)],
        "the watcher opened exactly the FIDO node that appeared"
    );
    assert_eq!(chosen.info().path, format!("unix:{}", node.display()));
    assert_eq!(
        late.touches.count(),
        1,
        "the joined key was asked for a touch"
    );

    // The key that joined runs the ceremony.
    let user = random(8);
    let (options, challenge) = create_options(&user, "discouraged", "discouraged", &[], json!({}));
    let reg = latchkey_client::register(&mut *chosen, &create_request(&options), &mut ui).unwrap();
    rp_register(&reg, &challenge, false);
    assert_eq!(late.touches.count(), 2);

    // The one that lost was told to stop waiting (CTAPHID_CANCEL).
    wait_for("the key that lost was cancelled", || {
        waiting.cancels.count() == 1
    });
    assert_eq!(waiting.cancels.count(), 1);
}
