//! How worker messages become CBOR and back: the [`Wire`] trait for field types, the envelope,
//! and two macros that declare a message once.
//!
//! Each message is written once, as a table of `key => field: type [min ..= max]` rows
//! (`wire_messages!` for a set of messages, `wire_record!` for a map nested in one), and
//! the macro derives both directions from that table: the encoder writes each row's key, the
//! decoder takes each row's key, converts it with the field type's [`Wire`] impl, checks its
//! bounds (a string's or array's length, an integer's value), and refuses keys no row names.
//! A macro rather than a derive: a derive needs a proc-macro crate, and serde's derive would
//! bring serde's data model, in which "a map with small integer keys, canonical, bounded" is
//! not expressible without the hand-written checks this replaces. A macro rather than a trait
//! with one `encode` and one `decode` method per message: those are the two hand-written
//! copies of each message that drift apart.
//!
//! The bytes are CTAP2 canonical CBOR (`latchkey_ctap::cbor`): the writer produces it, the
//! reader ([`super::LIMITS`]) accepts nothing else, so every message has exactly one encoding.

pub use latchkey_ctap::cbor::Value;
use latchkey_ctap::cbor::{self, Int, Kind};

use super::error::{Malformed, ProtocolError};
use super::{Message, LIMITS, MAX_MESSAGE};

/// A type that can be a field of a worker message.
pub trait Wire: Sized {
    /// This value as CBOR.
    fn to_value(&self) -> Result<Value, ProtocolError>;
    /// The value of `field`, checked for type.
    fn from_value(value: Value, field: &'static str) -> Result<Self, ProtocolError>;
    /// What a row's bounds limit: a string's length in bytes, an array's element count, an
    /// integer's value.
    fn measure(&self) -> u64 {
        0
    }
    /// Checks [`Wire::measure`] against `min..=max`.
    fn check(&self, field: &'static str, min: u64, max: u64) -> Result<(), ProtocolError> {
        let value = self.measure();
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(ProtocolError::OutOfBounds {
                field,
                value,
                min,
                max,
            })
        }
    }
    /// The value of a key that is absent: an error, but `None` for an optional field.
    fn absent(field: &'static str) -> Result<Self, ProtocolError> {
        Err(ProtocolError::Missing(field))
    }
    /// Whether the key is written at all (`false` for `None`).
    fn present(&self) -> bool {
        true
    }
}

/// A map declared with `wire_record!`, which may be an array's element.
pub trait Record: Wire {}

fn wrong(field: &'static str, expected: Kind, value: &Value) -> ProtocolError {
    ProtocolError::WrongType {
        field,
        expected,
        got: value.kind(),
    }
}

/// A `usize` bound as the `u64` [`Wire::measure`] compares with.
pub const fn bound(n: usize) -> u64 {
    n as u64
}

impl Wire for u64 {
    fn to_value(&self) -> Result<Value, ProtocolError> {
        Ok(Value::from(*self))
    }
    fn from_value(value: Value, field: &'static str) -> Result<Self, ProtocolError> {
        value
            .as_int()
            .and_then(Int::as_u64)
            .ok_or_else(|| wrong(field, Kind::Int, &value))
    }
    fn measure(&self) -> u64 {
        *self
    }
}

macro_rules! narrow_uint {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            fn to_value(&self) -> Result<Value, ProtocolError> {
                Ok(Value::from(*self))
            }
            fn from_value(value: Value, field: &'static str) -> Result<Self, ProtocolError> {
                let wide = u64::from_value(value, field)?;
                <$t>::try_from(wide).map_err(|_| ProtocolError::OutOfBounds {
                    field,
                    value: wide,
                    min: 0,
                    max: u64::from(<$t>::MAX),
                })
            }
            fn measure(&self) -> u64 {
                u64::from(*self)
            }
        }
    )*};
}
narrow_uint!(u8, u16, u32);

impl Wire for bool {
    fn to_value(&self) -> Result<Value, ProtocolError> {
        Ok(Value::Bool(*self))
    }
    fn from_value(value: Value, field: &'static str) -> Result<Self, ProtocolError> {
        value
            .as_bool()
            .ok_or_else(|| wrong(field, Kind::Bool, &value))
    }
}

impl Wire for Vec<u8> {
    fn to_value(&self) -> Result<Value, ProtocolError> {
        Ok(Value::Bytes(self.clone()))
    }
    fn from_value(value: Value, field: &'static str) -> Result<Self, ProtocolError> {
        match value {
            Value::Bytes(b) => Ok(b),
            other => Err(wrong(field, Kind::Bytes, &other)),
        }
    }
    fn measure(&self) -> u64 {
        bound(self.len())
    }
}

impl Wire for String {
    fn to_value(&self) -> Result<Value, ProtocolError> {
        Ok(Value::Text(self.clone()))
    }
    fn from_value(value: Value, field: &'static str) -> Result<Self, ProtocolError> {
        match value {
            Value::Text(t) => Ok(t),
            other => Err(wrong(field, Kind::Text, &other)),
        }
    }
    fn measure(&self) -> u64 {
        bound(self.len())
    }
}

impl<T: Wire> Wire for Option<T> {
    fn to_value(&self) -> Result<Value, ProtocolError> {
        match self {
            Some(v) => v.to_value(),
            None => Ok(Value::Null),
        }
    }
    fn from_value(value: Value, field: &'static str) -> Result<Self, ProtocolError> {
        T::from_value(value, field).map(Some)
    }
    fn check(&self, field: &'static str, min: u64, max: u64) -> Result<(), ProtocolError> {
        match self {
            Some(v) => v.check(field, min, max),
            None => Ok(()),
        }
    }
    fn absent(_field: &'static str) -> Result<Self, ProtocolError> {
        Ok(None)
    }
    fn present(&self) -> bool {
        self.is_some()
    }
}

impl<T: Record> Wire for Vec<T> {
    fn to_value(&self) -> Result<Value, ProtocolError> {
        self.iter()
            .map(Wire::to_value)
            .collect::<Result<_, _>>()
            .map(Value::Array)
    }
    fn from_value(value: Value, field: &'static str) -> Result<Self, ProtocolError> {
        match value {
            Value::Array(items) => items.into_iter().map(|v| T::from_value(v, field)).collect(),
            other => Err(wrong(field, Kind::Array, &other)),
        }
    }
    fn measure(&self) -> u64 {
        bound(self.len())
    }
}

/// Builds a message's map, row by row.
#[derive(Debug, Default)]
pub struct MapWriter(Vec<(Value, Value)>);

impl MapWriter {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes row `key` (unless it is an absent optional field), after checking its bounds.
    pub fn put<T: Wire>(
        &mut self,
        key: u64,
        field: &'static str,
        value: &T,
        bounds: Option<(u64, u64)>,
    ) -> Result<(), ProtocolError> {
        if let Some((min, max)) = bounds {
            value.check(field, min, max)?;
        }
        if value.present() {
            self.0.push((Value::from(key), value.to_value()?));
        }
        Ok(())
    }

    /// The map (the encoder sorts its keys).
    pub fn finish(self) -> Value {
        Value::Map(self.0)
    }
}

/// Takes a message's map apart, row by row; [`MapReader::finish`] refuses what is left.
#[derive(Debug)]
pub struct MapReader {
    entries: Vec<(Value, Value)>,
    within: &'static str,
}

impl MapReader {
    /// The map that is `within`'s body.
    pub fn open(value: Value, within: &'static str) -> Result<Self, ProtocolError> {
        match value {
            Value::Map(entries) => Ok(Self { entries, within }),
            other => Err(wrong(within, Kind::Map, &other)),
        }
    }

    /// Row `key`: converted, bounds checked; an absent key is [`Wire::absent`].
    pub fn take<T: Wire>(
        &mut self,
        key: u64,
        field: &'static str,
        bounds: Option<(u64, u64)>,
    ) -> Result<T, ProtocolError> {
        let wanted = Value::from(key);
        let value = match self.entries.iter().position(|(k, _)| *k == wanted) {
            Some(at) => T::from_value(self.entries.swap_remove(at).1, field)?,
            None => T::absent(field)?,
        };
        if let Some((min, max)) = bounds {
            value.check(field, min, max)?;
        }
        Ok(value)
    }

    /// Fails if a key no row named is left.
    pub fn finish(self) -> Result<(), ProtocolError> {
        if self.entries.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::UnknownField {
                within: self.within,
            })
        }
    }
}

/// A set of messages that travel in one direction, each with its type number.
pub trait MessageSet: Sized {
    /// This message's type number (the envelope's key 2).
    fn kind(&self) -> u64;
    /// Its body (the envelope's key 3).
    fn body(&self) -> Result<Value, ProtocolError>;
    /// The message of type `kind` with this body.
    fn from_body(kind: u64, body: Value) -> Result<Self, ProtocolError>;
}

/// The bytes of `message` under `seq`: `{1: seq, 2: type, 3: body}`, at most [`MAX_MESSAGE`].
pub fn encode<M: MessageSet>(seq: u64, message: &M) -> Result<Vec<u8>, ProtocolError> {
    let envelope = Value::Map(vec![
        (Value::from(1u64), Value::from(seq)),
        (Value::from(2u64), Value::from(message.kind())),
        (Value::from(3u64), message.body()?),
    ]);
    let bytes = cbor::encode(&envelope);
    if bytes.len() > MAX_MESSAGE {
        return Err(ProtocolError::TooLarge {
            len: bytes.len(),
            max: MAX_MESSAGE,
        });
    }
    Ok(bytes)
}

/// The envelope of a message, its body not yet converted.
#[derive(Debug)]
pub struct Envelope {
    /// Which request it is or answers.
    pub seq: u64,
    /// Its type number.
    pub kind: u64,
    /// Its body.
    pub body: Value,
}

/// Reads the envelope: canonical CBOR within [`LIMITS`], a map of exactly `seq`, type, body.
pub fn open(bytes: &[u8]) -> Result<Envelope, Malformed> {
    let bare = |error| Malformed { seq: None, error };
    let value = cbor::decode_with(bytes, &LIMITS).map_err(|e| bare(e.into()))?;
    let mut map = MapReader::open(value, "message").map_err(bare)?;
    let seq: u64 = map.take(1, "seq", None).map_err(bare)?;
    let with_seq = |error| Malformed {
        seq: Some(seq),
        error,
    };
    let kind: u64 = map.take(2, "type", None).map_err(with_seq)?;
    let body: Value = map.take(3, "body", None).map_err(with_seq)?;
    map.finish().map_err(with_seq)?;
    Ok(Envelope { seq, kind, body })
}

impl Wire for Value {
    fn to_value(&self) -> Result<Value, ProtocolError> {
        Ok(self.clone())
    }
    fn from_value(value: Value, _field: &'static str) -> Result<Self, ProtocolError> {
        Ok(value)
    }
}

/// Reads one message of the set `M`.
pub fn decode<M: MessageSet>(bytes: &[u8]) -> Result<Message<M>, Malformed> {
    let Envelope { seq, kind, body } = open(bytes)?;
    let body = M::from_body(kind, body).map_err(|error| Malformed {
        seq: Some(seq),
        error,
    })?;
    Ok(Message { seq, body })
}

/// A row's bounds: `Some((min, max))`, or `None` when the row has none.
macro_rules! wire_bounds {
    () => {
        None
    };
    ($min:literal, $max:expr) => {
        Some(($min, $crate::protocol::wire::bound($max)))
    };
}

/// Declares a set of messages once: the enum, and its [`MessageSet`] impl (both directions).
///
/// ```text
/// wire_messages! {
///     pub enum Request {
///         1 => Ctap { 1 => command: Vec<u8> [1 ..= MAX_CTAP_REQUEST] },
///         2 => List { 1 => rp_id: Option<String> [0 ..= MAX_RP_ID] },
///     }
/// }
/// ```
macro_rules! wire_messages {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $kind:literal => $variant:ident {
                    $(
                        $(#[$fmeta:meta])*
                        $key:literal => $field:ident : $ty:ty $([$min:literal ..= $max:expr])?
                    ),* $(,)?
                }
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $(
                $(#[$vmeta])*
                $variant { $( $(#[$fmeta])* $field: $ty, )* },
            )*
        }

        impl $crate::protocol::wire::MessageSet for $name {
            fn kind(&self) -> u64 {
                match self {
                    $( Self::$variant { .. } => $kind, )*
                }
            }

            #[allow(unused_mut)]
            fn body(
                &self,
            ) -> Result<$crate::protocol::wire::Value, $crate::protocol::ProtocolError> {
                match self {
                    $(
                        Self::$variant { $($field),* } => {
                            let mut map = $crate::protocol::wire::MapWriter::new();
                            $(
                                map.put(
                                    $key,
                                    stringify!($field),
                                    $field,
                                    $crate::protocol::wire::wire_bounds!($($min, $max)?),
                                )?;
                            )*
                            Ok(map.finish())
                        }
                    )*
                }
            }

            #[allow(unused_mut)]
            fn from_body(
                kind: u64,
                body: $crate::protocol::wire::Value,
            ) -> Result<Self, $crate::protocol::ProtocolError> {
                match kind {
                    $(
                        $kind => {
                            let mut map =
                                $crate::protocol::wire::MapReader::open(body, stringify!($variant))?;
                            let message = Self::$variant {
                                $(
                                    $field: map.take(
                                        $key,
                                        stringify!($field),
                                        $crate::protocol::wire::wire_bounds!($($min, $max)?),
                                    )?,
                                )*
                            };
                            map.finish()?;
                            Ok(message)
                        }
                    )*
                    other => Err($crate::protocol::ProtocolError::UnknownMessage(other)),
                }
            }
        }
    };
}

/// Declares the wire form of a struct (defined elsewhere, every field listed) once: its
/// [`Wire`] and [`Record`] impls, both directions.
macro_rules! wire_record {
    (
        impl $name:ty as $label:literal {
            $( $key:literal => $field:ident $([$min:literal ..= $max:expr])? ),* $(,)?
        }
    ) => {
        impl $crate::protocol::wire::Wire for $name {
            fn to_value(
                &self,
            ) -> Result<$crate::protocol::wire::Value, $crate::protocol::ProtocolError> {
                let mut map = $crate::protocol::wire::MapWriter::new();
                $(
                    map.put(
                        $key,
                        stringify!($field),
                        &self.$field,
                        $crate::protocol::wire::wire_bounds!($($min, $max)?),
                    )?;
                )*
                Ok(map.finish())
            }

            fn from_value(
                value: $crate::protocol::wire::Value,
                _field: &'static str,
            ) -> Result<Self, $crate::protocol::ProtocolError> {
                let mut map = $crate::protocol::wire::MapReader::open(value, $label)?;
                let record = Self {
                    $(
                        $field: map.take(
                            $key,
                            stringify!($field),
                            $crate::protocol::wire::wire_bounds!($($min, $max)?),
                        )?,
                    )*
                };
                map.finish()?;
                Ok(record)
            }
        }

        impl $crate::protocol::wire::Record for $name {}
    };
}

pub(crate) use {wire_bounds, wire_messages, wire_record};
