//! The CTAP side of client extension processing, in plain types: what to ask the
//! authenticator for (CTAP 2.1 §12 extension inputs) and how its answers become
//! `clientExtensionResults` (L3 §10). The client crate maps these onto `ctap`'s CBOR types.

use super::*;

/// What an authenticator advertises in `authenticatorGetInfo` that extension mapping needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthenticatorExtensionSupport {
    /// `hmac-secret` in `extensions`.
    pub hmac_secret: bool,
    /// `hmac-secret-mc` (CTAP 2.2): PRF evaluation at creation.
    pub hmac_secret_mc: bool,
    /// `credProtect` in `extensions`.
    pub cred_protect: bool,
    /// `maxCredBlobLength` (0 when `credBlob` is not supported).
    pub max_cred_blob_length: usize,
    /// `minPinLength` in `extensions`.
    pub min_pin_length: bool,
    /// `largeBlobKey` in `extensions` and the `largeBlobs` option.
    pub large_blobs: bool,
}

/// Why an authenticator cannot take part given the extension inputs (it is skipped, as
/// §10.1.5 and CTAP 2.1 §12.1 direct).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Ineligible {
    /// `largeBlob.support: "required"` and no large-blob support.
    #[error("largeBlob support is required and the authenticator cannot store large blobs")]
    LargeBlobRequired,
    /// `enforceCredentialProtectionPolicy` with policy ≥ 2 and no `credProtect` support.
    #[error(
        "credential protection is enforced and the authenticator does not support credProtect"
    )]
    CredProtectEnforced,
}

/// authenticatorMakeCredential extension inputs (CTAP 2.1 §12).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MakeCredentialExtensions {
    /// `hmac-secret: true`.
    pub hmac_secret: bool,
    /// `hmac-secret-mc` salts (PRF `eval` at creation, CTAP 2.2).
    pub hmac_secret_mc: Option<PrfSalts>,
    /// `credProtect` value 1–3.
    pub cred_protect: Option<u8>,
    /// `credBlob` bytes.
    pub cred_blob: Option<Vec<u8>>,
    /// `minPinLength: true`.
    pub min_pin_length: bool,
    /// `largeBlobKey: true`.
    pub large_blob_key: bool,
}

impl MakeCredentialExtensions {
    /// Whether nothing is requested (the `extensions` map is then omitted).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// authenticatorGetAssertion extension inputs (CTAP 2.1 §12).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetAssertionExtensions {
    /// `hmac-secret` salts (from PRF for the chosen credential).
    pub hmac_secret: Option<PrfSalts>,
    /// `largeBlobKey: true` (largeBlob read or write).
    pub large_blob_key: bool,
    /// `getCredBlob: true`.
    pub get_cred_blob: bool,
}

impl RegistrationExtensionInputs {
    /// The CTAP inputs for one authenticator, or why it must be skipped.
    pub fn to_ctap(
        &self,
        auth: &AuthenticatorExtensionSupport,
    ) -> Result<MakeCredentialExtensions, Ineligible> {
        if self.large_blob == Some(LargeBlobSupport::Required) && !auth.large_blobs {
            return Err(Ineligible::LargeBlobRequired);
        }
        if let Some(cp) = self.cred_protect {
            if cp.enforce
                && cp.policy > CredProtectPolicy::UserVerificationOptional
                && !auth.cred_protect
            {
                return Err(Ineligible::CredProtectEnforced);
            }
        }
        let wants_hmac = self.prf.is_some() || self.hmac_create_secret;
        let prf_eval = self.prf.as_ref().and_then(|e| e.as_ref());
        Ok(MakeCredentialExtensions {
            hmac_secret: wants_hmac && auth.hmac_secret,
            hmac_secret_mc: prf_eval
                .filter(|_| auth.hmac_secret && auth.hmac_secret_mc)
                .map(PrfValues::salts),
            cred_protect: self
                .cred_protect
                .filter(|_| auth.cred_protect)
                .map(|c| c.policy.ctap_value()),
            cred_blob: self
                .cred_blob
                .clone()
                .filter(|b| auth.max_cred_blob_length > 0 && b.len() <= auth.max_cred_blob_length),
            min_pin_length: self.min_pin_length && auth.min_pin_length,
            large_blob_key: self.large_blob.is_some() && auth.large_blobs,
        })
    }

    /// Build `clientExtensionResults` for a successful registration.
    pub fn client_outputs(
        &self,
        got: &RegistrationOutcome,
    ) -> AuthenticationExtensionsClientOutputsJSON {
        let mut out = AuthenticationExtensionsClientOutputsJSON::default();
        if self.cred_props {
            out.cred_props = Some(CredentialPropertiesOutput { rk: got.rk });
        }
        if self.prf.is_some() {
            out.prf = Some(PrfOutputsJSON {
                enabled: Some(got.hmac_secret == Some(true)),
                results: got.prf_results.as_ref().map(PrfOutputs::to_json),
            });
        }
        if self.hmac_create_secret {
            out.hmac_create_secret = Some(got.hmac_secret == Some(true));
        }
        if self.large_blob.is_some() {
            out.large_blob = Some(LargeBlobOutputsJSON {
                supported: Some(got.large_blob_key_returned),
                ..Default::default()
            });
        }
        if self.cred_blob.is_some() {
            out.cred_blob = Some(got.cred_blob == Some(true));
        }
        if self.appid_exclude.is_some() {
            out.appid_exclude = Some(true);
        }
        out
    }
}

/// What the client learned while creating a credential.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistrationOutcome {
    /// The `requireResidentKey` actually sent (credProps `rk`), `None` if unknown.
    pub rk: Option<bool>,
    /// The authenticator's `hmac-secret` output, if any.
    pub hmac_secret: Option<bool>,
    /// Decrypted `hmac-secret-mc` outputs, if any.
    pub prf_results: Option<PrfOutputs>,
    /// Whether a `largeBlobKey` came back.
    pub large_blob_key_returned: bool,
    /// The authenticator's `credBlob` output, if any.
    pub cred_blob: Option<bool>,
}

impl AuthenticationExtensionInputs {
    /// The CTAP inputs when `credential` is the credential being asserted (known from
    /// `allowCredentials` or a silent pre-flight); `None` for a discoverable request.
    pub fn to_ctap(
        &self,
        auth: &AuthenticatorExtensionSupport,
        credential: Option<&CredentialId>,
    ) -> GetAssertionExtensions {
        GetAssertionExtensions {
            hmac_secret: self
                .prf
                .as_ref()
                .filter(|_| auth.hmac_secret)
                .and_then(|p| p.for_credential(credential))
                .map(PrfValues::salts),
            large_blob_key: self.large_blob.is_some() && auth.large_blobs,
            get_cred_blob: self.get_cred_blob && auth.max_cred_blob_length > 0,
        }
    }

    /// Build `clientExtensionResults` for a successful assertion.
    pub fn client_outputs(
        &self,
        got: &AuthenticationOutcome,
    ) -> AuthenticationExtensionsClientOutputsJSON {
        let mut out = AuthenticationExtensionsClientOutputsJSON::default();
        if self.appid.is_some() {
            out.appid = Some(got.appid_used);
        }
        if self.prf.is_some() {
            out.prf = Some(PrfOutputsJSON {
                enabled: None,
                results: got.prf_results.as_ref().map(PrfOutputs::to_json),
            });
        }
        match &self.large_blob {
            Some(LargeBlobAuthentication::Read) => {
                out.large_blob = Some(LargeBlobOutputsJSON {
                    blob: got.large_blob.as_deref().map(b64::encode),
                    ..Default::default()
                });
            }
            Some(LargeBlobAuthentication::Write(_)) => {
                out.large_blob = Some(LargeBlobOutputsJSON {
                    written: Some(got.large_blob_written),
                    ..Default::default()
                });
            }
            None => {}
        }
        if self.get_cred_blob {
            out.get_cred_blob = Some(b64::encode(got.cred_blob.as_deref().unwrap_or_default()));
        }
        out
    }
}

/// What the client learned while getting an assertion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthenticationOutcome {
    /// The U2F fallback used the `appid` (rpIdHash is SHA-256 of the AppID).
    pub appid_used: bool,
    /// Decrypted `hmac-secret` outputs, if any.
    pub prf_results: Option<PrfOutputs>,
    /// The large blob read, if `read` was asked and it succeeded.
    pub large_blob: Option<Vec<u8>>,
    /// Whether a `write` succeeded.
    pub large_blob_written: bool,
    /// The authenticator's `credBlob` output.
    pub cred_blob: Option<Vec<u8>>,
}
