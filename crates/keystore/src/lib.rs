//! Credential stores for the platform authenticator.
#![forbid(unsafe_code)]
