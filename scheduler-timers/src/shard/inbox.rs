//! The inbox and the published next deadline: how threads without the expiry right reach
//! the wheel, and how a parked owner learns of a timer earlier than it planned for.
//!
//! # The inbox
//!
//! The inbox is an intrusive Treiber stack of slab indices linked through `Entry::next`:
//! push = one CAS on `inbox`, drain = one `swap(NIL)` by the right's holder. An index is in
//! the inbox at most once: pushing requires having set the entry's `QUEUED` flag in the same
//! CAS that decided the operation, and only the drain clears it. The drain reads the whole
//! chain before absorbing anything (absorbing may reuse `next` for the free list), and
//! reverses it, so inserts from one thread are admitted (and get their `seq`) in order.
//!
//! # The published next deadline
//!
//! `next_deadline: AtomicU64` (`u64::MAX` = none) is a lower bound of every pending deadline,
//! so a worker that parks until it never oversleeps. Only *raising* it needs the argument
//! below: a pass that leaves it as it is (an expiry pass, which removes timers and admits
//! inserts that lower it themselves) keeps it a lower bound, if a stale one. It is lowered (a load, then `fetch_min`
//! only if the new deadline is earlier) by every insert or earlier reset (whose return value tells a remote caller whether to unpark the
//! owner: [`Wake`]), and replaced with an exact value by the right's holder after
//! an expiry pass. The replacement could hide a remote insert that the holder's drain missed;
//! this is excluded Dekker-style: the remote side does *push; `fence(SeqCst)`; read
//! `next_deadline` (then `fetch_min` if earlier)*, the holder *store; `fence(SeqCst)`; load
//! `inbox`* and drains again if it is non-empty. By the two SeqCst fences, in any interleaving
//! either the holder's load sees the push (and files the timer), or the remote read sees the
//! holder's store, so it lowers the new value and reports [`Wake::Owner`](crate::Wake) if its
//! timer is earlier (model: `loom-tests/tests/timers_inbox.rs`, which fails without the
//! fences).

use super::{Shared, NONE_PENDING};
use crate::entry::{Entry, Phase, Via, NIL};
use crate::key::Wake;
use crate::sync::atomic::Ordering;
use crate::sync::dekker_fence;
use crate::wheel::Wheel;

impl<T> Shared<T> {
    /// The published next deadline (a lower bound of every pending deadline).
    pub(crate) fn published(&self) -> Option<u64> {
        let d = self.next_deadline.load(Ordering::Acquire);
        (d != NONE_PENDING).then_some(d)
    }

    /// Lowers the published deadline; true if `deadline` is earlier than what was published.
    /// A plain load first: most new timers are later than the earliest one, and then no
    /// read-modify-write is needed (the Dekker argument of the module doc only needs the
    /// *read* of `next_deadline` after the fence; `fetch_min` keeps concurrent lowerings).
    #[inline]
    pub(crate) fn lower_published(&self, deadline: u64) -> bool {
        if deadline >= self.next_deadline.load(Ordering::Acquire) {
            return false;
        }
        // AcqRel: a read-modify-write, ordered by the SeqCst fences around it (module doc).
        deadline < self.next_deadline.fetch_min(deadline, Ordering::AcqRel)
    }

    /// Pushes `index` onto the inbox (the caller set the entry's `QUEUED` flag).
    pub(super) fn push_inbox(&self, index: u32, entry: &Entry<T>) {
        let mut head = self.inbox.load(Ordering::Relaxed);
        loop {
            entry.next.store(head, Ordering::Relaxed);
            // Release: pairs with the drain's Acquire swap (the link and the entry's arm).
            match self.inbox.compare_exchange_weak(
                head,
                index,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => head = actual,
            }
        }
    }

    /// Pushes `index`, then lowers the published deadline (the Dekker pair of `publish`).
    pub(super) fn push_and_announce(&self, index: u32, entry: &Entry<T>, deadline: u64) -> Wake {
        self.push_inbox(index, entry);
        dekker_fence();
        Wake::from_earlier(self.lower_published(deadline))
    }

    /// Admits everything in the inbox into the wheel (right held): one load when it is empty.
    #[inline(always)]
    pub(crate) fn drain_inbox(&self, wheel: &mut Wheel) {
        if self.inbox.load(Ordering::Relaxed) != NIL {
            self.drain_inbox_slow(wheel);
        }
    }

    #[cold]
    #[inline(never)]
    fn drain_inbox_slow(&self, wheel: &mut Wheel) {
        // Acquire: pairs with the Release CAS of every push (release sequence of the head).
        let mut index = self.inbox.swap(NIL, Ordering::Acquire);
        let mut batch = std::mem::take(&mut wheel.scratch);
        while let Some(entry) = self.slab.get(index) {
            batch.push(index);
            index = entry.next.load(Ordering::Relaxed);
        }
        for &index in batch.iter().rev() {
            self.absorb(wheel, index);
        }
        batch.clear();
        wheel.scratch = batch;
    }

    /// Handles one drained index according to its state.
    fn absorb(&self, wheel: &mut Wheel, index: u32) {
        let Some(entry) = self.slab.get(index) else { return };
        let mut s = entry.take_queued();
        let mut queued = false; // we just cleared QUEUED
        loop {
            match s.phase() {
                Phase::Pending => {
                    wheel.admit(index);
                    wheel.unlink(index);
                    return wheel.file(index, entry.deadline());
                }
                Phase::Resetting => {
                    wheel.admit(index);
                    wheel.unlink(index);
                    if entry.request_refile() {
                        return;
                    }
                }
                Phase::Cancelled | Phase::Fired if !queued => {
                    drop(wheel.reclaim_to(&self.slab, index, Via::Inbox));
                    return;
                }
                _ => return, // queued again: the next drain handles it
            }
            s = entry.snapshot();
            queued = s.is_queued();
        }
    }

    /// Replaces the published deadline with the wheel's exact earliest one (right held), and
    /// drains again if a push raced with it. Returns what it published.
    pub(crate) fn publish(&self, wheel: &mut Wheel) -> Option<u64> {
        loop {
            self.drain_inbox(wheel);
            let next = wheel.earliest(&self.slab);
            self.next_deadline.store(next.unwrap_or(NONE_PENDING), Ordering::Release);
            dekker_fence();
            if self.inbox.load(Ordering::Relaxed) == NIL {
                return next;
            }
        }
    }
}
