//! CTAP2 canonical CBOR (CTAP 2.1 §8 "Message encoding").
//!
//! <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-errata-20220621.html#ctap2-canonical-cbor-encoding-form>
//!
//! A small reader and writer written for CTAP rather than a general CBOR crate: `ciborium` and
//! `serde_cbor` accept non-shortest integers, unsorted and duplicate map keys, unbounded nesting
//! and indefinite lengths, and allocate from declared lengths; checking all that afterwards would
//! need a second pass over the bytes anyway. Here every rule is checked while reading:
//!
//! - integers and lengths in their shortest form, definite lengths only;
//! - map keys are integers or text strings, strictly increasing in CTAP2 canonical order
//!   (lower major type first, then shorter encoding, then bytewise), so no duplicates;
//! - text is UTF-8; no tags, floats or simple values other than `false`, `true` and `null`;
//! - at most [`MAX_DEPTH`] nested arrays/maps, at most [`MAX_MESSAGE_SIZE`] bytes, and no
//!   allocation before a declared length is checked against the remaining input;
//! - no trailing bytes after the top-level item.
//!
//! Those bounds are CTAP's ([`Limits::CTAP`]); [`decode_with`] reads the same canonical form
//! within other [`Limits`] (nesting, item count, string length, total size), as latchkeyd's
//! worker protocol does.
//!
//! The writer always produces the canonical form, so `encode(decode(b)) == b` for every
//! accepted `b`. Clients reading responses from deployed authenticators, some of which emit
//! unsorted keys or non-shortest integers, may use [`decode_lenient`], which tolerates those
//! two deviations and nothing else.

mod map;
mod read;
mod value;
pub(crate) mod write;

#[cfg(test)]
mod tests;

pub(crate) use map::{array_of, array_value};
pub use map::{FromValue, IntMap, MapBuilder, TextMap, ToValue};
pub use read::{decode, decode_lenient, decode_prefix, decode_with, Limits};
pub use value::{Int, Kind, Value};
pub use write::{encode, encode_into};

/// The deepest nesting of arrays and maps CTAP allows (CTAP 2.1 §8: four levels).
pub const MAX_DEPTH: usize = 4;

/// The largest CTAP message: a CTAPHID message carries at most 7609 bytes (CTAP 2.1 §11.2.4).
pub const MAX_MESSAGE_SIZE: usize = 7609;
