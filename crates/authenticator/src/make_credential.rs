//! authenticatorMakeCredential (CTAP 2.1 §6.1.2).

use zeroize::Zeroizing;

use crate::authenticator::{sha256, Authenticator};
use crate::config::{AttestationMode, BuiltInUv};
use crate::env::{Clock, PresencePurpose, Rng, UserPresence};
use crate::proof::AttestedFlags;
use crate::request::{
    AttestationStatement, MakeCredentialExtensionOutputs, MakeCredentialRequest,
    MakeCredentialResponse,
};
use crate::status::Status;
use crate::store::{
    Algorithm, CredProtect, CredRandom, Credential, CredentialKind, CredentialStore,
};
use crate::token::Permissions;
use crate::wire;

impl<S: CredentialStore, U: UserPresence, C: Clock, R: Rng> Authenticator<S, U, C, R> {
    /// authenticatorMakeCredential on a parsed request. The request is taken, not borrowed: its
    /// RP and user become the credential's without a copy.
    pub fn make_credential(
        &mut self,
        req: MakeCredentialRequest,
    ) -> Result<MakeCredentialResponse, Status> {
        let purpose = PresencePurpose::MakeCredential {
            rp_id: &req.rp.id,
            user_name: req.user.name.as_deref(),
        };
        // Step 1: the zero-length pinUvAuthParam probe.
        if req.pin_uv_auth_param.as_ref().is_some_and(|p| p.is_empty()) {
            return Err(self.probe(purpose));
        }
        // Step 2: the protocol must come with the param and be one we speak.
        if req.pin_uv_auth_param.is_some() {
            crate::pinproto::parse_protocol(req.pin_uv_auth_protocol)?;
        }
        // Step 3: the first supported algorithm in the RP's order of preference.
        let offered = self.algorithms();
        let alg = req
            .algorithms
            .iter()
            .filter_map(|&a| Algorithm::from_cose(a))
            .find(|a| offered.contains(a))
            .ok_or(Status::UnsupportedAlgorithm)?;
        // Step 4/5: options. "up": false is invalid for makeCredential; "uv": true needs an
        // enrolled built-in method (with a pinUvAuthParam it is treated as false).
        if req.up == Some(false) {
            return Err(Status::InvalidOption);
        }
        let has_param = req.pin_uv_auth_param.is_some();
        let built_in_uv = req.uv && !has_param;
        if built_in_uv && self.config.built_in_uv != BuiltInUv::Configured {
            return Err(Status::InvalidOption);
        }
        // Step 5/6: alwaysUv and makeCredUvNotRqd.
        let state = self.state()?;
        let pin_set = self.pin_is_set()?;
        let uv_configured = self.config.built_in_uv == BuiltInUv::Configured;
        if !has_param && !built_in_uv {
            // A token from the PIN could have done (PUAT_REQUIRED), unless the PIN may not give
            // the mc permission (noMcGaPermissionsWithClientPin): then only built-in UV could,
            // and the answer is OPERATION_DENIED.
            let no_mc_ga = self.config.no_mc_ga_permissions_with_client_pin;
            // Step 6.2/6.4: with alwaysUv, a token or built-in UV; the clientPin option ID is
            // always present here.
            if state.always_uv {
                return Err(if no_mc_ga {
                    Status::OperationDenied
                } else {
                    Status::PuatRequired
                });
            }
            // Step 7: a discoverable credential on a key protected by some form of UV; step 8
            // (without makeCredUvNotRqd): any credential.
            let protected = pin_set || uv_configured;
            if protected && (req.rk || !self.config.make_cred_uv_not_rqd) {
                return Err(if pin_set && !no_mc_ga {
                    Status::PuatRequired
                } else {
                    Status::OperationDenied
                });
            }
        }
        // Step 7: no enterprise attestation here.
        if req.enterprise_attestation.is_some() {
            return Err(Status::InvalidParameter);
        }
        // Extension inputs that are simply malformed.
        let cred_protect = match req.extensions.cred_protect {
            None => None,
            Some(v) => Some(CredProtect::from_value(v).ok_or(Status::InvalidParameter)?),
        };
        if req.extensions.large_blob_key == Some(false) {
            return Err(Status::InvalidOption);
        }
        if req.extensions.large_blob_key == Some(true) && !req.rk {
            return Err(Status::InvalidOption);
        }
        // Step 11: the pinUvAuthParam.
        let (mut verified, mut present) = (None, None);
        if let Some(param) = &req.pin_uv_auth_param {
            let (v, p) = self.token_proofs(
                req.pin_uv_auth_protocol,
                param,
                &req.client_data_hash,
                Permissions::MAKE_CREDENTIAL,
                &req.rp.id,
            )?;
            (verified, present) = (Some(v), p);
        }
        // Step 11.2: built-in UV, whose match is also the user's presence (step 13).
        if built_in_uv {
            let (v, p) = self.ceremony_built_in_uv(purpose.clone())?;
            (verified, present) = (Some(v), Some(p));
        }
        let uv = verified.is_some();
        // Step 12: the excludeList; UP before saying "excluded".
        if req.exclude_list.len() > self.config.max_credential_count_in_list {
            return Err(Status::LimitExceeded);
        }
        for id in &req.exclude_list {
            if id.len() > self.config.max_credential_id_length {
                continue;
            }
            let Some(cred) = self.store.get(id)? else {
                continue;
            };
            if cred.rp.id != req.rp.id {
                continue;
            }
            if cred.cred_protect == CredProtect::UvRequired && !uv {
                continue;
            }
            // Step 12.1.4: wait for presence, then say "excluded" whatever the user did.
            if present.is_none() {
                let _ = self.ask_presence(purpose);
            }
            return Err(Status::CredentialExcluded);
        }
        // hmac-secret-mc needs a good shared secret before anything is created.
        let hmac_mc = match &req.extensions.hmac_secret_mc {
            Some(input) if req.extensions.hmac_secret => {
                Some(crate::hmac_secret::open_salts(&self.key_agreement, input)?)
            }
            _ => None,
        };
        // A full store is reported before the user is asked to touch anything.
        if req.rk {
            let (_, remaining) = self.store.discoverable_count()?;
            let replaces = remaining == 0
                && self
                    .store
                    .by_rp(&req.rp.id)?
                    .iter()
                    .any(|c| c.discoverable && c.user.id == req.user.id);
            if remaining == 0 && !replaces {
                return Err(Status::KeyStoreFull);
            }
        }
        // Step 14: user presence; declining or timing out is OPERATION_DENIED (14.1.2.2).
        let present = match present {
            Some(p) => p,
            None => self.ceremony_presence(purpose)?,
        };
        if has_param {
            self.spend_token();
        }
        let user = AttestedFlags::new(present, verified);

        // Step 15: the credential.
        let (public_key, key) = self.store.generate_key(alg, &mut self.rng)?;
        let credential_id = self.new_credential_id();
        if credential_id.len() > 1023 {
            return Err(Status::Other);
        }
        let cred_random = if req.extensions.hmac_secret {
            Some(CredRandom {
                with_uv: self.random32(),
                without_uv: self.random32(),
            })
        } else {
            None
        };
        let mut outputs = MakeCredentialExtensionOutputs::default();
        let cred_blob = match &req.extensions.cred_blob {
            Some(blob) if blob.len() <= self.config.max_cred_blob_length => {
                outputs.cred_blob = Some(true);
                Some(blob.clone())
            }
            Some(_) => {
                outputs.cred_blob = Some(false);
                None
            }
            None => None,
        };
        outputs.cred_protect = cred_protect;
        if req.extensions.hmac_secret {
            outputs.hmac_secret = Some(true);
        }
        if req.extensions.min_pin_length
            && state.min_pin_length_rp_ids.iter().any(|r| r == &req.rp.id)
        {
            outputs.min_pin_length = Some(state.min_pin_length);
        }
        if req.extensions.third_party_payment {
            outputs.third_party_payment = Some(true);
        }
        if let (Some((shared, salts)), Some(random)) = (&hmac_mc, &cred_random) {
            let secret = if uv {
                &random.with_uv
            } else {
                &random.without_uv
            };
            outputs.hmac_secret_mc = Some(crate::hmac_secret::outputs(
                shared,
                secret,
                salts,
                &mut self.rng,
            )?);
        }
        let large_blob_key = if req.extensions.large_blob_key == Some(true) {
            Some(Zeroizing::new(self.random32()))
        } else {
            None
        };
        let rp_id_hash = sha256(req.rp.id.as_bytes());
        let MakeCredentialRequest {
            rp,
            user: user_entity,
            client_data_hash,
            attestation_formats_preference,
            ..
        } = req;
        let credential = Credential {
            id: credential_id.clone(),
            rp,
            user: user_entity,
            discoverable: req.rk,
            public_key: public_key.clone(),
            key,
            cred_protect: cred_protect.unwrap_or(CredProtect::UvOptional),
            cred_random,
            cred_blob,
            large_blob_key: large_blob_key.clone(),
            sign_count: 0,
            created_at: self.clock.unix_time(),
            kind: CredentialKind::Ctap2,
            third_party_payment: req.extensions.third_party_payment,
        };

        let ext = if outputs.is_empty() {
            None
        } else {
            Some(wire::make_credential_extensions(&outputs))
        };
        let auth_data = wire::attested_auth_data(
            &rp_id_hash,
            &user,
            self.backup_flags(),
            credential.sign_count,
            &self.config.aaguid,
            &credential_id,
            &public_key,
            ext,
        )?;
        // CTAP 2.2 §6.1 attestationFormatsPreference: the first format made here, else the
        // default.
        let mode = attestation_formats_preference
            .iter()
            .flatten()
            .find_map(|f| AttestationMode::from_format(f))
            .unwrap_or(self.config.attestation);
        let att_stmt = match mode {
            AttestationMode::None => AttestationStatement::None,
            AttestationMode::PackedSelf => {
                let mut message = auth_data.clone();
                message.extend_from_slice(&client_data_hash);
                let sig = self.store.sign(&credential.key, alg, &message)?;
                AttestationStatement::PackedSelf {
                    alg: alg.cose(),
                    sig,
                }
            }
        };
        self.store.insert(credential)?;
        Ok(MakeCredentialResponse {
            auth_data,
            att_stmt,
            large_blob_key,
            credential_id,
            public_key,
        })
    }
}
