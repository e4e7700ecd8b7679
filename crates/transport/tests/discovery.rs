#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

//! Discovery over a fake sysfs/dev tree built from real keys' report descriptors, and device
//! specs opened against real sockets and files.

#[path = "fixtures/tree.rs"]
mod tree;

use std::path::{Path, PathBuf};
use std::time::Duration;

use latchkey_transport::discovery::{
    enumerate, probe, DeviceSpec, HidrawNode, Roots, SkipReason, SpecError,
};
use latchkey_transport::hidraw::descriptor::{self, DescriptorError};
use latchkey_transport::{HidConnection, SeqpacketListener};
use tree::Tree;

#[test]
fn real_key_descriptors_have_a_64_byte_ctaphid_collection() {
    for name in ["yubikey5-fido", "solo2", "nitrokey3", "fido-feature"] {
        let parsed = descriptor::parse(&tree::descriptor(name)).unwrap();
        let fido = parsed
            .ctaphid()
            .unwrap_or_else(|| panic!("{name}: no CTAPHID"));
        assert_eq!((fido.usage_page, fido.usage), (0xF1D0, 0x01), "{name}");
        assert_eq!((fido.input_len(), fido.output_len()), (64, 64), "{name}");
        assert!(!fido.uses_report_ids, "{name}");
    }
    assert_eq!(tree::descriptor("yubikey5-fido").len(), 34);
    assert_eq!(tree::descriptor("solo2").len(), 34);
    let feature = descriptor::parse(&tree::descriptor("fido-feature")).unwrap();
    assert_eq!(feature.collections[0].feature_bits, 512);
}

#[test]
fn non_fido_descriptors_have_no_ctaphid_collection() {
    let kb = descriptor::parse(&tree::descriptor("keyboard")).unwrap();
    assert_eq!(kb.collections.len(), 1);
    assert_eq!(
        (kb.collections[0].usage_page, kb.collections[0].usage),
        (0x01, 0x06)
    );
    assert_eq!(kb.collections[0].input_len(), 8);
    assert_eq!(kb.collections[0].output_len(), 1);
    assert!(kb.ctaphid().is_none());
    let mouse = descriptor::parse(&tree::descriptor("mouse")).unwrap();
    assert_eq!(
        (mouse.collections[0].usage_page, mouse.collections[0].usage),
        (0x01, 0x02)
    );
    assert_eq!(mouse.collections[0].input_len(), 3);
    assert!(mouse.ctaphid().is_none());
    let vendor = descriptor::parse(&tree::descriptor("vendor-ff00")).unwrap();
    assert_eq!(vendor.collections[0].usage_page, 0xFF00);
    assert_eq!(vendor.collections[0].input_len(), 64);
    assert!(vendor.ctaphid().is_none());
    assert_eq!(
        descriptor::parse(&tree::descriptor("truncated")),
        Err(DescriptorError::Truncated { offset: 11 })
    );
}

fn full_tree() -> Tree {
    let t = Tree::new();
    t.add(0, "keyboard"); // the YubiKey's OTP interface
    t.add(1, "yubikey5-fido");
    t.add(2, "mouse");
    t.add(3, "solo2");
    t.add(4, "vendor-ff00");
    t.add(5, "fido-32");
    t.add(6, "fido-report-id");
    t.add(7, "truncated");
    t.add(10, "nitrokey3");
    t.add(11, "fido-feature");
    // hidraw8: sysfs has no descriptor and the node is a plain file, so the ioctl fails too.
    std::fs::create_dir_all(t.sys_dir(8)).unwrap();
    std::fs::write(t.roots.dev.join("hidraw8"), b"").unwrap();
    // hidraw9: a FIDO descriptor but no uevent.
    t.add(9, "yubikey5-fido");
    std::fs::remove_file(t.sys_dir(9).join("uevent")).unwrap();
    // Not hidraw nodes at all: ignored, not skipped.
    std::fs::create_dir_all(t.roots.sysfs.join("class/hidraw/hidrawx")).unwrap();
    std::fs::create_dir_all(t.roots.sysfs.join("class/hidraw/event3")).unwrap();
    t
}

#[test]
fn enumerate_lists_fido_keys_with_ids_names_and_serials() {
    let t = full_tree();
    let found = enumerate(&t.roots).unwrap();
    let nodes: Vec<u32> = found.devices.iter().map(|d| d.node.0).collect();
    assert_eq!(nodes, [1, 3, 10, 11]);

    let yk = &found.devices[0];
    assert_eq!(yk.path, t.roots.dev.join("hidraw1"));
    assert_eq!(yk.product.as_deref(), Some("Yubico YubiKey OTP+FIDO+CCID"));
    assert_eq!(
        (yk.bus_type, yk.vendor_id, yk.product_id),
        (3, 0x1050, 0x0407)
    );
    assert_eq!(yk.serial, None, "an empty HID_UNIQ is no serial");
    assert_eq!((yk.input_report_len, yk.output_report_len), (64, 64));

    let solo = &found.devices[1];
    assert_eq!((solo.vendor_id, solo.product_id), (0x1209, 0xbeee));
    assert_eq!(
        solo.serial.as_deref(),
        Some("0123456789ABCDEF0123456789ABCDEF")
    );
    assert_eq!(solo.display_name(), "SoloKeys Solo 2 Security Key");

    assert_eq!(solo.spec(), DeviceSpec::Hidraw(t.roots.dev.join("hidraw3")));
    let nk = &found.devices[2];
    assert_eq!((nk.vendor_id, nk.product_id), (0x20a0, 0x42b2));
    assert_eq!(nk.product.as_deref(), Some("Nitrokey Nitrokey 3"));
}

#[test]
fn enumerate_says_why_each_other_node_was_skipped() {
    let t = full_tree();
    let found = enumerate(&t.roots).unwrap();
    let skipped: Vec<(u32, &SkipReason)> = found
        .skipped
        .iter()
        .map(|s| (s.node.0, &s.reason))
        .collect();
    assert_eq!(skipped.len(), 8, "{skipped:?}");
    assert_eq!(skipped[0], (0, &SkipReason::NotFido));
    assert_eq!(skipped[1], (2, &SkipReason::NotFido));
    assert_eq!(skipped[2], (4, &SkipReason::NotFido));
    assert_eq!(
        skipped[3],
        (
            5,
            &SkipReason::UnsupportedReports {
                input: 32,
                output: 32,
                report_ids: false
            }
        )
    );
    assert_eq!(
        skipped[4],
        (
            6,
            &SkipReason::UnsupportedReports {
                input: 64,
                output: 64,
                report_ids: true
            }
        )
    );
    assert_eq!(
        skipped[5],
        (
            7,
            &SkipReason::Malformed(DescriptorError::Truncated { offset: 11 })
        )
    );
    match skipped[6] {
        (8, SkipReason::Unreadable { sysfs, ioctl }) => {
            assert!(sysfs.contains("No such file"), "{sysfs}");
            // A regular file is no hidraw node: the kernel answers ENOTTY.
            assert!(ioctl.contains("ioctl"), "{ioctl}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(skipped[7], (9, SkipReason::NoIds(_))));
    // Every reason renders as text for the log.
    for s in &found.skipped {
        assert!(!s.reason.to_string().is_empty());
    }
}

#[test]
fn enumerate_without_hidraw_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let roots = Roots {
        sysfs: dir.path().join("nosys"),
        dev: dir.path().join("nodev"),
    };
    let found = enumerate(&roots).unwrap();
    assert!(found.devices.is_empty() && found.skipped.is_empty());
}

#[test]
fn probe_reads_one_node() {
    let t = Tree::new();
    t.add(4, "nitrokey3");
    let info = probe(&t.roots, HidrawNode(4)).unwrap();
    assert_eq!(info.path, t.roots.dev.join("hidraw4"));
    match probe(&t.roots, HidrawNode(5)) {
        Err(SkipReason::Unreadable { sysfs, .. }) => assert!(sysfs.contains("No such file")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn specs_parse_every_form_and_print_back() {
    let dev = Path::new("/fake/dev");
    let cases: [(&str, DeviceSpec); 8] = [
        (
            "unix:/run/user/1000/key",
            DeviceSpec::Unix("/run/user/1000/key".into()),
        ),
        (
            "udp:127.0.0.1:8111",
            DeviceSpec::Udp {
                host: "127.0.0.1".into(),
                port: 8111,
            },
        ),
        (
            "udp:[::1]:8111",
            DeviceSpec::Udp {
                host: "::1".into(),
                port: 8111,
            },
        ),
        (
            "udp:localhost:9",
            DeviceSpec::Udp {
                host: "localhost".into(),
                port: 9,
            },
        ),
        ("/dev/hidraw3", DeviceSpec::Hidraw("/dev/hidraw3".into())),
        ("hidraw:12", DeviceSpec::Hidraw("/fake/dev/hidraw12".into())),
        (
            "hidraw:/dev/hidraw0",
            DeviceSpec::Hidraw("/dev/hidraw0".into()),
        ),
        (
            "pcsc:Virtual PCD 00 00",
            DeviceSpec::Pcsc("Virtual PCD 00 00".into()),
        ),
    ];
    for (text, want) in cases {
        let got = DeviceSpec::parse_with_dev_root(text, dev).unwrap();
        assert_eq!(got, want, "{text}");
        let again = DeviceSpec::parse_with_dev_root(&got.to_string(), dev).unwrap();
        assert_eq!(again, want, "{text} → {got}");
    }
    let parsed: DeviceSpec = "hidraw:2".parse().unwrap();
    assert_eq!(parsed, DeviceSpec::Hidraw("/dev/hidraw2".into()));
    assert!(parsed.is_usb());
    assert!(!"unix:/x".parse::<DeviceSpec>().unwrap().is_usb());
    let card: DeviceSpec = "pcsc:ACS ACR122U 00 00".parse().unwrap();
    assert_eq!(card.pcsc_reader(), Some("ACS ACR122U 00 00"));
    assert!(!card.is_usb());
    let refused = card.open().err().map(|e| e.kind());
    assert_eq!(
        refused,
        Some(std::io::ErrorKind::Unsupported),
        "not CTAPHID"
    );
}

#[test]
fn bad_specs_are_refused_with_their_reason() {
    let p = |s: &str| s.parse::<DeviceSpec>().unwrap_err();
    assert_eq!(p(""), SpecError::Length);
    assert_eq!(p(&"a".repeat(5000)), SpecError::Length);
    assert_eq!(p("unix:"), SpecError::EmptyPath);
    for bad in [
        "udp:",
        "udp:host",
        "udp::80",
        "udp:h:0",
        "udp:h:65536",
        "udp:::1:80",
        "udp:[::1:80",
        "udp:h:x",
    ] {
        assert!(matches!(p(bad), SpecError::BadUdp(_)), "{bad}");
    }
    for bad in [
        "hidraw:",
        "hidraw:99999999999",
        "hidraw:/dev/sda",
        "hidraw:-1",
    ] {
        assert!(matches!(p(bad), SpecError::BadHidraw(_)), "{bad}");
    }
    for bad in ["pcsc:", "pcsc:  ", "pcsc:a\nb", "pcsc:a\0b"] {
        assert!(matches!(p(bad), SpecError::BadPcsc(_)), "{bad:?}");
    }
    for bad in [
        "/dev/sda",
        "/dev/hidraw",
        "/dev/hidraw1x",
        "tcp:1.2.3.4:5",
        "hidraw3",
        "usb",
    ] {
        assert!(matches!(p(bad), SpecError::UnknownForm(_)), "{bad}");
    }
}

#[test]
fn config_lists_devices_in_order() {
    let text = r#"
        # virtual keys next to USB keys
        devices = ["unix:/run/k1", "udp:127.0.0.1:8111", "hidraw:3", "/dev/hidraw7"]
        other = "ignored"
    "#;
    let specs = DeviceSpec::parse_config_with_dev_root(text, Path::new("/d")).unwrap();
    assert_eq!(
        specs,
        [
            DeviceSpec::Unix("/run/k1".into()),
            DeviceSpec::Udp {
                host: "127.0.0.1".into(),
                port: 8111
            },
            DeviceSpec::Hidraw("/d/hidraw3".into()),
            DeviceSpec::Hidraw("/dev/hidraw7".into()),
        ]
    );
    assert_eq!(DeviceSpec::parse_config("").unwrap(), []);
    assert_eq!(
        DeviceSpec::parse_config(r#"devices = ["unix:/a", "nope"]"#),
        Err(SpecError::ConfigEntry {
            index: 1,
            error: Box::new(SpecError::UnknownForm("nope".into()))
        })
    );
    assert!(matches!(
        DeviceSpec::parse_config("devices = [1, 2]"),
        Err(SpecError::Config(_))
    ));
    assert!(matches!(
        DeviceSpec::parse_config("devices = "),
        Err(SpecError::Config(_))
    ));
    let many = format!("devices = [{}]", vec!["\"unix:/a\""; 65].join(","));
    assert_eq!(DeviceSpec::parse_config(&many), Err(SpecError::TooMany(65)));
}

#[test]
fn specs_open_real_unix_udp_and_hidraw_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let report = [0x5au8; 64];

    let sock = dir.path().join("key.sock");
    let listener = SeqpacketListener::bind(&sock).unwrap();
    let mut conn = DeviceSpec::Unix(sock.clone()).open().unwrap();
    let peer = listener.accept().unwrap();
    conn.send_report(&report).unwrap();
    let mut buf = [0u8; 128];
    assert_eq!(peer.recv(&mut buf).unwrap(), 64);
    assert_eq!(buf[..64], report);

    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let spec: DeviceSpec = format!("udp:127.0.0.1:{}", udp.local_addr().unwrap().port())
        .parse()
        .unwrap();
    let mut conn = spec.open().unwrap();
    conn.send_report(&report).unwrap();
    assert_eq!(udp.recv(&mut buf).unwrap(), 64);
    assert_eq!(buf[..64], report);

    // A hidraw spec opens the node read-write and writes report ID 0 first: seen on a plain file.
    let node: PathBuf = dir.path().join("hidraw0");
    std::fs::write(&node, b"").unwrap();
    let mut conn = DeviceSpec::parse_with_dev_root("hidraw:0", dir.path())
        .unwrap()
        .open()
        .unwrap();
    conn.send_report(&report).unwrap();
    let written = std::fs::read(&node).unwrap();
    assert_eq!(written.len(), 65);
    assert_eq!(written[0], 0);
    assert_eq!(written[1..], report);

    let missing = DeviceSpec::Unix(dir.path().join("none.sock"))
        .open()
        .err()
        .unwrap();
    assert!(missing.to_string().contains("none.sock"), "{missing}");
    let missing = DeviceSpec::Hidraw(dir.path().join("hidraw9"))
        .open()
        .err()
        .unwrap();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    assert!(missing.to_string().contains("hidraw9"), "{missing}");
}
