//! `cancel()` of a chain (a child module of `chain`): the walk to the innermost unfired
//! Deferred, with Brent's cycle detection, and the breaking of a cycle (see the `chain` module
//! doc, "Cycles" and "Cancellation").

use std::mem;

use super::{drive, links, Canceller, Core};
use crate::core_ref::CoreRef;
use crate::errors::{Cancelled, ChainCycle};
use crate::failure::{report_unhandled, Failure};

impl Core {
    /// Cancels the innermost unfired Deferred of this chain (see the module doc). Returns
    /// false if that reached nothing: the chain had fired and waits on no other one (or a
    /// cycle was already broken by another thread); a `from_future` driver then looks for the
    /// next Deferred its coroutine awaits (`awaited.rs`).
    pub(crate) fn cancel(this: &CoreRef) -> bool {
        let mut target = this.clone();
        // Brent's cycle detection on the `waiting_on` walk: `mark` is a core seen `power`
        // links back at most; meeting it again means the walk is in a cycle.
        let (mut mark, mut power, mut steps) = (this.clone(), 1usize, 0usize);
        loop {
            let mut s = target.lock();
            if s.called {
                match s.waiting_on().cloned() {
                    Some(inner) => {
                        drop(s);
                        if CoreRef::ptr_eq(&inner, &mark) {
                            Core::break_cycle(&inner);
                            return true;
                        }
                        steps += 1;
                        if steps == power {
                            (mark, power, steps) = (inner.clone(), power * 2, 0);
                        }
                        target = inner;
                        continue;
                    }
                    None => return false, // fired and not waiting: a no-op, as in Twisted
                }
            }
            if s.cancelling {
                return true; // another thread is running the canceller
            }
            if s.armed && !s.keeps_armed_on_cancel() {
                // Unfired: keeps its hook as its canceller. Look again: it may have been
                // fired meanwhile.
                drop(Core::disarm_relock(&target, s));
                continue;
            }
            // Still armed here only for a `from_future` driver (`keeps_armed_on_cancel`): its
            // handles' drops still detach it while its hook runs or after it passed the cancel
            // on. The callers' handles are users' (`Deferred::cancel`, a driver's children, a
            // list's inputs), so the clones this walk holds meanwhile never hide the last one.
            let Some(canceller) = s.take_canceller() else {
                s.suppress_next_fire = true;
                Core::start(&target, s, Err(Failure::new(Cancelled)));
                return true;
            };
            s.cancelling = true;
            drop(s);
            match canceller {
                Canceller::Hook(_) => hook_runs::run(target, canceller),
                Canceller::Boxed(_) => {
                    hook_runs::at_once(|| Core::run_canceller(&target, canceller))
                }
            }
            return true;
        }
    }

    /// Runs `target`'s canceller (taken out, `cancelling` set) and finishes the cancel: fails
    /// it with `Cancelled` unless the canceller fired it or passed the cancel on.
    fn run_canceller(target: &CoreRef, canceller: Canceller) {
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| canceller.run(target)));
        let passed_on = match ran {
            Ok(Some(kept)) => {
                Core::keep_canceller(target, kept);
                true
            }
            Ok(None) => false,
            Err(payload) => {
                // A panicking canceller is reported as an unhandled failure, as Twisted logs an
                // exception a canceller raises, and the cancel goes on.
                report_unhandled(&Failure::from_panic(payload));
                false
            }
        };
        if !passed_on {
            // The canceller may have fired it; then this is AlreadyCalled and ignored.
            let _ = Core::fire(target, Err(Failure::new(Cancelled)));
        }
    }

    /// A hook passed the cancel on (`HookCancel::PassedOn`): the chain stays pending and keeps
    /// it as its canceller for the next cancel, unless it fired meanwhile (then the canceller
    /// goes, as a fire drops it; but a waiter still armed keeps its hook, which reports a
    /// failure handed to it and never taken, `waiter.rs`).
    #[cold]
    fn keep_canceller(this: &CoreRef, canceller: Canceller) {
        let mut s = this.lock();
        s.cancelling = false;
        if s.called && !s.armed {
            drop(s);
            return drop(canceller);
        }
        s.cold.canceller = Some(canceller);
    }

    /// `core` waits, through a cycle of chained Deferreds, on itself: stop its wait and run it
    /// on with a [`ChainCycle`] failure, which then flows round the cycle to every member.
    #[cold]
    fn break_cycle(core: &CoreRef) {
        let mut s = core.lock();
        if s.running || s.waiting_on().is_none() {
            return; // another thread got there first
        }
        let was_dead = mem::take(&mut s.reported_dead);
        let inner = s.take_waiting_on();
        s.running = true;
        s.broken = true;
        let batch = s.queue.take();
        drop(s);
        if let Some(inner) = inner {
            links::unlink(&inner, was_dead);
        }
        drive(core, Err(Failure::new(ChainCycle)), batch);
    }
}

/// The thread's trampoline for shared hooks' cancels: a `from_future` driver passes a cancel
/// to the Deferreds its coroutine awaits, and one of those may be another coroutine's
/// Deferred, whose driver passes it on again. A hook cancel that comes while one runs on this
/// thread is queued, and the outermost one runs the queue after its own, in order: a cancel
/// through a million nested coroutines needs the native stack of one level, not one frame
/// set per level. The caller of `cancel` still finds the whole cascade done when it returns.
/// A user's own canceller (`Canceller::Boxed`) always runs at once, and as outside any hook
/// cancel: a canceller that cancels another Deferred (a coroutine's too) finds it cancelled
/// when that `cancel` returns, as in Twisted.
mod hook_runs {
    use std::cell::{Cell, RefCell};
    use std::collections::VecDeque;

    use super::{Canceller, Core, CoreRef};

    crate::sync::thread_local_const! {
        /// True while a hook's cancel runs on this thread.
        static RUNNING: Cell<bool> = Cell::new(false);
        /// Hook cancels that came meanwhile, oldest first.
        static QUEUE: RefCell<VecDeque<(CoreRef, Canceller)>> = RefCell::new(VecDeque::new());
    }

    /// Runs (or, inside another hook cancel on this thread, queues) `target`'s hook cancel.
    pub(super) fn run(target: CoreRef, canceller: Canceller) {
        if RUNNING.try_with(|on| on.replace(true)).unwrap_or(true) {
            let mut job = Some((target, canceller));
            let _ = QUEUE.try_with(|queue| queue.borrow_mut().extend(job.take()));
            if let Some((target, canceller)) = job {
                Core::run_canceller(&target, canceller); // the thread is exiting: run it here
            }
            return;
        }
        let _reset = Reset;
        Core::run_canceller(&target, canceller);
        drop(target);
        while let Some((target, canceller)) =
            QUEUE.try_with(|queue| queue.borrow_mut().pop_front()).ok().flatten()
        {
            Core::run_canceller(&target, canceller);
        }
    }

    /// Runs a user's canceller as outside any hook cancel (see the module doc).
    pub(super) fn at_once(run: impl FnOnce()) {
        let outer = RUNNING.try_with(|on| on.replace(false)).unwrap_or(false);
        run(); // catches the canceller's panic itself
        let _ = RUNNING.try_with(|on| on.set(outer));
    }

    /// Ends the outermost hook cancel, also when unwinding.
    struct Reset;

    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = RUNNING.try_with(|on| on.set(false));
        }
    }
}
