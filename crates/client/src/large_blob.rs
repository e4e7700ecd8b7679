//! The large-blob array (CTAP 2.1 §6.10): reading and writing it in fragments, and the per-
//! credential entries in it, each AES-256-GCM sealed with the credential's largeBlobKey over
//! DEFLATE-compressed data (§6.10.3).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::digest::{digest, SHA256};
use latchkey_ctap::cbor::{self, MapBuilder, Value};
use latchkey_ctap::command::{GetInfoResponse, LargeBlobsRequest};
use latchkey_webauthn::WebAuthnError;

use crate::ctap2;
use crate::device::Device;
use crate::error::{to_webauthn, Step};
use crate::pinuv::Token;

/// The largest array this client reads (bounds memory against a hostile device).
pub const MAX_ARRAY: usize = 1 << 20;

/// The largest decompressed blob accepted.
pub const MAX_BLOB: usize = 1 << 20;

/// One entry of the array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// AES-256-GCM ciphertext with tag.
    pub ciphertext: Vec<u8>,
    /// The 12-byte nonce.
    pub nonce: Vec<u8>,
    /// The uncompressed length.
    pub orig_size: u64,
}

fn fragment_len(info: &GetInfoResponse) -> usize {
    usize::try_from(info.max_msg_size.unwrap_or(1024))
        .unwrap_or(1024)
        .saturating_sub(64)
        .max(16)
}

fn left16(data: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(
        digest(&SHA256, data)
            .as_ref()
            .get(..16)
            .unwrap_or(&[0u8; 16]),
    );
    out
}

fn malformed(what: &str) -> WebAuthnError {
    WebAuthnError::not_allowed(format!(
        "the authenticator's large-blob array is malformed: {what}"
    ))
}

/// Reads the serialized array and returns its entries (an array whose hash does not match is
/// treated as empty, as §6.10.2 says).
pub fn read_entries(
    device: &mut dyn Device,
    info: &GetInfoResponse,
) -> Result<Vec<Entry>, WebAuthnError> {
    let chunk = fragment_len(info);
    let mut data = Vec::new();
    loop {
        let answer = ctap2::large_blobs(
            device,
            LargeBlobsRequest::Get {
                offset: data.len() as u64,
                get: chunk as u64,
            },
        )
        .map_err(|e| to_webauthn(Step::LargeBlob, &e))?;
        let part = answer.config.unwrap_or_default();
        let done = part.len() < chunk;
        data.extend_from_slice(&part);
        if data.len() > MAX_ARRAY {
            return Err(malformed("longer than this client accepts"));
        }
        if done {
            break;
        }
    }
    Ok(parse_array(&data).unwrap_or_default())
}

/// Parses `array ‖ left16(SHA-256(array))`; `None` if the hash or the CBOR does not check out.
pub fn parse_array(data: &[u8]) -> Option<Vec<Entry>> {
    if data.len() < 17 {
        return None;
    }
    let (array, hash) = data.split_at(data.len() - 16);
    if left16(array) != hash {
        return None;
    }
    let Value::Array(items) = cbor::decode(array).ok()? else {
        return None;
    };
    let mut out = Vec::new();
    for item in items {
        let field = |k: i64| item.get(&Value::from(k));
        let (Some(ct), Some(nonce), Some(size)) = (
            field(1).and_then(Value::as_bytes),
            field(2).and_then(Value::as_bytes),
            field(3).and_then(Value::as_int).and_then(|i| i.as_u64()),
        ) else {
            continue;
        };
        out.push(Entry {
            ciphertext: ct.to_vec(),
            nonce: nonce.to_vec(),
            orig_size: size,
        });
    }
    Some(out)
}

/// Serializes entries as the array followed by its truncated hash.
pub fn serialize_array(entries: &[Entry]) -> Vec<u8> {
    let array = Value::Array(
        entries
            .iter()
            .map(|e| {
                MapBuilder::new()
                    .insert(1, e.ciphertext.as_slice())
                    .insert(2, e.nonce.as_slice())
                    .insert(3, e.orig_size)
                    .build()
            })
            .collect(),
    );
    let mut out = cbor::encode(&array);
    let hash = left16(&out);
    out.extend_from_slice(&hash);
    out
}

fn aad(orig_size: u64) -> Vec<u8> {
    let mut a = b"blob".to_vec();
    a.extend_from_slice(&orig_size.to_le_bytes());
    a
}

fn cipher(key: &[u8]) -> Option<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, key)
        .ok()
        .map(LessSafeKey::new)
}

/// Opens `entry` with `key`: the decompressed blob, or `None` if the entry is someone else's.
pub fn open(entry: &Entry, key: &[u8]) -> Option<Vec<u8>> {
    let cipher = cipher(key)?;
    let nonce = Nonce::try_assume_unique_for_key(&entry.nonce).ok()?;
    let mut buf = entry.ciphertext.clone();
    let plain = cipher
        .open_in_place(nonce, Aad::from(aad(entry.orig_size)), &mut buf)
        .ok()?;
    let size = usize::try_from(entry.orig_size)
        .ok()
        .filter(|s| *s <= MAX_BLOB)?;
    let blob = miniz_oxide::inflate::decompress_to_vec_with_limit(plain, size).ok()?;
    (blob.len() == size).then_some(blob)
}

/// Seals `blob` for `key` with a fresh nonce.
pub fn seal(blob: &[u8], key: &[u8]) -> Result<Entry, WebAuthnError> {
    let cipher = cipher(key).ok_or_else(|| malformed("the largeBlobKey is not 32 bytes"))?;
    let mut nonce = [0u8; 12];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| WebAuthnError::unknown("no randomness"))?;
    let orig_size = blob.len() as u64;
    let mut buf = miniz_oxide::deflate::compress_to_vec(blob, 6);
    cipher
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(orig_size)),
            &mut buf,
        )
        .map_err(|_| WebAuthnError::unknown("sealing the large blob failed"))?;
    Ok(Entry {
        ciphertext: buf,
        nonce: nonce.to_vec(),
        orig_size,
    })
}

/// Reads the blob stored for `key`, if any.
pub fn read(
    device: &mut dyn Device,
    info: &GetInfoResponse,
    key: &[u8],
) -> Result<Option<Vec<u8>>, WebAuthnError> {
    Ok(read_entries(device, info)?
        .iter()
        .find_map(|e| open(e, key)))
}

/// Replaces the blob stored for `key` with `blob` (authenticatorLargeBlobs set, in fragments,
/// each authenticated with a token holding the `lbw` permission).
pub fn write(
    device: &mut dyn Device,
    info: &GetInfoResponse,
    token: &Token,
    key: &[u8],
    blob: &[u8],
) -> Result<(), WebAuthnError> {
    let mut entries: Vec<Entry> = read_entries(device, info)?
        .into_iter()
        .filter(|e| open(e, key).is_none())
        .collect();
    entries.push(seal(blob, key)?);
    let data = serialize_array(&entries);
    if let Some(max) = info.max_serialized_large_blob_array {
        if data.len() as u64 > max {
            return Err(WebAuthnError::not_allowed(
                "the large blob does not fit in the authenticator's large-blob storage",
            ));
        }
    }
    let chunk = fragment_len(info);
    let mut offset = 0usize;
    for part in data.chunks(chunk) {
        let message = latchkey_ctap::pin::large_blobs_message(
            u32::try_from(offset).unwrap_or(u32::MAX),
            part,
        );
        let request = LargeBlobsRequest::Set {
            offset: offset as u64,
            set: part.to_vec(),
            length: (offset == 0).then_some(data.len() as u64),
            pin_uv_auth_param: Some(token.authenticate(&message)),
            pin_uv_auth_protocol: Some(token.protocol()),
        };
        ctap2::large_blobs(device, request).map_err(|e| to_webauthn(Step::LargeBlob, &e))?;
        offset += part.len();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initial_array_parses_as_empty() {
        // CTAP 2.1 §6.10.2: the initial serialized array.
        let initial = hex::decode("8076be8b528d0075f7aae98d6fa57a6d3c").unwrap();
        assert_eq!(parse_array(&initial), Some(vec![]));
        assert_eq!(serialize_array(&[]), initial);
    }

    #[test]
    fn a_sealed_entry_opens_with_its_key_only() {
        let key = [7u8; 32];
        let entry = seal(b"hello large blob hello large blob", &key).unwrap();
        assert_eq!(entry.orig_size, 33);
        assert_eq!(
            open(&entry, &key).unwrap(),
            b"hello large blob hello large blob"
        );
        assert_eq!(open(&entry, &[8u8; 32]), None);
        let data = serialize_array(std::slice::from_ref(&entry));
        assert_eq!(parse_array(&data).unwrap(), vec![entry]);
    }

    #[test]
    fn a_bad_hash_reads_as_no_array() {
        let mut data = serialize_array(&[]);
        let last = data.len() - 1;
        data[last] ^= 1;
        assert_eq!(parse_array(&data), None);
    }
}
