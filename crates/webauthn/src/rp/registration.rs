//! §7.1 "Registering a New Credential", steps 5–27, for `none` and `packed` attestation.

use super::*;
use crate::ids::{ClientDataHash, CoseAlgorithm};
use crate::origin::RpId;
use crate::response::RegistrationResponseJSON;
use latchkey_ctap::authdata::{AttestationObject, AttestationStatement, AuthenticatorData, Flags};

/// What the RP sent and expects back.
#[derive(Debug, Clone)]
pub struct ExpectedRegistration<'a> {
    /// The challenge sent.
    pub challenge: &'a [u8],
    /// Accepted origins.
    pub origins: ExpectedOrigins<'a>,
    /// The RP ID.
    pub rp_id: &'a RpId,
    /// Whether UV is required.
    pub require_user_verification: bool,
    /// `pubKeyCredParams` algorithms sent.
    pub algorithms: &'a [CoseAlgorithm],
}

/// The attestation type the verification procedure established (§6.5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestationType {
    /// `none`: no attestation.
    None,
    /// `packed` without `x5c`: signed by the credential key itself.
    SelfAttestation,
    /// `packed` with `x5c`: signed by the leaf certificate's key. The chain (leaf first) is the
    /// trust path for the RP to assess; it has not been validated here.
    Basic {
        /// DER certificates, leaf first.
        x5c: Vec<Vec<u8>>,
    },
}

/// Verify a registration response; on success returns the credential record to store and the
/// attestation type.
pub fn verify_registration(
    resp: &RegistrationResponseJSON,
    expected: &ExpectedRegistration<'_>,
) -> Result<(CredentialRecord, AttestationType), VerifyError> {
    let client_data_json = decode("clientDataJSON", &resp.response.client_data_json)?;
    check_client_data(
        &client_data_json,
        CeremonyType::Create,
        expected.challenge,
        &expected.origins,
    )?;
    let hash = ClientDataHash::of(&client_data_json);
    let att_bytes = decode("attestationObject", &resp.response.attestation_object)?;
    let att = AttestationObject::from_bytes(&att_bytes)
        .map_err(|e| VerifyError::Malformed(format!("attestationObject: {e}")))?;
    let auth_data = AuthenticatorData::parse(&att.auth_data)
        .map_err(|e| VerifyError::Malformed(format!("authenticatorData: {e}")))?;
    if auth_data.rp_id_hash != expected.rp_id.hash() {
        return Err(VerifyError::RpIdHashMismatch);
    }
    check_flags(auth_data.flags.0, expected.require_user_verification)?;
    let acd = auth_data
        .attested_credential_data
        .as_ref()
        .ok_or(VerifyError::NoAttestedCredential)?;
    let public_key = CredentialPublicKey::from_cose(&acd.public_key)
        .map_err(|_| VerifyError::AlgorithmNotAllowed(acd.public_key.alg().0))?;
    if !expected.algorithms.contains(&public_key.alg()) {
        return Err(VerifyError::AlgorithmNotAllowed(public_key.alg().0.into()));
    }
    let mut signed = att.auth_data.clone();
    signed.extend_from_slice(hash.as_bytes());
    let attestation = match &att.att_stmt {
        AttestationStatement::None => AttestationType::None,
        AttestationStatement::Packed {
            alg,
            sig,
            x5c: None,
        } => {
            if alg.0 != i64::from(public_key.alg().0) {
                return Err(VerifyError::InvalidAttestation(
                    "packed alg differs from the credential key's",
                ));
            }
            if !public_key.verify(&signed, sig) {
                return Err(VerifyError::BadSignature);
            }
            AttestationType::SelfAttestation
        }
        AttestationStatement::Packed {
            alg,
            sig,
            x5c: Some(chain),
        } => {
            let leaf = chain
                .first()
                .ok_or(VerifyError::InvalidAttestation("empty x5c"))?;
            if !x509::verify_with_certificate(leaf, alg.0, &signed, sig)? {
                return Err(VerifyError::BadSignature);
            }
            if let Some(aaguid) = x509::aaguid_extension(leaf)? {
                if aaguid != acd.aaguid.0 {
                    return Err(VerifyError::InvalidAttestation(
                        "certificate AAGUID differs from the authenticator data's",
                    ));
                }
            }
            AttestationType::Basic { x5c: chain.clone() }
        }
        other => {
            return Err(VerifyError::UnsupportedAttestation(
                other.format().to_owned(),
            ))
        }
    };
    let id = CredentialId::new("credentialId", acd.credential_id.clone())
        .map_err(|_| VerifyError::Malformed("credentialId length".into()))?;
    if decode("rawId", &resp.raw_id)? != id.as_bytes() {
        return Err(VerifyError::CredentialMismatch);
    }
    let mut transports: Vec<_> = resp
        .response
        .transports
        .iter()
        .filter_map(|t| AuthenticatorTransport::from_wire(t))
        .collect();
    transports.sort();
    transports.dedup();
    let f = auth_data.flags;
    Ok((
        CredentialRecord {
            id,
            public_key,
            sign_count: auth_data.sign_count,
            uv_initialized: f.has(Flags::UV),
            transports,
            backup_eligible: f.has(Flags::BE),
            backup_state: f.has(Flags::BS),
        },
        attestation,
    ))
}
