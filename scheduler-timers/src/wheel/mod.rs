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
//! - `held_back` is `NIL` or the slot of the timer an expiry pass fired last, `FIRED`, not
//!   `QUEUED`, filed nowhere and on no free list: its reclaim waits until the timer's callback
//!   returns, so the callback can re-arm the slot in place ([`reclaim`], "Held back").
//!
//! This module files and unlinks entries; [`expiry`] finds what is due (the candidate search,
//! the due heap, the earliest deadline) and [`reclaim`] hands finished slots back (the
//! private spare list or the slab's shared free list).

mod expiry;
mod level;
mod list;
mod reclaim;

pub(crate) use expiry::AfterFire;

use crate::entry::NIL;
use crate::slab::Slab;
use level::{Level, SLOTS, SLOT_BITS};
use list::{Link, List, LIST_DUE, LIST_NONE, LIST_OVERFLOW, SEQ_UNASSIGNED};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// An item of the due heap (a min-heap through [`Reverse`]), ordered by deadline, then
/// insertion order (the derived order compares the fields in this order). `index` names the
/// entry and `stamp` recognises a stale item (`Link::stamp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct DueItem {
    deadline_ns: u64,
    seq: u64,
    index: u32,
    stamp: u32,
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
    due: BinaryHeap<Reverse<DueItem>>,
    overflow: List,
    overflow_min_tick: u64,
    next_seq: u64,
    /// Reused buffer for the inbox drain.
    pub(crate) scratch: Vec<u32>,
    /// Free slots only the right's holder hands out (no CAS on the owner's insert / cancel
    /// path). A reclaimed slot comes here only if the right's holder armed it (a remote
    /// insert's slot goes back to the slab's shared free list) and no remote inserter had to
    /// grow the slab since the last reclaim (`Slab::take_starved`; then it goes to the shared
    /// list too); the rule and why the slab stays bounded: [`crate::shard::slots`]. The list
    /// costs 4 bytes per free slot at most.
    spare: Vec<u32>,
    /// The fired slot whose reclaim waits for its callback (module doc), or `NIL`.
    held_back: u32,
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
            held_back: NIL,
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
            self.due.push(Reverse(DueItem {
                deadline_ns,
                seq: link.seq,
                index,
                stamp: link.stamp,
            }));
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

    /// Number of items in the due heap (live or stale); for tests of boundedness.
    pub(crate) fn due_len(&self) -> usize {
        self.due.len()
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
