//! A record's per-credential secrets once opened, and the [`Record`] methods that hand out
//! credentials with them. The opened secrets are kept with the record while the store is
//! unlocked, so that listing an RP's credentials opens each record once per unlock rather than
//! once per assertion.
//!
//! Why this does not weaken the protection at rest: the files are unchanged (the secrets stay
//! sealed on disk); the plaintext is kept only in the process that holds the unwrapped master key,
//! which opens every record anyway, and only until the store locks (`Engine::lock` drops every
//! opened copy, zeroising it) or the usable master key changes. A record is opened only after its
//! seal authenticated it, so a kept copy is one that passed the same check that opening it again
//! would make: the record's bound and sealed parts never change in memory. The memory it takes is
//! bounded by the store's size, as the sealed copies the index already keeps are.

use core::fmt;

use latchkey_authenticator::store::Damage;
use latchkey_authenticator::store::{CredRandom, Credential, StoreError, UserEntity};
use zeroize::Zeroizing;

use super::{aad, Record, MAX_CRED_BLOB};
use crate::codec::Reader;
use crate::crypto::MasterKey;

/// The opened secrets of one record (see the module docs). Zeroised on drop.
#[derive(Clone)]
pub(super) struct Secrets {
    cred_random: Option<CredRandom>,
    large_blob_key: Option<Zeroizing<[u8; 32]>>,
    cred_blob: Option<Zeroizing<Vec<u8>>>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

impl Secrets {
    /// Parses the plaintext of a record's sealed section:
    /// `opt CredRandom(64) ‖ opt largeBlobKey(32) ‖ opt credBlob`.
    fn decode(plain: &[u8]) -> Result<Self, StoreError> {
        let mut r = Reader::new(plain, "credential secrets");
        let cred_random = if r.bool()? {
            let with_uv = r.array::<32>()?;
            let without_uv = r.array::<32>()?;
            Some(CredRandom {
                with_uv,
                without_uv,
            })
        } else {
            None
        };
        let large_blob_key = if r.bool()? {
            Some(Zeroizing::new(r.array::<32>()?))
        } else {
            None
        };
        let cred_blob = r
            .opt_bytes(MAX_CRED_BLOB)?
            .map(|b| Zeroizing::new(b.to_vec()));
        r.finish()?;
        Ok(Secrets {
            cred_random,
            large_blob_key,
            cred_blob,
        })
    }

    /// Copies the secrets into `cred`.
    fn fill(&self, cred: &mut Credential) {
        cred.cred_random = self.cred_random.clone();
        cred.large_blob_key = self.large_blob_key.clone();
        cred.cred_blob = self.cred_blob.as_ref().map(|b| b.to_vec());
    }
}

impl Record {
    /// The credential. With the master key, the secrets are opened (and the record's integrity
    /// checked); without it, `cred_random`, `large_blob_key` and `cred_blob` are `None`.
    #[cfg(test)]
    pub(crate) fn credential(&self, mk: Option<&MasterKey>) -> Result<Credential, StoreError> {
        let mut cred = self.public_credential();
        if let Some(mk) = mk {
            match &self.opened {
                Some(secrets) => secrets.fill(&mut cred),
                None => self.open(mk)?.fill(&mut cred),
            }
        }
        Ok(cred)
    }

    /// As `Record::credential` (test builds only), keeping the opened secrets with the record until
    /// [`Record::forget_secrets`], so the next call with the key does not open them again.
    pub(crate) fn credential_keeping(
        &mut self,
        mk: Option<&MasterKey>,
    ) -> Result<Credential, StoreError> {
        let mut cred = self.public_credential();
        if let Some(mk) = mk {
            if self.opened.is_none() {
                self.opened = Some(self.open(mk)?);
            }
            if let Some(secrets) = &self.opened {
                secrets.fill(&mut cred);
            }
        }
        Ok(cred)
    }

    /// Drops (zeroising) the secrets [`Record::credential_keeping`] kept.
    pub(crate) fn forget_secrets(&mut self) {
        self.opened = None;
    }

    /// Whether opened secrets are kept.
    #[cfg(test)]
    pub(crate) fn keeps_secrets(&self) -> bool {
        self.opened.is_some()
    }

    /// Opens and authenticates the sealed secrets.
    fn open(&self, mk: &MasterKey) -> Result<Secrets, StoreError> {
        let plain = mk.open(&aad(&self.bound), &self.sealed).map_err(|_| {
            StoreError::corrupt("credential record", Damage::Unauthentic).in_file(self.file_name())
        })?;
        Secrets::decode(&plain)
    }

    /// The credential without its secrets.
    fn public_credential(&self) -> Credential {
        Credential {
            id: self.id.clone(),
            rp: self.rp.clone(),
            user: UserEntity {
                id: self.user_id.clone(),
                name: self.user_name.clone(),
                display_name: self.display_name.clone(),
            },
            discoverable: self.discoverable,
            public_key: self.public_key.clone(),
            key: self.key.clone(),
            cred_protect: self.cred_protect,
            cred_random: None,
            cred_blob: None,
            large_blob_key: None,
            sign_count: self.sign_count,
            created_at: self.created_at,
            kind: self.kind,
            third_party_payment: self.third_party_payment,
        }
    }
}
