//! `cancel()` of a chain (a child module of `chain`): the walk to the innermost unfired
//! Deferred, with Brent's cycle detection, and the breaking of a cycle (see the `chain` module
//! doc, "Cycles" and "Cancellation").

use std::mem;

use super::{drive, links, Core};
use crate::core_ref::CoreRef;
use crate::errors::{Cancelled, ChainCycle};
use crate::failure::{report_unhandled, Failure};

impl Core {
    /// Cancels the innermost unfired Deferred of this chain (see the module doc).
    pub(crate) fn cancel(this: &CoreRef) {
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
                            return Core::break_cycle(&inner);
                        }
                        steps += 1;
                        if steps == power {
                            (mark, power, steps) = (inner.clone(), power * 2, 0);
                        }
                        target = inner;
                        continue;
                    }
                    None => return, // fired and not waiting: a no-op, as in Twisted
                }
            }
            if s.cancelling {
                return; // another thread is running the canceller
            }
            if s.armed {
                // Unfired: keeps its hook as its canceller. Look again: it may have been
                // fired meanwhile.
                drop(Core::disarm_relock(&target, s));
                continue;
            }
            let Some(canceller) = s.take_canceller() else {
                s.suppress_next_fire = true;
                Core::start(&target, s, Err(Failure::new(Cancelled)));
                return;
            };
            s.cancelling = true;
            drop(s);
            let ran =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| canceller.run(&target)));
            if let Err(payload) = ran {
                report_unhandled(&Failure::from_panic(payload)); // Twisted port note 11
            }
            // The canceller may have fired it; then this is AlreadyCalled and ignored.
            let _ = Core::fire(&target, Err(Failure::new(Cancelled)));
            return;
        }
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
