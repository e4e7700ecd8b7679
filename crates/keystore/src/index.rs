//! The in-memory index of a store's records: by credential ID and by RP ID in creation order.

use std::collections::{BTreeMap, HashMap};

use crate::record::Record;

/// Every record of a store, indexed for `get`, `by_rp` and `rps`.
#[derive(Default)]
pub(crate) struct Index {
    records: HashMap<Vec<u8>, Record>,
    /// RP ID → (sequence number → credential ID): creation order per RP.
    by_rp: HashMap<String, BTreeMap<u64, Vec<u8>>>,
    discoverable: usize,
    max_seq: u64,
}

impl Index {
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn discoverable(&self) -> usize {
        self.discoverable
    }

    /// A sequence number greater than any record's.
    pub(crate) fn next_seq(&self) -> u64 {
        self.max_seq.saturating_add(1)
    }

    pub(crate) fn get(&self, id: &[u8]) -> Option<&Record> {
        self.records.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &[u8]) -> Option<&mut Record> {
        self.records.get_mut(id)
    }

    /// Adds a record, returning the one it replaced (same credential ID).
    pub(crate) fn insert(&mut self, record: Record) -> Option<Record> {
        let old = self.remove(&record.id);
        self.max_seq = self.max_seq.max(record.seq);
        if record.discoverable {
            self.discoverable += 1;
        }
        self.by_rp
            .entry(record.rp.id.clone())
            .or_default()
            .insert(record.seq, record.id.clone());
        self.records.insert(record.id.clone(), record);
        old
    }

    pub(crate) fn remove(&mut self, id: &[u8]) -> Option<Record> {
        let record = self.records.remove(id)?;
        if record.discoverable {
            self.discoverable -= 1;
        }
        if let Some(ids) = self.by_rp.get_mut(&record.rp.id) {
            ids.remove(&record.seq);
            if ids.is_empty() {
                self.by_rp.remove(&record.rp.id);
            }
        }
        Some(record)
    }

    /// The RP's records, oldest first.
    pub(crate) fn by_rp(&self, rp_id: &str) -> impl Iterator<Item = &Record> {
        self.by_rp
            .get(rp_id)
            .into_iter()
            .flat_map(|ids| ids.values())
            .filter_map(|id| self.records.get(id))
    }

    /// The discoverable record for this RP and user handle, if any.
    pub(crate) fn discoverable_for(&self, rp_id: &str, user_id: &[u8]) -> Option<&Record> {
        self.by_rp(rp_id)
            .find(|r| r.discoverable && r.user_id == user_id)
    }

    /// RP IDs with at least one discoverable record, sorted, with their newest such record.
    pub(crate) fn rps(&self) -> Vec<&Record> {
        let mut out: Vec<&Record> = self
            .by_rp
            .values()
            .filter_map(|ids| {
                ids.values()
                    .rev()
                    .filter_map(|id| self.records.get(id))
                    .find(|r| r.discoverable)
            })
            .collect();
        out.sort_by(|a, b| a.rp.id.cmp(&b.rp.id));
        out
    }

    pub(crate) fn clear(&mut self) {
        *self = Index::default();
    }
}
