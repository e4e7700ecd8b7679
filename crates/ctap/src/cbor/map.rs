//! Typed access to decoded maps, and a builder for canonical maps.
//!
//! Command codecs read parameters with [`IntMap::required`] / [`IntMap::optional`], which turn
//! a wrong type into `CTAP2_ERR_CBOR_UNEXPECTED_TYPE` and an absent required parameter into
//! `CTAP2_ERR_MISSING_PARAMETER`, naming the parameter. Keys nobody asks for are ignored, as
//! CTAP requires for forward compatibility (they were still checked by the strict reader).

use super::value::Value;
use crate::error::Error;

/// Conversion from a decoded [`Value`], reporting errors against the parameter `field`.
pub trait FromValue: Sized {
    /// Converts `value`, the parameter named `field`.
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error>;
}

/// Conversion to a [`Value`] for encoding.
pub trait ToValue {
    /// This item as a CBOR value.
    fn to_value(&self) -> Value;
}

impl FromValue for Value {
    fn from_value(value: Value, _field: &'static str) -> Result<Self, Error> {
        Ok(value)
    }
}

impl FromValue for bool {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        value.as_bool().ok_or(Error::unexpected(field, "boolean"))
    }
}

impl FromValue for String {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        match value {
            Value::Text(t) => Ok(t),
            _ => Err(Error::unexpected(field, "text string")),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        match value {
            Value::Bytes(b) => Ok(b),
            _ => Err(Error::unexpected(field, "byte string")),
        }
    }
}

impl<const N: usize> FromValue for [u8; N] {
    /// A byte string of exactly `N` bytes; another length is `CTAP1_ERR_INVALID_LENGTH`.
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let bytes = Vec::<u8>::from_value(value, field)?;
        let len = bytes.len();
        bytes.try_into().map_err(|_| Error::InvalidLength {
            field,
            len,
            allowed: "a fixed length",
        })
    }
}

impl FromValue for i64 {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let int = value.as_int().ok_or(Error::unexpected(field, "integer"))?;
        int.as_i64()
            .ok_or(Error::invalid(field, "integer out of range"))
    }
}

macro_rules! unsigned_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            /// An unsigned integer; a negative integer is the wrong type
            /// (`CTAP2_ERR_CBOR_UNEXPECTED_TYPE`), a too-large one an invalid parameter.
            fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
                let int = value.as_int().ok_or(Error::unexpected(field, "unsigned integer"))?;
                if int.get() < 0 {
                    return Err(Error::unexpected(field, "unsigned integer"));
                }
                <$t>::try_from(int.get()).map_err(|_| Error::invalid(field, "integer out of range"))
            }
        }
    )*};
}
unsigned_from_value!(u8, u16, u32, u64, usize);

/// Converts an array parameter element by element.
pub(crate) fn array_of<T: FromValue>(value: Value, field: &'static str) -> Result<Vec<T>, Error> {
    match value {
        Value::Array(items) => items.into_iter().map(|v| T::from_value(v, field)).collect(),
        _ => Err(Error::unexpected(field, "array")),
    }
}

/// An array of encodable items.
pub(crate) fn array_value<T: ToValue>(items: &[T]) -> Value {
    Value::Array(items.iter().map(ToValue::to_value).collect())
}

/// A decoded map whose keys are integers, as CTAP command parameters are.
#[derive(Debug, Clone)]
pub struct IntMap {
    entries: Vec<(i64, Value)>,
}

impl IntMap {
    /// Takes apart a map value; anything else is `CTAP2_ERR_CBOR_UNEXPECTED_TYPE` for `field`.
    /// Keys that are not integers in `i64` range are dropped: no CTAP map uses them.
    pub fn parse(value: Value, field: &'static str) -> Result<Self, Error> {
        match value {
            Value::Map(entries) => Ok(Self {
                entries: entries
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.as_int()?.as_i64()?, v)))
                    .collect(),
            }),
            _ => Err(Error::unexpected(field, "map")),
        }
    }

    /// Removes and returns the value under `key`.
    pub fn take(&mut self, key: i64) -> Option<Value> {
        let index = self.entries.iter().position(|(k, _)| *k == key)?;
        Some(self.entries.swap_remove(index).1)
    }

    /// The required parameter `key`, converted.
    pub fn required<T: FromValue>(&mut self, key: i64, field: &'static str) -> Result<T, Error> {
        let value = self.take(key).ok_or(Error::missing(field))?;
        T::from_value(value, field)
    }

    /// The optional parameter `key`, converted.
    pub fn optional<T: FromValue>(
        &mut self,
        key: i64,
        field: &'static str,
    ) -> Result<Option<T>, Error> {
        self.take(key).map(|v| T::from_value(v, field)).transpose()
    }

    /// The optional array parameter `key`, converted element by element.
    pub fn optional_array<T: FromValue>(
        &mut self,
        key: i64,
        field: &'static str,
    ) -> Result<Option<Vec<T>>, Error> {
        self.take(key).map(|v| array_of(v, field)).transpose()
    }

    /// The required array parameter `key`, converted element by element.
    pub fn required_array<T: FromValue>(
        &mut self,
        key: i64,
        field: &'static str,
    ) -> Result<Vec<T>, Error> {
        let value = self.take(key).ok_or(Error::missing(field))?;
        array_of(value, field)
    }
}

/// A decoded map whose keys are text strings (entities, options, extensions).
#[derive(Debug, Clone)]
pub struct TextMap {
    entries: Vec<(String, Value)>,
}

impl TextMap {
    /// Takes apart a map value; anything else is `CTAP2_ERR_CBOR_UNEXPECTED_TYPE` for `field`.
    /// Integer keys are dropped.
    pub fn parse(value: Value, field: &'static str) -> Result<Self, Error> {
        match value {
            Value::Map(entries) => Ok(Self {
                entries: entries
                    .into_iter()
                    .filter_map(|(k, v)| match k {
                        Value::Text(t) => Some((t, v)),
                        _ => None,
                    })
                    .collect(),
            }),
            _ => Err(Error::unexpected(field, "map")),
        }
    }

    /// Removes and returns the value under `key`.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        let index = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(index).1)
    }

    /// The required member `key`, converted.
    pub fn required<T: FromValue>(&mut self, key: &str, field: &'static str) -> Result<T, Error> {
        let value = self.take(key).ok_or(Error::missing(field))?;
        T::from_value(value, field)
    }

    /// The optional member `key`, converted.
    pub fn optional<T: FromValue>(
        &mut self,
        key: &str,
        field: &'static str,
    ) -> Result<Option<T>, Error> {
        self.take(key).map(|v| T::from_value(v, field)).transpose()
    }

    /// The members nobody took, in canonical order.
    pub fn into_rest(self) -> Vec<(String, Value)> {
        self.entries
    }
}

/// Builds a map value; [`MapBuilder::build`] sorts the entries canonically.
#[derive(Debug, Clone, Default)]
pub struct MapBuilder {
    entries: Vec<(Value, Value)>,
}

impl MapBuilder {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key: value`.
    #[must_use]
    pub fn insert(mut self, key: impl Into<Value>, value: impl Into<Value>) -> Self {
        self.entries.push((key.into(), value.into()));
        self
    }

    /// Adds `key: value` if `value` is `Some`.
    #[must_use]
    pub fn insert_opt<V: Into<Value>>(self, key: impl Into<Value>, value: Option<V>) -> Self {
        match value {
            Some(v) => self.insert(key, v),
            None => self,
        }
    }

    /// The map, entries in CTAP2 canonical key order (the keys encoded into one buffer to be
    /// compared).
    pub fn build(self) -> Value {
        let mut keys = Vec::new();
        let mut keyed: Vec<(core::ops::Range<usize>, (Value, Value))> = self
            .entries
            .into_iter()
            .map(|entry| {
                let start = keys.len();
                super::write::encode_into(&entry.0, &mut keys);
                (start..keys.len(), entry)
            })
            .collect();
        keyed.sort_by(|a, b| {
            super::read::canonical_key_order(&keys[a.0.clone()], &keys[b.0.clone()])
        });
        Value::Map(keyed.into_iter().map(|(_, entry)| entry).collect())
    }
}

impl From<MapBuilder> for Value {
    fn from(b: MapBuilder) -> Self {
        b.build()
    }
}
