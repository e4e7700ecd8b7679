//! A software CTAP 2.1 authenticator, sans-I/O and deterministic.
//!
//! The authenticator is generic over where its credentials live ([`store::CredentialStore`]) and
//! how it asks the user for presence ([`env::UserPresence`]); the clock and the random number
//! generator are injected ([`env::Clock`], [`env::Rng`]), so every behaviour can be replayed in a
//! test without a device, a bus or a wall clock.
//!
//! - [`Authenticator`]: the CTAP 2.1 commands as typed methods (`make_credential`,
//!   `get_assertion`, `client_pin`, …) and U2F over raw APDUs (`handle_u2f`).
//! - [`memory::MemoryStore`]: an in-memory credential store for tests and the virtual key.
//! - [`token`], [`retries`]: the pinUvAuthToken state and the PIN retry rules of §6.5.
#![forbid(unsafe_code)]

pub mod authenticator;
pub mod authn_config;
pub mod client_pin;
pub mod config;
pub mod cred_mgmt;
pub mod env;
mod get_assertion;
mod hmac_secret;
pub mod info;
pub mod large_blobs;
mod make_credential;
pub mod memory;
pub mod pinproto;
pub mod request;
pub mod retries;
pub mod softkey;
pub mod status;
pub mod store;
pub mod token;
mod u2f;
pub mod u2f_cert;
pub mod wire;

pub use authenticator::Authenticator;
pub use config::{AttestationMode, Config, SignCountMode};
pub use status::Status;
