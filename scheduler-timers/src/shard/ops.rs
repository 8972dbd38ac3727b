//! The operations on a shard, on the path of the expiry right's holder and on the inbox path.
//!
//! - *Insert* by the right's holder: take a slot, arm it, admit it (give it the next `seq`)
//!   and file it; before that, drain the inbox if it is non-empty (one load when empty), so
//!   inserts ordered by happens-before get `seq`s in that order. By anyone else (or by the
//!   owner when a stealer holds the right): arm it with `QUEUED` and push it; the holder
//!   admits it at its next drain.
//! - *Re-arm* (a callback of an expiry pass re-inserting its own, just fired timer): an
//!   insert by the right's holder that arms the fired timer's held-back slot again instead of
//!   taking a free one ([`crate::pass`], "Re-arm in place"); without such a slot, an insert.
//! - *Cancel*: one CAS `PENDING -> CANCELLED`. With the right, the owner unlinks and reclaims at
//!   once; otherwise the CAS also sets `QUEUED` (if it was clear) and the index is pushed, so the
//!   right's holder unlinks and reclaims it at its next drain.
//! - *Reset*: by the right's holder, store the deadline and one CAS that bumps the entry's
//!   epoch ([`crate::entry::reset`], "Reset by the right's holder"); by anyone else, `PENDING ->
//!   RESETTING`, store the deadline, one CAS back to `PENDING`. A later deadline needs nothing
//!   more (the entry is re-filed lazily when its old slot or heap item comes up); an earlier
//!   one is re-filed at once by the holder, or pushed on the inbox.
//! - *Expire*: the holder drains the inbox, then pops the next due timer from the wheel
//!   (`PENDING -> FIRING -> FIRED`, payload moved out), releases the right, and only then calls
//!   the fire callback: callbacks run outside the right, so they may insert, cancel and reset
//!   on the same shard (and a timer they insert that is already due fires in the same pass,
//!   in `(deadline, seq)` order).
//! - *Expiry pass* ([`crate::pass`]): as *Expire*, but the right is taken once and kept while
//!   the callbacks run; an operation of a callback on the same shard (same thread) borrows it
//!   (`Shared::try_right` checks a thread-local record of the pass) instead of taking it, so
//!   it files, cancels or resets at once with no read-modify-write on the right. No
//!   `HeldWheel` of the pass lives while a callback runs, so there is still one `&mut Wheel`
//!   at a time. A session cannot borrow it (`try_right_exclusive`): a lent right must not
//!   outlive the operation.

use super::{Right, Shared};
use crate::entry::{Cancelled, Entry, Phase, Via};
use crate::error::{InsertError, ShardBusy, TimerError};
use crate::key::{Expired, TimerKey, Wake};
use crate::sync::dekker_fence;
use crate::wheel::AfterFire;

/// How an operation of a handle reaches the wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// The owner's way: under the expiry right if it is free (or lent by this thread's
    /// expiry pass), done at once; else through the inbox.
    Direct,
    /// Never taking the right: the entry's CASes, plus a push onto the inbox when the
    /// right's holder must act on the wheel (a remote handle's own way).
    Inbox,
}

/// One step of [`Shared::expire`], under one hold of the right.
enum ExpiryStep<T> {
    /// A due timer fired; its payload goes to the callback once the right is released.
    Fired(T),
    /// Nothing more is due; the exact next deadline was published.
    NothingDue { next_deadline: Option<u64> },
}

impl<T> Shared<T> {
    /// Insert by the owner: through the expiry right if it is free, else through the inbox.
    #[inline(always)]
    pub(crate) fn insert_owner(
        &self,
        deadline: u64,
        payload: T,
    ) -> Result<(TimerKey, Wake), InsertError<T>> {
        match self.try_right() {
            Some(mut right) => {
                let (index, generation) = self.insert_held(&mut right, deadline, payload)?;
                drop(right);
                let wake = Wake::from_earlier(self.lower_published(deadline));
                Ok((self.key(index, generation), wake))
            }
            None => self.insert_remote(deadline, payload),
        }
    }

    /// Insert by the right's holder: take a slot, arm it, admit and file it (no RMW once the
    /// slab has grown). Returns `(index, generation)` (the caller builds the key: plain
    /// scalars keep the key out of memory on the hot path) and lowers the published deadline.
    #[inline(always)]
    pub(crate) fn insert_held(
        &self,
        right: &mut Right<'_>,
        deadline: u64,
        payload: T,
    ) -> Result<(u32, u32), InsertError<T>> {
        let mut wheel = self.held_wheel(right);
        self.drain_inbox(&mut wheel);
        let index = match wheel.take_spare() {
            Some(index) => index,
            None => match self.alloc_held(&mut wheel) {
                Ok(index) => index,
                Err(error) => return Err(refused(error, payload)),
            },
        };
        let Some(entry) = self.slab.get(index) else {
            return Err(refused(TimerError::Stale, payload));
        };
        let generation = entry.arm(deadline, payload, Via::Holder);
        wheel.admit(index);
        wheel.file(index, deadline);
        Ok((index, generation))
    }

    /// Re-arm by the owner: [`insert_owner`](Self::insert_owner), in the slot of the fired
    /// timer `fired` if it is the one held back by this thread's expiry pass (the caller is
    /// its callback; `crate::pass`, "Re-arm in place").
    #[inline(always)]
    pub(crate) fn rearm_owner(
        &self,
        fired: TimerKey,
        deadline: u64,
        payload: T,
    ) -> Result<(TimerKey, Wake), InsertError<T>> {
        match self.try_right() {
            Some(mut right) => {
                let (index, generation) = self.rearm_held(&mut right, fired, deadline, payload)?;
                drop(right);
                let wake = Wake::from_earlier(self.lower_published(deadline));
                Ok((self.key(index, generation), wake))
            }
            None => self.insert_remote(deadline, payload),
        }
    }

    /// [`insert_held`](Self::insert_held) into the held-back slot of `fired` if there is one.
    #[inline(always)]
    fn rearm_held(
        &self,
        right: &mut Right<'_>,
        fired: TimerKey,
        deadline: u64,
        payload: T,
    ) -> Result<(u32, u32), InsertError<T>> {
        let entry = match self.entry(fired) {
            Ok(entry) => entry,
            Err(_) => return self.insert_held(right, deadline, payload),
        };
        let in_place = {
            let mut wheel = self.held_wheel(right);
            // Before the slot gets its `seq`, as every insert of the right's holder (module
            // doc, *Insert*).
            self.drain_inbox(&mut wheel);
            wheel.take_held_back(entry, fired.index, fired.generation)
        };
        if !in_place {
            return self.insert_held(right, deadline, payload);
        }
        let mut wheel = self.held_wheel(right);
        let generation = entry.arm(deadline, payload, Via::Holder);
        wheel.file(fired.index, deadline); // admitted by `take_held_back`
        Ok((fired.index, generation))
    }

    /// Insert through the inbox.
    pub(crate) fn insert_remote(
        &self,
        deadline: u64,
        payload: T,
    ) -> Result<(TimerKey, Wake), InsertError<T>> {
        let index = match self.alloc_remote() {
            Ok(index) => index,
            Err(error) => return Err(refused(error, payload)),
        };
        let Some(entry) = self.slab.get(index) else {
            return Err(refused(TimerError::Stale, payload));
        };
        let generation = entry.arm(deadline, payload, Via::Inbox);
        let wake = self.push_and_announce(index, entry, deadline);
        Ok((self.key(index, generation), wake))
    }

    /// Cancel; with the right ([`Route::Direct`] and the right free) the entry is unlinked and
    /// reclaimed at once, without it the index goes to the inbox. The cancelled payload is
    /// dropped after the right is released.
    #[inline(always)]
    pub(crate) fn cancel(&self, key: TimerKey, route: Route) -> Result<(), TimerError> {
        let entry = self.entry(key)?;
        if route == Route::Direct {
            if let Some(mut right) = self.try_right() {
                let dropped = self.cancel_held(&mut right, key, entry);
                drop(right);
                return dropped.map(drop);
            }
        }
        if let Cancelled::Now { must_push: true, .. } = entry.cancel(key.generation, Via::Inbox)? {
            self.push_inbox(key.index, entry);
        }
        Ok(())
    }

    /// Cancel by the right's holder (one CAS on the entry): unlinks and reclaims at once, and
    /// returns the payload for the caller to drop (after the wheel access ends).
    #[inline(always)]
    pub(crate) fn cancel_held(
        &self,
        right: &mut Right<'_>,
        key: TimerKey,
        entry: &Entry<T>,
    ) -> Result<Option<T>, TimerError> {
        let outcome = entry.cancel(key.generation, Via::Holder)?;
        let mut wheel = self.held_wheel(right);
        Ok(match outcome {
            Cancelled::Now { was_queued: false, reuse, .. } => {
                wheel.reclaim_entry(&self.slab, key.index, entry, reuse)
            }
            Cancelled::Now { was_queued: true, .. } => {
                wheel.unlink(key.index);
                None
            }
            Cancelled::Requested => None,
        })
    }

    /// Reset to `deadline` along `route`. Returns whether the owner should be woken (inbox
    /// path only).
    pub(crate) fn reset(
        &self,
        key: TimerKey,
        deadline: u64,
        route: Route,
    ) -> Result<Wake, TimerError> {
        let entry = self.entry(key)?;
        #[cfg(loom)]
        if route == Route::Direct && crate::sync::reset_without_right() {
            // The broken variant of a `should_panic` loom model (`loom_api`): the held path's
            // store without the right.
            entry.reset_held(key.generation, deadline)?;
            return Ok(Wake::NotNeeded);
        }
        if route == Route::Direct {
            if let Some(mut right) = self.try_right() {
                let earlier = self.reset_held(&mut right, key, entry, deadline);
                drop(right);
                if earlier? {
                    let _ = self.lower_published(deadline);
                }
                return Ok(Wake::NotNeeded);
            }
        }
        let old = entry.begin_reset(key.generation)?;
        let end = entry.finish_reset(deadline, deadline < old, Via::Inbox);
        if end.cancelled {
            if end.must_push {
                self.push_inbox(key.index, entry);
            }
            return Ok(Wake::NotNeeded);
        }
        if !end.needs_refile {
            return Ok(Wake::NotNeeded);
        }
        if end.must_push {
            return Ok(self.push_and_announce(key.index, entry, deadline));
        }
        dekker_fence();
        Ok(Wake::from_earlier(self.lower_published(deadline)))
    }

    /// Reset by the right's holder: one store and one CAS on the entry
    /// ([`Entry::reset_held`]); an earlier deadline is re-filed at once. Returns whether the
    /// deadline moved earlier (the caller lowers the published deadline).
    #[inline]
    pub(crate) fn reset_held(
        &self,
        right: &mut Right<'_>,
        key: TimerKey,
        entry: &Entry<T>,
        deadline: u64,
    ) -> Result<bool, TimerError> {
        let old = entry.reset_held(key.generation, deadline)?;
        let earlier = deadline < old;
        if earlier {
            let mut wheel = self.held_wheel(right);
            if wheel.is_filed(key.index) {
                wheel.unlink(key.index);
                wheel.file(key.index, deadline);
            }
        }
        Ok(earlier)
    }

    /// The pending deadline of a key.
    pub(crate) fn deadline_of(&self, key: TimerKey) -> Result<u64, TimerError> {
        let entry = self.entry(key)?;
        let s = entry.snapshot();
        if s.generation() != key.generation {
            return Err(TimerError::Stale);
        }
        match s.phase() {
            Phase::Pending | Phase::Resetting => Ok(entry.deadline()),
            Phase::Cancelled => Err(TimerError::AlreadyCancelled),
            Phase::Firing | Phase::Fired => Err(TimerError::AlreadyFired),
            Phase::Free => Err(TimerError::Stale),
        }
    }

    /// Fires up to `max` due timers, one per hold of the right, calling `f` outside it.
    /// [`ShardBusy`] if the right was busy before anything fired.
    pub(crate) fn expire(
        &self,
        now: u64,
        max: usize,
        f: &mut dyn FnMut(T),
    ) -> Result<Expired, ShardBusy> {
        let mut fired = 0;
        loop {
            if fired >= max {
                let next = self.with_wheel(|wheel| self.publish(wheel)).unwrap_or(self.published());
                return Ok(Expired { fired, next_deadline: next });
            }
            let step = self.with_wheel(|wheel| {
                wheel.release_held_back(&self.slab); // left by a pass whose callback panicked
                self.drain_inbox(wheel);
                match wheel.pop_due(&self.slab, now, AfterFire::Reclaim) {
                    Some(payload) => ExpiryStep::Fired(payload),
                    None => ExpiryStep::NothingDue { next_deadline: self.publish(wheel) },
                }
            });
            match step {
                Err(ShardBusy) if fired == 0 => return Err(ShardBusy),
                Err(ShardBusy) => return Ok(Expired { fired, next_deadline: self.published() }),
                Ok(ExpiryStep::NothingDue { next_deadline }) => {
                    return Ok(Expired { fired, next_deadline })
                }
                Ok(ExpiryStep::Fired(payload)) => {
                    fired += 1;
                    f(payload);
                }
            }
        }
    }

    /// The exact earliest pending deadline (right needed), after draining the inbox.
    pub(crate) fn earliest(&self) -> Result<Option<u64>, ShardBusy> {
        self.with_wheel(|wheel| self.publish(wheel))
    }

    /// Deadlines of all pending timers, sorted (a scan of the slab: for tests and tooling).
    pub(crate) fn pending_deadlines(&self) -> Vec<u64> {
        let mut out: Vec<u64> = (0..self.slab.len())
            .filter_map(|i| self.slab.get(i))
            .filter(|e| matches!(e.snapshot().phase(), Phase::Pending | Phase::Resetting))
            .map(Entry::deadline)
            .collect();
        out.sort_unstable();
        out
    }

    /// Items in the due heap (live or lazily deleted), after draining the inbox: for tests
    /// that memory stays bounded.
    pub(crate) fn due_len(&self) -> Result<usize, ShardBusy> {
        self.with_wheel(|wheel| {
            self.drain_inbox(wheel);
            wheel.due_len()
        })
    }
}

/// The error of a refused insert, built off the hot path: with the payload moved into an
/// inlined `Err`, the owner's insert + cancel pair cost 4 more instructions (callgrind,
/// `examples/timer_shapes.rs insert_cancel`) than with this out-of-line constructor.
#[cold]
#[inline(never)]
fn refused<T>(error: TimerError, payload: T) -> InsertError<T> {
    InsertError::new(error, payload)
}
