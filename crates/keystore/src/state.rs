//! The authenticator's persistent state file (`state`).
//!
//! ```text
//! "LKST" 0x02 ‖ pinRetries u8 ‖ minPINLength u8 ‖ forcePINChange ‖ u32 n ‖ n × bytes(RP ID)
//! ‖ alwaysUv ‖ bytes(large-blob array) ‖ opt (bytes(U2F cert) ‖ bytes(U2F key blob))
//! ‖ opt persistent pinUvAuthToken (32) ‖ opt identifier (16)
//! ```
//!
//! Version 1 (`"LKST" 0x01`) ends after the U2F attestation and is still read.
//!
//! Nothing here unlocks a key: the large-blob array is encrypted by the authenticator with each
//! credential's largeBlobKey, and the U2F attestation key blob is sealed like every other key.
//! The persistent pinUvAuthToken (CTAP 2.2) lies here in the clear, on purpose: it must work
//! while the store is locked, and all it grants is read-only credential management, the RP IDs,
//! user names and public keys that the records in this directory already show to whoever can
//! read it (see SECURITY.md).

use latchkey_authenticator::store::Damage;
use latchkey_authenticator::store::{KeyBlob, PersistentState, PersistentToken, StoreError};

use crate::codec::{Reader, Writer};
use crate::record::{MAX_KEY, MAX_STR};

const MAGIC_V1: &[u8; 5] = b"LKST\x01";
const MAGIC: &[u8; 5] = b"LKST\x02";
/// Largest serialized large-blob array kept.
pub(crate) const MAX_LARGE_BLOB: usize = 1 << 20;
/// Largest state file.
pub(crate) const MAX_FILE: usize = MAX_LARGE_BLOB + 64 * 1024;
const MAX_RP_IDS: u32 = 64;
const MAX_CERT: usize = 8192;

pub(crate) fn encode(s: &PersistentState) -> Result<Vec<u8>, StoreError> {
    let too_big =
        |what: &'static str| StoreError::corrupt("persistent state", Damage::TooLong(what));
    if s.large_blob_array.len() > MAX_LARGE_BLOB {
        return Err(too_big("large-blob array"));
    }
    let n = u32::try_from(s.min_pin_length_rp_ids.len()).map_err(|_| too_big("RP ID list"))?;
    if n > MAX_RP_IDS || s.min_pin_length_rp_ids.iter().any(|r| r.len() > MAX_STR) {
        return Err(too_big("minPinLength RP ID list"));
    }
    let mut w = Writer::new();
    w.raw(MAGIC)
        .u8(s.pin_retries)
        .u8(s.min_pin_length)
        .u8(u8::from(s.force_pin_change))
        .u32(n);
    for rp in &s.min_pin_length_rp_ids {
        w.bytes(rp.as_bytes());
    }
    w.u8(u8::from(s.always_uv)).bytes(&s.large_blob_array);
    match &s.u2f_attestation {
        None => {
            w.u8(0);
        }
        Some((cert, key)) => {
            if cert.len() > MAX_CERT || key.as_bytes().len() > MAX_KEY {
                return Err(too_big("U2F attestation"));
            }
            w.u8(1).bytes(cert).bytes(key.as_bytes());
        }
    }
    match &s.persistent_token {
        None => w.u8(0),
        Some(t) => w.u8(1).raw(&t.0),
    };
    match &s.identifier {
        None => w.u8(0),
        Some(id) => w.u8(1).raw(id),
    };
    Ok(w.into_vec())
}

pub(crate) fn decode(bytes: &[u8]) -> Result<PersistentState, StoreError> {
    let mut r = Reader::new(bytes, "persistent state");
    let version = match r.raw(MAGIC.len())? {
        m if m == MAGIC_V1 => 1,
        m if m == MAGIC => 2,
        _ => return Err(StoreError::corrupt("persistent state", Damage::BadMagic)),
    };
    let pin_retries = r.u8()?;
    let min_pin_length = r.u8()?;
    let force_pin_change = r.bool()?;
    let n = r.u32()?;
    if n > MAX_RP_IDS {
        return Err(StoreError::corrupt(
            "persistent state",
            Damage::TooLong("minPinLength RP ID list"),
        ));
    }
    let mut min_pin_length_rp_ids = Vec::new();
    for _ in 0..n {
        min_pin_length_rp_ids.push(r.string(MAX_STR)?);
    }
    let always_uv = r.bool()?;
    let large_blob_array = r.bytes(MAX_LARGE_BLOB)?.to_vec();
    let u2f_attestation = if r.bool()? {
        let cert = r.bytes(MAX_CERT)?.to_vec();
        let key = KeyBlob::new(r.bytes(MAX_KEY)?.to_vec());
        Some((cert, key))
    } else {
        None
    };
    let (persistent_token, identifier) = if version == 1 {
        (None, None)
    } else {
        let token = match r.bool()? {
            true => Some(PersistentToken(r.array::<32>()?)),
            false => None,
        };
        let identifier = match r.bool()? {
            true => Some(r.array::<16>()?),
            false => None,
        };
        (token, identifier)
    };
    r.finish()?;
    Ok(PersistentState {
        pin_retries,
        min_pin_length,
        force_pin_change,
        min_pin_length_rp_ids,
        always_uv,
        large_blob_array,
        u2f_attestation,
        persistent_token,
        identifier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_default_and_full() {
        let d = PersistentState::default();
        assert_eq!(decode(&encode(&d).unwrap()).unwrap(), d);
        let full = PersistentState {
            pin_retries: 3,
            min_pin_length: 6,
            force_pin_change: true,
            min_pin_length_rp_ids: vec!["a.example".into(), "b.example".into()],
            always_uv: true,
            large_blob_array: vec![9; 300],
            u2f_attestation: Some((vec![0x30, 1, 2], KeyBlob::new(vec![7; 40]))),
            persistent_token: Some(PersistentToken([0x5a; 32])),
            identifier: Some([0x1d; 16]),
        };
        let bytes = encode(&full).unwrap();
        // The tail: the token, then the identifier, each behind a presence byte.
        let mut tail = vec![1];
        tail.extend([0x5a; 32]);
        tail.push(1);
        tail.extend([0x1d; 16]);
        assert!(bytes.ends_with(&tail));
        assert_eq!(decode(&bytes).unwrap(), full);
        assert!(matches!(
            decode(&bytes[..bytes.len() - 1]),
            Err(StoreError::Corrupt(_))
        ));
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(matches!(decode(&bad), Err(StoreError::Corrupt(_))));
    }

    /// A state file written before the persistent token existed (version 1, byte for byte as
    /// that version wrote it) still opens, with neither token nor identifier.
    #[test]
    fn version_1_files_still_decode() {
        let mut v1 = b"LKST\x01".to_vec();
        v1.extend([5, 6, 1]); // pinRetries, minPINLength, forcePINChange
        v1.extend([0, 0, 0, 1]); // one RP ID
        v1.extend([0, 0, 0, 9]);
        v1.extend(b"a.example");
        v1.push(1); // alwaysUv
        v1.extend([0, 0, 0, 2, 0x80, 0x00]); // large-blob array
        v1.push(0); // no U2F attestation
        let s = decode(&v1).unwrap();
        assert_eq!(
            s,
            PersistentState {
                pin_retries: 5,
                min_pin_length: 6,
                force_pin_change: true,
                min_pin_length_rp_ids: vec!["a.example".into()],
                always_uv: true,
                large_blob_array: vec![0x80, 0x00],
                u2f_attestation: None,
                persistent_token: None,
                identifier: None,
            }
        );
        // Rewritten, it is version 2.
        assert_eq!(&encode(&s).unwrap()[..5], b"LKST\x02");
    }

    #[test]
    fn oversized_state_is_refused() {
        let s = PersistentState {
            large_blob_array: vec![0; MAX_LARGE_BLOB + 1],
            ..PersistentState::default()
        };
        assert!(encode(&s).is_err());
    }
}
