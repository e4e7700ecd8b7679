//! The demo's relying party: checks each response with the webauthn crate's RP-side verifier
//! (WebAuthn L3 §7.1, §7.2), as a server would.

use latchkey_client::{Assertion, Registration};
use latchkey_webauthn::ids::{CoseAlgorithm, UserHandle};
use latchkey_webauthn::origin::RpId;
use latchkey_webauthn::rp::{
    verify_authentication, verify_registration, CredentialRecord, ExpectedAuthentication,
    ExpectedOrigins, ExpectedRegistration, ExpectedUser,
};
use latchkey_webauthn::WebAuthnError;

use crate::demo::{ORIGIN, RP_ID};

fn rp_id() -> Result<RpId, WebAuthnError> {
    Ok(RpId::parse(RP_ID)?)
}

fn refused(what: &str, e: impl std::fmt::Display) -> WebAuthnError {
    WebAuthnError::unknown(format!("the relying party refused the {what}: {e}"))
}

/// What the demo RP stores after registration.
pub struct Stored {
    record: CredentialRecord,
    user: UserHandle,
}

/// Verifies the registration; returns the credential record.
pub fn registration(
    registration: &Registration,
    challenge: &[u8],
    user_id: &[u8],
) -> Result<Stored, WebAuthnError> {
    let rp_id = rp_id()?;
    let response = registration.to_response()?;
    let origins = [ORIGIN];
    let expected = ExpectedRegistration {
        challenge,
        origins: ExpectedOrigins {
            origins: &origins,
            top_origins: &[],
        },
        rp_id: &rp_id,
        require_user_verification: true,
        algorithms: &[CoseAlgorithm(-7), CoseAlgorithm(-8)],
    };
    let (record, _) =
        verify_registration(&response, &expected).map_err(|e| refused("registration", e))?;
    Ok(Stored {
        record,
        user: UserHandle::new(user_id.to_vec())?,
    })
}

/// Verifies the assertion against the stored record; returns the new sign count.
pub fn assertion(
    assertion: &Assertion,
    challenge: &[u8],
    stored: &Stored,
) -> Result<u32, WebAuthnError> {
    let rp_id = rp_id()?;
    let response = assertion.to_response()?;
    let origins = [ORIGIN];
    let expected = ExpectedAuthentication {
        challenge,
        origins: ExpectedOrigins {
            origins: &origins,
            top_origins: &[],
        },
        rp_id: &rp_id,
        require_user_verification: true,
        allow_credentials: &[],
        user: ExpectedUser::Discoverable(&stored.user),
    };
    verify_authentication(&response, &expected, &stored.record)
        .map(|r| r.sign_count)
        .map_err(|e| refused("assertion", e))
}
