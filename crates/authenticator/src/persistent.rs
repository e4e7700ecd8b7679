//! The persistent pinUvAuthToken (CTAP 2.2 §6.5.2, §6.5.5.7 permission `pcmr`): read-only
//! credential management without asking for the PIN at every use, and the getInfo members
//! sealed under it (`encIdentifier`, `encCredStoreState`, §6.4).
//!
//! <https://fidoalliance.org/specs/fido-v2.2-ps-20250714/fido-client-to-authenticator-protocol-v2.2-ps-20250714.html#getPinUvAuthTokenUsingPinWithPermissions>
//!
//! - The token is made at its first issuance (getPinUvAuthTokenUsingPinWithPermissions or
//!   ...UsingUvWithPermissions with `pcmr` alone) and kept in the store's persistent state, so it
//!   survives power cycles; every later issuance hands out the same token, so several platforms
//!   may hold it. It is forgotten when the PIN is set or changed, when a PIN change is forced
//!   (setMinPINLength) and on authenticatorReset.
//! - Issuing it neither replaces nor begins the (ordinary) pinUvAuthToken, and it unlocks nothing
//!   in the store: it only authenticates getCredsMetadata, enumerateRPsBegin and
//!   enumerateCredentialsBegin. Those answer without a credential's `largeBlobKey`, which is a
//!   secret; deleteCredential and updateUserInformation still need an ordinary token with `cm`.
//! - `encIdentifier` seals a random 16-byte identifier made with the first token and kept until
//!   reset; `encCredStoreState` seals a value derived from the store's count of changes to its
//!   discoverable credentials ([`CredentialStore::discoverable_generation`]) and a random value
//!   this authenticator draws once, so it changes with every change and every restart.
//!
//! [`CredentialStore::discoverable_generation`]: crate::store::CredentialStore::discoverable_generation

use latchkey_ctap::pin::InfoMember;

use crate::authenticator::{sha256, Authenticator};
use crate::env::{Clock, Rng, UserPresence};
use crate::pinproto::SharedSecret;
use crate::request::ClientPinResponse;
use crate::status::Status;
use crate::store::{CredentialStore, PersistentState, PersistentToken};

impl<S: CredentialStore, U: UserPresence, C: Clock, R: Rng> Authenticator<S, U, C, R> {
    /// Hands the persistent token to the platform, encrypted with `shared`, making it (and the
    /// identifier) first if there is none.
    pub(crate) fn issue_persistent_token(
        &mut self,
        shared: &SharedSecret,
    ) -> Result<ClientPinResponse, Status> {
        let mut state = self.state()?;
        let token = match &state.persistent_token {
            Some(token) => token.clone(),
            None => {
                let token = PersistentToken(self.random32());
                state.persistent_token = Some(token.clone());
                if state.identifier.is_none() {
                    let mut id = [0u8; 16];
                    self.rng.fill(&mut id);
                    state.identifier = Some(id);
                }
                self.save_state(&state)?;
                token
            }
        };
        // The PIN check unlocked the store; nothing here needs it, so it stays locked unless an
        // ordinary token in use still does.
        self.relock_unless_token_in_use();
        let encrypted = shared.encrypt(&mut self.rng, &token.0)?;
        Ok(ClientPinResponse {
            pin_uv_auth_token: Some(encrypted),
            ..ClientPinResponse::default()
        })
    }

    /// Whether `param` authenticates `message` under the persistent token (always `false` when
    /// there is none). The protocol must be one this authenticator speaks.
    pub(crate) fn persistent_token_verifies(
        &mut self,
        protocol: Option<u64>,
        param: &[u8],
        message: &[u8],
    ) -> Result<bool, Status> {
        let protocol = crate::pinproto::parse_protocol(protocol)?;
        let state = self.state()?;
        Ok(state
            .persistent_token
            .is_some_and(|token| crate::pinproto::verify_token(protocol, &token.0, message, param)))
    }

    /// getInfo `encIdentifier` and `encCredStoreState`: both absent until a persistent token
    /// exists; the latter also when the store does not count its changes.
    pub(crate) fn sealed_info_members(
        &mut self,
        state: &PersistentState,
    ) -> Result<SealedInfoMembers, Status> {
        let Some(token) = &state.persistent_token else {
            return Ok(SealedInfoMembers::default());
        };
        let identifier = match state.identifier {
            Some(id) => Some(crate::pinproto::seal_info_member(
                &token.0,
                InfoMember::Identifier,
                &id,
                &mut self.rng,
            )?),
            None => None,
        };
        let store_state = match self.store.discoverable_generation() {
            Some(generation) => {
                let nonce = match self.store_state_nonce {
                    Some(nonce) => nonce,
                    None => {
                        let mut nonce = [0u8; 16];
                        self.rng.fill(&mut nonce);
                        self.store_state_nonce = Some(nonce);
                        nonce
                    }
                };
                let mut message = b"latchkey credential store state".to_vec();
                message.extend_from_slice(&nonce);
                message.extend_from_slice(&generation.to_be_bytes());
                let mut value = [0u8; 16];
                value.copy_from_slice(&sha256(&message)[..16]);
                Some(crate::pinproto::seal_info_member(
                    &token.0,
                    InfoMember::CredStoreState,
                    &value,
                    &mut self.rng,
                )?)
            }
            None => None,
        };
        Ok(SealedInfoMembers {
            identifier,
            store_state,
        })
    }
}

/// getInfo's members sealed under the persistent token, each `IV ‖ ciphertext`.
#[derive(Debug, Default)]
pub(crate) struct SealedInfoMembers {
    /// 0x19 `encIdentifier`.
    pub(crate) identifier: Option<Vec<u8>>,
    /// 0x1E `encCredStoreState`.
    pub(crate) store_state: Option<Vec<u8>>,
}

/// resetPersistentPinUvAuthToken: the next `pcmr` issuance makes a new token.
pub(crate) fn forget_persistent_token(state: &mut PersistentState) {
    state.persistent_token = None;
}
