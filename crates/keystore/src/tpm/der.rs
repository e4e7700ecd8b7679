//! Encodings between the TPM's raw ECC values and what WebAuthn wants.

use latchkey_authenticator::store::StoreError;

/// Left-pads a big-endian unsigned integer to 32 bytes.
fn fixed32(v: &[u8]) -> Result<[u8; 32], StoreError> {
    let v = strip(v);
    if v.len() > 32 {
        return Err(StoreError::Io(
            "TPM returned an over-long P-256 value".into(),
        ));
    }
    let mut out = [0u8; 32];
    out[32 - v.len()..].copy_from_slice(v);
    Ok(out)
}

fn strip(v: &[u8]) -> &[u8] {
    let zeros = v.iter().take_while(|&&b| b == 0).count();
    &v[zeros..]
}

/// The uncompressed SEC1 point 0x04 ‖ x ‖ y (SEC 1 §2.3.3).
pub(crate) fn sec1_point(x: &[u8], y: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(65);
    out.push(0x04);
    out.extend_from_slice(&fixed32(x)?);
    out.extend_from_slice(&fixed32(y)?);
    Ok(out)
}

/// DER INTEGER contents for an unsigned big-endian value (X.690 §8.3).
fn der_integer(v: &[u8], out: &mut Vec<u8>) {
    let v = strip(v);
    let pad = v.first().is_none_or(|&b| b & 0x80 != 0);
    out.push(0x02);
    // At most 33 bytes: the short length form applies.
    out.push((v.len() + usize::from(pad)) as u8);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(v);
}

/// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 §2.2.3), as WebAuthn ES256
/// signatures are encoded.
pub(crate) fn ecdsa_der(r: &[u8], s: &[u8]) -> Result<Vec<u8>, StoreError> {
    let (r, s) = (fixed32(r)?, fixed32(s)?);
    let mut body = Vec::with_capacity(70);
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
        let der = ecdsa_der(&r, &s).unwrap();
        assert_eq!(der[..5], [0x30, 35 + 3, 0x02, 33, 0x00]);
        assert_eq!(der[5], 0x80);
        assert_eq!(der[37..], [0x02, 1, 5]);
        assert_eq!(der.len(), 40);
        // Zero encodes as a single 0x00 octet.
        assert_eq!(
            ecdsa_der(&[0; 32], &[1]).unwrap(),
            vec![0x30, 6, 2, 1, 0, 2, 1, 1]
        );
        assert!(ecdsa_der(&[1; 33], &[1]).is_err());
    }

    #[test]
    fn sec1_points_are_fixed_width() {
        let p = sec1_point(&[1], &[0, 0, 2]).unwrap();
        assert_eq!(p.len(), 65);
        assert_eq!(p[0], 4);
        assert_eq!(p[32], 1);
        assert_eq!(p[64], 2);
    }
}
