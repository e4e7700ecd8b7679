//! authenticatorGetAssertion and authenticatorGetNextAssertion (CTAP 2.1 §6.2, §6.3).

use std::collections::VecDeque;

use crate::authenticator::{sha256, Authenticator, PendingAssertions, NEXT_ASSERTION_TIMEOUT_MS};
use crate::config::BuiltInUv;
use crate::env::{Clock, PresencePurpose, Rng, UserPresence};
use crate::proof::UserFlags;
use crate::request::{GetAssertionExtensionOutputs, GetAssertionRequest, GetAssertionResponse};
use crate::status::Status;
use crate::store::{CredProtect, Credential, CredentialKind, CredentialStore, UserEntity};
use crate::token::Permissions;
use crate::wire;

/// Whether `cred` may be used, found through an allowList or by discovery (CTAP 2.1 §12.1).
pub(crate) fn cred_protect_allows(cred: &Credential, uv: bool, listed: bool) -> bool {
    match cred.cred_protect {
        CredProtect::UvOptional => true,
        CredProtect::UvOptionalWithCredentialIdList => uv || listed,
        CredProtect::UvRequired => uv,
    }
}

/// Whether `cred` belongs to `rp_id`: CTAP2 credentials by RP ID, U2F ones by application
/// parameter (CTAP 2.1 §10.3: a U2F credential's rpIdHash is the application parameter).
fn belongs_to(cred: &Credential, rp_id: &str, rp_id_hash: &[u8; 32]) -> bool {
    match cred.kind {
        CredentialKind::Ctap2 => cred.rp.id == rp_id,
        CredentialKind::U2f => cred.rp.id == hex_lower(rp_id_hash),
    }
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

impl<S: CredentialStore, U: UserPresence, C: Clock, R: Rng> Authenticator<S, U, C, R> {
    /// authenticatorGetAssertion on a parsed request.
    pub fn get_assertion(
        &mut self,
        req: &GetAssertionRequest,
    ) -> Result<GetAssertionResponse, Status> {
        self.next_assertion = None;
        let purpose = PresencePurpose::GetAssertion { rp_id: &req.rp_id };
        if req.pin_uv_auth_param.as_ref().is_some_and(|p| p.is_empty()) {
            return Err(self.probe(purpose));
        }
        if req.pin_uv_auth_param.is_some() {
            crate::pinproto::parse_protocol(req.pin_uv_auth_protocol)?;
        }
        if req.rk_present {
            return Err(Status::UnsupportedOption);
        }
        let has_param = req.pin_uv_auth_param.is_some();
        // Step 4: "uv": true needs an enrolled built-in method.
        let built_in_uv = req.uv && !has_param;
        if built_in_uv && self.config.built_in_uv != BuiltInUv::Configured {
            return Err(Status::InvalidOption);
        }
        if req.extensions.hmac_secret.is_some() && !req.up {
            return Err(Status::UnsupportedOption);
        }
        let state = self.state()?;
        // Step 5: alwaysUv; OPERATION_DENIED where the PIN may not give the ga permission.
        if state.always_uv && req.up && !has_param && !built_in_uv {
            return Err(if self.config.no_mc_ga_permissions_with_client_pin {
                Status::OperationDenied
            } else {
                Status::PuatRequired
            });
        }
        if req.allow_list.len() > self.config.max_credential_count_in_list {
            return Err(Status::LimitExceeded);
        }
        let (mut verified, mut present) = (None, None);
        if let Some(param) = &req.pin_uv_auth_param {
            let (v, p) = self.token_proofs(
                req.pin_uv_auth_protocol,
                param,
                &req.client_data_hash,
                Permissions::GET_ASSERTION,
                &req.rp_id,
            )?;
            (verified, present) = (Some(v), p);
        }
        // Step 6.2: built-in UV, whose match is also the user's presence.
        if built_in_uv {
            let (v, p) = self.ceremony_built_in_uv(purpose.clone())?;
            (verified, present) = (Some(v), Some(p));
        }
        let uv = verified.is_some();
        let hmac = match &req.extensions.hmac_secret {
            Some(input) => Some(crate::hmac_secret::open_salts(&self.key_agreement, input)?),
            None => None,
        };
        let rp_id_hash = sha256(req.rp_id.as_bytes());

        // Locate the applicable credentials.
        let mut applicable: Vec<Credential> = Vec::new();
        let listed = !req.allow_list.is_empty();
        if listed {
            for id in &req.allow_list {
                if id.len() > self.config.max_credential_id_length {
                    continue;
                }
                if let Some(cred) = self.store.get(id)? {
                    if belongs_to(&cred, &req.rp_id, &rp_id_hash)
                        && cred_protect_allows(&cred, uv, true)
                    {
                        applicable.push(cred);
                        break;
                    }
                }
            }
        } else {
            applicable = self
                .store
                .by_rp(&req.rp_id)?
                .into_iter()
                .filter(|c| c.discoverable && cred_protect_allows(c, uv, false))
                .collect();
            // The store lists oldest first; we answer newest first (CTAP 2.1 §6.2.2 step 9).
            applicable.reverse();
        }
        if applicable.is_empty() {
            return Err(Status::NoCredentials);
        }

        // Step 9: presence, unless a proof of it came with the verification; `up: false` claims
        // none (and a presence the token proved is then not used up).
        let present = if req.up {
            match present {
                Some(p) => Some(p),
                None => Some(self.ceremony_presence(purpose)?),
            }
        } else {
            None
        };
        if has_param && req.up {
            self.spend_token();
        }
        let user = UserFlags::new(present, verified);

        let count = applicable.len();
        let mut ids: VecDeque<Vec<u8>> = applicable.iter().map(|c| c.id.clone()).collect();
        ids.pop_front();
        let first = applicable.remove(0);
        let (shared, salts) = match hmac {
            Some((s, salts)) => (Some(s), Some(salts)),
            None => (None, None),
        };
        let mut pending = PendingAssertions {
            remaining: ids,
            rp_id: req.rp_id.clone(),
            client_data_hash: req.client_data_hash.clone(),
            user,
            cred_blob: req.extensions.cred_blob,
            large_blob_key: req.extensions.large_blob_key == Some(true),
            third_party_payment: req.extensions.third_party_payment,
            hmac_secret: shared.zip(salts),
            last_ms: self.now(),
        };
        let mut response = self.assert_with(first, &pending)?;
        if count > 1 {
            response.number_of_credentials = Some(count as u64);
            pending.last_ms = self.now();
            self.next_assertion = Some(pending);
        }
        Ok(response)
    }

    /// authenticatorGetNextAssertion.
    pub fn get_next_assertion(&mut self) -> Result<GetAssertionResponse, Status> {
        let Some(mut pending) = self.next_assertion.take() else {
            return Err(Status::NotAllowed);
        };
        let now = self.now();
        if now.saturating_sub(pending.last_ms) > NEXT_ASSERTION_TIMEOUT_MS {
            return Err(Status::NotAllowed);
        }
        let Some(id) = pending.remaining.pop_front() else {
            return Err(Status::NotAllowed);
        };
        let Some(cred) = self.store.get(&id)? else {
            // Deleted in between; the state stays so the next one can still be fetched.
            pending.last_ms = now;
            self.next_assertion = Some(pending);
            return Err(Status::NoCredentials);
        };
        let response = self.assert_with(cred, &pending);
        pending.last_ms = now;
        if !pending.remaining.is_empty() {
            self.next_assertion = Some(pending);
        }
        response
    }

    /// Signs an assertion with `cred` (CTAP 2.1 §6.2.2 steps 11-13).
    fn assert_with(
        &mut self,
        mut cred: Credential,
        p: &PendingAssertions,
    ) -> Result<GetAssertionResponse, Status> {
        let mut outputs = GetAssertionExtensionOutputs::default();
        if p.cred_blob {
            outputs.cred_blob = Some(cred.cred_blob.clone().unwrap_or_default());
        }
        if p.third_party_payment {
            outputs.third_party_payment = Some(cred.third_party_payment);
        }
        if let Some((shared, salts)) = &p.hmac_secret {
            if let Some(random) = &cred.cred_random {
                let secret = if p.user.verified() {
                    &random.with_uv
                } else {
                    &random.without_uv
                };
                outputs.hmac_secret = Some(crate::hmac_secret::outputs(
                    shared,
                    secret,
                    salts,
                    &mut self.rng,
                )?);
            }
        }
        let ext = if outputs.is_empty() {
            None
        } else {
            Some(wire::get_assertion_extensions(&outputs))
        };
        cred.sign_count = self.next_sign_count(cred.sign_count);
        let rp_id_hash = sha256(p.rp_id.as_bytes());
        let auth_data = wire::auth_data(
            &rp_id_hash,
            &p.user,
            self.backup_flags(),
            cred.sign_count,
            ext,
        );
        let mut message = auth_data.clone();
        message.extend_from_slice(&p.client_data_hash);
        let signature = self.store.sign(&cred.key, cred.public_key.alg, &message)?;
        self.store.update(&cred)?;
        let user = if cred.discoverable && !cred.user.id.is_empty() {
            Some(if p.user.verified() {
                cred.user.clone()
            } else {
                UserEntity {
                    id: cred.user.id.clone(),
                    name: None,
                    display_name: None,
                }
            })
        } else {
            None
        };
        let large_blob_key = if p.large_blob_key {
            cred.large_blob_key.clone()
        } else {
            None
        };
        Ok(GetAssertionResponse {
            credential_id: cred.id.clone(),
            auth_data,
            signature,
            user,
            number_of_credentials: None,
            large_blob_key,
        })
    }
}
