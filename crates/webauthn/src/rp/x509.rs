//! Just enough DER (X.690) to take the SubjectPublicKeyInfo out of an X.509 certificate
//! (RFC 5280 §4.1) and verify a `packed` attestation signature with it (L3 §8.2 step 2).
//! Of the certificate contents only the AAGUID extension is checked (§8.2.1); validity periods,
//! the other §8.2.1 requirements and chains are not.

use super::VerifyError;
use aws_lc_rs::signature::{self, UnparsedPublicKey};

const BAD: VerifyError = VerifyError::InvalidAttestation("malformed attestation certificate");

/// Split one DER TLV off `input`: `(tag, content, rest)`.
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), VerifyError> {
    let (&tag, rest) = input.split_first().ok_or(BAD)?;
    let (&first, mut rest) = rest.split_first().ok_or(BAD)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 || rest.len() < n {
            return Err(BAD);
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(BAD);
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// The TBSCertificate fields from subjectPublicKeyInfo on.
fn tbs_from_spki(cert: &[u8]) -> Result<&[u8], VerifyError> {
    let (_, cert_body, _) = tlv(cert)?; // Certificate
    let (_, tbs, _) = tlv(cert_body)?; // TBSCertificate
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    rest = if tag == 0xa0 { r } else { rest }; // [0] version
    for _ in 0..5 {
        // serialNumber, signature, issuer, validity, subject
        rest = tlv(rest)?.2;
    }
    Ok(rest)
}

/// `id-fido-gen-ce-aaguid`, 1.3.6.1.4.1.45724.1.1.4 (L3 §8.2.1).
const OID_FIDO_AAGUID: &[u8] = &[
    0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0xe5, 0x1c, 0x01, 0x01, 0x04,
];

/// The AAGUID certificate extension (L3 §8.2.1), if present: an OCTET STRING wrapping an
/// OCTET STRING of 16 bytes, which must not be marked critical.
pub(super) fn aaguid_extension(cert: &[u8]) -> Result<Option<[u8; 16]>, VerifyError> {
    let (_, _, mut rest) = tlv(tbs_from_spki(cert)?)?; // skip subjectPublicKeyInfo
    while !rest.is_empty() {
        let (tag, content, r) = tlv(rest)?;
        rest = r;
        if tag != 0xa3 {
            continue; // [1] issuerUniqueID, [2] subjectUniqueID
        }
        let (_, mut exts, _) = tlv(content)?; // SEQUENCE OF Extension
        while !exts.is_empty() {
            let (_, ext, r) = tlv(exts)?;
            exts = r;
            let (_, oid, mut fields) = tlv(ext)?;
            if oid != OID_FIDO_AAGUID {
                continue;
            }
            let (mut tag, mut value, r) = tlv(fields)?;
            if tag == 0x01 {
                // critical BOOLEAN
                if value != [0] {
                    return Err(VerifyError::InvalidAttestation("critical AAGUID extension"));
                }
                fields = r;
                (tag, value, _) = tlv(fields)?;
            }
            let (inner_tag, aaguid, _) = tlv(value)?;
            return match (tag, inner_tag, <[u8; 16]>::try_from(aaguid)) {
                (0x04, 0x04, Ok(a)) => Ok(Some(a)),
                _ => Err(BAD),
            };
        }
    }
    Ok(None)
}

/// The SubjectPublicKeyInfo's algorithm OID and key bits.
fn spki_of(cert: &[u8]) -> Result<(&[u8], &[u8]), VerifyError> {
    let (_, spki, _) = tlv(tbs_from_spki(cert)?)?;
    let (_, alg_id, rest) = tlv(spki)?;
    let (_, oid, _) = tlv(alg_id)?;
    let (tag, bits, _) = tlv(rest)?;
    let key = match (tag, bits.split_first()) {
        (0x03, Some((0, key))) => key,
        _ => return Err(BAD),
    };
    Ok((oid, key))
}

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// Verify `sig` over `msg` with the certificate's key and COSE algorithm `alg`.
pub(super) fn verify_with_certificate(
    cert: &[u8],
    alg: i64,
    msg: &[u8],
    sig: &[u8],
) -> Result<bool, VerifyError> {
    let (oid, key) = spki_of(cert)?;
    let algorithm: &dyn signature::VerificationAlgorithm = match (alg, oid) {
        (-7, OID_EC_PUBLIC_KEY) => &signature::ECDSA_P256_SHA256_ASN1,
        (-35, OID_EC_PUBLIC_KEY) => &signature::ECDSA_P384_SHA384_ASN1,
        (-36, OID_EC_PUBLIC_KEY) => &signature::ECDSA_P521_SHA512_ASN1,
        (-8, OID_ED25519) => &signature::ED25519,
        _ => {
            return Err(VerifyError::InvalidAttestation(
                "unsupported attestation key algorithm",
            ))
        }
    };
    Ok(UnparsedPublicKey::new(algorithm, key)
        .verify(msg, sig)
        .is_ok())
}
