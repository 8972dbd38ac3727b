//! Handing slots back: the private spare list of the expiry right's holder, and the
//! reclaim of a finished entry's slot to the spares, the slab's shared free list, or nowhere
//! (the rule and why it keeps the slab bounded: [`crate::shard::slots`]).
//!
//! # Held back
//!
//! An expiry pass ([`crate::pass`]) does not reclaim the slot of the timer it just fired: it
//! holds it back (`Wheel::held_back`) while the timer's callback runs, and reclaims it before
//! its next pop. If the callback re-arms that timer on the same shard (a periodic timer, such
//! as a `LoopingCall`'s next tick), the new timer takes the held-back slot
//! ([`Wheel::take_held_back`]): no reclaim, no spare-list round trip, no slab lookup for a
//! fresh slot. The re-arm bumps the slot's generation like any arm, so the fired timer's key
//! goes stale as after a reclaim. A held-back slot is `FIRED` and unqueued (a queued fired
//! slot is left to the drain, as before), so no handle operation can change it, and it is on
//! no list: nothing but the pass or the re-arm can reach it. It goes back by the usual rule,
//! so the slab's bound ([`crate::shard::slots`]) holds: a re-arm in place is a reclaim followed
//! by an insert that takes that same slot. A slot held back by a pass whose callback panicked
//! is reclaimed by the shard's next expiry pass or steal (`fire_due`, `steal_expired`).

use super::list::{LIST_NONE, SEQ_UNASSIGNED};
use super::Wheel;
use crate::entry::{Entry, Reuse, Via, LAST_GENERATION, NIL};
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

    /// Holds back the slot of a timer just fired by an expiry pass (module doc, "Held back"):
    /// it is reclaimed by [`release_held_back`](Self::release_held_back) unless the callback
    /// re-arms it first.
    #[inline]
    pub(crate) fn hold_back(&mut self, index: u32) {
        debug_assert_eq!(self.held_back, NIL, "two slots held back at once");
        self.held_back = index;
    }

    /// Reclaims the held-back slot, if any (the pass, before its next pop).
    #[inline(always)]
    pub(crate) fn release_held_back<T>(&mut self, slab: &Slab<T>) {
        if self.held_back != NIL {
            self.release_held_back_slow(slab);
        }
    }

    #[inline(never)]
    fn release_held_back_slow<T>(&mut self, slab: &Slab<T>) {
        let index = std::mem::replace(&mut self.held_back, NIL);
        drop(self.reclaim(slab, index));
    }

    /// Takes the held-back slot for a re-arm in place if it is `index` and still holds
    /// `generation` (the key of the fired timer), unless that generation is the slot's last
    /// (the slot must retire). The slot is left for the caller to arm and file, admitted:
    /// its link has the next `seq` (so the caller drains the inbox first, as before any
    /// admit) and a bumped stamp.
    #[inline(always)]
    pub(crate) fn take_held_back<T>(
        &mut self,
        entry: &Entry<T>,
        index: u32,
        generation: u32,
    ) -> bool {
        if self.held_back != index || generation == LAST_GENERATION {
            return false;
        }
        if entry.snapshot().generation() != generation {
            return false;
        }
        self.held_back = NIL;
        self.readmit(index);
        true
    }

    /// Gives the held-back slot `index` its next occupant's `seq` (as `admit` does for a
    /// reclaimed slot) and makes heap items of the fired one stale. The slot is filed nowhere
    /// (fired straight from its slot or popped from the heap), and it had a link.
    #[inline(always)]
    fn readmit(&mut self, index: u32) {
        let link = &mut self.links[index as usize];
        debug_assert_eq!(link.list, LIST_NONE, "held-back slot {index} is filed");
        link.stamp = link.stamp.wrapping_add(1);
        link.seq = self.next_seq;
        self.next_seq += 1;
    }

    /// Unlinks `index` and makes its link forget the occupant (heap items go stale, the next
    /// occupant gets a new `seq`).
    #[inline(always)]
    fn forget_occupant(&mut self, index: u32) {
        self.unlink(index);
        if let Some(link) = self.links.get_mut(index as usize) {
            link.stamp = link.stamp.wrapping_add(1);
            link.seq = SEQ_UNASSIGNED;
        }
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
        self.forget_occupant(index);
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
