//! WebAuthn Level 3 client-side data types and checks, sans-I/O.
//!
//! Section numbers ("L3 §5.1.3") refer to W3C Web Authentication Level 3
//! (<https://www.w3.org/TR/webauthn-3/>); "CTAP 2.1 §12" to FIDO Client to Authenticator
//! Protocol v2.1 (<https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html>).
//!
//! No sockets, no clock, no randomness, no file access: inputs are strings and bytes, outputs
//! are typed values, JSON and bytes. The `/.well-known/webauthn` fetch, timers and the choice of
//! authenticator belong to the daemon and the `client` crate.
//!
//! - [`error`]: [`WebAuthnError`], the DOMException names WebAuthn raises.
//! - [`b64`], [`ids`]: base64url and the checked byte newtypes (`Challenge`, `UserHandle`,
//!   `CredentialId`, `ClientDataHash`).
//! - [`origin`]: origins, RP IDs, the registrable-suffix check and [`origin::AuthorizedRpId`].
//! - [`related`]: Related Origin Requests (§5.11), the pure decision.
//! - [`clientdata`]: `CollectedClientData` and its byte-exact serialization (§5.8.1).
//! - [`options`]: `PublicKeyCredentialCreationOptionsJSON` / `…RequestOptionsJSON` parsing.
//! - [`extensions`]: client extension processing (credProps, prf, largeBlob, credProtect,
//!   credBlob, minPinLength, appid) into plain CTAP-side inputs and back.
//! - [`publickey`]: COSE credential keys to SubjectPublicKeyInfo and signature checks.
//! - [`response`]: `RegistrationResponseJSON` / `AuthenticationResponseJSON`, and the
//!   attestation conveyance rule (`none` replacement).
//! - [`rp`]: relying-party-side verification of those responses (a second check in tests).
#![forbid(unsafe_code)]

pub mod b64;
pub mod clientdata;
pub mod error;
pub mod extensions;
pub mod ids;
pub mod options;
pub mod origin;
pub mod publickey;
pub mod related;
pub mod response;
pub mod rp;

pub use error::{ErrorName, WebAuthnError};
