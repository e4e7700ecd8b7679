//! Encodings of what the authenticator signs: authenticatorData (WebAuthn L3 §6.1), the
//! credential public key as a COSE_Key (RFC 9053 §7) and the extension output maps (CTAP 2.1 §12),
//! all in CTAP2 canonical CBOR (CTAP 2.1 §8 "Message Encoding").
//!
//! Only the handful of CBOR items these structures use are written here (unsigned and negative
//! integers, byte and text strings, booleans, map headers); requests are decoded by the `ctap`
//! crate's command types.

use crate::request::{GetAssertionExtensionOutputs, MakeCredentialExtensionOutputs};
use crate::status::Status;
use crate::store::{Algorithm, PublicKey};

fn head(out: &mut Vec<u8>, major: u8, value: u64) {
    let m = major << 5;
    if value < 24 {
        out.push(m | value as u8);
    } else if value <= 0xff {
        out.extend_from_slice(&[m | 24, value as u8]);
    } else if value <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&(value as u16).to_be_bytes());
    } else if value <= 0xffff_ffff {
        out.push(m | 26);
        out.extend_from_slice(&(value as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&value.to_be_bytes());
    }
}

fn int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        head(out, 0, v as u64);
    } else {
        head(out, 1, (-1 - v) as u64);
    }
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

fn text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn boolean(out: &mut Vec<u8>, b: bool) {
    out.push(if b { 0xf5 } else { 0xf4 });
}

/// The credential public key as a COSE_Key: EC2/P-256/ES256 or OKP/Ed25519/EdDSA.
pub fn cose_key(key: &PublicKey) -> Result<Vec<u8>, Status> {
    let mut out = Vec::with_capacity(77);
    match key.alg {
        Algorithm::Es256 => {
            let (Some(x), Some(y)) = (key.bytes.get(1..33), key.bytes.get(33..65)) else {
                return Err(Status::Other);
            };
            if key.bytes.len() != 65 {
                return Err(Status::Other);
            }
            head(&mut out, 5, 5);
            int(&mut out, 1);
            int(&mut out, 2); // kty: EC2
            int(&mut out, 3);
            int(&mut out, -7); // alg: ES256
            int(&mut out, -1);
            int(&mut out, 1); // crv: P-256
            int(&mut out, -2);
            bytes(&mut out, x);
            int(&mut out, -3);
            bytes(&mut out, y);
        }
        Algorithm::EdDsa => {
            if key.bytes.len() != 32 {
                return Err(Status::Other);
            }
            head(&mut out, 5, 4);
            int(&mut out, 1);
            int(&mut out, 1); // kty: OKP
            int(&mut out, 3);
            int(&mut out, -8); // alg: EdDSA
            int(&mut out, -1);
            int(&mut out, 6); // crv: Ed25519
            int(&mut out, -2);
            bytes(&mut out, &key.bytes);
        }
    }
    Ok(out)
}

/// makeCredential extension outputs, keys in canonical order (length, then bytewise).
pub fn make_credential_extensions(o: &MakeCredentialExtensionOutputs) -> Vec<u8> {
    let n = [
        o.cred_blob.is_some(),
        o.cred_protect.is_some(),
        o.hmac_secret.is_some(),
        o.min_pin_length.is_some(),
        o.hmac_secret_mc.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let mut out = Vec::new();
    head(&mut out, 5, n as u64);
    if let Some(v) = o.cred_blob {
        text(&mut out, "credBlob");
        boolean(&mut out, v);
    }
    if let Some(v) = o.cred_protect {
        text(&mut out, "credProtect");
        int(&mut out, i64::from(v.value()));
    }
    if let Some(v) = o.hmac_secret {
        text(&mut out, "hmac-secret");
        boolean(&mut out, v);
    }
    if let Some(v) = o.min_pin_length {
        text(&mut out, "minPinLength");
        int(&mut out, i64::from(v));
    }
    if let Some(v) = &o.hmac_secret_mc {
        text(&mut out, "hmac-secret-mc");
        bytes(&mut out, v);
    }
    out
}

/// getAssertion extension outputs, keys in canonical order.
pub fn get_assertion_extensions(o: &GetAssertionExtensionOutputs) -> Vec<u8> {
    let n = usize::from(o.cred_blob.is_some()) + usize::from(o.hmac_secret.is_some());
    let mut out = Vec::new();
    head(&mut out, 5, n as u64);
    if let Some(v) = &o.cred_blob {
        text(&mut out, "credBlob");
        bytes(&mut out, v);
    }
    if let Some(v) = &o.hmac_secret {
        text(&mut out, "hmac-secret");
        bytes(&mut out, v);
    }
    out
}

/// authenticatorData without attested credential data.
pub fn auth_data(rp_id_hash: &[u8; 32], flags: u8, counter: u32, ext: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(37 + ext.map_or(0, <[u8]>::len));
    out.extend_from_slice(rp_id_hash);
    out.push(flags);
    out.extend_from_slice(&counter.to_be_bytes());
    if let Some(ext) = ext {
        out.extend_from_slice(ext);
    }
    out
}

/// authenticatorData with attested credential data (AAGUID ‖ L ‖ credentialId ‖ COSE key).
pub fn attested_auth_data(
    rp_id_hash: &[u8; 32],
    flags: u8,
    counter: u32,
    aaguid: &[u8; 16],
    credential_id: &[u8],
    public_key: &PublicKey,
    ext: Option<&[u8]>,
) -> Result<Vec<u8>, Status> {
    let id_len = u16::try_from(credential_id.len()).map_err(|_| Status::Other)?;
    let mut out = auth_data(rp_id_hash, flags, counter, None);
    out.extend_from_slice(aaguid);
    out.extend_from_slice(&id_len.to_be_bytes());
    out.extend_from_slice(credential_id);
    out.extend_from_slice(&cose_key(public_key)?);
    if let Some(ext) = ext {
        out.extend_from_slice(ext);
    }
    Ok(out)
}

/// The attestation object (WebAuthn L3 §6.5.4): `{"fmt", "attStmt", "authData"}` in canonical
/// order, for the `none` and packed self formats.
pub fn attestation_object(
    auth_data: &[u8],
    att_stmt: &crate::request::AttestationStatement,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(auth_data.len() + 128);
    head(&mut out, 5, 3);
    text(&mut out, "fmt");
    match att_stmt {
        crate::request::AttestationStatement::None => {
            text(&mut out, "none");
            text(&mut out, "attStmt");
            head(&mut out, 5, 0);
        }
        crate::request::AttestationStatement::PackedSelf { alg, sig } => {
            text(&mut out, "packed");
            text(&mut out, "attStmt");
            head(&mut out, 5, 2);
            text(&mut out, "alg");
            int(&mut out, *alg);
            text(&mut out, "sig");
            bytes(&mut out, sig);
        }
    }
    text(&mut out, "authData");
    bytes(&mut out, auth_data);
    out
}
