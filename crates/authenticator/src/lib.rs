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
//!
//! # Decisions
//!
//! - **Every credential is stored.** Credential IDs are `Config::credential_id_length` (32)
//!   random bytes from the injected RNG, never wrapped keys: a non-discoverable credential is a
//!   store entry like a discoverable one, so the store (TPM, encrypted file) keeps custody of
//!   every private key and deleting a credential really revokes it. Test vectors inject IDs with
//!   [`Authenticator::push_credential_id`] and keys with `MemoryStore::inject_next_key`.
//! - **One pinUvAuthToken** serves both PIN/UV auth protocols; a new token (any protocol)
//!   replaces the previous one. mc/ga consume its user-present and user-verified flags and all
//!   permissions but lbw (CTAP 2.1 §6.5.2.1), so one token authorises one ceremony with UP.
//! - **The store owns the PIN verifier**; the core keeps the retry counters, and locks the store
//!   when the token expires (checked lazily before every command), is replaced, or at power-up.
//! - **Built-in UV is optional** ([`BuiltInUv`], [`uv`]): without it, `uv: true` without a
//!   pinUvAuthParam is `CTAP2_ERR_INVALID_OPTION` (§6.1.2 step 5) and with alwaysUv a request
//!   without a token is `PUAT_REQUIRED` (§6.1.2 step 6, §6.2.2 step 5). With a configured sensor
//!   (the virtual key's emulated fingerprint reader) the user is matched by
//!   [`env::UserPresence::verify_user`], through getPinUvAuthTokenUsingUvWithPermissions or
//!   `uv: true`; the uvRetries counter lives in memory with the sensor, not in the store, and a
//!   match counts as the user's presence too.
//! - **Presence inside a ceremony**: declining or timing out is `OPERATION_DENIED` (§6.1.2 step
//!   14, §6.2.2 step 9), an excluded credential is `CREDENTIAL_EXCLUDED` whatever the user did
//!   (§6.1.2 step 12.1.4.2); elsewhere (reset, selection, U2F) a timeout is
//!   `USER_ACTION_TIMEOUT`.
//! - **Every signature counts**: an `up: false` assertion is signed like any other, so it moves
//!   the signature counter too (CTAP 2.1 §6.2.2); the platform avoids silent pre-flights that
//!   tell it nothing (latchkey-client's `uv::needs_no_preflight`), not the authenticator.
//! - **hmac-secret needs UP** (`up: false` with hmac-secret is `UNSUPPORTED_OPTION`), so silent
//!   assertions cannot be used to derive keys.
//! - **User presence and verification are proofs** ([`proof`]): the UP and UV flags of signed
//!   authenticatorData come only from `UserPresent`/`UserVerified` values that the presence
//!   request, the token check and the built-in UV match mint; a bool cannot set them.
//! - **Errors leave state intact**: every check that can fail runs before anything is written;
//!   the only state an error changes is what the spec demands (a PIN mismatch costs a retry and
//!   regenerates the key agreement key; a token's first use binds its RP ID).
#![forbid(unsafe_code)]

pub mod algorithm;
pub mod authenticator;
pub mod authn_config;
pub mod client_pin;
pub mod config;
pub mod cred_mgmt;
mod ctap20;
pub mod env;
mod get_assertion;
mod hmac_secret;
pub mod info;
pub mod large_blobs;
mod make_credential;
pub mod memory;
mod persistent;
pub mod pinproto;
pub mod proof;
pub mod request;
pub mod retries;
pub mod softkey;
pub mod status;
pub mod store;
pub mod token;
mod u2f;
pub mod u2f_cert;
pub mod uv;
pub mod wire;

pub use authenticator::Authenticator;
pub use config::{AttestationMode, BuiltInUv, Config, SignCountMode};
pub use status::Status;
