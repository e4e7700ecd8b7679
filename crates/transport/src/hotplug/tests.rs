use std::path::Path;
use std::sync::mpsc;

use super::uevent::{parse, Action, UeventError};
use super::*;

/// A kernel uevent as `udevadm monitor --kernel --property` shows one for a key being plugged in.
fn payload(action: &str, subsystem: &str, devname: Option<&str>) -> Vec<u8> {
    let devpath =
        "/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.1/0003:1050:0407.0009/hidraw/hidraw3";
    let mut s =
        format!("{action}@{devpath}\0ACTION={action}\0DEVPATH={devpath}\0SUBSYSTEM={subsystem}\0");
    if let Some(n) = devname {
        s.push_str(&format!("MAJOR=241\0MINOR=3\0DEVNAME={n}\0"));
    }
    s.push_str("SEQNUM=4711\0");
    s.into_bytes()
}

#[test]
fn kernel_uevents_parse() {
    let ev = parse(&payload("add", "hidraw", Some("hidraw3"))).unwrap();
    assert_eq!(ev.action, Action::Add);
    assert_eq!(ev.subsystem, "hidraw");
    assert_eq!(ev.devname.as_deref(), Some("hidraw3"));
    assert_eq!(ev.seqnum, Some(4711));
    assert!(ev.devpath.ends_with("/hidraw/hidraw3"));
    assert_eq!(
        to_hotplug(&ev, Path::new("/dev")),
        Some(HotplugEvent::Added("/dev/hidraw3".into()))
    );
    let ev = parse(&payload("remove", "hidraw", Some("hidraw3"))).unwrap();
    assert_eq!(
        to_hotplug(&ev, Path::new("/x")),
        Some(HotplugEvent::Removed("/x/hidraw3".into()))
    );
    let ev = parse(&payload("bind", "hidraw", Some("hidraw3"))).unwrap();
    assert_eq!(ev.action, Action::Other("bind".into()));
    assert_eq!(to_hotplug(&ev, Path::new("/dev")), None);
}

#[test]
fn other_subsystems_and_odd_devnames_are_not_hidraw_events() {
    for (sub, name) in [
        ("usb", Some("bus/usb/001/009")),
        ("hid", None),
        ("input", Some("input/event7")),
        ("hidraw", None),
        ("hidraw", Some("../sda")),
        ("hidraw", Some("hidraw3/../../etc")),
    ] {
        let ev = parse(&payload("add", sub, name)).unwrap();
        assert_eq!(to_hotplug(&ev, Path::new("/dev")), None, "{sub} {name:?}");
    }
}

#[test]
fn malformed_and_udev_messages_are_refused() {
    assert_eq!(parse(b""), Err(UeventError::Length(0)));
    assert_eq!(parse(&[b'a'; 9000]), Err(UeventError::Length(9000)));
    let mut udev = b"libudev\0\xfe\xed\xca\xfe".to_vec();
    udev.extend_from_slice(&payload("add", "hidraw", Some("hidraw3")));
    assert_eq!(parse(&udev), Err(UeventError::Libudev));
    assert_eq!(parse(b"ACTION=add\0"), Err(UeventError::NoHeader));
    assert_eq!(
        parse(b"add@relative\0ACTION=add\0"),
        Err(UeventError::NoHeader)
    );
    assert_eq!(parse(b"\xff@/x\0"), Err(UeventError::NoHeader));
    assert_eq!(
        parse(b"add@/x\0ACTION=add\0garbage\0"),
        Err(UeventError::BadField(2))
    );
    assert_eq!(
        parse(b"add@/x\0ACTION=add\0K=\xff\0"),
        Err(UeventError::BadField(2))
    );
    assert_eq!(
        parse(b"add@/x\0ACTION=add\0DEVPATH=/x\0"),
        Err(UeventError::Missing("SUBSYSTEM"))
    );
    assert_eq!(
        parse(b"add@/x\0ACTION=remove\0DEVPATH=/x\0SUBSYSTEM=hidraw\0"),
        Err(UeventError::HeaderMismatch)
    );
    let mut many = b"add@/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=hidraw\0".to_vec();
    for i in 0..70 {
        many.extend_from_slice(format!("K{i}=v\0").as_bytes());
    }
    assert_eq!(parse(&many), Err(UeventError::TooManyFields));
    // No trailing NUL and doubled NULs are both fine.
    assert!(parse(b"add@/x\0\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=hidraw").is_ok());
}

/// An event source fed by a channel.
struct Scripted(mpsc::Receiver<HotplugEvent>);

impl EventSource for Scripted {
    fn next_event(&mut self, timeout: Duration) -> io::Result<Option<HotplugEvent>> {
        Ok(self.0.recv_timeout(timeout).ok())
    }
}

const FIDO: &[u8] = &[
    0x06, 0xd0, 0xf1, 0x09, 0x01, 0xa1, 0x01, 0x09, 0x20, 0x15, 0x00, 0x26, 0xff, 0x00, 0x75, 0x08,
    0x95, 0x40, 0x81, 0x02, 0x09, 0x21, 0x15, 0x00, 0x26, 0xff, 0x00, 0x75, 0x08, 0x95, 0x40, 0x91,
    0x02, 0xc0,
];
const MOUSE: &[u8] = &[
    0x05, 0x01, 0x09, 0x02, 0xa1, 0x01, 0x95, 0x03, 0x75, 0x08, 0x81, 0x02, 0xc0,
];

fn add_node(roots: &Roots, n: u32, descriptor: &[u8], vid_pid: &str) {
    let sys = roots.sysfs.join(format!("class/hidraw/hidraw{n}/device"));
    std::fs::create_dir_all(&sys).unwrap();
    std::fs::write(sys.join("report_descriptor"), descriptor).unwrap();
    std::fs::write(
        sys.join("uevent"),
        format!("HID_ID=0003:{vid_pid}\nHID_NAME=Key {n}\n"),
    )
    .unwrap();
    std::fs::write(roots.dev.join(format!("hidraw{n}")), b"").unwrap();
}

fn remove_node(roots: &Roots, n: u32) {
    std::fs::remove_dir_all(roots.sysfs.join(format!("class/hidraw/hidraw{n}"))).unwrap();
    std::fs::remove_file(roots.dev.join(format!("hidraw{n}"))).unwrap();
}

fn fake_roots(dir: &Path) -> Roots {
    let roots = Roots {
        sysfs: dir.join("sys"),
        dev: dir.join("dev"),
    };
    std::fs::create_dir_all(roots.class_dir()).unwrap();
    std::fs::create_dir_all(&roots.dev).unwrap();
    roots
}

fn nodes(w: &DeviceWatcher) -> Vec<u32> {
    w.devices().map(|d| d.node.0).collect()
}

#[test]
fn watcher_lists_then_follows_injected_events() {
    let dir = tempfile::tempdir().unwrap();
    let roots = fake_roots(dir.path());
    add_node(&roots, 0, FIDO, "00001050:00000407");
    add_node(&roots, 1, MOUSE, "0000046D:0000C077");
    let (tx, rx) = mpsc::channel();
    let mut w = DeviceWatcher::with_source(roots.clone(), Box::new(Scripted(rx))).unwrap();
    assert_eq!(nodes(&w), [0]);
    let short = Duration::from_millis(20);
    assert_eq!(w.next_event(short).unwrap(), None);

    // A key arrives.
    add_node(&roots, 4, FIDO, "00001209:0000BEEE");
    tx.send(HotplugEvent::Added(roots.dev.join("hidraw4")))
        .unwrap();
    match w.next_event(Duration::from_secs(5)).unwrap() {
        Some(WatchEvent::Added(info)) => {
            assert_eq!(info.node.0, 4);
            assert_eq!((info.vendor_id, info.product_id), (0x1209, 0xbeee));
            assert_eq!(info.product.as_deref(), Some("Key 4"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(nodes(&w), [0, 4]);

    // A mouse, a repeated add, a node outside the device root, a stranger's removal: nothing.
    add_node(&roots, 5, MOUSE, "0000046D:0000C077");
    for ev in [
        HotplugEvent::Added(roots.dev.join("hidraw5")),
        HotplugEvent::Added(roots.dev.join("hidraw4")),
        HotplugEvent::Added(dir.path().join("elsewhere/hidraw0")),
        HotplugEvent::Added(roots.dev.join("hidraw9")),
        HotplugEvent::Removed(roots.dev.join("hidraw1")),
        HotplugEvent::Removed(roots.dev.join("sda")),
    ] {
        tx.send(ev).unwrap();
    }
    assert_eq!(w.next_event(Duration::from_millis(100)).unwrap(), None);
    assert_eq!(nodes(&w), [0, 4]);

    // The key leaves: the event carries what was known about it.
    remove_node(&roots, 4);
    tx.send(HotplugEvent::Removed(roots.dev.join("hidraw4")))
        .unwrap();
    match w.next_event(Duration::from_secs(5)).unwrap() {
        Some(WatchEvent::Removed(info)) => assert_eq!((info.node.0, info.vendor_id), (4, 0x1209)),
        other => panic!("{other:?}"),
    }
    assert_eq!(nodes(&w), [0]);
}

#[test]
fn rescan_reports_what_changed_while_events_were_lost() {
    let dir = tempfile::tempdir().unwrap();
    let roots = fake_roots(dir.path());
    add_node(&roots, 0, FIDO, "00001050:00000407");
    add_node(&roots, 1, FIDO, "000020A0:000042B2");
    let (tx, rx) = mpsc::channel();
    let mut w = DeviceWatcher::with_source(roots.clone(), Box::new(Scripted(rx))).unwrap();
    assert_eq!(nodes(&w), [0, 1]);
    remove_node(&roots, 0);
    add_node(&roots, 2, FIDO, "00001209:0000BEEE");
    add_node(&roots, 3, MOUSE, "0000046D:0000C077");
    tx.send(HotplugEvent::Rescan).unwrap();
    let mut got = Vec::new();
    while let Some(ev) = w.next_event(Duration::from_millis(100)).unwrap() {
        got.push(match ev {
            WatchEvent::Added(i) => ('+', i.node.0),
            WatchEvent::Removed(i) => ('-', i.node.0),
        });
    }
    assert_eq!(got, [('-', 0), ('+', 2)]);
    assert_eq!(nodes(&w), [1, 2]);
}

#[test]
fn watcher_waits_no_longer_than_asked() {
    let dir = tempfile::tempdir().unwrap();
    let roots = fake_roots(dir.path());
    let (_tx, rx) = mpsc::channel();
    let mut w = DeviceWatcher::with_source(roots, Box::new(Scripted(rx))).unwrap();
    let start = std::time::Instant::now();
    assert_eq!(w.next_event(Duration::from_millis(80)).unwrap(), None);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(80) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[test]
fn no_payload_makes_the_uevent_parser_panic() {
    let real = payload("add", "hidraw", Some("hidraw3"));
    for n in 0..=real.len() {
        let _ = parse(&real[..n]);
    }
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut bytes = real.clone();
        // Flip a few bytes to NULs, '=', '@' or noise.
        for k in 0..4 {
            let at = ((x >> (k * 12)) as usize) % bytes.len();
            bytes[at] = [0, b'=', b'@', (x >> 50) as u8][(x >> (k * 2 + 40)) as usize % 4];
        }
        if let Ok(ev) = parse(&bytes) {
            let _ = to_hotplug(&ev, Path::new("/dev"));
        }
    }
}
