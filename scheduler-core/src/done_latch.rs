//! [`DoneLatch`]: the flag a fork-join waiter waits on (the stolen half of a `join`, the jobs
//! of a `scope`), and the nap that keeps the waiter from burning its core meanwhile.
//!
//! A waiter first runs other jobs, spins and yields (`forkjoin::wait_until`); when that finds
//! nothing for a while, it *naps*: it parks on its worker's nap parker for at most a bounded
//! time, and the setter unparks it. rayon's latches sleep the same way.
//!
//! Invariants:
//! - `state` goes `PENDING` (-> `NAPPING`) -> `DONE`. Only the setter stores `DONE`, once,
//!   with a swap that is Release (it publishes the result written before it) and that is its
//!   last access to the latch: the waiter's frame, which holds the latch, may return right
//!   after it. So the setter copies `parker` first.
//! - The waiter parks only after its CAS `PENDING -> NAPPING` succeeded (or on `NAPPING`); a
//!   setter whose swap returns `NAPPING` unparks `parker`. Either the swap comes first (the
//!   CAS fails and the waiter does not park) or the CAS does (the setter sees `NAPPING` and
//!   unparks); the parker's token makes an unpark that lands before the park stick.
//! - `parker` is the waiting worker's nap parker, in its `WorkerRemote`, which lives as long
//!   as the runtime's shared state. Fork-join jobs never leave their runtime, so the setter
//!   is one of its workers (or the waiter itself), and the runtime is alive while it runs.
//!   `None` when the latch was made off the workers, where nobody naps on it.
//! - A stale unpark (the waiter had already timed out and left) leaves a token, which makes
//!   one later nap of that worker return at once; every nap's caller re-checks its condition.

use crate::idle::Parker;
use crate::sync::atomic::{AtomicUsize, Ordering};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

const PENDING: usize = 0;
const NAPPING: usize = 1;
const DONE: usize = 2;

/// A set-once flag whose waiter may nap until it is set (module doc).
#[derive(Debug)]
pub(crate) struct DoneLatch {
    state: AtomicUsize,
    parker: Option<NonNull<Parker>>,
}

// SAFETY: `state` is atomic; `parker` points to a `Parker` (itself `Sync`) that outlives every
// access through the latch (module invariants), and is only used to `unpark`.
unsafe impl Send for DoneLatch {}
// SAFETY: as above.
unsafe impl Sync for DoneLatch {}

impl DoneLatch {
    /// A pending latch whose waiter naps on `parker` (a worker's nap parker), if any.
    pub(crate) fn new(parker: Option<&Parker>) -> Self {
        DoneLatch { state: AtomicUsize::new(PENDING), parker: parker.map(NonNull::from) }
    }

    /// A pending latch whose waiter is this thread: it naps on its worker's nap parker, if
    /// it is a worker.
    pub(crate) fn for_this_thread() -> Self {
        let parker =
            crate::context::with_any_core(|core| core.map(|core| NonNull::from(core.nap_parker())));
        DoneLatch { state: AtomicUsize::new(PENDING), parker }
    }

    /// Has the setter set it? (Acquire: pairs with the setter's Release.)
    #[inline]
    pub(crate) fn is_set(&self) -> bool {
        self.state.load(Ordering::Acquire) == DONE
    }

    /// Sets the latch, waking a napping waiter. The caller's last access to the latch.
    #[inline]
    pub(crate) fn set(&self, order: Ordering) {
        let parker = self.parker;
        if self.state.swap(DONE, order) == NAPPING {
            if let Some(parker) = parker {
                // SAFETY: the runtime whose worker owns the parker is alive (module
                // invariants); `self` is not touched after the swap.
                unsafe { parker.as_ref() }.unpark();
            }
        }
    }

    /// The buggy setter of the loom model (`loom_api::NapHandoff`): Release, but no unpark.
    #[cfg(loom)]
    pub(crate) fn set_without_waking(&self) {
        self.state.store(DONE, Ordering::Release);
    }

    /// The waiter: parks for at most `nap` unless the latch is set (or is set meanwhile).
    pub(crate) fn nap(&self, nap: Duration) {
        let Some(parker) = self.parker else { return };
        let announced = match self.state.compare_exchange(
            PENDING,
            NAPPING,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => true,
            Err(now) => now == NAPPING,
        };
        if announced {
            // SAFETY: the waiter's own worker's parker, alive while it runs.
            let _ = unsafe { parker.as_ref() }.park(Some(Instant::now() + nap));
        }
    }
}
