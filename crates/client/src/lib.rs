//! The CTAP client: drives any authenticator through a WebAuthn ceremony.
//!
//! - [`device`]: the [`Device`] trait every authenticator sits behind, [`DeviceError`],
//!   [`CancelHandle`].
//! - [`platform`]: the platform authenticator (the software CTAP 2.1 core over the PIN-protected
//!   file store), in process.
//! - [`store`]: [`PlatformAuthenticator`], the platform authenticator over a TPM or file store;
//!   [`platform_options`]: its `platform.toml` (post-quantum credentials).
//! - [`hid`]: CTAPHID authenticators (virtual keys over Unix sockets / UDP, USB keys over hidraw).
//! - [`nfc`]: NFC keys: a card on a PC/SC reader (feature `pcsc`), or on any APDU link.
//! - [`devices`]: the key list: discovered hidraw keys and NFC cards, `--device` specs, the
//!   config file.
//! - [`request`]: checked ceremony inputs (options, RP ID, clientDataJSON).
//! - [`register()`] / [`authenticate()`]: the ceremonies, with PIN/UV, pre-flight, account choice
//!   and extensions (credProps, prf ↔ hmac-secret, credProtect, credBlob, largeBlob, minPinLength).
//! - [`select`]: several keys at once; the first one touched is used.
//! - [`u2f`]: U2F-only keys (CTAP 2.1 §10), with `appid` / `appidExclude`.
//! - [`uv_token`]: a pinUvAuthToken from built-in user verification (a fingerprint), PIN as
//!   fall-back.
//! - [`pinuv`], [`uv`], [`prf`], [`large_blob`], [`ctap2`]: clientPIN, the UV decision and the
//!   silent pre-flight, prf ↔ hmac-secret, the large-blob array, typed CTAP2 calls.
//! - [`pin_policy`]: what a key's getInfo asks of the platform about PINs (`forcePINChange`,
//!   `noMcGaPermissionsWithClientPin`).
//! - [`kept`]: getInfo and the PIN/UV key agreement kept between ceremonies with our own
//!   platform authenticator.
//! - [`ui`]: [`CeremonyUi`], what a ceremony asks of the user.
//! - [`manage`]: PIN set/change and credential management.
//! - [`error`]: CTAP status → WebAuthn DOMException, in one place.
//!
//! Every function is blocking; run it on a worker thread (`spawn_blocking`) and cancel through the
//! device's [`CancelHandle`].
#![forbid(unsafe_code)]

pub mod authenticate;
pub mod ctap2;
pub mod device;
pub mod devices;
pub mod error;
pub mod hid;
pub mod kept;
pub mod large_blob;
pub mod manage;
pub mod nfc;
pub mod pin_policy;
pub mod pinuv;
pub mod platform;
pub mod platform_options;
pub mod prf;
pub mod register;
pub mod request;
pub mod response;
pub mod select;
pub mod store;
pub mod u2f;
pub mod ui;
pub mod uv;
pub mod uv_token;

pub use authenticate::{authenticate, authenticate_until_choice, AccountChoice, Authentication};
pub use device::{CancelHandle, Device, DeviceDescription, DeviceError, Transport};
pub use register::register;
pub use request::{CreateRequest, GetRequest};
pub use response::{Assertion, Registration};
pub use store::PlatformAuthenticator;
pub use ui::{
    Account, BuiltInUvEnd, CeremonyUi, Pin, PinReason, PinRequest, ScriptedUi, Status, UvReason,
    UvRequest,
};
