//! CTAP 2.1 wire protocol, sans-I/O: no sockets, no clock, no randomness inside.
//!
//! Bytes, time and randomness are arguments; this crate turns them into typed messages and back.
//!
//! - [`hid`]: CTAPHID framing and the channel state machine (CTAP 2.1 §11.2).
//! - [`u2f`]: U2F/CTAP1 APDUs (CTAP 2.1 §11.2.9 and the U2F raw message format).
#![forbid(unsafe_code)]

pub mod hid;
pub mod u2f;
