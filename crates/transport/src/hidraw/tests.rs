use super::descriptor::{parse, Collection, DescriptorError, MAX_DESCRIPTOR_LEN};
use super::*;

/// The HUTRR48 example descriptor (what YubiKeys send on their FIDO interface).
const FIDO: [u8; 34] = [
    0x06, 0xd0, 0xf1, 0x09, 0x01, 0xa1, 0x01, 0x09, 0x20, 0x15, 0x00, 0x26, 0xff, 0x00, 0x75, 0x08,
    0x95, 0x40, 0x81, 0x02, 0x09, 0x21, 0x15, 0x00, 0x26, 0xff, 0x00, 0x75, 0x08, 0x95, 0x40, 0x91,
    0x02, 0xc0,
];

#[test]
fn fido_descriptor_parses_to_one_ctaphid_collection() {
    let d = parse(&FIDO).unwrap();
    assert_eq!(
        d.collections,
        [Collection {
            usage_page: 0xF1D0,
            usage: 0x01,
            input_bits: 512,
            output_bits: 512,
            feature_bits: 0,
            uses_report_ids: false,
        }]
    );
}

#[test]
fn extended_usage_carries_its_own_page() {
    // Usage Page (Generic Desktop), then a 4-byte usage F1D0:0001.
    let mut d = vec![0x05, 0x01, 0x0b, 0x01, 0x00, 0xd0, 0xf1];
    d.extend_from_slice(&FIDO[5..]);
    let parsed = parse(&d).unwrap();
    assert!(parsed.ctaphid().is_some(), "{parsed:?}");
}

#[test]
fn long_items_are_skipped_and_push_pop_restore_globals() {
    let mut d = vec![0xfe, 0x02, 0x10, 0xaa, 0xbb]; // a long item with 2 data bytes
    d.extend_from_slice(&[0x06, 0xd0, 0xf1, 0xa4, 0x05, 0x01, 0xb4]); // page, push, page 1, pop
    d.extend_from_slice(&FIDO[3..]);
    let parsed = parse(&d).unwrap();
    assert_eq!(parsed.ctaphid().map(|c| c.input_len()), Some(64));
}

#[test]
fn usage_is_the_first_one_before_the_collection_and_locals_reset() {
    // Usage 0x05 is consumed by an Input item before the collection: it must not leak.
    let d = [
        0x06, 0xd0, 0xf1, 0x09, 0x05, 0x81, 0x02, 0x09, 0x01, 0x09, 0x02, 0xa1, 0x01, 0xc0,
    ];
    let parsed = parse(&d).unwrap();
    assert_eq!(parsed.collections[0].usage, 0x01);
}

#[test]
fn nested_collections_count_into_their_top_level_one() {
    let d = [
        0x06, 0xd0, 0xf1, 0x09, 0x01, 0xa1, 0x01, // application
        0xa1, 0x02, 0x75, 0x08, 0x95, 0x20, 0x81, 0x02, 0xc0, // logical: 32 bytes in
        0x95, 0x20, 0x81, 0x02, 0x91, 0x02, 0xc0, // 32 more in, 32 out
        0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0xc0, // a second top-level collection
    ];
    let parsed = parse(&d).unwrap();
    assert_eq!(parsed.collections.len(), 2);
    assert_eq!(parsed.collections[0].input_len(), 64);
    assert_eq!(parsed.collections[0].output_len(), 32);
    assert_eq!(
        (
            parsed.collections[1].usage_page,
            parsed.collections[1].usage
        ),
        (1, 6)
    );
}

#[test]
fn malformed_descriptors_are_refused_with_the_offset() {
    assert_eq!(
        parse(&[0x06, 0xd0]),
        Err(DescriptorError::Truncated { offset: 0 })
    );
    assert_eq!(
        parse(&[0x09, 0x01, 0xfe]),
        Err(DescriptorError::Truncated { offset: 2 })
    );
    assert_eq!(
        parse(&[0xfe, 0x05, 0x00, 1]),
        Err(DescriptorError::Truncated { offset: 0 })
    );
    assert_eq!(
        parse(&[0xc0]),
        Err(DescriptorError::UnbalancedEnd { offset: 0 })
    );
    assert_eq!(parse(&[0xb4]), Err(DescriptorError::PushPop { offset: 0 }));
    assert_eq!(
        parse(&[0xa4; 9]),
        Err(DescriptorError::PushPop { offset: 8 })
    );
    assert_eq!(
        parse(&[0xa1, 0x00].repeat(33)),
        Err(DescriptorError::TooDeep { offset: 64 })
    );
    assert_eq!(
        parse(&[0xa1, 0x01, 0xc0].repeat(65)),
        Err(DescriptorError::TooManyCollections)
    );
    assert_eq!(
        parse(&vec![0u8; MAX_DESCRIPTOR_LEN + 1]),
        Err(DescriptorError::TooLong(MAX_DESCRIPTOR_LEN + 1))
    );
    // An unclosed collection is tolerated, as the kernel does.
    assert!(parse(&FIDO[..33]).unwrap().ctaphid().is_some());
    // Huge sizes saturate instead of overflowing.
    let huge = [
        0x06, 0xd0, 0xf1, 0x09, 0x01, 0xa1, 0x01, 0x77, 0xff, 0xff, 0xff, 0xff, 0x97, 0xff, 0xff,
        0xff, 0xff, 0x81, 0x02, 0x81, 0x02, 0xc0,
    ];
    assert_eq!(parse(&huge).unwrap().collections[0].input_bits, u32::MAX);
}

#[test]
fn no_input_makes_the_parser_panic() {
    // Every prefix of a real descriptor, and a deterministic stream of pseudo-random ones.
    for n in 0..=FIDO.len() {
        let _ = parse(&FIDO[..n]);
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 96) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|i| (x.rotate_left(i as u32 * 5) >> 3) as u8)
            .collect();
        let _ = parse(&bytes);
    }
}

#[test]
fn removal_errnos_mean_gone_and_others_do_not() {
    for e in [
        Errno::NODEV,
        Errno::IO,
        Errno::NXIO,
        Errno::PIPE,
        Errno::SHUTDOWN,
    ] {
        assert!(errno_means_gone(e), "{e:?}");
    }
    for e in [
        Errno::AGAIN,
        Errno::INTR,
        Errno::ACCESS,
        Errno::NOTTY,
        Errno::INVAL,
    ] {
        assert!(!errno_means_gone(e), "{e:?}");
    }
    let e = DeviceGone {
        path: "/dev/hidraw3".into(),
        cause: GoneCause::Errno(Errno::NODEV.raw_os_error()),
    }
    .into_io();
    assert!(is_device_gone(&e));
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    assert!(e.to_string().starts_with("/dev/hidraw3 is gone"), "{e}");
    assert!(!is_device_gone(&io::Error::from(io::ErrorKind::NotFound)));
    assert!(!is_device_gone(&io::Error::new(
        io::ErrorKind::NotFound,
        "x"
    )));
}
