//! Checked `PublicKeyCredentialCreationOptions` (L3 §5.4) from its JSON form (§5.1.8), with the
//! client algorithm's option steps of §5.1.3: `user.id` length (step 5), `pubKeyCredParams`
//! defaults and filtering (step 10), and the effective resident-key and user-verification
//! requirements (step 22).

use super::*;
use crate::extensions::RegistrationExtensionInputs;
use crate::ids::{Challenge, CoseAlgorithm, UserHandle};

/// `AuthenticatorAttachment` (L3 §5.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthenticatorAttachment {
    /// `"platform"`.
    Platform,
    /// `"cross-platform"`.
    CrossPlatform,
}

impl AuthenticatorAttachment {
    /// The wire string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::CrossPlatform => "cross-platform",
        }
    }
    /// Parse a known value.
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "platform" => Some(Self::Platform),
            "cross-platform" => Some(Self::CrossPlatform),
            _ => None,
        }
    }
}

/// `ResidentKeyRequirement` after §5.4.4's resolution with `requireResidentKey`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResidentKeyRequirement {
    /// `"discouraged"`, or absent with `requireResidentKey` false/absent.
    Discouraged,
    /// `"preferred"`.
    Preferred,
    /// `"required"`, or absent with `requireResidentKey: true`.
    Required,
}

/// `AttestationConveyancePreference` (L3 §5.4.7); unknown values mean `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttestationConveyancePreference {
    /// `"none"` (default).
    #[default]
    None,
    /// `"indirect"`.
    Indirect,
    /// `"direct"`.
    Direct,
    /// `"enterprise"`.
    Enterprise,
}

/// The user account (L3 §5.4.3), `id` checked to be 1..=64 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntity {
    /// The user handle.
    pub id: UserHandle,
    /// `name`.
    pub name: String,
    /// `displayName`.
    pub display_name: String,
}

/// Checked creation options.
#[derive(Debug, Clone, PartialEq)]
pub struct CreationOptions {
    /// `rp.name`.
    pub rp_name: String,
    /// `rp.id` as requested; authorise it with [`crate::origin::AuthorizedRpId::check`].
    pub rp_id: Option<String>,
    /// `user`.
    pub user: UserEntity,
    /// `challenge`.
    pub challenge: Challenge,
    /// `credTypesAndPubKeyAlgs` (§5.1.3 step 10): `public-key` entries in RP order, duplicates
    /// removed; `[ES256, RS256]` when the RP sent an empty list.
    pub algorithms: Vec<CoseAlgorithm>,
    /// `timeout` in milliseconds, as requested (the client clamps it).
    pub timeout_ms: Option<u32>,
    /// `excludeCredentials` of type `public-key`.
    pub exclude_credentials: Vec<CredentialDescriptor>,
    /// `authenticatorSelection.authenticatorAttachment`, unknown values ignored.
    pub authenticator_attachment: Option<AuthenticatorAttachment>,
    /// The resolved resident-key requirement.
    pub resident_key: ResidentKeyRequirement,
    /// `authenticatorSelection.userVerification`.
    pub user_verification: UserVerificationRequirement,
    /// Known hints, in order, without repeats.
    pub hints: Vec<Hint>,
    /// `attestation`.
    pub attestation: AttestationConveyancePreference,
    /// `attestationFormats`; forced to `["none"]` when `attestation` is `none` (§5.1.3 step 22).
    pub attestation_formats: Vec<String>,
    /// Registration extension inputs the platform supports.
    pub extensions: RegistrationExtensionInputs,
}

impl CreationOptions {
    /// Parse `PublicKeyCredentialCreationOptionsJSON` text.
    pub fn from_json(json: &[u8]) -> Result<Self, WebAuthnError> {
        let raw: PublicKeyCredentialCreationOptionsJSON =
            from_json("PublicKeyCredentialCreationOptionsJSON", json)?;
        Self::from_wire(&raw)
    }

    /// Check an already deserialized dictionary.
    pub fn from_wire(raw: &PublicKeyCredentialCreationOptionsJSON) -> Result<Self, WebAuthnError> {
        let user = UserEntity {
            id: UserHandle::new(b64::decode("user.id", &raw.user.id)?)?,
            name: raw.user.name.clone(),
            display_name: raw.user.display_name.clone(),
        };
        let challenge = Challenge::new(b64::decode("challenge", &raw.challenge)?);
        check_len(
            "pubKeyCredParams",
            raw.pub_key_cred_params.len(),
            MAX_PUB_KEY_CRED_PARAMS,
        )?;
        let algorithms = if raw.pub_key_cred_params.is_empty() {
            vec![CoseAlgorithm::ES256, CoseAlgorithm::RS256]
        } else {
            let mut algs = Vec::new();
            for p in raw
                .pub_key_cred_params
                .iter()
                .filter(|p| p.ty == "public-key")
            {
                let alg = CoseAlgorithm(p.alg);
                if !algs.contains(&alg) {
                    algs.push(alg);
                }
            }
            if algs.is_empty() {
                return Err(WebAuthnError::not_supported(
                    "pubKeyCredParams has no entry of type \"public-key\"",
                ));
            }
            algs
        };
        let exclude_credentials =
            parse_descriptors("excludeCredentials", &raw.exclude_credentials)?;
        let sel = raw.authenticator_selection.clone().unwrap_or_default();
        let resident_key = match (sel.resident_key.as_deref(), sel.require_resident_key) {
            (Some("required"), _) => ResidentKeyRequirement::Required,
            (Some("preferred"), _) => ResidentKeyRequirement::Preferred,
            (Some("discouraged"), _) => ResidentKeyRequirement::Discouraged,
            (_, Some(true)) => ResidentKeyRequirement::Required,
            _ => ResidentKeyRequirement::Discouraged,
        };
        let attestation = match raw.attestation.as_deref() {
            Some("indirect") => AttestationConveyancePreference::Indirect,
            Some("direct") => AttestationConveyancePreference::Direct,
            Some("enterprise") => AttestationConveyancePreference::Enterprise,
            _ => AttestationConveyancePreference::None,
        };
        check_len(
            "attestationFormats",
            raw.attestation_formats.len(),
            MAX_STRING_LIST,
        )?;
        let attestation_formats = if attestation == AttestationConveyancePreference::None {
            vec!["none".to_owned()]
        } else {
            let mut f: Vec<String> = Vec::new();
            for s in &raw.attestation_formats {
                if !f.contains(s) {
                    f.push(s.clone());
                }
            }
            f
        };
        let extensions = match &raw.extensions {
            Some(e) => RegistrationExtensionInputs::parse(e)?,
            None => RegistrationExtensionInputs::default(),
        };
        Ok(Self {
            rp_name: raw.rp.name.clone(),
            rp_id: raw.rp.id.clone(),
            user,
            challenge,
            algorithms,
            timeout_ms: raw.timeout,
            exclude_credentials,
            authenticator_attachment: sel
                .authenticator_attachment
                .as_deref()
                .and_then(AuthenticatorAttachment::from_wire),
            resident_key,
            user_verification: UserVerificationRequirement::from_wire(
                sel.user_verification.as_deref(),
            ),
            hints: parse_hints(&raw.hints)?,
            attestation,
            attestation_formats,
            extensions,
        })
    }

    /// The first algorithm, in the RP's order of preference, that `supported` contains;
    /// `NotSupportedError` when none is (§5.1.3.1).
    pub fn negotiate(&self, supported: &[CoseAlgorithm]) -> Result<CoseAlgorithm, WebAuthnError> {
        self.algorithms
            .iter()
            .copied()
            .find(|a| supported.contains(a))
            .ok_or_else(|| {
                WebAuthnError::not_supported(format!(
                    "none of the requested algorithms {:?} is supported",
                    self.algorithms.iter().map(|a| a.0).collect::<Vec<_>>()
                ))
            })
    }

    /// The effective resident key requirement for credential creation (§5.1.3 step 22),
    /// given whether the authenticator can store discoverable credentials.
    pub fn require_resident_key(&self, authenticator_supports_rk: bool) -> bool {
        match self.resident_key {
            ResidentKeyRequirement::Required => true,
            ResidentKeyRequirement::Preferred => authenticator_supports_rk,
            ResidentKeyRequirement::Discouraged => false,
        }
    }

    /// The effective user verification requirement (§5.1.3 step 22), given whether the
    /// authenticator can verify the user.
    pub fn require_user_verification(&self, authenticator_supports_uv: bool) -> bool {
        match self.user_verification {
            UserVerificationRequirement::Required => true,
            UserVerificationRequirement::Preferred => authenticator_supports_uv,
            UserVerificationRequirement::Discouraged => false,
        }
    }

    /// Whether an authenticator passes §5.1.3 step 22's filters (attachment, resident key,
    /// user verification). When none does, the ceremony ends in `ConstraintError`.
    pub fn authenticator_eligible(
        &self,
        attachment: AuthenticatorAttachment,
        supports_rk: bool,
        supports_uv: bool,
    ) -> bool {
        self.authenticator_attachment
            .is_none_or(|a| a == attachment)
            && (self.resident_key != ResidentKeyRequirement::Required || supports_rk)
            && (self.user_verification != UserVerificationRequirement::Required || supports_uv)
    }
}
