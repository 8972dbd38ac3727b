//! Iterative teardown of dropped chains: what a dropped [`Core`](crate::chain::Core) still
//! owns is disposed of in a loop, not by nested drops.
//!
//! # Why
//!
//! A core owns its pending callbacks, its canceller, its waker and its result, and each of them
//! may own another Deferred: a callback that captures (or returns) the next Deferred, a
//! canceller that cancels it, a result that holds it. Left to the drop glue, dropping the outer
//! handle of `n` such Deferreds nests `n` drops, a dozen frames per level (`CoreRef` →
//! `Core` → `SpinLock<State>` → `State` → `CallbackQueue` → callback box → captured closure →
//! `Deferred` → `CoreRef` → ...), and overflows the 2 MiB stack of a test thread well before
//! a million levels, in release builds too.
//!
//! # How
//!
//! A core whose state is *inert* (no callbacks; no canceller, waker or chained Deferred; a
//! result that is absent, spent, or of a type without drop glue) can neither report a failure
//! nor own another core: `Core::drop` leaves it to the drop glue. That is every
//! create-fire-drop of a plain Deferred, which never touches the thread-locals below.
//!
//! Any other core moves what it owns into [`Remains`] and calls [`dispose`]. The first
//! `dispose` on a thread becomes the *drain*: it disposes of its remains, then pops and
//! disposes of the remains of every core dropped meanwhile, which nested `dispose` calls only
//! push onto `PENDING`. The native stack holds one level; `PENDING` holds what one disposal
//! released (one entry per level of a chain). Everything is disposed of before the outermost
//! drop returns.
//!
//! # Order
//!
//! Disposing of remains reports its unhandled failure first, then drops the result, the
//! callbacks and the cold fields in that order, as `Core`'s drop glue did. The remains one
//! disposal released are reversed on `PENDING` before the next pop, so cores are disposed of
//! (and their failures reported) in the order the recursive drop used: each core before the
//! cores it owns, those in the order it owned them. Only side effects that are not core drops
//! move: a core owned by another is now disposed of after the rest of its owner's contents,
//! not in the middle of them.

use std::cell::{Cell, RefCell};

use crate::callbacks::CallbackQueue;
use crate::chain::{Cold, Outcome};
use crate::failure::report_unhandled;

/// What a dropped core still owned, in `State`'s field order.
pub(crate) struct Remains {
    pub(crate) result: Option<Outcome>,
    pub(crate) queue: CallbackQueue,
    pub(crate) cold: Cold,
}

impl Remains {
    /// Reports the unhandled failure, if any, then drops everything in field order (cores met
    /// on the way go to `PENDING`).
    fn dispose_now(self) {
        let Remains { result, queue, cold } = self;
        if let Some(Err(failure)) = &result {
            report_unhandled(failure);
        }
        drop(result);
        drop(queue);
        drop(cold);
    }
}

crate::sync::thread_local_const! {
    /// `None` unless this thread runs a drain; then how many remains `PENDING` holds (read
    /// without touching `PENDING`, whose first use registers a destructor).
    static PENDING_LEN: Cell<Option<usize>> = Cell::new(None);
    /// Remains released during the drain and not yet disposed of; a stack.
    static PENDING: RefCell<Vec<Remains>> = RefCell::new(Vec::new());
}

/// Capacity `PENDING` keeps between drains.
const PENDING_KEPT: usize = 16;

/// Disposes of a dropped core's remains (see the module doc).
pub(crate) fn dispose(remains: Remains) {
    match PENDING_LEN.try_with(Cell::get) {
        Ok(None) => drain(remains),
        Ok(Some(len)) => defer(remains, len),
        // This thread's locals are gone (it is exiting): fall back to the drop glue's way.
        Err(_) => remains.dispose_now(),
    }
}

/// Leaves `remains` to the running drain, which has `len` pending.
fn defer(remains: Remains, len: usize) {
    let mut slot = Some(remains);
    if PENDING.try_with(|pending| pending.borrow_mut().extend(slot.take())).is_ok() {
        set_pending_len(Some(len + 1));
    }
    if let Some(remains) = slot {
        remains.dispose_now(); // `PENDING` is gone (thread exit): the drop glue's way
    }
}

/// This thread's drain: disposes of `first`, then of everything released meanwhile.
fn drain(first: Remains) {
    set_pending_len(Some(0));
    let draining = Draining;
    let mut next = Some(first);
    let mut deferred = false;
    while let Some(remains) = next {
        let before = pending_len();
        remains.dispose_now();
        next = if pending_len() == 0 { None } else { pop(Some(before)) };
        deferred |= next.is_some();
    }
    drop(draining);
    if deferred {
        // A wide drain's larger buffer is given back.
        let _ = PENDING.try_with(|pending| pending.borrow_mut().shrink_to(PENDING_KEPT));
    }
}

fn pending_len() -> usize {
    PENDING_LEN.try_with(Cell::get).ok().flatten().unwrap_or(0)
}

fn set_pending_len(len: Option<usize>) {
    let _ = PENDING_LEN.try_with(|cell| cell.set(len));
}

/// Pops the next remains; with `Some(mark)`, first reverses those pushed since `mark` so the
/// first released is disposed of first.
fn pop(mark: Option<usize>) -> Option<Remains> {
    let popped = PENDING
        .try_with(|pending| {
            let mut pending = pending.borrow_mut();
            if let Some(released) = mark.and_then(|mark| pending.get_mut(mark..)) {
                released.reverse();
            }
            pending.pop()
        })
        .ok()
        .flatten();
    if popped.is_some() {
        set_pending_len(Some(pending_len() - 1));
    }
    popped
}

/// Ends a drain, also when a disposal panicked.
struct Draining;

impl Drop for Draining {
    fn drop(&mut self) {
        // Empty unless a disposal panicked: then the rest is disposed of here, while
        // unwinding, as the drop glue would have (a second panic aborts, as it would there).
        while pending_len() > 0 {
            let Some(remains) = pop(None) else { break };
            remains.dispose_now();
        }
        set_pending_len(None);
    }
}
