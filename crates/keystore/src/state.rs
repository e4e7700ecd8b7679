//! The authenticator's persistent state file (`state`).
//!
//! ```text
//! "LKST" 0x01 ‖ pinRetries u8 ‖ minPINLength u8 ‖ forcePINChange ‖ u32 n ‖ n × bytes(RP ID)
//! ‖ alwaysUv ‖ bytes(large-blob array) ‖ opt (bytes(U2F cert) ‖ bytes(U2F key blob))
//! ```
//!
//! Nothing here is secret: the large-blob array is encrypted by the authenticator with each
//! credential's largeBlobKey, and the U2F attestation key blob is sealed like every other key.

use latchkey_authenticator::store::{KeyBlob, PersistentState, StoreError};

use crate::codec::{Reader, Writer};
use crate::record::{MAX_KEY, MAX_STR};

const MAGIC: &[u8; 5] = b"LKST\x01";
/// Largest serialized large-blob array kept.
pub(crate) const MAX_LARGE_BLOB: usize = 1 << 20;
/// Largest state file.
pub(crate) const MAX_FILE: usize = MAX_LARGE_BLOB + 64 * 1024;
const MAX_RP_IDS: u32 = 64;
const MAX_CERT: usize = 8192;

pub(crate) fn encode(s: &PersistentState) -> Result<Vec<u8>, StoreError> {
    let too_big = |what: &str| StoreError::Corrupt(format!("persistent state: {what} too large"));
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
    Ok(w.into_vec())
}

pub(crate) fn decode(bytes: &[u8]) -> Result<PersistentState, StoreError> {
    let mut r = Reader::new(bytes, "persistent state");
    if r.raw(MAGIC.len())? != MAGIC {
        return Err(StoreError::Corrupt("persistent state: bad magic".into()));
    }
    let pin_retries = r.u8()?;
    let min_pin_length = r.u8()?;
    let force_pin_change = r.bool()?;
    let n = r.u32()?;
    if n > MAX_RP_IDS {
        return Err(StoreError::Corrupt(
            "persistent state: too many RP IDs".into(),
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
    r.finish()?;
    Ok(PersistentState {
        pin_retries,
        min_pin_length,
        force_pin_change,
        min_pin_length_rp_ids,
        always_uv,
        large_blob_array,
        u2f_attestation,
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
        };
        let bytes = encode(&full).unwrap();
        assert_eq!(decode(&bytes).unwrap(), full);
        assert!(matches!(
            decode(&bytes[..bytes.len() - 1]),
            Err(StoreError::Corrupt(_))
        ));
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(matches!(decode(&bad), Err(StoreError::Corrupt(_))));
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
