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
    /// 0 while this thread runs no hand-off; else 1 + the fires queued in `PENDING` (read
    /// without touching `PENDING`, so an outermost hand-off that queued nothing costs two
    /// accesses to this cell).
    static STATE: Cell<usize> = Cell::new(0);
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
    match STATE.try_with(|state| state.replace(state.get().max(1))) {
        Ok(0) => {
            let running = Running;
            fire(ctx, arg);
            if get() > 1 {
                drain();
            }
            drop(running);
        }
        Ok(_) => {
            let ctx = ctx.clone();
            queue(Box::new(move || fire(&ctx, arg)));
        }
        Err(_) => fire(ctx, arg), // this thread's locals are gone (it is exiting): no trampoline
    }
}

fn get() -> usize {
    STATE.try_with(Cell::get).unwrap_or(0)
}

/// Queues a nested hand-off's fire.
#[cold]
fn queue(fire: Fire) {
    let mut slot = Some(fire);
    if PENDING.try_with(|pending| pending.borrow_mut().extend(slot.take())).is_ok() {
        let _ = STATE.try_with(|state| state.set(state.get() + 1));
    }
    if let Some(fire) = slot {
        fire(); // `PENDING` is gone (thread exit): fire inline
    }
}

/// Runs the queued fires, oldest first, until none is left.
#[cold]
fn drain() {
    while let Some(fire) = pop() {
        fire();
    }
    let _ = PENDING.try_with(|pending| pending.borrow_mut().shrink_to(PENDING_KEPT));
}

fn pop() -> Option<Fire> {
    let fire = PENDING.try_with(|pending| pending.borrow_mut().pop_front()).ok().flatten()?;
    let _ = STATE.try_with(|state| state.set(state.get() - 1));
    Some(fire)
}

/// Ends the outermost hand-off, also when a fire panicked (a waker or a drop: callbacks'
/// panics are caught by the chain); the fires still queued then run while unwinding.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        if get() > 1 {
            drain();
        }
        let _ = STATE.try_with(|state| state.set(0));
    }
}
