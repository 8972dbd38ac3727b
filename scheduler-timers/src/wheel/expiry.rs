//! Finding what is due: the next slot (or the overflow) to expire, the due heap in
//! `(deadline_ns, seq)` order, the exact earliest deadline, and firing (the invariants these
//! rely on: the [module doc](super)).
//!
//! Expiring a slot moves its entries down a level or into the due heap, where they wait
//! until `now` reaches their exact deadline; a timer alone in the next level-0 slot is fired
//! straight from the slot ([`Wheel::take_lone`]). Entries met on the way are re-filed if a
//! reset moved them later, left to their resetter, or reclaimed if finished.

use super::level::{SLOTS, SLOT_BITS};
use super::list::{Link, LIST_DUE, LIST_NONE};
use super::{DueItem, Wheel};
use crate::entry::{FireAttempt, Phase, NIL};
use crate::slab::Slab;
use std::cmp::Reverse;

/// The next thing the wheel must expire: a slot, or the overflow list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Candidate {
    Slot { level: usize, slot: usize, start: u64 },
    Overflow { start: u64 },
}

/// What [`Wheel::pop_due`] does with the slot of the timer it fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterFire {
    /// Reclaim it at once.
    Reclaim,
    /// Hold it back for a re-arm in place by the timer's callback (`reclaim`, "Held back").
    HoldBack,
}

/// What [`Wheel::level0_check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level0 {
    /// Nothing is due.
    NothingDue,
    /// Level 0 alone holds timers and its next occupied slot is due: expire it.
    Due(Candidate),
    /// Anything else: the full candidate search.
    Search,
}

impl Candidate {
    fn start(self) -> u64 {
        match self {
            Candidate::Slot { start, .. } | Candidate::Overflow { start } => start,
        }
    }
}

impl Wheel {
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
            let Reverse(DueItem { deadline_ns: deadline, index, stamp, .. }) = *self.due.peek()?;
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

    /// Fires the next timer due at `now_ns`, in `(deadline, seq)` order, and returns its
    /// payload; `None` when nothing more is due. `then` says what becomes of the fired slot.
    /// The check is inlined into the caller (an expiry pass ends with a pop that finds nothing
    /// due); the firing is not.
    #[inline(always)]
    pub(crate) fn pop_due<T>(&mut self, slab: &Slab<T>, now_ns: u64, then: AfterFire) -> Option<T> {
        let now_tick = now_ns >> self.tick_shift;
        match self.level0_check(now_tick) {
            Level0::NothingDue => None,
            Level0::Due(candidate) => self.pop_lone(slab, candidate, now_ns, then),
            Level0::Search => self.pop_due_search(slab, now_ns, then),
        }
    }

    /// The check an expiry pass makes after each callback, without the full candidate search:
    /// with the due heap and the overflow empty and nothing filed above level 0, level 0's next
    /// occupied slot is the next candidate: nothing is due if it starts after `now_tick`,
    /// else it is the candidate to expire. Anything else means "search". (`elapsed` is left as
    /// it is when nothing is due: every filed tick is past `now_tick`.)
    #[inline(always)]
    fn level0_check(&self, now_tick: u64) -> Level0 {
        if !self.due.is_empty() || self.occupied_levels > 1 || !self.overflow.is_empty() {
            return Level0::Search;
        }
        let current = (self.elapsed as u32) & (SLOTS as u32 - 1);
        match self.levels[0].next_occupied(current) {
            Some(slot) => {
                let start = (self.elapsed & !(SLOTS as u64 - 1)) | u64::from(slot);
                if start > now_tick {
                    return Level0::NothingDue;
                }
                Level0::Due(Candidate::Slot { level: 0, slot: slot as usize, start })
            }
            None if self.occupied_levels == 0 => Level0::NothingDue,
            None => Level0::Search,
        }
    }

    /// Fires the lone timer of a due level-0 candidate straight from its slot
    /// ([`take_lone`](Self::take_lone)), or searches when it does not qualify.
    #[inline(never)]
    fn pop_lone<T>(
        &mut self,
        slab: &Slab<T>,
        candidate: Candidate,
        now_ns: u64,
        then: AfterFire,
    ) -> Option<T> {
        if let Some(index) = self.take_lone(slab, candidate) {
            if let Some(payload) = self.try_fire(slab, index, now_ns, then) {
                return Some(payload);
            }
        }
        self.pop_due_search(slab, now_ns, then)
    }

    /// [`pop_due`](Self::pop_due) past its fast check: expires the candidates due by `now`.
    fn pop_due_search<T>(&mut self, slab: &Slab<T>, now_ns: u64, then: AfterFire) -> Option<T> {
        let now_tick = now_ns >> self.tick_shift;
        while let Some(c) = self.next_candidate() {
            if c.start() > now_tick {
                break;
            }
            match self.take_lone(slab, c) {
                Some(index) => {
                    if let Some(payload) = self.try_fire(slab, index, now_ns, then) {
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
            let Reverse(DueItem { index, .. }) = self.due.pop()?;
            self.unlink(index);
            if let Some(payload) = self.try_fire(slab, index, now_ns, then) {
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
    #[inline(always)]
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

    /// Fires an unfiled entry taken from the heap or a slot if it is pending and due, and
    /// returns its payload; else re-files it (a later deadline), leaves it to its resetter, or
    /// reclaims it (finished and unqueued), and returns `None`: the caller searches on.
    #[inline(always)]
    fn try_fire<T>(
        &mut self,
        slab: &Slab<T>,
        index: u32,
        now_ns: u64,
        then: AfterFire,
    ) -> Option<T> {
        let entry = slab.get(index)?;
        match entry.try_fire(now_ns) {
            FireAttempt::Fired { payload, queued } => {
                // Nothing fires before its deadline (module doc): the entry is FIRED now, so no
                // reset can have moved the deadline since it was checked.
                debug_assert!(entry.deadline() <= now_ns, "fired before its deadline");
                match then {
                    _ if queued => {} // the drain reclaims it
                    AfterFire::Reclaim => drop(self.reclaim(slab, index)),
                    AfterFire::HoldBack => self.hold_back(index),
                }
                // An armed entry always holds its payload (`Entry::arm`), and only the winner
                // of `PENDING -> FIRING` takes it: a fired entry without one is a bug, and is
                // skipped (counted as nothing fired) in a release build.
                debug_assert!(payload.is_some(), "slot {index} fired without a payload");
                payload
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
}
