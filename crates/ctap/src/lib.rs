//! CTAP 2.1 and 2.2 wire protocol, sans-I/O: no sockets, no clock, no randomness inside.
//!
//! Bytes, time and randomness are arguments; this crate turns them into typed messages and back.
//!
//! - [`status`]: every CTAP status code, lossless through `u8`.
//! - [`cbor`]: CTAP2 canonical CBOR: a strict, bounded reader and a canonical writer.
//! - [`cose`]: COSE_Key for ES256, ES384, Ed25519, ML-DSA and the ClientPIN key-agreement key.
//! - [`entity`]: RP, user, credential descriptor and parameter entities.
//! - [`extensions`]: typed extension inputs and outputs.
//! - [`authdata`]: authenticator data and attestation objects (WebAuthn L3 §6.1, §6.5).
//! - [`command`]: every CTAP 2.1 command's request and response, and [`command::Request`].
//! - [`pin`]: PIN/UV auth protocols 1 and 2, both the platform and the authenticator side, and
//!   the getInfo members sealed under the persistent pinUvAuthToken (CTAP 2.2).
//! - [`hid`]: CTAPHID framing and the channel state machine (CTAP 2.1 §11.2).
//! - [`u2f`]: U2F/CTAP1 APDUs (CTAP 2.1 §11.2.9 and the U2F raw message format).
//! - [`iso7816`]: ISO 7816-4 command and response APDUs, short and extended, with chaining.
//! - [`nfc`]: CTAP over NFC (CTAP 2.1 §11.3): applet selection, NFCCTAP_MSG, command and
//!   response chaining, NFCCTAP_GETRESPONSE status updates; the client's exchange and the card's
//!   applet.
#![forbid(unsafe_code)]

pub mod authdata;
pub mod cbor;
pub mod command;
pub mod cose;
pub mod entity;
pub mod error;
pub mod extensions;
pub mod hid;
pub mod iso7816;
pub mod nfc;
pub mod pin;
pub mod status;
pub mod u2f;

pub use error::{CborError, Error, ResponseError};
pub use status::StatusCode;
