//! The canonical CBOR writer.

use core::cmp::Ordering;

use super::read::canonical_key_order;
use super::value::Value;

/// Encodes `value` in CTAP2 canonical form (map keys sorted, shortest heads, definite lengths).
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Appends the canonical encoding of `value` to `out`.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Int(i) => {
            let v = i.get();
            if v >= 0 {
                head(out, 0, v as u64);
            } else {
                // -1 - v is in 0..2^64 for every CBOR integer.
                head(out, 1, (-1 - v) as u64);
            }
        }
        Value::Bytes(b) => {
            head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Value::Text(t) => {
            head(out, 3, t.len() as u64);
            out.extend_from_slice(t.as_bytes());
        }
        Value::Array(items) => {
            head(out, 4, items.len() as u64);
            for item in items {
                encode_into(item, out);
            }
        }
        Value::Map(entries) => {
            let start = out.len();
            if !encode_map_in_order(entries, out) {
                out.truncate(start);
                encode_map_sorted(entries, out);
            }
        }
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Null => out.push(0xf6),
    }
}

/// Appends the canonical encoding of the integer `v` (a map label, an algorithm, a curve).
pub(crate) fn int_into(v: i64, out: &mut Vec<u8>) {
    if v >= 0 {
        head(out, 0, v.unsigned_abs());
    } else {
        // -1 - v is in 0..2^63 for every i64.
        head(out, 1, (-1 - v).unsigned_abs());
    }
}

/// Appends the canonical encoding of the byte string `b`.
pub(crate) fn bytes_into(b: &[u8], out: &mut Vec<u8>) {
    head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends the head of a map of `len` entries; the caller writes them, in canonical key order.
pub(crate) fn map_head_into(len: usize, out: &mut Vec<u8>) {
    head(out, 5, len as u64);
}

/// Writes a map whose entries are in canonical key order already (every map [`MapBuilder`]
/// builds or the strict reader reads), each key checked against the one before it as it is
/// written. Returns false, having written part of it, at the first key that is not strictly
/// greater than its predecessor; the caller then writes it with [`encode_map_sorted`].
///
/// [`MapBuilder`]: super::MapBuilder
fn encode_map_in_order(entries: &[(Value, Value)], out: &mut Vec<u8>) -> bool {
    head(out, 5, entries.len() as u64);
    let mut previous = None;
    for (key, value) in entries {
        let key_start = out.len();
        encode_into(key, out);
        let key_end = out.len();
        if let Some((start, end)) = previous {
            if canonical_key_order(&out[start..end], &out[key_start..key_end]) != Ordering::Less {
                return false;
            }
        }
        previous = Some((key_start, key_end));
        encode_into(value, out);
    }
    true
}

/// Writes a map in canonical key order whatever the order of its entries: the keys encoded into
/// one buffer, the entries sorted by them.
fn encode_map_sorted(entries: &[(Value, Value)], out: &mut Vec<u8>) {
    let mut keys = Vec::new();
    let mut order: Vec<(core::ops::Range<usize>, &Value)> = entries
        .iter()
        .map(|(k, v)| {
            let start = keys.len();
            encode_into(k, &mut keys);
            (start..keys.len(), v)
        })
        .collect();
    order.sort_by(|a, b| canonical_key_order(&keys[a.0.clone()], &keys[b.0.clone()]));
    head(out, 5, order.len() as u64);
    for (key, value) in order {
        out.extend_from_slice(&keys[key]);
        encode_into(value, out);
    }
}

fn head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        out.push(m | arg as u8);
    } else if arg <= 0xff {
        out.push(m | 24);
        out.push(arg as u8);
    } else if arg <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&(arg as u16).to_be_bytes());
    } else if arg <= 0xffff_ffff {
        out.push(m | 26);
        out.extend_from_slice(&(arg as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}
