//! The in-memory index of a store's records, filled lazily from the file names.
//!
//! Opening a store lists `credentials/` once: each name gives the credential's RP tag,
//! discoverability and ID hash ([`record::file_name`]), which is enough for counts. A record is
//! read and parsed the first time its ID or its RP is asked for, then kept. Listing 10,000 names
//! takes a few milliseconds where reading 10,000 files takes a hundred or more.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use latchkey_authenticator::store::Damage;
use latchkey_authenticator::store::{Credential, RpEntity, StoreError};

use crate::crypto::MasterKey;
use crate::fsutil::{self, io_err};
use crate::record::{self, id_hash, rp_tag, Record};

struct Entry {
    tag: [u8; 8],
    discoverable: bool,
    record: Option<Record>,
}

/// Every record of a store, by ID hash and by RP tag.
pub(crate) struct Index {
    dir: PathBuf,
    entries: HashMap<[u8; 32], Entry>,
    by_tag: HashMap<[u8; 8], HashSet<[u8; 32]>>,
    /// RP tags whose records are all read.
    loaded: HashSet<[u8; 8]>,
    discoverable: usize,
}

impl Index {
    /// Lists `dir`, removing debris of interrupted writes.
    pub(crate) fn scan(dir: &Path) -> Result<Self, StoreError> {
        let mut index = Index {
            dir: dir.to_path_buf(),
            entries: HashMap::new(),
            by_tag: HashMap::new(),
            loaded: HashSet::new(),
            discoverable: 0,
        };
        for entry in fs::read_dir(dir).map_err(|e| io_err("listing", dir, e))? {
            let entry = entry.map_err(|e| io_err("listing", dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with(fsutil::TEMP_PREFIX) {
                let path = entry.path();
                fs::remove_file(&path).map_err(|e| io_err("removing stale", &path, e))?;
            } else if let Some((tag, discoverable, hash)) = record::parse_file_name(name) {
                index.add(hash, tag, discoverable, None);
            }
        }
        Ok(index)
    }

    fn add(&mut self, hash: [u8; 32], tag: [u8; 8], discoverable: bool, record: Option<Record>) {
        if discoverable {
            self.discoverable += 1;
        }
        self.by_tag.entry(tag).or_default().insert(hash);
        self.entries.insert(
            hash,
            Entry {
                tag,
                discoverable,
                record,
            },
        );
    }

    fn forget(&mut self, hash: &[u8; 32]) -> Option<Entry> {
        let e = self.entries.remove(hash)?;
        if e.discoverable {
            self.discoverable -= 1;
        }
        if let Some(set) = self.by_tag.get_mut(&e.tag) {
            set.remove(hash);
            if set.is_empty() {
                self.by_tag.remove(&e.tag);
            }
        }
        Some(e)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn discoverable(&self) -> usize {
        self.discoverable
    }

    fn read(
        &self,
        tag: &[u8; 8],
        discoverable: bool,
        hash: &[u8; 32],
    ) -> Result<Record, StoreError> {
        let name = record::file_name(tag, discoverable, hash);
        let path = self.dir.join(&name);
        let bytes = fsutil::read_bounded(&path, record::MAX_FILE)?.ok_or_else(|| {
            StoreError::corrupt("credential record", Damage::Vanished).in_file(&path)
        })?;
        let rec = Record::decode(&bytes).map_err(|e| e.in_file(&path))?;
        if rec.file_name() != name {
            return Err(StoreError::corrupt(
                "credential record",
                Damage::Inconsistent("it does not belong under its file name"),
            )
            .in_file(&path));
        }
        Ok(rec)
    }

    /// Reads the record of `hash` if it is not in memory yet.
    fn ensure(&mut self, hash: &[u8; 32]) -> Result<(), StoreError> {
        let Some(e) = self.entries.get(hash) else {
            return Ok(());
        };
        if e.record.is_none() {
            let rec = self.read(&e.tag, e.discoverable, hash)?;
            if let Some(e) = self.entries.get_mut(hash) {
                e.record = Some(rec);
            }
        }
        Ok(())
    }

    /// Reads every record with this RP tag, and settles a replacement a crash interrupted
    /// (two discoverable records for one RP and user handle: the newer wins).
    fn ensure_tag(&mut self, tag: &[u8; 8]) -> Result<(), StoreError> {
        if self.loaded.contains(tag) {
            return Ok(());
        }
        let hashes: Vec<[u8; 32]> = self
            .by_tag
            .get(tag)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        for h in &hashes {
            self.ensure(h)?;
        }
        let mut newest: HashMap<(String, Vec<u8>), ([u8; 32], u64)> = HashMap::new();
        let mut superseded = Vec::new();
        for h in &hashes {
            let Some(r) = self.entries.get(h).and_then(|e| e.record.as_ref()) else {
                continue;
            };
            if !r.discoverable {
                continue;
            }
            let key = (r.rp.id.clone(), r.user_id.clone());
            match newest.get(&key) {
                Some(&(_, seq)) if seq > r.seq => superseded.push(*h),
                Some(&(other, _)) => {
                    superseded.push(other);
                    newest.insert(key, (*h, r.seq));
                }
                None => {
                    newest.insert(key, (*h, r.seq));
                }
            }
        }
        for h in superseded {
            self.remove_hash(&h)?;
        }
        self.loaded.insert(*tag);
        Ok(())
    }

    /// The record with this ID. Reads the record's whole RP on first use, so that a replacement
    /// a crash interrupted is settled before the replaced credential could be returned.
    pub(crate) fn get(&mut self, id: &[u8]) -> Result<Option<&Record>, StoreError> {
        let hash = id_hash(id);
        if let Some(tag) = self.entries.get(&hash).map(|e| e.tag) {
            self.ensure_tag(&tag)?;
        }
        Ok(self
            .entries
            .get(&hash)
            .and_then(|e| e.record.as_ref())
            .filter(|r| r.id == id))
    }

    /// The ID hashes of the RP's records, oldest first.
    fn rp_hashes(&mut self, rp_id: &str) -> Result<Vec<[u8; 32]>, StoreError> {
        let tag = rp_tag(rp_id);
        self.ensure_tag(&tag)?;
        let mut found: Vec<(u64, [u8; 32])> = self
            .by_tag
            .get(&tag)
            .into_iter()
            .flatten()
            .filter_map(|h| {
                self.entries
                    .get(h)
                    .and_then(|e| e.record.as_ref())
                    .filter(|r| r.rp.id == rp_id)
                    .map(|r| (r.seq, *h))
            })
            .collect();
        found.sort_unstable_by_key(|&(seq, _)| seq);
        Ok(found.into_iter().map(|(_, h)| h).collect())
    }

    /// The RP's records, oldest first.
    pub(crate) fn by_rp(&mut self, rp_id: &str) -> Result<Vec<&Record>, StoreError> {
        let hashes = self.rp_hashes(rp_id)?;
        Ok(hashes
            .iter()
            .filter_map(|h| self.entries.get(h).and_then(|e| e.record.as_ref()))
            .collect())
    }

    /// The credential with this ID (see [`Index::get`]), its secrets opened with `mk` if given and
    /// kept with the record until [`Index::forget_secrets`].
    pub(crate) fn credential(
        &mut self,
        id: &[u8],
        mk: Option<&MasterKey>,
    ) -> Result<Option<Credential>, StoreError> {
        if self.get(id)?.is_none() {
            return Ok(None);
        }
        match self
            .entries
            .get_mut(&id_hash(id))
            .and_then(|e| e.record.as_mut())
        {
            Some(r) => r.credential_keeping(mk).map(Some),
            None => Ok(None),
        }
    }

    /// The RP's credentials, oldest first, as [`Index::credential`] gives them.
    pub(crate) fn credentials_of_rp(
        &mut self,
        rp_id: &str,
        mk: Option<&MasterKey>,
    ) -> Result<Vec<Credential>, StoreError> {
        let hashes = self.rp_hashes(rp_id)?;
        let mut out = Vec::with_capacity(hashes.len());
        for h in &hashes {
            if let Some(r) = self.entries.get_mut(h).and_then(|e| e.record.as_mut()) {
                out.push(r.credential_keeping(mk)?);
            }
        }
        Ok(out)
    }

    /// Drops every secret [`Index::credential`] and [`Index::credentials_of_rp`] kept.
    pub(crate) fn forget_secrets(&mut self) {
        for r in self.entries.values_mut().filter_map(|e| e.record.as_mut()) {
            r.forget_secrets();
        }
    }

    /// How many records keep opened secrets.
    #[cfg(test)]
    pub(crate) fn kept_secrets(&self) -> usize {
        self.entries
            .values()
            .filter_map(|e| e.record.as_ref())
            .filter(|r| r.keeps_secrets())
            .count()
    }

    /// The ID of the discoverable record for this RP and user handle, if any.
    pub(crate) fn discoverable_for(
        &mut self,
        rp_id: &str,
        user_id: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .by_rp(rp_id)?
            .into_iter()
            .find(|r| r.discoverable && r.user_id == user_id)
            .map(|r| r.id.clone()))
    }

    /// A sequence number above every record of this RP (order only matters within an RP).
    pub(crate) fn next_seq(&mut self, rp_id: &str) -> Result<u64, StoreError> {
        let max = self.by_rp(rp_id)?.last().map_or(0, |r| r.seq);
        Ok(max.saturating_add(1))
    }

    /// RPs with at least one discoverable record, sorted by RP ID, named by their newest.
    pub(crate) fn rps(&mut self) -> Result<Vec<RpEntity>, StoreError> {
        let tags: Vec<[u8; 8]> = self
            .by_tag
            .iter()
            .filter(|(_, hs)| {
                hs.iter()
                    .any(|h| self.entries.get(h).is_some_and(|e| e.discoverable))
            })
            .map(|(t, _)| *t)
            .collect();
        let mut newest: HashMap<&str, &Record> = HashMap::new();
        for t in &tags {
            self.ensure_tag(t)?;
        }
        for t in &tags {
            for h in self.by_tag.get(t).into_iter().flatten() {
                let Some(r) = self.entries.get(h).and_then(|e| e.record.as_ref()) else {
                    continue;
                };
                if r.discoverable && newest.get(r.rp.id.as_str()).is_none_or(|n| n.seq < r.seq) {
                    newest.insert(&r.rp.id, r);
                }
            }
        }
        let mut out: Vec<RpEntity> = newest.into_values().map(|r| r.rp.clone()).collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Writes `rec` durably and indexes it (replacing a record with the same ID).
    pub(crate) fn put(&mut self, rec: Record) -> Result<(), StoreError> {
        let hash = id_hash(&rec.id);
        let tag = rp_tag(&rec.rp.id);
        let old_name = self
            .entries
            .get(&hash)
            .map(|e| record::file_name(&e.tag, e.discoverable, &hash));
        let name = rec.file_name();
        fsutil::write_atomic(&self.dir, &name, &rec.encode())?;
        if let Some(old) = old_name.filter(|o| *o != name) {
            fsutil::remove_durable(&self.dir, &old)?;
        }
        self.forget(&hash);
        self.add(hash, tag, rec.discoverable, Some(rec));
        Ok(())
    }

    /// Replaces the in-memory copy of a stored record, writing nothing (same ID and file name:
    /// only what [`Record::apply_update`] changes may differ).
    pub(crate) fn replace_cached(&mut self, rec: Record) {
        if let Some(e) = self.entries.get_mut(&id_hash(&rec.id)) {
            e.record = Some(rec);
        }
    }

    /// Writes, durably, every record whose counter was changed in memory only, with its ceiling
    /// lowered to the counter. Returns how many were written; stops at the first failure.
    pub(crate) fn settle_counters(&mut self) -> Result<usize, StoreError> {
        let mut written = 0;
        for e in self.entries.values_mut() {
            let Some(rec) = e.record.as_mut().filter(|r| r.counter_unsettled()) else {
                continue;
            };
            let mut settled = rec.clone();
            settled.settle_counter();
            fsutil::write_atomic(&self.dir, &settled.file_name(), &settled.encode())?;
            *rec = settled;
            written += 1;
        }
        Ok(written)
    }

    fn remove_hash(&mut self, hash: &[u8; 32]) -> Result<bool, StoreError> {
        let Some(e) = self.entries.get(hash) else {
            return Ok(false);
        };
        fsutil::remove_durable(&self.dir, &record::file_name(&e.tag, e.discoverable, hash))?;
        self.forget(hash);
        Ok(true)
    }

    /// Deletes a record durably; `false` if there was none.
    ///
    /// Works without reading the record, so a damaged record can still be deleted.
    pub(crate) fn remove(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        self.remove_hash(&id_hash(id))
    }

    /// Forgets everything (after the files were deleted).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.by_tag.clear();
        self.loaded.clear();
        self.discoverable = 0;
    }
}
