//! The hierarchical wheel of one shard: plain data, touched only by the holder of the
//! shard's expiry right (see [`crate::shard`]).
//!
//! # Invariants
//!
//! - `elapsed` is the tick up to which the wheel has been processed; it never decreases.
//! - An entry filed in level `l` has a tick `t > elapsed` whose base-64 digits above `l` equal
//!   those of `elapsed` and whose digit `l` is greater than `elapsed`'s; hence slot starts only
//!   move forward and the first occupied slot of each level (trailing zeros of the bitmap
//!   masked from the current digit) is the next one to expire there. Lower levels always
//!   expire before higher ones.
//! - Ticks whose top digits differ from `elapsed`'s wait in the overflow list (unsorted,
//!   `overflow_min_tick` a lower bound of their ticks). Every overflow tick is later than every
//!   wheel tick, so the overflow is scanned only when the wheel is empty and `elapsed` jumps to
//!   the bound; entries now in range are filed, the rest stay with an exact new bound. The top
//!   level is never used as a ring (no wrap bug) and nothing is force-expired.
//! - Entries with tick `<= elapsed` sit in the due heap, ordered by `(deadline_ns, seq)`;
//!   an entry leaves the heap lazily (its `stamp` is bumped, the stale item skipped later).
//! - Nothing fires before its deadline: the final check is `deadline_ns <= now` on the exact
//!   nanosecond deadline, whatever the tick.
//! - A deadline reset to later is re-read when its filed slot or heap item comes up, and
//!   re-filed then (lazy reset-later); earlier resets are re-filed at once by the caller.

mod level;
mod list;

use crate::entry::{Entry, FireAttempt, Phase, Reuse, NIL};
use crate::slab::Slab;
use level::{Level, SLOTS, SLOT_BITS};
use list::{Link, List, LIST_DUE, LIST_NONE, LIST_OVERFLOW, SEQ_UNASSIGNED};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// An item of the due heap: ordered by deadline, then insertion order.
type DueItem = Reverse<(u64, u64, u32, u32)>;

/// The next thing the wheel must expire: a slot, or the overflow list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Candidate {
    Slot { level: usize, slot: usize, start: u64 },
    Overflow { start: u64 },
}

impl Candidate {
    fn start(self) -> u64 {
        match self {
            Candidate::Slot { start, .. } | Candidate::Overflow { start } => start,
        }
    }
}

/// The level a tick `when > elapsed` belongs to (may be `>= levels`: overflow).
fn level_for(elapsed: u64, when: u64) -> usize {
    let masked = (elapsed ^ when) | (SLOTS as u64 - 1);
    let significant = 63 - masked.leading_zeros();
    (significant / SLOT_BITS) as usize
}

/// One shard's wheel.
#[derive(Debug)]
pub(crate) struct Wheel {
    tick_shift: u32,
    elapsed: u64,
    levels: Vec<Level>,
    /// Bit `l` set iff `levels[l]` has an occupied slot: `next_candidate` visits only those
    /// levels instead of scanning all of them (most of a wheel's levels are empty).
    occupied_levels: u64,
    links: Vec<Link>,
    due: BinaryHeap<DueItem>,
    overflow: List,
    overflow_min_tick: u64,
    next_seq: u64,
    /// Reused buffer for the inbox drain.
    pub(crate) scratch: Vec<u32>,
    /// Free slots only the right's holder hands out (no CAS on the owner's insert / cancel
    /// path). A reclaimed slot comes here only if the right's holder armed it (a remote
    /// insert's slot goes back to the slab's shared free list) and no remote inserter had to
    /// grow the slab since the last reclaim (`Slab::take_starved`; then it goes to the shared
    /// list too); the rule and why the slab stays bounded: `crate::shard`, "Slots". The list
    /// costs 4 bytes per free slot at most.
    spare: Vec<u32>,
}

impl Wheel {
    pub(crate) fn new(tick_shift: u32, levels: usize) -> Self {
        Wheel {
            tick_shift,
            elapsed: 0,
            levels: (0..levels).map(|_| Level::new()).collect(),
            occupied_levels: 0,
            links: Vec::new(),
            due: BinaryHeap::new(),
            overflow: List::EMPTY,
            overflow_min_tick: u64::MAX,
            next_seq: 0,
            scratch: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// Gives `index` a link and, if its occupant is new (not admitted before), the next `seq`.
    #[inline(always)]
    pub(crate) fn admit(&mut self, index: u32) {
        let i = index as usize;
        if i >= self.links.len() {
            self.grow_links(index);
        }
        let link = &mut self.links[i];
        if link.seq == SEQ_UNASSIGNED {
            link.seq = self.next_seq;
            self.next_seq += 1;
        }
    }

    /// Gives every slot of the slab page holding `index` a link (and no more): the links
    /// grow with the slab's pages, by an eighth at a time (`crate::slab`, "Pages"), instead of
    /// doubling with the `Vec`, which could leave one unused link per link in use.
    #[cold]
    #[inline(never)]
    fn grow_links(&mut self, index: u32) {
        let end = Slab::<()>::capacity_through(index).max(index as usize + 1);
        self.links.reserve_exact(end - self.links.len());
        self.links.resize(end, Link::default());
    }

    /// Files an admitted, unfiled entry by its deadline.
    #[inline(always)]
    pub(crate) fn file(&mut self, index: u32, deadline_ns: u64) {
        debug_assert!(!self.is_filed(index), "slot {index} is filed twice");
        let tick = deadline_ns >> self.tick_shift;
        if tick <= self.elapsed {
            let link = &mut self.links[index as usize];
            link.stamp = link.stamp.wrapping_add(1);
            link.list = LIST_DUE;
            self.due.push(Reverse((deadline_ns, link.seq, index, link.stamp)));
            return;
        }
        let level = level_for(self.elapsed, tick);
        if level >= self.levels.len() {
            self.overflow.push_back(&mut self.links, index, LIST_OVERFLOW);
            self.overflow_min_tick = self.overflow_min_tick.min(tick);
        } else {
            let slot = ((tick >> (SLOT_BITS as usize * level)) as usize) & (SLOTS - 1);
            self.debug_check_filing(level, tick);
            let id = (level * SLOTS + slot) as u32;
            self.levels[level].push_back(&mut self.links, slot, index, id);
            self.occupied_levels |= 1 << level;
        }
    }

    /// The filing invariant of the module doc: the digits of `tick` above `level` are those of
    /// `elapsed`, and its digit at `level` is greater (so the slot lies ahead of `elapsed`).
    #[inline(always)]
    fn debug_check_filing(&self, level: usize, tick: u64) {
        if cfg!(debug_assertions) {
            let shift = SLOT_BITS as usize * level;
            let upper = shift + SLOT_BITS as usize;
            let digit = |t: u64| (t >> shift) & (SLOTS as u64 - 1);
            let above = |t: u64| if upper >= 64 { 0 } else { t >> upper };
            assert!(tick > self.elapsed, "filed tick {tick} is not after {}", self.elapsed);
            assert_eq!(above(tick), above(self.elapsed), "level {level}: higher digits differ");
            assert!(digit(tick) > digit(self.elapsed), "level {level}: slot behind elapsed");
        }
    }

    /// Removes `index` from slot `slot` of `level`, keeping `occupied_levels` exact.
    #[inline(always)]
    fn remove_from_level(&mut self, level: usize, slot: usize, index: u32) {
        let lvl = &mut self.levels[level];
        lvl.remove(&mut self.links, slot, index);
        if lvl.is_empty() {
            self.occupied_levels &= !(1 << level);
        }
    }

    /// Takes `index` out of wherever it is filed (O(1)).
    #[inline(always)]
    pub(crate) fn unlink(&mut self, index: u32) {
        let Some(link) = self.links.get_mut(index as usize) else { return };
        if link.list < LIST_OVERFLOW {
            // The common case first: filed in a wheel slot.
            let id = link.list as usize;
            return self.remove_from_level(id / SLOTS, id % SLOTS, index);
        }
        match link.list {
            LIST_NONE => {}
            LIST_DUE => {
                link.stamp = link.stamp.wrapping_add(1);
                link.list = LIST_NONE;
            }
            LIST_OVERFLOW => self.overflow.remove(&mut self.links, index),
            id => {
                let (level, slot) = (id as usize / SLOTS, id as usize % SLOTS);
                self.remove_from_level(level, slot, index);
            }
        }
    }

    /// Whether `index` is filed somewhere.
    #[inline]
    pub(crate) fn is_filed(&self, index: u32) -> bool {
        self.links.get(index as usize).is_some_and(|l| l.list != LIST_NONE)
    }

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
        self.reclaim_to(slab, index, false)
    }

    /// As [`reclaim`](Self::reclaim); with `shared` (slots that came through the inbox) the
    /// slot goes to the slab's shared free list, where remote inserters find it.
    #[inline]
    pub(crate) fn reclaim_to<T>(&mut self, slab: &Slab<T>, index: u32, shared: bool) -> Option<T> {
        let entry = slab.get(index)?;
        self.reclaim_slot(slab, index, entry, shared)
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
        self.reclaim_known(slab, index, entry, false, reuse)
    }

    #[inline(always)]
    fn reclaim_slot<T>(
        &mut self,
        slab: &Slab<T>,
        index: u32,
        entry: &Entry<T>,
        shared: bool,
    ) -> Option<T> {
        self.reclaim_known(slab, index, entry, shared, entry.reuse())
    }

    #[inline(always)]
    fn reclaim_known<T>(
        &mut self,
        slab: &Slab<T>,
        index: u32,
        entry: &Entry<T>,
        shared: bool,
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
            Reuse::Owner if !shared && !slab.take_starved() => self.spare.push(index),
            Reuse::Owner => slab.push_free(index, entry),
            // Armed by a remote insert: back where remote inserts look (`crate::shard`,
            // "Slots"), or remote inserts made while the right is busy would grow the slab
            // for ever while their fired slots pile up here.
            Reuse::Shared => slab.push_free(index, entry),
            // Its generation is spent: handing it out again would let the keys of its earlier
            // occupants name the new timer (`entry::LAST_GENERATION`). It stays unlinked.
            Reuse::Retire => {}
        }
        payload
    }

    /// Looks at an unfiled entry the wheel just took from a slot or the heap and puts it
    /// where its state says: re-filed if pending, reclaimed if finished and unqueued, left
    /// to the resetter (with `REFILE`) if a reset is in flight.
    fn refile<T>(&mut self, slab: &Slab<T>, index: u32) {
        let Some(entry) = slab.get(index) else { return };
        loop {
            let s = entry.snapshot();
            match s.phase() {
                Phase::Pending => return self.file(index, entry.deadline()),
                Phase::Resetting if entry.request_refile() => return,
                Phase::Resetting => continue,
                Phase::Cancelled | Phase::Fired if !s.is_queued() => {
                    drop(self.reclaim(slab, index));
                    return;
                }
                _ => return, // queued: the drain reclaims it
            }
        }
    }

    /// The next slot (or the overflow) to expire.
    fn next_candidate(&self) -> Option<Candidate> {
        let mut pending = self.occupied_levels;
        while pending != 0 {
            let level = pending.trailing_zeros() as usize;
            pending &= pending - 1;
            let lvl = &self.levels[level];
            let shift = SLOT_BITS as usize * level;
            let current = ((self.elapsed >> shift) as u32) & (SLOTS as u32 - 1);
            if let Some(slot) = lvl.next_occupied(current) {
                let upper = shift + SLOT_BITS as usize;
                let base = if upper >= 64 { 0 } else { (self.elapsed >> upper) << upper };
                let start = base | (u64::from(slot) << shift);
                return Some(Candidate::Slot { level, slot: slot as usize, start });
            }
        }
        (!self.overflow.is_empty())
            .then(|| Candidate::Overflow { start: self.overflow_min_tick.max(self.elapsed) })
    }

    /// Expires one candidate: moves its entries down a level, into the due heap, or back to
    /// the overflow with an exact bound.
    fn expire<T>(&mut self, slab: &Slab<T>, candidate: Candidate) {
        // Slot starts only move forward (module doc): the next occupied slot is never behind.
        debug_assert!(
            matches!(candidate, Candidate::Overflow { .. }) || candidate.start() >= self.elapsed,
            "{candidate:?} starts before elapsed {}",
            self.elapsed
        );
        debug_assert!(
            !matches!(candidate, Candidate::Overflow { .. }) || self.occupied_levels == 0,
            "the overflow is scanned only when the wheel is empty"
        );
        self.elapsed = self.elapsed.max(candidate.start());
        let mut index = match candidate {
            Candidate::Slot { level, slot, .. } => {
                let lvl = &mut self.levels[level];
                let first = lvl.take(slot);
                if lvl.is_empty() {
                    self.occupied_levels &= !(1 << level);
                }
                first
            }
            Candidate::Overflow { .. } => {
                self.overflow_min_tick = u64::MAX;
                self.overflow.take()
            }
        };
        while index != NIL {
            let link = &mut self.links[index as usize];
            let next = link.next;
            *link = Link { prev: NIL, next: NIL, list: LIST_NONE, ..*link };
            self.refile(slab, index);
            index = next;
        }
    }

    /// Pops stale, cancelled and reset heap items until the top is a pending entry whose
    /// deadline matches its item; returns that deadline.
    fn settle<T>(&mut self, slab: &Slab<T>) -> Option<u64> {
        loop {
            let Reverse((deadline, _, index, stamp)) = *self.due.peek()?;
            let link = self.links[index as usize];
            if link.list == LIST_DUE && link.stamp == stamp {
                let entry = slab.get(index)?;
                if entry.snapshot().phase() == Phase::Pending && entry.deadline() == deadline {
                    return Some(deadline);
                }
                self.due.pop();
                self.unlink(index);
                self.refile(slab, index);
            } else {
                self.due.pop();
            }
        }
    }

    /// The first nanosecond of `tick` (saturating).
    fn tick_start_ns(&self, tick: u64) -> u64 {
        tick.saturating_mul(1 << self.tick_shift)
    }

    /// The exact earliest pending deadline, expiring slots ahead of time as needed (never
    /// firing anything).
    pub(crate) fn earliest<T>(&mut self, slab: &Slab<T>) -> Option<u64> {
        loop {
            let top = self.settle(slab);
            let next = self.next_candidate();
            match (top, next) {
                (Some(d), Some(c)) if d <= self.tick_start_ns(c.start()) => return Some(d),
                (Some(d), None) => return Some(d),
                (None, None) => return None,
                (_, Some(c)) => self.expire(slab, c),
            }
        }
    }

    /// Fires the next timer due at `now_ns`, in `(deadline, seq)` order; `None` when nothing
    /// more is due. The payload may be `None` only for a slot corrupted by a bug.
    #[inline]
    pub(crate) fn pop_due<T>(&mut self, slab: &Slab<T>, now_ns: u64) -> Option<Option<T>> {
        let now_tick = now_ns >> self.tick_shift;
        if self.nothing_due_level0(now_tick) {
            return None;
        }
        self.pop_due_search(slab, now_ns)
    }

    /// The check an expiry pass makes after each callback, without the full candidate search:
    /// true if the due heap and the overflow are empty, nothing is filed above level 0, and
    /// level 0's next occupied slot (then the next candidate) starts after `now_tick`. False
    /// means "search" (`elapsed` is left as it is: every filed tick is past `now_tick`).
    #[inline]
    fn nothing_due_level0(&self, now_tick: u64) -> bool {
        if !self.due.is_empty() || self.occupied_levels > 1 || !self.overflow.is_empty() {
            return false;
        }
        let current = (self.elapsed as u32) & (SLOTS as u32 - 1);
        match self.levels[0].next_occupied(current) {
            Some(slot) => (self.elapsed & !(SLOTS as u64 - 1)) | u64::from(slot) > now_tick,
            None => self.occupied_levels == 0,
        }
    }

    /// [`pop_due`](Self::pop_due) past its fast check: expires the candidates due by `now`.
    fn pop_due_search<T>(&mut self, slab: &Slab<T>, now_ns: u64) -> Option<Option<T>> {
        let now_tick = now_ns >> self.tick_shift;
        while let Some(c) = self.next_candidate() {
            if c.start() > now_tick {
                break;
            }
            match self.take_lone(slab, c) {
                Some(index) => {
                    if let Some(payload) = self.try_fire(slab, index, now_ns) {
                        return Some(payload);
                    }
                }
                None => self.expire(slab, c),
            }
        }
        self.elapsed = self.elapsed.max(now_tick);
        loop {
            let deadline = self.settle(slab)?;
            if deadline > now_ns {
                return None;
            }
            let Reverse((_, _, index, _)) = self.due.pop()?;
            self.unlink(index);
            if let Some(payload) = self.try_fire(slab, index, now_ns) {
                return Some(payload);
            }
        }
    }

    /// The fast path of a timer alone in the next slot: with the due heap empty, the only
    /// entry of the next level-0 slot (one tick) is the earliest pending timer if its deadline
    /// still lies in that tick (every other one has a later tick, so a later deadline; a
    /// deadline reset to a later tick is not, and goes the slow way to be re-filed), so it can
    /// be fired straight from the slot instead of going through the heap. Takes the slot as
    /// [`expire`](Self::expire) would and returns the unfiled entry; `None` (nothing taken) if
    /// the candidate does not qualify.
    #[inline]
    fn take_lone<T>(&mut self, slab: &Slab<T>, candidate: Candidate) -> Option<u32> {
        let Candidate::Slot { level: 0, slot, start } = candidate else { return None };
        let list = self.levels[0].slot(slot);
        if list.head != list.tail || !self.due.is_empty() {
            return None;
        }
        if slab.get(list.head)?.deadline() >> self.tick_shift != start {
            return None;
        }
        self.elapsed = self.elapsed.max(start);
        let lvl = &mut self.levels[0];
        let index = lvl.take(slot);
        if lvl.is_empty() {
            self.occupied_levels &= !1;
        }
        let link = &mut self.links[index as usize];
        *link = Link { prev: NIL, next: NIL, list: LIST_NONE, ..*link };
        Some(index)
    }

    /// Fires an unfiled entry taken from the heap or a slot if it is pending and due; else
    /// re-files it (a later deadline), leaves it to its resetter, or reclaims it (finished and
    /// unqueued). The payload may be `None` only for a slot corrupted by a bug.
    #[inline]
    fn try_fire<T>(&mut self, slab: &Slab<T>, index: u32, now_ns: u64) -> Option<Option<T>> {
        let entry = slab.get(index)?;
        match entry.try_fire(now_ns) {
            FireAttempt::Fired { payload, queued } => {
                // Nothing fires before its deadline (module doc): the entry is FIRED now, so no
                // reset can have moved the deadline since it was checked.
                debug_assert!(entry.deadline() <= now_ns, "fired before its deadline");
                if !queued {
                    drop(self.reclaim(slab, index));
                }
                Some(payload)
            }
            FireAttempt::Later(deadline) => {
                self.file(index, deadline);
                None
            }
            FireAttempt::Resetting => None,
            FireAttempt::Cancelled { queued } | FireAttempt::AlreadyFired { queued } => {
                if !queued {
                    drop(self.reclaim(slab, index));
                }
                None
            }
        }
    }

    /// Number of items in the due heap (live or stale); for tests of boundedness.
    pub(crate) fn due_len(&self) -> usize {
        self.due.len()
    }

    /// Whether nothing is filed in any level, the overflow or the due heap.
    pub(crate) fn is_empty(&self) -> bool {
        self.occupied_levels == 0 && self.overflow.is_empty() && self.due.is_empty()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::level_for;

    #[test]
    fn level_for_picks_the_highest_differing_digit() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(63, 64), 1);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
        assert_eq!(level_for(0, u64::MAX), 10);
    }
}
/// The wheel's per-timer link, for [`crate::timer_overhead_bytes`].
pub(crate) type LinkSize = list::Link;
