//! The LIFO slot: one task a worker's running task just woke, stealable by other workers.
//!
//! When a running task wakes another task on the same worker (a message hand-off), the woken
//! task goes into this slot and runs next, while its data is still in cache. The slot holds
//! one pointer in an `AtomicPtr`:
//!
//! - the owner `put`s with a `swap`, getting back the previous occupant (which it then pushes
//!   to its FIFO queue);
//! - the owner `take`s and thieves `steal` with a `swap(null)`.
//!
//! Every access is a single atomic swap, so exactly one thread receives each pointer put into
//! the slot: a task is never lost nor run twice. `AcqRel` on every swap: the Release half
//! publishes the task (its header and state) to whoever swaps it out, the Acquire half pairs
//! with the Release of the `put` that stored it.
//!
//! Fairness (in `worker`): the owner takes from the slot at most `LIFO_CAP` times in a row; then
//! the occupant moves to the back of the FIFO queue, so two tasks ping-ponging cannot starve the
//! rest. The slot is stealable (unlike tokio's since its revert, tokio#8100): a searching worker
//! looks at other workers' slots after their queues, so a task woken behind a long poll is not
//! stuck there. Putting a task in the slot posts no notification (the lever of tokio#8069):
//! the running worker takes it right after the current poll, so a wake-up would mostly wake a
//! sibling for nothing; the cost is that a task woken behind a long poll waits for that poll
//! unless a sibling is already searching. A task displaced from the slot goes to the deque,
//! and that push does notify. Model: `loom-tests/tests/executor_lifo.rs`.

use crate::sync::atomic::{AtomicPtr, Ordering};
use std::ptr::{self, NonNull};

/// A one-item, owner-put, anyone-take slot of `NonNull<T>` pointers.
#[derive(Debug)]
pub(crate) struct LifoSlot<T> {
    slot: AtomicPtr<T>,
}

// SAFETY: the slot only moves pointers between threads with atomic swaps; what the pointers
// own is `Send` (tasks), which the users of the slot guarantee.
unsafe impl<T> Sync for LifoSlot<T> {}
// SAFETY: as above.
unsafe impl<T> Send for LifoSlot<T> {}

impl<T> LifoSlot<T> {
    pub(crate) fn new() -> Self {
        LifoSlot { slot: AtomicPtr::new(ptr::null_mut()) }
    }

    /// Owner: stores `item`, returning the previous occupant.
    #[inline]
    pub(crate) fn put(&self, item: NonNull<T>) -> Option<NonNull<T>> {
        NonNull::new(self.slot.swap(item.as_ptr(), Ordering::AcqRel))
    }

    /// Owner or thief: takes the occupant, if any.
    #[inline]
    pub(crate) fn take(&self) -> Option<NonNull<T>> {
        // Relaxed peek: an empty slot costs no RMW; the swap below is what decides.
        if self.slot.load(Ordering::Relaxed).is_null() {
            return None;
        }
        NonNull::new(self.slot.swap(ptr::null_mut(), Ordering::AcqRel))
    }

    /// True when the slot looks occupied (advisory).
    #[inline]
    pub(crate) fn is_occupied(&self) -> bool {
        !self.slot.load(Ordering::Relaxed).is_null()
    }
}
