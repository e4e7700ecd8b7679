//! A record's per-credential secrets once opened: kept with the record while the store is
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

use latchkey_authenticator::store::{CredRandom, Credential, StoreError};
use zeroize::Zeroizing;

use crate::codec::Reader;
use crate::record::MAX_CRED_BLOB;

/// The opened secrets of one record (see the module docs). Zeroised on drop.
#[derive(Clone)]
pub(crate) struct Secrets {
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
    pub(crate) fn decode(plain: &[u8]) -> Result<Self, StoreError> {
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
    pub(crate) fn fill(&self, cred: &mut Credential) {
        cred.cred_random = self.cred_random.clone();
        cred.large_blob_key = self.large_blob_key.clone();
        cred.cred_blob = self.cred_blob.as_ref().map(|b| b.to_vec());
    }
}
