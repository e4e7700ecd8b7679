//! Encodings between the TPM's raw ECC values and what WebAuthn wants.

use latchkey_authenticator::store::StoreError;

/// Left-pads a big-endian unsigned integer to `width` bytes (32 for P-256, 48 for P-384).
fn fixed(v: &[u8], width: usize) -> Result<Vec<u8>, StoreError> {
    let v = strip(v);
    if v.len() > width {
        return Err(StoreError::TpmAnswer("an over-long curve value"));
    }
    let mut out = vec![0u8; width];
    out[width - v.len()..].copy_from_slice(v);
    Ok(out)
}

fn strip(v: &[u8]) -> &[u8] {
    let zeros = v.iter().take_while(|&&b| b == 0).count();
    &v[zeros..]
}

/// The uncompressed SEC1 point 0x04 ‖ x ‖ y (SEC 1 §2.3.3), coordinates `width` bytes each.
pub(crate) fn sec1_point(x: &[u8], y: &[u8], width: usize) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(1 + 2 * width);
    out.push(0x04);
    out.extend_from_slice(&fixed(x, width)?);
    out.extend_from_slice(&fixed(y, width)?);
    Ok(out)
}

/// DER INTEGER contents for an unsigned big-endian value (X.690 §8.3).
fn der_integer(v: &[u8], out: &mut Vec<u8>) {
    let v = strip(v);
    let pad = v.first().is_none_or(|&b| b & 0x80 != 0);
    out.push(0x02);
    // At most 49 bytes: the short length form applies.
    out.push((v.len() + usize::from(pad)) as u8);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(v);
}

/// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 §2.2.3), as WebAuthn ES256
/// and ES384 signatures are encoded; `r` and `s` at most `width` bytes.
pub(crate) fn ecdsa_der(r: &[u8], s: &[u8], width: usize) -> Result<Vec<u8>, StoreError> {
    let (r, s) = (fixed(r, width)?, fixed(s, width)?);
    let mut body = Vec::with_capacity(2 * (width + 3));
    der_integer(&r, &mut body);
    der_integer(&s, &mut body);
    let mut out = Vec::with_capacity(body.len() + 2);
    out.push(0x30);
    out.push(body.len() as u8);
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_pads_high_bits_and_strips_zeros() {
        let mut r = [0u8; 32];
        r[0] = 0x80;
        let mut s = [0u8; 32];
        s[31] = 5;
        let der = ecdsa_der(&r, &s, 32).unwrap();
        assert_eq!(der[..5], [0x30, 35 + 3, 0x02, 33, 0x00]);
        assert_eq!(der[5], 0x80);
        assert_eq!(der[37..], [0x02, 1, 5]);
        assert_eq!(der.len(), 40);
        // Zero encodes as a single 0x00 octet.
        assert_eq!(
            ecdsa_der(&[0; 32], &[1], 32).unwrap(),
            vec![0x30, 6, 2, 1, 0, 2, 1, 1]
        );
        assert!(ecdsa_der(&[1; 33], &[1], 32).is_err());
        // P-384: 48-byte values, both with the high bit set: 2 × (2 + 49) = 102 bytes of body.
        let der = ecdsa_der(&[0xff; 48], &[0x80; 48], 48).unwrap();
        assert_eq!(der[..2], [0x30, 102]);
        assert_eq!(der.len(), 104);
        assert!(ecdsa_der(&[1; 49], &[1], 48).is_err());
    }

    #[test]
    fn sec1_points_are_fixed_width() {
        let p = sec1_point(&[1], &[0, 0, 2], 32).unwrap();
        assert_eq!(p.len(), 65);
        assert_eq!(p[0], 4);
        assert_eq!(p[32], 1);
        assert_eq!(p[64], 2);
        let p = sec1_point(&[1], &[2], 48).unwrap();
        assert_eq!((p.len(), p[48], p[96]), (97, 1, 2));
    }
}
