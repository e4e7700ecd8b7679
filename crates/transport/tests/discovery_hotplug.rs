#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

//! Hot-plug through the real kernel interfaces: inotify on a fake /dev (with a fake sysfs
//! beside it) and, where the sandbox allows it, the uevent netlink socket.

#[path = "fixtures/tree.rs"]
mod tree;

use std::time::Duration;

use latchkey_transport::hotplug::{
    open_system_source, EventSource, HotplugEvent, InotifySource, NetlinkSource, SourceKind,
};
use latchkey_transport::{DeviceWatcher, WatchEvent};
use tree::Tree;

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn inotify_sees_hidraw_nodes_come_and_go() {
    let t = Tree::new();
    let mut src = InotifySource::open(&t.roots.dev).unwrap();
    assert_eq!(src.next_event(Duration::from_millis(30)).unwrap(), None);
    std::fs::write(t.roots.dev.join("ttyUSB0"), b"").unwrap(); // not hidraw: ignored
    std::fs::write(t.roots.dev.join("hidraw3"), b"").unwrap();
    assert_eq!(
        src.next_event(WAIT).unwrap(),
        Some(HotplugEvent::Added(t.roots.dev.join("hidraw3")))
    );
    std::fs::remove_file(t.roots.dev.join("hidraw3")).unwrap();
    assert_eq!(
        src.next_event(WAIT).unwrap(),
        Some(HotplugEvent::Removed(t.roots.dev.join("hidraw3")))
    );
    // A rename into place (how udev creates some nodes) counts as an add.
    std::fs::write(t.dir.path().join("tmpnode"), b"").unwrap();
    std::fs::rename(t.dir.path().join("tmpnode"), t.roots.dev.join("hidraw8")).unwrap();
    assert_eq!(
        src.next_event(WAIT).unwrap(),
        Some(HotplugEvent::Added(t.roots.dev.join("hidraw8")))
    );
    assert_eq!(src.next_event(Duration::from_millis(30)).unwrap(), None);
}

#[test]
fn watcher_over_inotify_follows_keys_in_a_fake_tree() {
    let t = Tree::new();
    t.add(0, "keyboard");
    t.add(1, "yubikey5-fido");
    let src = InotifySource::open(&t.roots.dev).unwrap();
    let mut w = DeviceWatcher::with_source(t.roots.clone(), Box::new(src)).unwrap();
    let listed: Vec<u32> = w.devices().map(|d| d.node.0).collect();
    assert_eq!(listed, [1]);

    // sysfs first, then the node, as the kernel and devtmpfs do.
    t.add(2, "mouse");
    let node = t.add_sysfs(5, "nitrokey3");
    std::fs::write(&node, b"").unwrap();
    match w.next_event(WAIT).unwrap() {
        Some(WatchEvent::Added(info)) => {
            assert_eq!(info.node.0, 5);
            assert_eq!(info.path, node);
            assert_eq!((info.vendor_id, info.product_id), (0x20a0, 0x42b2));
        }
        other => panic!("{other:?}"),
    }
    t.remove(1);
    match w.next_event(WAIT).unwrap() {
        Some(WatchEvent::Removed(info)) => assert_eq!((info.node.0, info.vendor_id), (1, 0x1050)),
        other => panic!("{other:?}"),
    }
    t.remove(2); // the mouse: no event
    assert_eq!(w.next_event(Duration::from_millis(100)).unwrap(), None);
    let listed: Vec<u32> = w.devices().map(|d| d.node.0).collect();
    assert_eq!(listed, [5]);
}

#[test]
fn netlink_uevent_socket_opens_where_allowed() {
    let t = Tree::new();
    match NetlinkSource::open(&t.roots.dev) {
        Ok(mut src) => {
            // Nothing is plugged in here: the socket waits and times out without error.
            let start = std::time::Instant::now();
            let got = src.next_event(Duration::from_millis(100)).unwrap();
            // A real hidraw change on this machine during the test would show up; none is expected.
            assert!(
                got.is_none()
                    || matches!(got, Some(HotplugEvent::Added(_) | HotplugEvent::Removed(_))),
                "{got:?}"
            );
            assert!(start.elapsed() >= Duration::from_millis(100) || got.is_some());
            println!("netlink uevent socket opened");
        }
        Err(e) => println!("skipped: NETLINK_KOBJECT_UEVENT not available here ({e})"),
    }
    // Whatever is available, the system source opens one of the two.
    let (_, kind) = open_system_source(&t.roots).unwrap();
    assert!(matches!(kind, SourceKind::Netlink | SourceKind::Inotify));
    println!("system source: {kind:?}");
}

/// Asks the kernel for a synthetic `change` uevent on /dev/null's device (root only) and parses
/// what arrives on group 1 with the hot-plug parser: the kernel's wire format, not a copy of it.
#[test]
fn a_real_kernel_uevent_parses() {
    use latchkey_transport::hotplug::uevent::{parse, Action};
    use rustix::net::netlink::{self, SocketAddrNetlink};
    use rustix::net::{AddressFamily, RecvFlags, SocketFlags, SocketType};

    let sock = match rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        Some(netlink::KOBJECT_UEVENT),
    )
    .and_then(|s| rustix::net::bind(&s, &SocketAddrNetlink::new(0, 1)).map(|()| s))
    {
        Ok(s) => s,
        Err(e) => return println!("skipped: no uevent netlink socket ({e})"),
    };
    if let Err(e) = std::fs::write("/sys/class/mem/null/uevent", "change") {
        return println!("skipped: cannot trigger a uevent ({e})");
    }
    let timeout = rustix::net::sockopt::set_socket_timeout(
        &sock,
        rustix::net::sockopt::Timeout::Recv,
        Some(WAIT),
    );
    timeout.unwrap();
    let mut buf = vec![0u8; 8192];
    // Other devices' events may interleave; look at a bounded number of messages.
    for _ in 0..64 {
        let Ok((n, _)) = rustix::net::recv(&sock, &mut buf[..], RecvFlags::empty()) else {
            panic!("no uevent arrived within {WAIT:?}");
        };
        let ev = parse(&buf[..n]).unwrap();
        if ev.subsystem == "mem" && ev.devname.as_deref() == Some("null") {
            assert_eq!(ev.action, Action::Change);
            assert_eq!(ev.devpath, "/devices/virtual/mem/null");
            assert!(ev.seqnum.is_some());
            return;
        }
    }
    panic!("the triggered uevent never came");
}
