//! [`Awaited`]: the Deferreds a `from_future` coroutine awaits now, and where a cancel of its
//! Deferred goes (Twisted's inlineCallbacks `waitingOn`; `driver.rs` uses it).
//!
//! # What is recorded
//!
//! A Deferred polled with a driver's waker that returns `Pending` *registers* itself with that
//! driver ([`Awaited::register`], from `future.rs`): the coroutine is suspended at its
//! `.await`. Each poll of the coroutine starts by forgetting the previous poll's children
//! ([`Awaited::begin_poll`]): whatever it still awaits registers again when polled, and what it
//! no longer polls is no longer awaited. A handle dropped while it waits leaves at once
//! ([`Awaited::unregister`], from `Core::forget_waiter`), so a `select!` branch dropped inside
//! a poll is never cancelled on its behalf. Every child is a user handle of the child's chain
//! (a `Deferred<()>` over it), so a queue getter or lock waiter awaited by the coroutine keeps
//! the withdraw protocol of `waiter.rs`: the driver's handle is one more user, and whichever
//! of them goes last withdraws it or gives back what it was handed.
//!
//! # The state, under one mutex
//!
//! * `children`: the Deferreds registered since the current (or last) poll began.
//! * `polling`: a poll of the future runs (set by `begin_poll`, cleared by `end_poll` or
//!   `finish`). While it is set nobody but the poller touches the future.
//! * `cancel_asked`: a cancel came that had nobody to pass to now; the end of the running or
//!   next poll takes it ([`Awaited::end_poll`]).
//! * `done`: the future finished (its output fires the Deferred) or was dropped by a cancel.
//!
//! The mutex is a leaf: nothing else is locked, no user code runs and no handle is dropped
//! while it is held (handles leave as [`Stale`], dropped by the caller afterwards).
//!
//! # A cancel ([`Awaited::on_cancel`], then `Driver::carry_out`)
//!
//! Decided under the mutex, carried out after it is released (cancelling a child runs its
//! canceller and callbacks, user code):
//!
//! 1. `done`: nothing to do; a finished future's output fires the Deferred (the cancel came too
//!    late, as a cancel of a fired Deferred is a no-op).
//! 2. Children registered: cancel them (`PassOn`); the Deferred stays pending and keeps its
//!    canceller, and the children's outcomes wake the coroutine at its `.await`. If no child
//!    cancel reached an unfired Deferred (every child had fired: the coroutine is about to
//!    move on), the decision is taken again; if the children are the same ones, the cancel is
//!    left to the end of the next poll (`cancel_asked`), which the fired children's wake-ups
//!    bring about. So a cancel is never lost; it reaches the next Deferred the coroutine
//!    awaits. (A child that fired but is paused, or that runs its callbacks on another thread
//!    and then chains, delays that poll until it comes to rest.)
//! 3. No child, a poll running: `cancel_asked`; that poll's end decides again, with the
//!    children it registered.
//! 4. No child, no poll: `done`, and the canceller drops the future and fails the Deferred
//!    with `Cancelled` (a coroutine suspended on something that is not one of our Deferreds).
//!
//! Because `begin_poll` refuses to poll once `done` is set, and case 4 is only decided while
//! `polling` is clear, the future is never polled after a cancel dropped it nor dropped while a
//! poll runs. A cancel passed on from case 2 can reach a child that is itself a `from_future`
//! Deferred, whose driver passes it on again: those nested hook cancels run through the
//! thread's trampoline of `cancel.rs` (`hook_runs`), one after the other, so nesting depth
//! costs no native stack.

use std::mem;

use crate::core_ref::CoreRef;
use crate::deferred::Deferred;
use crate::sync::Mutex;

/// The awaited children of one driver and its cancel state (see the module doc).
#[derive(Default)]
pub(crate) struct Awaited {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    children: Vec<Deferred<()>>,
    polling: bool,
    cancel_asked: bool,
    done: bool,
}

/// What a cancel does, decided under the lock (module doc, cases 1 to 4).
#[must_use]
pub(crate) enum CancelStep {
    /// Case 1: the future's output fires the Deferred (or the cancel already did).
    Finished,
    /// Case 2: cancel these children.
    PassOn(Vec<Deferred<()>>),
    /// Case 3: the running (or next) poll's end takes the cancel.
    Later,
    /// Case 4: drop the future and fail with `Cancelled`.
    Stop,
}

/// Handles to drop after the lock is released (a handle's drop may run user code).
#[must_use = "dropped after the lock is released"]
pub(crate) struct Stale {
    /// Held only to be dropped.
    _handles: Vec<Deferred<()>>,
}

impl Awaited {
    /// `core` returned `Pending` to this driver's coroutine (future.rs): it is awaited.
    pub(crate) fn register(&self, core: &CoreRef) {
        let mut s = self.state.lock();
        if s.done || s.children.iter().any(|child| CoreRef::ptr_eq(&child.core, core)) {
            return;
        }
        s.children.push(Deferred::from_core(core.clone()));
    }

    /// A handle of `core` that waited was dropped or consumed: `core` is no longer awaited.
    pub(crate) fn unregister(&self, core: &crate::chain::Core) -> Stale {
        let mut s = self.state.lock();
        let at = s.children.iter().position(|child| std::ptr::eq(&**child.core, core));
        Stale { _handles: at.map(|at| s.children.swap_remove(at)).into_iter().collect() }
    }

    /// True if `core` is among the children now.
    pub(crate) fn is_awaited(&self, core: &CoreRef) -> bool {
        let s = self.state.lock();
        s.children.iter().any(|child| CoreRef::ptr_eq(&child.core, core))
    }

    /// A poll begins: `None` if the future is done (never poll it), else the previous poll's
    /// children, forgotten.
    pub(crate) fn begin_poll(&self) -> Option<Stale> {
        let mut s = self.state.lock();
        if s.done {
            return None;
        }
        s.polling = true;
        Some(Stale { _handles: mem::take(&mut s.children) })
    }

    /// A poll returned `Pending`: the cancel it must carry out now, if one came meanwhile.
    pub(crate) fn end_poll(&self) -> Option<CancelStep> {
        let mut s = self.state.lock();
        s.polling = false;
        if !mem::take(&mut s.cancel_asked) {
            return None;
        }
        Some(s.decide())
    }

    /// The future finished: nothing is awaited any more.
    pub(crate) fn finish(&self) -> Stale {
        let mut s = self.state.lock();
        (s.done, s.polling, s.cancel_asked) = (true, false, false);
        Stale { _handles: mem::take(&mut s.children) }
    }

    /// A cancel of the driver's Deferred (module doc).
    pub(crate) fn on_cancel(&self) -> CancelStep {
        self.state.lock().decide()
    }

    /// Cancelling `tried` reached no unfired Deferred: decide again (module doc, case 2).
    pub(crate) fn after_unreached(&self, tried: &[Deferred<()>]) -> CancelStep {
        let mut s = self.state.lock();
        let same = s.children.len() == tried.len()
            && s.children.iter().zip(tried).all(|(a, b)| CoreRef::ptr_eq(&a.core, &b.core));
        if same && !s.done {
            s.cancel_asked = true;
            return CancelStep::Later;
        }
        s.decide()
    }
}

impl State {
    fn decide(&mut self) -> CancelStep {
        if self.done {
            return CancelStep::Finished;
        }
        if !self.children.is_empty() {
            return CancelStep::PassOn(self.children.clone());
        }
        if self.polling {
            self.cancel_asked = true;
            return CancelStep::Later;
        }
        self.done = true;
        CancelStep::Stop
    }
}
