use super::*;

#[test]
fn hidraw_node_names_are_checked() {
    assert_eq!(HidrawNode::parse("hidraw0"), Some(HidrawNode(0)));
    assert_eq!(HidrawNode::parse("hidraw123"), Some(HidrawNode(123)));
    for bad in [
        "hidraw",
        "hidraw-1",
        "hidraw+1",
        "hidraw1a",
        "Hidraw1",
        "hidraw1234567890",
        "../hidraw1",
        " hidraw1",
    ] {
        assert_eq!(HidrawNode::parse(bad), None, "{bad}");
    }
    assert_eq!(
        HidrawNode::from_path(Path::new("/dev/hidraw7")),
        Some(HidrawNode(7))
    );
    assert_eq!(
        HidrawNode::from_path(Path::new("/dev/hidraw7/")),
        Some(HidrawNode(7))
    );
    assert_eq!(HidrawNode::from_path(Path::new("/dev/sda")), None);
    assert_eq!(HidrawNode(42).to_string(), "hidraw42");
    assert_eq!(
        Roots::default().dev_path(HidrawNode(3)),
        Path::new("/dev/hidraw3")
    );
}

#[test]
fn hid_uevent_fields_are_read() {
    let text = "DRIVER=hid-generic\nHID_ID=0003:00001050:00000407\nHID_NAME=Yubico YubiKey OTP+FIDO+CCID\n\
                HID_PHYS=usb-0000:00:14.0-2/input1\nHID_UNIQ=\nMODALIAS=hid:b0003g0001v00001050p00000407\n";
    assert_eq!(
        HidUevent::parse(text),
        Some(HidUevent {
            bus_type: 3,
            vendor_id: 0x1050,
            product_id: 0x0407,
            name: Some("Yubico YubiKey OTP+FIDO+CCID".into()),
            serial: None,
        })
    );
    let bt = HidUevent::parse("HID_ID=0005:0000046D:0000B01A\nHID_UNIQ=aa:bb:cc:dd:ee:ff").unwrap();
    assert_eq!(
        (bt.bus_type, bt.vendor_id, bt.product_id),
        (5, 0x046d, 0xb01a)
    );
    assert_eq!(bt.serial.as_deref(), Some("aa:bb:cc:dd:ee:ff"));
    // A control character or an oversized name is dropped, not passed to a prompt.
    let odd = HidUevent::parse(&format!(
        "HID_ID=0003:1:2\nHID_NAME=a\u{1b}[31m\nHID_UNIQ={}",
        "x".repeat(300)
    ))
    .unwrap();
    assert_eq!((odd.name, odd.serial), (None, None));
}

#[test]
fn hid_id_must_be_three_hex_fields_that_fit() {
    assert_eq!(
        parse_hid_id("0003:00001050:00000407"),
        Some((3, 0x1050, 0x0407))
    );
    for bad in [
        "",
        "0003:00001050",
        "0003:00001050:00000407:1",
        "0003:00011050:00000407",
        "0003:+1050:0407",
        "zz:1:2",
        "0003::1",
        "0003:000000001:1",
    ] {
        assert_eq!(parse_hid_id(bad), None, "{bad}");
    }
    assert_eq!(HidUevent::parse("HID_NAME=x\n"), None);
}
