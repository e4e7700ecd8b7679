//! §7.2 "Verifying an Authentication Assertion", steps 5–24.

use super::*;
use crate::ids::ClientDataHash;
use crate::origin::RpId;
use crate::response::AuthenticationResponseJSON;
use latchkey_ctap::authdata::{AuthenticatorData, Flags};

/// What the RP sent and expects back.
#[derive(Debug, Clone)]
pub struct ExpectedAuthentication<'a> {
    /// The challenge sent.
    pub challenge: &'a [u8],
    /// Accepted origins.
    pub origins: ExpectedOrigins<'a>,
    /// The RP ID.
    pub rp_id: &'a RpId,
    /// Whether UV is required.
    pub require_user_verification: bool,
    /// `allowCredentials` sent (empty for a discoverable request).
    pub allow_credentials: &'a [CredentialId],
    /// The account's user handle and how the user was identified.
    pub user: ExpectedUser<'a>,
}

/// What a successful assertion tells the RP to update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticationResult {
    /// The new signature counter to store.
    pub sign_count: u32,
    /// UV flag.
    pub user_verified: bool,
    /// BS flag (update the record's backup state).
    pub backup_state: bool,
}

/// Verify an assertion against the stored credential record.
pub fn verify_authentication(
    resp: &AuthenticationResponseJSON,
    expected: &ExpectedAuthentication<'_>,
    record: &CredentialRecord,
) -> Result<AuthenticationResult, VerifyError> {
    let raw_id = decode("rawId", &resp.raw_id)?;
    if !expected.allow_credentials.is_empty()
        && !expected
            .allow_credentials
            .iter()
            .any(|c| c.as_bytes() == raw_id.as_slice())
    {
        return Err(VerifyError::CredentialNotAllowed);
    }
    if raw_id != record.id.as_bytes() {
        return Err(VerifyError::CredentialMismatch);
    }
    let user_handle = resp
        .response
        .user_handle
        .as_deref()
        .map(|u| decode("userHandle", u))
        .transpose()?;
    match (expected.user, user_handle) {
        (ExpectedUser::Discoverable(_), None) => return Err(VerifyError::UserHandleMismatch),
        (ExpectedUser::Discoverable(u) | ExpectedUser::Identified(u), Some(got))
            if got != u.as_bytes() =>
        {
            return Err(VerifyError::UserHandleMismatch)
        }
        _ => {}
    }
    let client_data_json = decode("clientDataJSON", &resp.response.client_data_json)?;
    check_client_data(
        &client_data_json,
        CeremonyType::Get,
        expected.challenge,
        &expected.origins,
    )?;
    let auth_data_bytes = decode("authenticatorData", &resp.response.authenticator_data)?;
    let auth_data = AuthenticatorData::parse(&auth_data_bytes)
        .map_err(|e| VerifyError::Malformed(format!("authenticatorData: {e}")))?;
    if auth_data.rp_id_hash != expected.rp_id.hash() {
        return Err(VerifyError::RpIdHashMismatch);
    }
    check_flags(auth_data.flags.0, expected.require_user_verification)?;
    if record.backup_eligible != auth_data.flags.has(Flags::BE) {
        return Err(VerifyError::Malformed(
            "BE flag changed since registration".into(),
        ));
    }
    let hash = ClientDataHash::of(&client_data_json);
    let mut signed = auth_data_bytes;
    signed.extend_from_slice(hash.as_bytes());
    let sig = decode("signature", &resp.response.signature)?;
    if !record.public_key.verify(&signed, &sig) {
        return Err(VerifyError::BadSignature);
    }
    let got = auth_data.sign_count;
    if (got != 0 || record.sign_count != 0) && got <= record.sign_count {
        return Err(VerifyError::CounterNotIncreased {
            got,
            stored: record.sign_count,
        });
    }
    Ok(AuthenticationResult {
        sign_count: got,
        user_verified: auth_data.flags.has(Flags::UV),
        backup_state: auth_data.flags.has(Flags::BS),
    })
}
