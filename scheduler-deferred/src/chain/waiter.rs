//! Waiters of a `DeferredQueue`, `DeferredLock` or `DeferredSemaphore`, and how they withdraw
//! when their last handle is dropped (a child module of `chain`: it reads the state's fields).
//!
//! # Why
//!
//! In Rust a future is cancelled by dropping it (`select!`, `timeout`, an aborted task), and
//! nobody calls `cancel()` first. A getter or acquirer whose handles are all gone must leave
//! its primitive's waiters, or the next value or token goes to it and is lost.
//!
//! # The protocol
//!
//! A waiter is made *armed* ([`Core::waiter`]): `state.armed`, mirrored in the `Core::armed`
//! hint, and the primitive keeps one handle of it, a [`Registration`] (`state.registered`
//! while alive), in its FIFO. While armed, `refs == users + registered`: every other handle
//! is a user's `Deferred`, because internal links (a resume marker, `waiting_on`) are only
//! made by a callback or a chaining, which disarm it first.
//!
//! * The primitive hands a value (or token) over with [`Registration::hand_over`], which fires
//!   the chain *without* disarming it: the result rests there until somebody takes it. A
//!   `get` or `acquire` that is served at once returns such a handed waiter directly
//!   ([`Core::handed`], with no registration).
//! * Anything that consumes the Deferred disarms it, under its lock (`State::disarm`): adding
//!   a callback, chaining onto it, taking its result (`.await`, `take_result`), cancelling it,
//!   firing it by hand. A disarmed waiter is an ordinary Deferred. One exception: a
//!   `from_future` driver's hook (`CancelHook::keeps_armed_on_cancel`) passes a cancel on to
//!   what its coroutine awaits and the Deferred stays pending, so the cancel leaves it armed:
//!   dropping every handle afterwards still detaches the driver.
//! * A user handle's drop sees the hint and takes [`Core::drop_user`] (the hint is read
//!   Relaxed: it is set before the core is shared, and the path below rereads `armed` under
//!   the lock, so a stale `true` only costs a lock). Under the lock, with `armed` still set:
//!   if `refs - registered > 1`, another user handle is alive: the count is decremented
//!   *under the lock* (so two last drops on two threads cannot both see the other), and the
//!   core stays alive meanwhile because every handle left needs this lock to go (users take
//!   this path, the registration takes [`Registration`]'s drop, which locks too). Otherwise
//!   this is the last user: disarm, and if the chain was not fired mark it `called` (so a
//!   hand-off racing with this drop is refused and tries the next waiter), else take the
//!   handed result out; then, after the unlock, give the primitive's hook
//!   ([`CancelHook::withdraw`]) the news: leave the FIFO, or take the value/token back.
//! * The registration's drop (after its hand-off, or when the FIFO is dropped) clears
//!   `registered` and, while armed, decrements under the lock for the same reason. A FIFO
//!   dropped with the waiter still unfired disarms it: nobody can fire it any more.
//!
//! Every handle dropped, therefore, whatever the thread and whenever, leaves exactly one of:
//! the waiter still in the FIFO and unfired (a user handle lives), withdrawn (not fired, the
//! hand-off refused), or its handed result given back. A waiter with callbacks is a consumer
//! (Twisted's fire-and-forget `q.get().add_callback(f)`): it keeps its place when its handles
//! are dropped.

use std::mem::ManuallyDrop;

use super::{CancelHook, Canceller, Core, Outcome, State};
use crate::core_ref::CoreRef;
use crate::sync::{Arc, SpinGuard};

/// The primitive's own handle of a waiter (see the module doc); not a user handle.
pub(crate) struct Registration {
    core: ManuallyDrop<CoreRef>,
}

impl Core {
    /// A new armed waiter of the primitive whose hook is `hook`: the user's handle, and the
    /// primitive's [`Registration`].
    #[inline]
    pub(crate) fn waiter(hook: Arc<dyn CancelHook>) -> (CoreRef, Registration) {
        let (core, own) = CoreRef::new_pair(|| Core::with_state(State::armed(hook, None), true));
        (core, Registration { core: ManuallyDrop::new(own) })
    }

    /// A waiter handed `outcome` at once (a `get` that found a value pending, an `acquire`
    /// that found a token): armed, so a drop before anybody takes it gives it back, as for a
    /// waiter handed it later; no registration.
    pub(crate) fn handed(hook: Arc<dyn CancelHook>, outcome: Outcome) -> CoreRef {
        CoreRef::new(|| Core::with_state(State::armed(hook, Some(outcome)), true))
    }

    /// Takes `this`'s canceller out (a detaching `from_future` driver, `driver.rs`).
    pub(crate) fn take_canceller_of(this: &CoreRef) -> Option<Canceller> {
        this.lock().take_canceller()
    }

    /// The drop of a user handle (a `Deferred`) whose core has a drop hint: the waiter path
    /// (the module doc) if it is armed, else the liveness path of `links.rs`.
    #[cold]
    #[inline(never)]
    pub(crate) fn drop_user(this: CoreRef) {
        let core = detach(&this);
        let mut s = core.lock();
        if !s.armed {
            drop(s);
            return Core::release(this); // a chained Deferred's drop (`links.rs`), or a stale hint
        }
        if this.refs() - usize::from(s.registered) > 1 {
            // SAFETY: not the last handle (another user's is alive), and every handle left
            // needs this lock to go, so the core outlives the guard.
            unsafe { CoreRef::release_not_last(this) };
            return drop(s);
        }
        s.armed = false;
        core.store_hints(&s);
        let hook = s.take_canceller();
        let handed = if s.called {
            s.result.take()
        } else {
            s.called = true; // a racing hand-off is refused and goes to the next waiter
            None
        };
        drop(s);
        if let Some(Canceller::Hook(hook)) = &hook {
            hook.withdraw(&this, handed);
        }
        drop(hook);
        drop(this);
    }
}

impl State {
    /// An armed waiter's state: waiting (`handed` is `None`, registered) or handed `handed`
    /// at once (fired, no registration).
    #[inline(always)]
    fn armed(hook: Arc<dyn CancelHook>, handed: Option<Outcome>) -> State {
        let called = handed.is_some();
        let mut cold = ManuallyDrop::new(super::Cold::default());
        cold.canceller = Some(Canceller::Hook(hook));
        State { armed: true, registered: !called, called, result: handed, cold, ..State::default() }
    }
}

/// `&Core` of `this`, not tied to the borrow of `this`, so the handle can be released while a
/// guard of the core's lock is held.
fn detach(this: &CoreRef) -> &'static Core {
    let core: *const Core = &**this;
    // SAFETY: the callers keep the core alive for every use of the reference: while they hold
    // the handle, or, after releasing it under the lock, until the guard is dropped (see the
    // module doc: no handle can go while that lock is held and the core is armed). The
    // `'static` never escapes them.
    unsafe { &*core }
}

impl Registration {
    /// True if this registration is of `core`.
    pub(crate) fn is(&self, core: &CoreRef) -> bool {
        CoreRef::ptr_eq(&self.core, core)
    }

    /// True if the waiter still looks armed (a hint, read without the lock): then its
    /// hand-over runs no callback, only wakes its awaiting tasks, and need not go through the
    /// hand-off trampoline (`handoff.rs`). A callback added meanwhile runs inline once.
    #[inline]
    pub(crate) fn looks_armed(&self) -> bool {
        self.core.armed_hint()
    }

    /// Fires the waiter with the value (or token) handed over, keeping it armed; gives the
    /// outcome back if the waiter was fired, cancelled or withdrawn meanwhile.
    #[inline]
    pub(crate) fn hand_over(self, outcome: Outcome) -> Result<(), Outcome> {
        let mut this = ManuallyDrop::new(self);
        let core = detach(&this.core);
        let mut s = core.lock();
        if s.called || !s.armed {
            return ManuallyDrop::into_inner(this).hand_over_slow(s, outcome);
        }
        // Armed: no callback, so the result only comes to rest; and this registration goes
        // in the same critical section (what its drop would do, without a second lock).
        s.called = true;
        s.result = Some(outcome);
        s.registered = false;
        let wakers = if s.paused == 0 { s.take_wakers() } else { None };
        // SAFETY: taken once; `this` is never dropped.
        let handle = unsafe { ManuallyDrop::take(&mut this.core) };
        // SAFETY: armed and unfired until now, so a user handle is alive (the last one's drop
        // would have marked it called), and it needs this lock to go: the core outlives the
        // guard.
        unsafe { CoreRef::release_not_last(handle) };
        drop(s);
        if let Some(wakers) = wakers {
            wakers.wake_all();
        }
        Ok(())
    }
}

impl Registration {
    /// [`hand_over`](Registration::hand_over) to a waiter that was fired meanwhile (refused)
    /// or has callbacks (an ordinary fire, then an ordinary drop).
    #[cold]
    #[inline(never)]
    fn hand_over_slow(self, s: SpinGuard<'_, State>, outcome: Outcome) -> Result<(), Outcome> {
        if s.called {
            drop(s);
            return Err(outcome);
        }
        Core::start(&self.core, s, outcome);
        Ok(())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: taken once, here; the field is not used afterwards.
        let this = unsafe { ManuallyDrop::take(&mut self.core) };
        let core = detach(&this);
        let mut s: SpinGuard<'_, State> = core.lock();
        s.registered = false;
        if !s.armed {
            drop(s);
            return Core::release(this);
        }
        if s.called && this.refs() > 1 {
            // Armed and fired (not by a hand-over, which releases its registration itself):
            // a user handle is alive, as the last one would have disarmed it.
            // SAFETY: not the last handle, and every handle left needs this lock to go.
            unsafe { CoreRef::release_not_last(this) };
            return drop(s);
        }
        // Unfired and its FIFO is gone (the primitive was dropped; or, defensively, this is
        // the last handle): nobody can hand it a value any more, so it is an ordinary Deferred
        // now (its hook stays its canceller).
        let stale = s.disarm(core);
        drop(s);
        drop(stale);
        drop(this);
    }
}
