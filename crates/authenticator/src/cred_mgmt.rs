//! authenticatorCredentialManagement (CTAP 2.1 §6.8), also answered as the prototype command
//! 0x41; its read-only subcommands also under the persistent pinUvAuthToken (CTAP 2.2 §6.8,
//! see `crate::persistent`).

use std::collections::VecDeque;

use crate::authenticator::{sha256, Authenticator, Enumeration};
use crate::env::{Clock, Rng, UserPresence};
use crate::request::{CredMgmtRequest, CredMgmtResponse};
use crate::status::Status;
use crate::store::{Credential, CredentialStore};
use crate::token::Permissions;

/// credentialManagement subcommands (CTAP 2.1 §6.8).
pub mod sub {
    /// getCredsMetadata.
    pub const GET_CREDS_METADATA: u64 = 0x01;
    /// enumerateRPsBegin.
    pub const ENUMERATE_RPS_BEGIN: u64 = 0x02;
    /// enumerateRPsGetNextRP.
    pub const ENUMERATE_RPS_NEXT: u64 = 0x03;
    /// enumerateCredentialsBegin.
    pub const ENUMERATE_CREDENTIALS_BEGIN: u64 = 0x04;
    /// enumerateCredentialsGetNextCredential.
    pub const ENUMERATE_CREDENTIALS_NEXT: u64 = 0x05;
    /// deleteCredential.
    pub const DELETE_CREDENTIAL: u64 = 0x06;
    /// updateUserInformation.
    pub const UPDATE_USER_INFORMATION: u64 = 0x07;
}

/// Which RP a token bound to `bound` may manage: `rp_id_hash` must be SHA-256(bound).
fn rp_hash_allowed(bound: Option<&str>, rp_id_hash: &[u8]) -> bool {
    match bound {
        None => true,
        Some(rp) => sha256(rp.as_bytes()).as_slice() == rp_id_hash,
    }
}

impl<S: CredentialStore, U: UserPresence, C: Clock, R: Rng> Authenticator<S, U, C, R> {
    /// authenticatorCredentialManagement on a parsed request.
    pub fn credential_management(
        &mut self,
        req: &CredMgmtRequest,
    ) -> Result<CredMgmtResponse, Status> {
        match req.sub_command {
            sub::ENUMERATE_RPS_NEXT => return self.next_rp(),
            sub::ENUMERATE_CREDENTIALS_NEXT => return self.next_credential(),
            sub::GET_CREDS_METADATA
            | sub::ENUMERATE_RPS_BEGIN
            | sub::ENUMERATE_CREDENTIALS_BEGIN
            | sub::DELETE_CREDENTIAL
            | sub::UPDATE_USER_INFORMATION => {}
            _ => return Err(Status::InvalidSubcommand),
        }
        self.enumeration = None;
        let param = req.pin_uv_auth_param.as_ref().ok_or(Status::PuatRequired)?;
        let sub_byte = u8::try_from(req.sub_command).map_err(|_| Status::Other)?;
        let params = req.params_cbor.as_deref().unwrap_or_default();
        let message = latchkey_ctap::pin::cred_mgmt_message(sub_byte, params);
        // The read-only subcommands also take the persistent token (CTAP 2.2 §6.5.5.7, pcmr).
        let read_only = matches!(
            req.sub_command,
            sub::GET_CREDS_METADATA | sub::ENUMERATE_RPS_BEGIN | sub::ENUMERATE_CREDENTIALS_BEGIN
        );
        let persistent =
            read_only && self.persistent_token_verifies(req.protocol, param, &message)?;
        if !persistent {
            self.check_token(
                req.protocol,
                param,
                &message,
                Permissions::CREDENTIAL_MANAGEMENT,
                None,
                false,
            )?;
        }
        let bound = match persistent {
            true => None,
            false => self.token.rp_id().map(str::to_owned),
        };
        match req.sub_command {
            sub::GET_CREDS_METADATA => {
                if bound.is_some() {
                    return Err(Status::PinAuthInvalid);
                }
                let (count, remaining) = self.store.discoverable_count()?;
                Ok(CredMgmtResponse {
                    existing_count: Some(count as u64),
                    max_remaining: Some(remaining as u64),
                    ..CredMgmtResponse::default()
                })
            }
            sub::ENUMERATE_RPS_BEGIN => {
                if bound.is_some() {
                    return Err(Status::PinAuthInvalid);
                }
                let mut rps: VecDeque<_> = self.store.rps()?.into();
                let total = rps.len();
                let first = rps.pop_front().ok_or(Status::NoCredentials)?;
                if !rps.is_empty() {
                    self.enumeration = Some(Enumeration::Rps { remaining: rps });
                }
                Ok(CredMgmtResponse {
                    rp_id_hash: Some(sha256(first.id.as_bytes())),
                    rp: Some(first),
                    total_rps: Some(total as u64),
                    ..CredMgmtResponse::default()
                })
            }
            sub::ENUMERATE_CREDENTIALS_BEGIN => {
                let hash = req.rp_id_hash.as_ref().ok_or(Status::MissingParameter)?;
                if !rp_hash_allowed(bound.as_deref(), hash) {
                    return Err(Status::PinAuthInvalid);
                }
                let creds = self.discoverable_for_hash(hash)?;
                let total = creds.len();
                let mut ids: VecDeque<Vec<u8>> = creds.iter().map(|c| c.id.clone()).collect();
                ids.pop_front();
                let first = creds.into_iter().next().ok_or(Status::NoCredentials)?;
                if !ids.is_empty() {
                    self.enumeration = Some(Enumeration::Credentials {
                        remaining: ids,
                        persistent,
                    });
                }
                let mut response = describe(first, persistent);
                response.total_credentials = Some(total as u64);
                Ok(response)
            }
            sub::DELETE_CREDENTIAL => {
                let id = req.credential_id.as_ref().ok_or(Status::MissingParameter)?;
                let cred = self.managed(id)?;
                if !rp_hash_allowed(bound.as_deref(), &sha256(cred.rp.id.as_bytes())) {
                    return Err(Status::PinAuthInvalid);
                }
                self.store.delete(id)?;
                Ok(CredMgmtResponse::default())
            }
            _ => {
                let id = req.credential_id.as_ref().ok_or(Status::MissingParameter)?;
                let user = req.user.as_ref().ok_or(Status::MissingParameter)?;
                let mut cred = self.managed(id)?;
                if !rp_hash_allowed(bound.as_deref(), &sha256(cred.rp.id.as_bytes())) {
                    return Err(Status::PinAuthInvalid);
                }
                if cred.user.id != user.id {
                    return Err(Status::InvalidParameter);
                }
                cred.user.name = user.name.clone();
                cred.user.display_name = user.display_name.clone();
                self.store.update(&cred)?;
                Ok(CredMgmtResponse::default())
            }
        }
    }

    /// A discoverable credential by ID, or NO_CREDENTIALS.
    fn managed(&mut self, id: &[u8]) -> Result<Credential, Status> {
        match self.store.get(id)? {
            Some(c) if c.discoverable => Ok(c),
            _ => Err(Status::NoCredentials),
        }
    }

    fn discoverable_for_hash(&mut self, hash: &[u8]) -> Result<Vec<Credential>, Status> {
        let rp = self
            .store
            .rps()?
            .into_iter()
            .find(|rp| sha256(rp.id.as_bytes()).as_slice() == hash);
        let Some(rp) = rp else {
            return Err(Status::NoCredentials);
        };
        Ok(self
            .store
            .by_rp(&rp.id)?
            .into_iter()
            .filter(|c| c.discoverable)
            .collect())
    }

    fn next_rp(&mut self) -> Result<CredMgmtResponse, Status> {
        let Some(Enumeration::Rps { mut remaining }) = self.enumeration.take() else {
            return Err(Status::NotAllowed);
        };
        let rp = remaining.pop_front().ok_or(Status::NotAllowed)?;
        if !remaining.is_empty() {
            self.enumeration = Some(Enumeration::Rps { remaining });
        }
        Ok(CredMgmtResponse {
            rp_id_hash: Some(sha256(rp.id.as_bytes())),
            rp: Some(rp),
            ..CredMgmtResponse::default()
        })
    }

    fn next_credential(&mut self) -> Result<CredMgmtResponse, Status> {
        let Some(Enumeration::Credentials {
            mut remaining,
            persistent,
        }) = self.enumeration.take()
        else {
            return Err(Status::NotAllowed);
        };
        while let Some(id) = remaining.pop_front() {
            if let Some(cred) = self.store.get(&id)? {
                if !remaining.is_empty() {
                    self.enumeration = Some(Enumeration::Credentials {
                        remaining,
                        persistent,
                    });
                }
                return Ok(describe(cred, persistent));
            }
        }
        Err(Status::NotAllowed)
    }
}

/// A credential as enumerateCredentials shows it. Under the persistent token (read-only) its
/// `largeBlobKey` stays out: a secret is more than read-only management needs.
fn describe(cred: Credential, persistent: bool) -> CredMgmtResponse {
    CredMgmtResponse {
        user: Some(cred.user.clone()),
        credential_id: Some(cred.id.clone()),
        public_key: Some(cred.public_key.clone()),
        cred_protect: Some(cred.cred_protect),
        large_blob_key: if persistent {
            None
        } else {
            cred.large_blob_key.clone()
        },
        third_party_payment: Some(cred.third_party_payment),
        ..CredMgmtResponse::default()
    }
}
