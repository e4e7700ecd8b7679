//! U2F-only (CTAP1) authenticators: devices whose getInfo fails or lists no FIDO_2 version.
//!
//! This client refuses them with `NotSupportedError`: the CTAP1 register/authenticate mapping
//! (CTAP 2.1 §10) is not implemented.

use latchkey_webauthn::WebAuthnError;

use crate::device::Device;
use crate::request::{CreateRequest, GetRequest};
use crate::response::{Assertion, Registration};
use crate::ui::CeremonyUi;

fn refuse(device: &dyn Device) -> WebAuthnError {
    WebAuthnError::not_supported(format!(
        "{} speaks only U2F (CTAP1), which this client does not drive",
        device.info().name
    ))
}

/// Registration on a U2F-only device.
pub fn register(
    device: &mut dyn Device,
    _request: &CreateRequest,
    _ui: &mut dyn CeremonyUi,
) -> Result<Registration, WebAuthnError> {
    Err(refuse(device))
}

/// Authentication on a U2F-only device.
pub fn authenticate(
    device: &mut dyn Device,
    _request: &GetRequest,
    _ui: &mut dyn CeremonyUi,
) -> Result<Assertion, WebAuthnError> {
    Err(refuse(device))
}
