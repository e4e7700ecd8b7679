//! A software CTAP 2.1 authenticator, sans-I/O and deterministic.
//!
//! The authenticator is generic over where its credentials live ([`store::CredentialStore`]) and
//! how it asks the user for presence ([`env::UserPresence`]); the clock and the random number
//! generator are injected ([`env::Clock`], [`env::Rng`]), so every behaviour can be replayed in a
//! test without a device, a bus or a wall clock.
#![forbid(unsafe_code)]

pub mod env;
pub mod softkey;
pub mod store;
