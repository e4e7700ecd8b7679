//! latchkeyd, the per-user WebAuthn platform service on D-Bus.
#![forbid(unsafe_code)]
