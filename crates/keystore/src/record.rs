//! One credential as stored on disk: one file per credential.
//!
//! ```text
//! file   = "LKCR" version ‖ bytes(bound) ‖ bytes(sealed) ‖ mutable
//! bound  = seq u64 ‖ bytes(credential ID) ‖ rp ID ‖ opt rp name ‖ bytes(user ID)
//!          ‖ discoverable ‖ kind ‖ credProtect ‖ alg ‖ bytes(public key) ‖ bytes(key blob)
//!          ‖ created_at u64 ‖ flags u8 (version 2 only: bit 0 thirdPartyPayment)
//! sealed = AES-256-GCM(master key, secrets, AAD = "latchkey-keystore/record/v1" ‖ bound)
//! secrets = opt CredRandom(64) ‖ opt largeBlobKey(32) ‖ opt credBlob
//! mutable = opt user name ‖ opt display name ‖ counter ceiling u32
//! ```
//!
//! `bound` is everything that decides what a credential may do and is never changed after
//! creation; it is authenticated by the seal, so a record whose RP, credProtect level or key blob
//! was edited, or whose sealed part was moved to another record, fails to open with
//! [`StoreError::Corrupt`]. `mutable` is what [`CredentialStore::update`] changes (display
//! strings and the counter): not authenticated, so an update needs no unlocked key.
//!
//! The file holds a *ceiling* of the signature counter, not the counter itself: every value the
//! store has handed out is at most the ceiling on disk, and a counter increase that stays under it
//! is kept in memory only ([`Record::apply_update`]). When the counter passes the ceiling, the
//! record is rewritten with a new ceiling [`COUNTER_RESERVE`] above it; when the store is closed,
//! the ceiling is lowered to the counter ([`Record::settle_counter`]). So an assertion costs one
//! durable write in [`COUNTER_RESERVE`], and after a crash the counter resumes from the ceiling:
//! it skips values, which WebAuthn allows, but never repeats or goes back.
//!
//! Version 2 adds `flags` to `bound`; version 1 records (no flags) are still read, and every
//! record written is version 2. `alg` is 1 ES256, 2 EdDSA, 3 ES384, 4 ML-DSA-44, 5 ML-DSA-65.
//!
//! [`CredentialStore::update`]: latchkey_authenticator::store::CredentialStore::update

use latchkey_authenticator::store::Damage;
use latchkey_authenticator::store::{
    Algorithm, CredProtect, Credential, CredentialKind, KeyBlob, PublicKey, RpEntity, StoreError,
};
use zeroize::Zeroizing;

use crate::codec::{Reader, Writer};
use crate::crypto::{sha256, MasterKey};

const MAGIC_V1: &[u8; 5] = b"LKCR\x01";
const MAGIC: &[u8; 5] = b"LKCR\x02";
/// `flags` bit: enabled for third-party payment.
const FLAG_THIRD_PARTY_PAYMENT: u8 = 0x01;
const RECORD_AAD: &[u8] = b"latchkey-keystore/record/v1";

/// Longest credential ID (CTAP 2.1 allows up to 1023 bytes).
pub(crate) const MAX_ID: usize = 1023;
/// Longest RP ID, name or user string kept.
pub(crate) const MAX_STR: usize = 1024;
/// Longest user handle (WebAuthn allows 64; a little slack for non-conforming RPs).
pub(crate) const MAX_USER_ID: usize = 128;
/// Longest public key encoding: an ML-DSA-87 public key (FIPS 204), the largest COSE key a
/// credential algorithm has (ML-DSA-65's, the largest made here, is 1952 bytes).
pub(crate) const MAX_PUBLIC: usize = 2592;
/// Longest key blob (TPM blobs are a few hundred bytes).
pub(crate) const MAX_KEY: usize = 4096;
/// Longest credBlob.
pub(crate) const MAX_CRED_BLOB: usize = 4096;
/// Largest record file.
pub(crate) const MAX_FILE: usize = 16 * 1024;
/// How far above the counter a rewritten record puts its counter ceiling: the number of
/// assertions one durable write covers, and the most a crash makes the counter skip.
pub(crate) const COUNTER_RESERVE: u32 = 1024;

/// The 8-byte tag of an RP ID in file names: LEFT(SHA-256(RP ID), 8).
pub(crate) fn rp_tag(rp_id: &str) -> [u8; 8] {
    let mut t = [0u8; 8];
    t.copy_from_slice(&sha256(&[rp_id.as_bytes()])[..8]);
    t
}

/// SHA-256 of a credential ID, its key in file names and in the index.
pub(crate) fn id_hash(id: &[u8]) -> [u8; 32] {
    sha256(&[id])
}

/// The file name of a credential: `hex(rp tag) ‖ d|n ‖ hex(SHA-256(ID)) ‖ ".cred"`.
///
/// The name alone tells which RP a file belongs to and whether it is discoverable, so opening a
/// store only lists the directory; records are read when their RP or ID is first asked for.
pub(crate) fn file_name(tag: &[u8; 8], discoverable: bool, id_hash: &[u8; 32]) -> String {
    let flag = if discoverable { 'd' } else { 'n' };
    format!(
        "{}{flag}{}.cred",
        crate::fsutil::hex(tag),
        crate::fsutil::hex(id_hash)
    )
}

/// Parses a [`file_name`]; `None` for any other name.
pub(crate) fn parse_file_name(name: &str) -> Option<([u8; 8], bool, [u8; 32])> {
    let stem = name.strip_suffix(".cred")?;
    if stem.len() != 16 + 1 + 64 || !stem.is_ascii() {
        return None;
    }
    let discoverable = match &stem[16..17] {
        "d" => true,
        "n" => false,
        _ => return None,
    };
    let mut tag = [0u8; 8];
    let mut id = [0u8; 32];
    unhex(&stem[..16], &mut tag)?;
    unhex(&stem[17..], &mut id)?;
    Some((tag, discoverable, id))
}

fn unhex(s: &str, out: &mut [u8]) -> Option<()> {
    let b = s.as_bytes();
    for (i, o) in out.iter_mut().enumerate() {
        let hi = char::from(*b.get(2 * i)?).to_digit(16)?;
        let lo = char::from(*b.get(2 * i + 1)?).to_digit(16)?;
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(())
}

/// A parsed record; secrets still sealed.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) seq: u64,
    pub(crate) id: Vec<u8>,
    pub(crate) rp: RpEntity,
    pub(crate) user_id: Vec<u8>,
    pub(crate) discoverable: bool,
    pub(crate) kind: CredentialKind,
    pub(crate) cred_protect: CredProtect,
    pub(crate) public_key: PublicKey,
    pub(crate) key: KeyBlob,
    pub(crate) created_at: u64,
    pub(crate) third_party_payment: bool,
    /// The format version of `bound` (1 or 2), kept so a rewrite keeps the AAD it was sealed
    /// with.
    version: u8,
    /// The encoded `bound` section, kept for the AAD.
    bound: Vec<u8>,
    sealed: Vec<u8>,
    pub(crate) user_name: Option<String>,
    pub(crate) display_name: Option<String>,
    /// The signature counter: the last value handed out (kept in memory between writes).
    pub(crate) sign_count: u32,
    /// The counter ceiling in the file: at least every value of `sign_count` handed out.
    pub(crate) ceiling: u32,
    /// The secrets, once opened under the master key the store is unlocked with; `None` while
    /// locked (see `secrets.rs`).
    opened: Option<secrets::Secrets>,
}

/// What [`Record::apply_update`] needs written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpdateWrite {
    /// Nothing: the change is a counter still under the ceiling on disk (or no change at all).
    None,
    /// The record must be rewritten durably (user strings changed, or a new counter ceiling).
    Durable,
}

fn kind_byte(k: CredentialKind) -> u8 {
    match k {
        CredentialKind::Ctap2 => 1,
        CredentialKind::U2f => 2,
    }
}

/// The algorithm's tag in records and key blobs.
pub(crate) fn alg_byte(a: Algorithm) -> u8 {
    match a {
        Algorithm::Es256 => 1,
        Algorithm::EdDsa => 2,
        Algorithm::Es384 => 3,
        Algorithm::MlDsa44 => 4,
        Algorithm::MlDsa65 => 5,
    }
}

pub(crate) fn alg_from_byte(b: u8) -> Result<Algorithm, StoreError> {
    Algorithm::ALL
        .into_iter()
        .find(|&a| alg_byte(a) == b)
        .ok_or_else(|| {
            StoreError::corrupt(
                "credential record",
                Damage::UnknownValue {
                    field: "algorithm tag",
                    value: u64::from(b),
                },
            )
        })
}

fn too_long(what: &'static str) -> StoreError {
    StoreError::corrupt("credential", Damage::TooLong(what))
}

fn check_len(len: usize, max: usize, what: &'static str) -> Result<(), StoreError> {
    if len > max {
        Err(too_long(what))
    } else {
        Ok(())
    }
}

fn opt_len(s: Option<&String>) -> usize {
    s.map_or(0, String::len)
}

impl Record {
    /// Builds the record for a new credential, sealing its secrets with `mk`.
    pub(crate) fn seal(seq: u64, c: &Credential, mk: &MasterKey) -> Result<Self, StoreError> {
        check_len(c.id.len(), MAX_ID, "ID")?;
        if c.id.is_empty() {
            return Err(StoreError::corrupt(
                "credential",
                Damage::Empty("credential ID"),
            ));
        }
        check_len(c.rp.id.len(), MAX_STR, "RP ID")?;
        check_len(opt_len(c.rp.name.as_ref()), MAX_STR, "RP name")?;
        check_len(c.user.id.len(), MAX_USER_ID, "user ID")?;
        check_len(opt_len(c.user.name.as_ref()), MAX_STR, "user name")?;
        check_len(
            opt_len(c.user.display_name.as_ref()),
            MAX_STR,
            "display name",
        )?;
        check_len(c.public_key.bytes.len(), MAX_PUBLIC, "public key")?;
        check_len(c.key.as_bytes().len(), MAX_KEY, "key blob")?;
        check_len(
            c.cred_blob.as_ref().map_or(0, Vec::len),
            MAX_CRED_BLOB,
            "credBlob",
        )?;

        let mut b = Writer::new();
        b.u64(seq)
            .bytes(&c.id)
            .bytes(c.rp.id.as_bytes())
            .opt_str(c.rp.name.as_deref())
            .bytes(&c.user.id)
            .u8(u8::from(c.discoverable))
            .u8(kind_byte(c.kind))
            .u8(c.cred_protect.value())
            .u8(alg_byte(c.public_key.alg))
            .bytes(&c.public_key.bytes)
            .bytes(c.key.as_bytes())
            .u64(c.created_at);
        let flags = if c.third_party_payment {
            FLAG_THIRD_PARTY_PAYMENT
        } else {
            0
        };
        b.u8(flags);
        let bound = b.into_vec();

        let mut s = Writer::with_capacity(1 + 64 + 1 + 32 + 5 + MAX_CRED_BLOB);
        match &c.cred_random {
            None => s.u8(0),
            Some(r) => s.u8(1).raw(&r.with_uv).raw(&r.without_uv),
        };
        match &c.large_blob_key {
            None => s.u8(0),
            Some(k) => s.u8(1).raw(k.as_ref()),
        };
        s.opt_bytes(c.cred_blob.as_deref());
        let secrets = Zeroizing::new(s.into_vec());
        let sealed = mk.seal(&aad(&bound), &secrets)?;

        Ok(Record {
            seq,
            id: c.id.clone(),
            rp: c.rp.clone(),
            user_id: c.user.id.clone(),
            discoverable: c.discoverable,
            kind: c.kind,
            cred_protect: c.cred_protect,
            public_key: c.public_key.clone(),
            key: c.key.clone(),
            created_at: c.created_at,
            third_party_payment: c.third_party_payment,
            version: 2,
            bound,
            sealed,
            user_name: c.user.name.clone(),
            display_name: c.user.display_name.clone(),
            sign_count: c.sign_count,
            ceiling: c.sign_count,
            opened: None,
        })
    }

    /// This record's file name.
    pub(crate) fn file_name(&self) -> String {
        file_name(&rp_tag(&self.rp.id), self.discoverable, &id_hash(&self.id))
    }

    /// Takes the mutable fields (user strings, counter) from `c`, and says whether the record
    /// must be written: not for a counter that stays under the ceiling on disk; a counter above
    /// it raises the ceiling to [`COUNTER_RESERVE`] past the counter.
    pub(crate) fn apply_update(&mut self, c: &Credential) -> Result<UpdateWrite, StoreError> {
        check_len(opt_len(c.user.name.as_ref()), MAX_STR, "user name")?;
        check_len(
            opt_len(c.user.display_name.as_ref()),
            MAX_STR,
            "display name",
        )?;
        let strings_changed =
            self.user_name != c.user.name || self.display_name != c.user.display_name;
        self.user_name = c.user.name.clone();
        self.display_name = c.user.display_name.clone();
        self.sign_count = c.sign_count;
        let above_ceiling = c.sign_count > self.ceiling;
        if above_ceiling {
            self.ceiling = c.sign_count.saturating_add(COUNTER_RESERVE);
        }
        Ok(if strings_changed || above_ceiling {
            UpdateWrite::Durable
        } else {
            UpdateWrite::None
        })
    }

    /// Whether the ceiling on disk is not the counter (an update was kept in memory).
    pub(crate) fn counter_unsettled(&self) -> bool {
        self.sign_count != self.ceiling
    }

    /// Lowers (or raises) the ceiling to the counter itself, for the write when the store closes:
    /// the next open resumes exactly where this one stopped.
    pub(crate) fn settle_counter(&mut self) {
        self.ceiling = self.sign_count;
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.raw(if self.version == 1 { MAGIC_V1 } else { MAGIC })
            .bytes(&self.bound)
            .bytes(&self.sealed)
            .opt_str(self.user_name.as_deref())
            .opt_str(self.display_name.as_deref())
            .u32(self.ceiling);
        w.into_vec()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let mut r = Reader::new(bytes, "credential record");
        let version = match r.raw(MAGIC.len())? {
            m if m == MAGIC_V1 => 1,
            m if m == MAGIC => 2,
            _ => return Err(StoreError::corrupt("credential record", Damage::BadMagic)),
        };
        let bound = r.bytes(MAX_FILE)?.to_vec();
        let sealed = r.bytes(MAX_FILE)?.to_vec();
        let user_name = r.opt_string(MAX_STR)?;
        let display_name = r.opt_string(MAX_STR)?;
        // The counter resumes from the ceiling: above any value handed out before.
        let sign_count = r.u32()?;
        r.finish()?;

        let mut b = Reader::new(&bound, "credential record");
        let seq = b.u64()?;
        let id = b.bytes(MAX_ID)?.to_vec();
        let rp_id = b.string(MAX_STR)?;
        let rp_name = b.opt_string(MAX_STR)?;
        let user_id = b.bytes(MAX_USER_ID)?.to_vec();
        let discoverable = b.bool()?;
        let kind = match b.u8()? {
            1 => CredentialKind::Ctap2,
            2 => CredentialKind::U2f,
            k => {
                return Err(StoreError::corrupt(
                    "credential record",
                    Damage::UnknownValue {
                        field: "credential kind",
                        value: u64::from(k),
                    },
                ))
            }
        };
        let cp = b.u8()?;
        let cred_protect = CredProtect::from_value(u64::from(cp)).ok_or_else(|| {
            StoreError::corrupt(
                "credential record",
                Damage::UnknownValue {
                    field: "credProtect level",
                    value: u64::from(cp),
                },
            )
        })?;
        let alg = alg_from_byte(b.u8()?)?;
        let public = b.bytes(MAX_PUBLIC)?.to_vec();
        let key = KeyBlob::new(b.bytes(MAX_KEY)?.to_vec());
        let created_at = b.u64()?;
        let flags = if version == 1 { 0 } else { b.u8()? };
        if flags & !FLAG_THIRD_PARTY_PAYMENT != 0 {
            return Err(StoreError::corrupt(
                "credential record",
                Damage::UnknownValue {
                    field: "flags",
                    value: u64::from(flags),
                },
            ));
        }
        b.finish()?;
        if id.is_empty() {
            return Err(StoreError::corrupt(
                "credential",
                Damage::Empty("credential ID"),
            ));
        }

        Ok(Record {
            seq,
            id,
            rp: RpEntity {
                id: rp_id,
                name: rp_name,
            },
            user_id,
            discoverable,
            kind,
            cred_protect,
            public_key: PublicKey { alg, bytes: public },
            key,
            created_at,
            third_party_payment: flags & FLAG_THIRD_PARTY_PAYMENT != 0,
            version,
            bound,
            sealed,
            user_name,
            display_name,
            sign_count,
            ceiling: sign_count,
            opened: None,
        })
    }
}

fn aad(bound: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(RECORD_AAD.len() + bound.len());
    v.extend_from_slice(RECORD_AAD);
    v.extend_from_slice(bound);
    v
}

#[path = "secrets.rs"]
mod secrets;

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
