//! The strict, bounded CBOR reader.

use super::value::{Int, Value};
use super::{MAX_DEPTH, MAX_MESSAGE_SIZE};
use crate::error::{CborError, Error};
use core::cmp::Ordering;

/// What the reader accepts at most. CTAP messages are read with [`Limits::CTAP`]; other
/// protocols written in the same canonical form (latchkeyd's workers) choose their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The whole input, in bytes ([`Error::MessageTooLong`] above it).
    pub max_size: usize,
    /// Arrays and maps nested in one another ([`CborError::TooDeep`] above it).
    pub max_depth: usize,
    /// Items in all, map keys and the containers themselves counted
    /// ([`CborError::TooManyItems`] above it).
    pub max_items: usize,
    /// The longest byte or text string, in bytes ([`CborError::StringTooLong`] above it).
    pub max_string: usize,
}

impl Limits {
    /// CTAP 2.1 §8: [`MAX_MESSAGE_SIZE`] bytes and [`MAX_DEPTH`] levels; items and strings
    /// bounded by the size alone.
    pub const CTAP: Self = Self {
        max_size: MAX_MESSAGE_SIZE,
        max_depth: MAX_DEPTH,
        max_items: usize::MAX,
        max_string: usize::MAX,
    };
}

/// Decodes exactly one canonical CBOR item that fills `bytes`.
///
/// Fails with [`Error::MessageTooLong`] above [`MAX_MESSAGE_SIZE`] bytes, and with
/// [`Error::Cbor`] for anything that is not CTAP2 canonical CBOR, including trailing bytes.
pub fn decode(bytes: &[u8]) -> Result<Value, Error> {
    decode_with(bytes, &Limits::CTAP)
}

/// [`decode`] within other [`Limits`]: exactly one canonical CBOR item that fills `bytes`.
pub fn decode_with(bytes: &[u8], limits: &Limits) -> Result<Value, Error> {
    let (value, used) = decode_prefix_mode(bytes, true, limits)?;
    match bytes.len() - used {
        0 => Ok(value),
        rest => Err(CborError::TrailingBytes(rest).into()),
    }
}

/// Decodes one canonical CBOR item from the start of `bytes`; returns it and the bytes it used.
///
/// For structures where CBOR follows other data or other CBOR (authenticator data).
pub fn decode_prefix(bytes: &[u8]) -> Result<(Value, usize), Error> {
    decode_prefix_mode(bytes, true, &Limits::CTAP)
}

/// Decodes one CBOR item that fills `bytes`, tolerating two deviations from canonical form
/// that some deployed authenticators produce in their responses: integers and lengths not
/// in shortest form, and map keys out of canonical order. Everything else is still
/// rejected: duplicate keys, indefinite lengths, tags, floats, invalid UTF-8, nesting deeper
/// than [`MAX_DEPTH`], more than [`MAX_MESSAGE_SIZE`] bytes, trailing bytes.
///
/// For clients reading responses only; authenticators decode requests with [`decode`].
pub fn decode_lenient(bytes: &[u8]) -> Result<Value, Error> {
    let (value, used) = decode_prefix_mode(bytes, false, &Limits::CTAP)?;
    match bytes.len() - used {
        0 => Ok(value),
        rest => Err(CborError::TrailingBytes(rest).into()),
    }
}

fn decode_prefix_mode(
    bytes: &[u8],
    strict: bool,
    limits: &Limits,
) -> Result<(Value, usize), Error> {
    if bytes.len() > limits.max_size {
        return Err(Error::MessageTooLong {
            len: bytes.len(),
            max: limits.max_size,
        });
    }
    let mut reader = Reader {
        buf: bytes,
        pos: 0,
        strict,
        limits,
        items: 0,
    };
    let value = reader.item(0)?;
    Ok((value, reader.pos))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Canonical form required (shortest integers, sorted keys).
    strict: bool,
    limits: &'a Limits,
    /// Items read so far.
    items: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        if n > self.remaining() {
            return Err(CborError::Truncated);
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        Ok(self.take(1)?[0])
    }

    /// Reads the argument of a head whose additional information is `info`, insisting on the
    /// shortest form.
    fn argument(&mut self, info: u8) -> Result<u64, CborError> {
        let (value, min) = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => (u64::from(self.byte()?), 24),
            25 => {
                let b = self.take(2)?;
                (u64::from(u16::from_be_bytes([b[0], b[1]])), 0x100)
            }
            26 => {
                let b = self.take(4)?;
                (
                    u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                    0x1_0000,
                )
            }
            27 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                (u64::from_be_bytes(a), 0x1_0000_0000)
            }
            31 => return Err(CborError::IndefiniteLength),
            reserved => return Err(CborError::ReservedAdditionalInfo(reserved)),
        };
        if value < min && self.strict {
            return Err(CborError::NonCanonicalInteger);
        }
        Ok(value)
    }

    /// A declared length, checked to fit in what remains (each element needing at least
    /// `min_bytes_each` bytes) before anything is allocated.
    fn length(&mut self, info: u8, min_bytes_each: usize) -> Result<usize, CborError> {
        let declared = self.argument(info)?;
        let len = usize::try_from(declared).map_err(|_| CborError::Truncated)?;
        match len.checked_mul(min_bytes_each) {
            Some(need) if need <= self.remaining() => Ok(len),
            _ => Err(CborError::Truncated),
        }
    }

    /// A byte or text string's declared length, within [`Limits::max_string`].
    fn string_length(&mut self, info: u8) -> Result<usize, CborError> {
        let len = self.length(info, 1)?;
        if len > self.limits.max_string {
            return Err(CborError::StringTooLong {
                len,
                max: self.limits.max_string,
            });
        }
        Ok(len)
    }

    fn enter(&self, depth: usize) -> Result<usize, CborError> {
        let depth = depth + 1;
        if depth > self.limits.max_depth {
            Err(CborError::TooDeep)
        } else {
            Ok(depth)
        }
    }

    fn item(&mut self, depth: usize) -> Result<Value, CborError> {
        self.items += 1;
        if self.items > self.limits.max_items {
            return Err(CborError::TooManyItems {
                max: self.limits.max_items,
            });
        }
        let initial = self.byte()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        match major {
            0 => Ok(Value::Int(Int::from(self.argument(info)?))),
            1 => {
                let n = self.argument(info)?;
                Ok(Value::Int(negative(n)))
            }
            2 => {
                let len = self.string_length(info)?;
                Ok(Value::Bytes(self.take(len)?.to_vec()))
            }
            3 => {
                let len = self.string_length(info)?;
                let raw = self.take(len)?;
                let text = core::str::from_utf8(raw).map_err(|_| CborError::InvalidUtf8)?;
                Ok(Value::Text(text.to_owned()))
            }
            4 => {
                let depth = self.enter(depth)?;
                let len = self.length(info, 1)?;
                let mut items = Vec::with_capacity(len);
                for _ in 0..len {
                    items.push(self.item(depth)?);
                }
                Ok(Value::Array(items))
            }
            5 => {
                let depth = self.enter(depth)?;
                let len = self.length(info, 2)?;
                let mut entries = Vec::with_capacity(len);
                let mut previous: Option<&'a [u8]> = None;
                for _ in 0..len {
                    let start = self.pos;
                    let key = self.item(depth)?;
                    if !matches!(key, Value::Int(_) | Value::Text(_)) {
                        return Err(CborError::UnsupportedMapKey);
                    }
                    let encoded = &self.buf[start..self.pos];
                    if let (Some(prev), true) = (previous, self.strict) {
                        match canonical_key_order(prev, encoded) {
                            Ordering::Less => {}
                            Ordering::Equal => return Err(CborError::DuplicateMapKey),
                            Ordering::Greater => return Err(CborError::UnsortedMapKeys),
                        }
                    }
                    previous = Some(encoded);
                    let value = self.item(depth)?;
                    entries.push((key, value));
                }
                if !self.strict {
                    canonicalise(&mut entries)?;
                }
                Ok(Value::Map(entries))
            }
            6 => Err(CborError::Tag),
            _ => match info {
                20 => Ok(Value::Bool(false)),
                21 => Ok(Value::Bool(true)),
                22 => Ok(Value::Null),
                31 => Err(CborError::IndefiniteLength),
                28..=30 => Err(CborError::ReservedAdditionalInfo(info)),
                other => Err(CborError::UnsupportedSimple(other)),
            },
        }
    }
}

/// Sorts leniently decoded entries into canonical order, rejecting duplicate keys (which
/// compare equal once re-encoded canonically).
fn canonicalise(entries: &mut Vec<(Value, Value)>) -> Result<(), CborError> {
    let mut keyed: Vec<(Vec<u8>, (Value, Value))> = core::mem::take(entries)
        .into_iter()
        .map(|entry| (super::write::encode(&entry.0), entry))
        .collect();
    keyed.sort_by(|a, b| canonical_key_order(&a.0, &b.0));
    if keyed.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(CborError::DuplicateMapKey);
    }
    *entries = keyed.into_iter().map(|(_, entry)| entry).collect();
    Ok(())
}

fn negative(n: u64) -> Int {
    // -1 - n is always within -2^64..=-1, so the conversion cannot fail; fall back to the
    // smallest integer rather than panicking.
    Int::try_from(-1 - i128::from(n)).unwrap_or_else(|_| Int::from(i64::MIN))
}

/// CTAP2 canonical key order (CTAP 2.1 §8): lower major type first, then the shorter encoding,
/// then bytewise. `a` and `b` are canonical encodings of keys.
pub(crate) fn canonical_key_order(a: &[u8], b: &[u8]) -> Ordering {
    let major = |x: &[u8]| x.first().map(|b| b >> 5);
    major(a)
        .cmp(&major(b))
        .then(a.len().cmp(&b.len()))
        .then_with(|| a.cmp(b))
}
