//! The self-signed X.509 certificate of the U2F attestation key (U2F has no self attestation,
//! so registration needs a certificate; FIDO U2F Raw Message Formats §4.3).
//!
//! The certificate is built here as DER by hand rather than with `rcgen`: rcgen signs through a
//! `&self` key object it owns, while our attestation key lives in the credential store and signs
//! through `&mut CredentialStore::sign` (a TPM store never exports it). The to-be-signed part is
//! a fixed ~200-byte structure (RFC 5280 §4.1), so the encoder below is short.

use crate::status::Status;

/// DER tag-length-value.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// OID 1.2.840.10045.4.3.2 ecdsa-with-SHA256.
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
/// OID 1.2.840.10045.2.1 id-ecPublicKey.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// OID 1.2.840.10045.3.1.7 prime256v1.
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// OID 2.5.4.3 commonName.
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];

/// The subject and issuer common name.
pub const COMMON_NAME: &str = "Latchkey U2F Attestation";

fn name() -> Vec<u8> {
    let attr = seq(&[&tlv(0x06, OID_CN), &tlv(0x0c, COMMON_NAME.as_bytes())]);
    seq(&[&tlv(0x31, &attr)])
}

fn sig_alg() -> Vec<u8> {
    seq(&[&tlv(0x06, OID_ECDSA_SHA256)])
}

/// The TBSCertificate for `public_key` (65-byte SEC1 point) with a positive 16-byte `serial`.
pub fn tbs_certificate(public_key: &[u8], serial: &[u8; 16]) -> Result<Vec<u8>, Status> {
    if public_key.len() != 65 {
        return Err(Status::Other);
    }
    let version = tlv(0xa0, &tlv(0x02, &[0x02]));
    let mut serial_bytes = serial.to_vec();
    if let Some(first) = serial_bytes.first_mut() {
        *first &= 0x7f;
        *first |= 0x40;
    }
    let serial = tlv(0x02, &serial_bytes);
    // 2024-01-01T00:00:00Z to 9999-12-31T23:59:59Z (no well-defined expiry, RFC 5280 §4.1.2.5).
    let validity = seq(&[&tlv(0x17, b"240101000000Z"), &tlv(0x18, b"99991231235959Z")]);
    let mut bitstring = vec![0x00];
    bitstring.extend_from_slice(public_key);
    let spki = seq(&[
        &seq(&[&tlv(0x06, OID_EC_PUBLIC_KEY), &tlv(0x06, OID_P256)]),
        &tlv(0x03, &bitstring),
    ]);
    Ok(seq(&[
        &version,
        &serial,
        &sig_alg(),
        &name(),
        &validity,
        &name(),
        &spki,
    ]))
}

/// The Certificate: TBS, algorithm and the DER ECDSA signature over the TBS.
pub fn certificate(tbs: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut bitstring = vec![0x00];
    bitstring.extend_from_slice(signature);
    seq(&[tbs, &sig_alg(), &tlv(0x03, &bitstring)])
}

#[cfg(test)]
mod tests;
