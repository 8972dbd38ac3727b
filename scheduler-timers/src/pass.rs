//! The expiry pass: every timer due at `now` fired under one hold of the shard's expiry right,
//! which the pass keeps while the callbacks run and lends to their operations on the same
//! shard ("Expiry pass" in [`crate::shard::ops`]). For a manual clock, whose advance fires a burst
//! of callbacks that re-arm timers on the shard they fired from.
//!
//! # Lending the right
//!
//! While a callback runs, the pass records the address of the shard's expiry flag in a
//! thread-local (`LENDER`). An operation of the callback that finds the right taken
//! (`Shared::try_right`) checks the record: if it names this shard, it *borrows* the right
//! (clears the record, so nothing nested inside the operation can borrow it too) and gives
//! it back when its `Right` drops (restores the record); otherwise it takes the inbox path
//! as before. Why this is sound:
//!
//! - the record is set only by the thread holding the right, only between taking it and
//!   releasing it, and only a thread's own record is visible to it: a borrower holds the
//!   right through the pass;
//! - the pass holds no `HeldWheel` while a callback runs, and the record is absent while the
//!   pass (`pop_due`, the inbox drain) or a borrower works on the wheel, so a payload `Drop`
//!   running there cannot borrow: at most one `&mut Wheel` exists at a time;
//! - a borrowed right lives only inside the operation that took it (a
//!   [`TimerSession`](crate::TimerSession) never borrows: `try_right_exclusive`);
//! - pass, callbacks and borrowers run on one thread, so program order orders their accesses.
//!
//! Passes nest: a callback may run a pass of the same shard (it borrows the right for the
//! whole nested pass and lends it on to its callbacks) or of another shard.
//!
//! # Re-arm in place
//!
//! The slot of the timer whose callback runs is held back, not reclaimed, until the callback
//! returns ([`crate::wheel`]'s `reclaim` module, "Held back"): a callback that re-arms its own
//! timer ([`RemoteShard::rearm_direct`](crate::RemoteShard::rearm_direct) with the fired
//! timer's key) refills that slot through the lent right, skipping the reclaim and the search
//! for a free slot. The pass reclaims the slot before its next pop if the callback did not. A
//! nested pass of the same shard reclaims it first (the outer callback's re-arm then takes a
//! fresh slot).
//!
//! # What other threads see
//!
//! The right is taken for the whole pass: their inserts, cancels and resets take the inbox
//! path (drained before each pop, so an insert already due fires in this pass), their
//! expiry passes, steals and `earliest_deadline` calls find the shard busy. So a callback must
//! not wait for another thread that needs this shard's right.
//!
//! # The published deadline
//!
//! A pass does not recompute it: firing only removes timers, and an insert lowers it itself,
//! so it stays a lower bound of every pending deadline, possibly stale (earlier than the
//! true next one). No store, no fence, no look-ahead in the wheel: for a shard no thread parks
//! on. [`RemoteShard::earliest_deadline`](crate::RemoteShard::earliest_deadline) publishes the
//! exact value again.

use crate::error::ShardBusy;
use crate::shard::Shared;
use crate::sync::atomic::AtomicBool;
use crate::wheel::AfterFire;
use std::cell::Cell;

#[cfg(not(loom))]
crate::sync::thread_local! {
    /// The expiry flag of the shard whose pass is lending its right to the callback this thread
    /// runs, or null (none, or it is borrowed at the moment).
    static LENDER: Cell<*const AtomicBool> = const { Cell::new(std::ptr::null()) };
}

// loom's `thread_local!` takes no `const` initialiser; one value per modelled thread.
#[cfg(loom)]
crate::sync::thread_local! {
    static LENDER: Cell<*const AtomicBool> = Cell::new(std::ptr::null());
}

/// Borrows the right of the pass lending `flag`'s shard on this thread, if there is one:
/// clears the record until [`give_back`].
#[inline]
pub(crate) fn borrow(flag: &AtomicBool) -> bool {
    #[cfg(loom)]
    if crate::sync::lend_to_any_thread() {
        return true; // the broken variant of a `should_panic` model (`loom_api`)
    }
    LENDER.with(|lender| {
        let ours = std::ptr::eq(lender.get(), flag);
        if ours {
            lender.set(std::ptr::null());
        }
        ours
    })
}

/// Ends a borrow of [`borrow`]: the pass lends its right again.
#[inline]
pub(crate) fn give_back(flag: &AtomicBool) {
    LENDER.with(|lender| lender.set(flag));
}

/// Lends a pass's right for as long as it lives (around one callback); restores the previous
/// record on drop (also when the callback panics).
struct Lending {
    prev: *const AtomicBool,
}

impl Lending {
    #[inline]
    fn start(flag: &AtomicBool) -> Self {
        Lending { prev: LENDER.with(|lender| lender.replace(flag)) }
    }
}

impl Drop for Lending {
    #[inline]
    fn drop(&mut self) {
        LENDER.with(|lender| lender.set(self.prev));
    }
}

impl<T> Shared<T> {
    /// Fires every timer due at `now` in `(deadline, seq)` order under one hold of the expiry
    /// right, lending it to the callbacks' operations on this shard (module doc).
    /// [`ShardBusy`] if another thread holds the right.
    pub(crate) fn expire_pass(&self, now: u64, f: &mut dyn FnMut(T)) -> Result<usize, ShardBusy> {
        let mut right = self.try_right().ok_or(ShardBusy)?;
        let mut fired = 0;
        loop {
            let popped = {
                let mut wheel = self.held_wheel(&mut right);
                // The slot of the timer fired before, unless its callback re-armed it.
                wheel.release_held_back(&self.slab);
                self.drain_inbox(&mut wheel);
                wheel.pop_due(&self.slab, now, AfterFire::HoldBack)
            };
            let Some(payload) = popped else { return Ok(fired) };
            fired += 1;
            let _lending = Lending::start(self.expiry_flag());
            f(payload);
        }
    }
}
