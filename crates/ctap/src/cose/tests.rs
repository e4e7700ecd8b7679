use super::*;

#[test]
fn es256_key_encodes_in_canonical_label_order() {
    let key = CoseKey::Es256(P256Point {
        x: [0x11; 32],
        y: [0x22; 32],
    });
    let bytes = key.to_bytes();
    let mut expected = hex::decode("a5010203262001215820").unwrap();
    expected.extend_from_slice(&[0x11; 32]);
    expected.extend_from_slice(&hex::decode("225820").unwrap());
    expected.extend_from_slice(&[0x22; 32]);
    assert_eq!(bytes, expected);
    assert_eq!(CoseKey::from_bytes(&bytes).unwrap(), key);
}
