use super::*;
use crate::softkey;
use crate::store::Algorithm;
use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};

#[test]
fn certificate_is_well_formed_der_and_self_signed() {
    let (pk, blob) = softkey::from_secret(Algorithm::Es256, &[0x42; 32]).unwrap();
    let tbs = tbs_certificate(&pk.bytes, &[0xff; 16]).unwrap();
    let sig = softkey::sign(Algorithm::Es256, &blob, &tbs).unwrap();
    let cert = certificate(&tbs, &sig);
    // Outer SEQUENCE with a two-byte length covering the rest exactly.
    assert_eq!(cert[0], 0x30);
    assert_eq!(cert[1], 0x82);
    assert_eq!(
        usize::from(cert[2]) << 8 | usize::from(cert[3]),
        cert.len() - 4
    );
    // The TBS is embedded verbatim and the signature verifies over it.
    assert_eq!(&cert[4..4 + tbs.len()], tbs.as_slice());
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &pk.bytes)
        .verify(&tbs, &sig)
        .unwrap();
    // Serial: positive (high bit cleared) 16 bytes.
    assert_eq!(&tbs[..2], &[0x30, 0x81]);
    assert_eq!(usize::from(tbs[2]), tbs.len() - 3);
    assert_eq!(&tbs[3..10], &[0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x10]);
    assert_eq!(tbs[10], 0x7f);
    // The SEC1 point ends the TBS.
    assert_eq!(&tbs[tbs.len() - 65..], pk.bytes.as_slice());
    assert!(tbs_certificate(&[4; 64], &[1; 16]).is_err());
}
