//! Nitrokey's `fido-authenticator` (a CTAP 2.1 authenticator written by others, on the Trussed
//! firmware framework) running in process on trussed's virtual platform, behind the Latchkey
//! client's [`latchkey_client::Device`] trait, so that the client's ceremonies can be tested
//! against it exactly as against a USB security key.
//!
//! - [`FidoKey`]: the device; [`Options`] sets it up (touch timeout, largeBlobs, U2F-only).
//! - [`Person`]: the touches it asked for, and whether the person touches.
//! - [`attestation`]: the U2F batch attestation key and certificate it is provisioned with.
#![forbid(unsafe_code)]

pub mod attestation;
mod device;
mod key;

pub use device::{FidoKey, Options, StartError};
pub use key::{Person, MAX_MESSAGE};
