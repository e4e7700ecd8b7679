use super::*;

#[test]
fn minimal_authdata_round_trips() {
    let ad = AuthenticatorData {
        rp_id_hash: [7; 32],
        flags: Flags(Flags::UP),
        sign_count: 0x01020304,
        attested_credential_data: None,
        extensions: None,
    };
    let bytes = ad.to_bytes();
    assert_eq!(bytes.len(), 37);
    assert_eq!(&bytes[32..], &[0x01, 1, 2, 3, 4]);
    assert_eq!(AuthenticatorData::parse(&bytes).unwrap(), ad);
}
