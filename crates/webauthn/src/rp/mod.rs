//! Relying-party-side verification (L3 §7.1 "Registering a New Credential", §7.2 "Verifying an
//! Authentication Assertion"), used by `latchkey demo` and by tests as a second check beside
//! third-party RP libraries.
//!
//! Attestation: `none` (§8.7) and `packed` (§8.2) are verified. For `packed` with `x5c` the
//! signature is checked with the leaf certificate's key and the certificate's AAGUID extension
//! against the authenticator data; the chain is returned for the RP's trust decision. The other
//! certificate requirements of §8.2.1 and chain validation are not checked.
//! CBOR is decoded with `latchkey_ctap::authdata` and `latchkey_ctap::cose`.

mod authentication;
mod registration;
mod x509;

pub use authentication::{verify_authentication, AuthenticationResult, ExpectedAuthentication};
pub use registration::{verify_registration, AttestationType, ExpectedRegistration};

use crate::clientdata::{CeremonyType, ParsedClientData};
use crate::ids::{CredentialId, UserHandle};
use crate::options::AuthenticatorTransport;
use crate::publickey::CredentialPublicKey;

/// A credential record (L3 §4 "Credential Record") as the RP stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    /// The credential ID.
    pub id: CredentialId,
    /// The credential public key.
    pub public_key: CredentialPublicKey,
    /// The last signature counter seen.
    pub sign_count: u32,
    /// UV was set at registration.
    pub uv_initialized: bool,
    /// Transports reported at registration (known values).
    pub transports: Vec<AuthenticatorTransport>,
    /// BE flag.
    pub backup_eligible: bool,
    /// BS flag.
    pub backup_state: bool,
}

/// Why verification failed. Every variant names the step of §7.1/§7.2 it guards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A base64url field did not decode.
    #[error("{0} is not base64url")]
    Encoding(&'static str),
    /// clientDataJSON did not parse.
    #[error("clientDataJSON is not valid JSON client data: {0}")]
    ClientData(String),
    /// `type` is not the expected ceremony.
    #[error("clientDataJSON type is {got:?}, expected {expected:?}")]
    WrongType {
        /// Found.
        got: String,
        /// Expected.
        expected: &'static str,
    },
    /// `challenge` differs.
    #[error("clientDataJSON challenge does not match")]
    ChallengeMismatch,
    /// `origin` is not one the RP expects.
    #[error("clientDataJSON origin {0:?} is not expected")]
    OriginMismatch(String),
    /// `crossOrigin`/`topOrigin` present but not expected, or `topOrigin` not expected.
    #[error("cross-origin use is not expected (topOrigin {0:?})")]
    CrossOriginNotExpected(Option<String>),
    /// The attestation object or authenticator data did not parse.
    #[error("malformed {0}")]
    Malformed(String),
    /// `rpIdHash` is not SHA-256 of the expected RP ID.
    #[error("rpIdHash does not match the RP ID")]
    RpIdHashMismatch,
    /// UP not set.
    #[error("user presence flag not set")]
    UserNotPresent,
    /// UV required but not set.
    #[error("user verification required but the UV flag is not set")]
    UserNotVerified,
    /// BS set without BE.
    #[error("backup state set on a credential that is not backup eligible")]
    BackupStateWithoutEligibility,
    /// No attested credential data at registration.
    #[error("authenticator data carries no attested credential data")]
    NoAttestedCredential,
    /// The credential key's algorithm was not requested, or is not supported here.
    #[error("credential public key algorithm {0} not acceptable")]
    AlgorithmNotAllowed(i64),
    /// The attestation format is not supported here.
    #[error("attestation format {0:?} is not supported")]
    UnsupportedAttestation(String),
    /// The attestation statement is inconsistent (alg mismatch, bad certificate).
    #[error("invalid attestation statement: {0}")]
    InvalidAttestation(&'static str),
    /// A signature did not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// The response names a credential other than the record's.
    #[error("the response is for a different credential")]
    CredentialMismatch,
    /// The credential is not in `allowCredentials`.
    #[error("the credential was not allowed")]
    CredentialNotAllowed,
    /// userHandle missing when required, or naming another user.
    #[error("userHandle missing or naming a different user")]
    UserHandleMismatch,
    /// The counter did not increase: a possible cloned authenticator (§6.1.1).
    #[error("signature counter {got} is not greater than the stored {stored}")]
    CounterNotIncreased {
        /// Received.
        got: u32,
        /// Stored.
        stored: u32,
    },
}

/// Origins the RP accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedOrigins<'a> {
    /// Allowed `origin` values (exact strings, e.g. `https://example.org`).
    pub origins: &'a [&'a str],
    /// Allowed `topOrigin` values for embedded use; empty means cross-origin use is refused.
    pub top_origins: &'a [&'a str],
}

fn check_client_data(
    client_data_json: &[u8],
    ceremony: CeremonyType,
    challenge: &[u8],
    expected: &ExpectedOrigins<'_>,
) -> Result<(), VerifyError> {
    let c = ParsedClientData::parse(client_data_json)
        .map_err(|e| VerifyError::ClientData(e.message().to_owned()))?;
    if c.ty != ceremony.as_str() {
        return Err(VerifyError::WrongType {
            got: c.ty,
            expected: ceremony.as_str(),
        });
    }
    let got = crate::b64::decode("challenge", &c.challenge)
        .map_err(|_| VerifyError::ChallengeMismatch)?;
    if got != challenge {
        return Err(VerifyError::ChallengeMismatch);
    }
    if !expected.origins.contains(&c.origin.as_str()) {
        return Err(VerifyError::OriginMismatch(c.origin));
    }
    let cross = c.cross_origin == Some(true);
    if (cross || c.top_origin.is_some()) && expected.top_origins.is_empty() {
        return Err(VerifyError::CrossOriginNotExpected(c.top_origin));
    }
    if let Some(top) = &c.top_origin {
        if !expected.top_origins.contains(&top.as_str()) {
            return Err(VerifyError::CrossOriginNotExpected(Some(top.clone())));
        }
    }
    Ok(())
}

fn decode(what: &'static str, s: &str) -> Result<Vec<u8>, VerifyError> {
    crate::b64::decode(what, s).map_err(|_| VerifyError::Encoding(what))
}

fn check_flags(flags: u8, require_uv: bool) -> Result<(), VerifyError> {
    use latchkey_ctap::authdata::Flags;
    let f = Flags(flags);
    if !f.has(Flags::UP) {
        return Err(VerifyError::UserNotPresent);
    }
    if require_uv && !f.has(Flags::UV) {
        return Err(VerifyError::UserNotVerified);
    }
    if !f.has(Flags::BE) && f.has(Flags::BS) {
        return Err(VerifyError::BackupStateWithoutEligibility);
    }
    Ok(())
}

/// The user handle the response must carry (§7.2 step 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedUser<'a> {
    /// The user was identified before the ceremony (allowCredentials was sent); a userHandle,
    /// if present, must still match.
    Identified(&'a UserHandle),
    /// Discoverable flow: userHandle must be present and name the credential's owner.
    Discoverable(&'a UserHandle),
}

#[cfg(test)]
mod tests;
