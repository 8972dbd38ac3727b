//! Handing slots back: the private spare list of the expiry right's holder, and the
//! reclaim of a finished entry's slot to the spares, the slab's shared free list, or nowhere
//! (the rule and why it keeps the slab bounded: [`crate::shard::slots`]).

use super::list::SEQ_UNASSIGNED;
use super::Wheel;
use crate::entry::{Entry, Reuse, Via};
use crate::slab::Slab;

impl Wheel {
    /// A free slot from the private spare list.
    #[inline]
    pub(crate) fn take_spare(&mut self) -> Option<u32> {
        self.spare.pop()
    }

    /// Adds never-used slots to the spare list (handed out lowest first).
    pub(crate) fn add_spares(&mut self, fresh: std::ops::Range<u32>) {
        self.spare.extend(fresh.rev());
    }

    /// Unlinks a finished, unqueued entry and returns its slot to the private spare list,
    /// handing back whatever payload it still held (a cancelled timer's).
    #[inline]
    pub(crate) fn reclaim<T>(&mut self, slab: &Slab<T>, index: u32) -> Option<T> {
        self.reclaim_to(slab, index, Via::Holder)
    }

    /// As [`reclaim`](Self::reclaim); a slot that came [`Via::Inbox`] goes to the slab's
    /// shared free list, where remote inserters find it.
    #[inline]
    pub(crate) fn reclaim_to<T>(&mut self, slab: &Slab<T>, index: u32, via: Via) -> Option<T> {
        let entry = slab.get(index)?;
        self.reclaim_slot(slab, index, entry, via)
    }

    /// [`reclaim`](Self::reclaim) for a caller that already holds the entry of `index` and
    /// knows where its slot goes (a cancel read it from the state it replaced).
    #[inline]
    pub(crate) fn reclaim_entry<T>(
        &mut self,
        slab: &Slab<T>,
        index: u32,
        entry: &Entry<T>,
        reuse: Reuse,
    ) -> Option<T> {
        self.reclaim_known(slab, index, entry, Via::Holder, reuse)
    }

    #[inline(always)]
    fn reclaim_slot<T>(
        &mut self,
        slab: &Slab<T>,
        index: u32,
        entry: &Entry<T>,
        via: Via,
    ) -> Option<T> {
        self.reclaim_known(slab, index, entry, via, entry.reuse())
    }

    #[inline(always)]
    fn reclaim_known<T>(
        &mut self,
        slab: &Slab<T>,
        index: u32,
        entry: &Entry<T>,
        via: Via,
        reuse: Reuse,
    ) -> Option<T> {
        self.unlink(index);
        if let Some(link) = self.links.get_mut(index as usize) {
            link.stamp = link.stamp.wrapping_add(1);
            link.seq = SEQ_UNASSIGNED;
        }
        let payload = entry.take_payload_for_reclaim();
        // The broken variant of a `should_panic` loom model (`loom_api`): the old rule.
        #[cfg(loom)]
        let reuse = match reuse {
            Reuse::Shared if crate::sync::remote_slots_to_spares() => Reuse::Owner,
            other => other,
        };
        match reuse {
            Reuse::Owner if via == Via::Holder && !slab.take_starved() => self.spare.push(index),
            Reuse::Owner => slab.push_free(index, entry),
            // Armed by a remote insert: back where remote inserts look (`crate::shard::slots`),
            // or remote inserts made while the right is busy would grow the slab for ever
            // while their fired slots pile up here.
            Reuse::Shared => slab.push_free(index, entry),
            // Its generation is spent: handing it out again would let the keys of its earlier
            // occupants name the new timer (`entry::LAST_GENERATION`). It stays unlinked.
            Reuse::Retire => {}
        }
        payload
    }
}
