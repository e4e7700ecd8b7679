//! CTAP 2.1 wire protocol, sans-I/O: no sockets, no clock, no randomness inside.
//!
//! Bytes, time and randomness are arguments; this crate turns them into typed messages and back.
#![forbid(unsafe_code)]
