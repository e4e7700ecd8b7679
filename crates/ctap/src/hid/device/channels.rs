//! Which channel IDs the device considers allocated (CTAP 2.1 §11.2.9.1.3 CTAPHID_INIT).
//!
//! Channels handed out on the broadcast channel are numbered from 1 upwards; once the counter
//! wraps, every CID but the reserved and broadcast ones counts as allocated. A CTAPHID_INIT on a
//! CID the device never handed out *adopts* that CID: the conformance suites written against
//! the Solo firmware resynchronise on CIDs they picked themselves and expect an answer. Adopting
//! gives a host nothing it could not get from the broadcast channel (any host may INIT any
//! allocated channel to resynchronise it), and at most [`MAX_ADOPTED`] adopted CIDs are kept,
//! the oldest forgotten first, so a host inventing CIDs cannot grow the device's memory.

use std::collections::VecDeque;

use crate::hid::packet::ChannelId;

/// Adopted CIDs kept at most.
pub const MAX_ADOPTED: usize = 32;

/// The allocation table.
#[derive(Debug, Clone)]
pub(super) struct Channels {
    /// Channels `1..next` were handed out.
    next: u32,
    /// The counter wrapped: every non-reserved CID counts as allocated.
    wrapped: bool,
    /// CIDs a host chose itself with CTAPHID_INIT, oldest first.
    adopted: VecDeque<ChannelId>,
}

impl Channels {
    /// No channel allocated.
    pub(super) fn new() -> Self {
        Self {
            next: 1,
            wrapped: false,
            adopted: VecDeque::new(),
        }
    }

    /// Whether `cid` is a channel a host may use.
    pub(super) fn is_allocated(&self, cid: ChannelId) -> bool {
        if cid == ChannelId::RESERVED || cid == ChannelId::BROADCAST {
            return false;
        }
        self.wrapped || cid.0 < self.next || self.adopted.contains(&cid)
    }

    /// A fresh channel for a CTAPHID_INIT on the broadcast channel; skips CIDs a host adopted,
    /// so two hosts never share one.
    pub(super) fn allocate(&mut self) -> ChannelId {
        loop {
            let cid = ChannelId(self.next);
            self.next += 1;
            if self.next == ChannelId::BROADCAST.0 {
                self.next = 1;
                self.wrapped = true;
            }
            // At most MAX_ADOPTED values are skipped before a free one comes.
            if !self.adopted.contains(&cid) {
                return cid;
            }
        }
    }

    /// Makes `cid` (neither reserved nor broadcast) allocated, if it is not yet.
    pub(super) fn adopt(&mut self, cid: ChannelId) {
        if self.is_allocated(cid) || cid == ChannelId::RESERVED || cid == ChannelId::BROADCAST {
            return;
        }
        if self.adopted.len() == MAX_ADOPTED {
            self.adopted.pop_front();
        }
        self.adopted.push_back(cid);
    }
}
