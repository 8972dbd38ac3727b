//! The hand-off trampoline: `put`, `release` and a withdrawn waiter's give-back fire the next
//! waiter in a loop, never by recursion per waiter.
//!
//! # Why
//!
//! A `DeferredQueue::put` fires the oldest getter, and that getter's callback may `put` again;
//! a `release` hands the token to the oldest acquirer, whose callback may `release` again.
//! Fired inline, each hand-off nests one more chain run on the native stack, so a thousand
//! queued `DeferredLock::run`s released once overflow it.
//!
//! # How
//!
//! [`hand_off`] runs its fire at once when no hand-off is running on this thread: that is the
//! *outermost* hand-off, which then runs, in FIFO order, every fire that nested hand-offs
//! queued meanwhile (in `PENDING`), and returns only when none is left. A hand-off made while
//! one runs on this thread (from a callback the outer fire ran) only queues its fire. The
//! waiter each fire goes to was chosen, and the value or token taken, under the primitive's
//! lock when the hand-off was made, so FIFO among waiters is the order of the pops; only the
//! moment of the fire moves, to after the callback that asked for it returns (still before
//! the outermost `put` / `release` returns). The native stack holds one hand-off; `PENDING`
//! holds the hand-offs one fire made (one, for a waiter that releases once).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

/// A queued fire.
type Fire = Box<dyn FnOnce()>;

crate::sync::thread_local_const! {
    /// True while this thread runs the outermost hand-off.
    static RUNNING: Cell<bool> = Cell::new(false);
    /// Fires queued by nested hand-offs, oldest first.
    static PENDING: RefCell<VecDeque<Fire>> = RefCell::new(VecDeque::new());
}

/// Capacity `PENDING` keeps between outermost hand-offs.
const PENDING_KEPT: usize = 16;

/// Runs `fire(ctx, arg)` now if this thread runs no hand-off, then every fire queued
/// meanwhile; else queues it (with a clone of `ctx`) for the running one (see the module doc).
/// The outermost hand-off, the usual case, neither clones nor allocates.
#[inline]
pub(crate) fn hand_off<C, A>(ctx: &C, arg: A, fire: fn(&C, A))
where
    C: Clone + 'static,
    A: 'static,
{
    match RUNNING.try_with(|running| running.replace(true)) {
        Ok(false) => run_outermost(|| fire(ctx, arg)),
        Ok(true) => {
            let ctx = ctx.clone();
            queue(Box::new(move || fire(&ctx, arg)));
        }
        Err(_) => fire(ctx, arg), // this thread's locals are gone (it is exiting): no trampoline
    }
}

/// Queues a nested hand-off's fire.
#[cold]
fn queue(fire: Fire) {
    let mut slot = Some(fire);
    let _ = PENDING.try_with(|pending| pending.borrow_mut().extend(slot.take()));
    if let Some(fire) = slot {
        fire(); // `PENDING` is gone (thread exit): fire inline
    }
}

fn run_outermost(first: impl FnOnce()) {
    let running = Running;
    first();
    let mut drained = false;
    while let Some(fire) = pop() {
        drained = true;
        fire();
    }
    if drained {
        let _ = PENDING.try_with(|pending| pending.borrow_mut().shrink_to(PENDING_KEPT));
    }
    drop(running);
}

fn pop() -> Option<Fire> {
    PENDING.try_with(|pending| pending.borrow_mut().pop_front()).ok().flatten()
}

/// Ends the outermost hand-off, also when a fire panicked (a waker or a drop: callbacks'
/// panics are caught by the chain); the fires still queued then run while unwinding.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        while let Some(fire) = pop() {
            fire();
        }
        let _ = RUNNING.try_with(|running| running.set(false));
    }
}
