//! Typed reading of the worker messages' CBOR: integer-keyed maps without duplicate keys, and
//! fields checked for type and length.

use ciborium::value::Value;

use super::protocol::Reason;

/// A CBOR map with unsigned integer keys, taken apart field by field.
pub(super) struct Fields(Vec<(u64, Value)>);

impl Fields {
    pub(super) fn new(v: Value, field: &'static str) -> Result<Self, Reason> {
        let Value::Map(entries) = v else {
            return Err(Reason::Invalid {
                field,
                expected: "a map",
            });
        };
        let mut out: Vec<(u64, Value)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let k = uint(k, "map key")?;
            if out.iter().any(|(seen, _)| *seen == k) {
                return Err(Reason::Invalid {
                    field,
                    expected: "a map without duplicate keys",
                });
            }
            out.push((k, v));
        }
        Ok(Self(out))
    }

    pub(super) fn optional(&mut self, key: u64) -> Option<Value> {
        let at = self.0.iter().position(|(k, _)| *k == key)?;
        Some(self.0.swap_remove(at).1)
    }

    pub(super) fn take(&mut self, key: u64, field: &'static str) -> Result<Value, Reason> {
        self.optional(key).ok_or(Reason::Missing(field))
    }
}

pub(super) fn uint(v: Value, field: &'static str) -> Result<u64, Reason> {
    match v {
        Value::Integer(i) => u64::try_from(i).map_err(|_| Reason::Invalid {
            field,
            expected: "an unsigned integer",
        }),
        _ => Err(Reason::Invalid {
            field,
            expected: "an unsigned integer",
        }),
    }
}

pub(super) fn bool_field(v: Value, field: &'static str) -> Result<bool, Reason> {
    match v {
        Value::Bool(b) => Ok(b),
        _ => Err(Reason::Invalid {
            field,
            expected: "a boolean",
        }),
    }
}

pub(super) fn bytes_field(v: Value, field: &'static str, max: usize) -> Result<Vec<u8>, Reason> {
    match v {
        Value::Bytes(b) if b.len() <= max => Ok(b),
        Value::Bytes(b) => Err(Reason::TooLong {
            field,
            len: b.len(),
            max,
        }),
        _ => Err(Reason::Invalid {
            field,
            expected: "a byte string",
        }),
    }
}

pub(super) fn text_field(v: Value, field: &'static str, max: usize) -> Result<String, Reason> {
    match v {
        Value::Text(t) if t.len() <= max => Ok(t),
        Value::Text(t) => Err(Reason::TooLong {
            field,
            len: t.len(),
            max,
        }),
        _ => Err(Reason::Invalid {
            field,
            expected: "a text string",
        }),
    }
}
