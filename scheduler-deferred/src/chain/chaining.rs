//! Chaining (a child module of `chain`): a callback returned another Deferred; the resume
//! marker that hands the inner result back; the walk that refuses a cycle (see the `chain`
//! module doc, "Chaining" and "Cycles").

use std::mem;

use super::{links, spent, CallbackQueue, Outcome, Step};
use crate::core_ref::CoreRef;
use crate::errors::{ChainCycle, ChainedToItself};
use crate::failure::Failure;

/// `outer`'s callback returned `inner`. Returns the result to continue with now, or `None`
/// when `outer` now waits on `inner` (and this runner has stopped).
pub(super) fn chain_onto(
    outer: &CoreRef,
    inner: CoreRef,
    batch: &mut CallbackQueue,
) -> Option<Outcome> {
    if CoreRef::ptr_eq(outer, &inner) {
        return Some(Err(Failure::new(ChainedToItself)));
    }
    let stale = {
        let mut s = inner.lock();
        if s.result.is_some() && !s.running && s.paused == 0 {
            // Steal: inner keeps `Spent` (Twisted: None); a queue's getter returned by a
            // callback is taken, so disarmed.
            let stale = s.disarm(&inner);
            let stolen = s.result.replace(spent());
            drop(s);
            drop(stale);
            return stolen;
        }
        if let Some(next) = s.waiting_on().cloned() {
            drop(s);
            if waits_on(next, outer) {
                return Some(Err(Failure::new(ChainCycle)));
            }
            s = inner.lock(); // the waits_on walk released it: look again
            if s.result.is_some() && !s.running && s.paused == 0 {
                let stale = s.disarm(&inner);
                let stolen = s.result.replace(spent());
                drop(s);
                drop(stale);
                return stolen;
            }
        }
        let waiting = links::Waiting::new(outer.clone());
        s.queue.push_back(Box::new(move |outcome| resume(waiting.into_outer(), outcome)));
        s.disarm(&inner) // the resume marker consumes the result
    };
    drop(stale);
    let mut s = outer.lock();
    s.queue.prepend(batch.take());
    if let Some(handed) = s.result.take() {
        return Some(handed); // inner's runner already handed the result back
    }
    let link = inner.clone();
    s.cold.waiting_on = Some(inner);
    s.running = false;
    s.linked = true;
    outer.store_hints(&s);
    drop(s);
    links::link(&link);
    None
}

/// How far [`chain_onto`] follows `waiting_on` links looking for a cycle. Deeper cycles (and
/// cycles closed by two threads chaining at the same moment) are not refused when they form;
/// [`Core::cancel`](super::Core::cancel) still detects them and breaks them with [`ChainCycle`].
const CYCLE_WALK: usize = 4096;

/// True if following `waiting_on` from `next` (within [`CYCLE_WALK`] links) reaches `outer`.
#[cold]
fn waits_on(mut next: CoreRef, outer: &CoreRef) -> bool {
    for _ in 0..CYCLE_WALK {
        if CoreRef::ptr_eq(&next, outer) {
            return true;
        }
        let Some(further) = next.lock().waiting_on().cloned() else { return false };
        next = further;
    }
    false
}

/// The resume marker: delivers `result` to `outer` (which waits on the core being run). If
/// `outer` is idle and not paused, claims it (`running = true`, result parked in its state for
/// the caller to take) and asks the runner to run it next.
fn resume(outer: CoreRef, result: Outcome) -> Step {
    let mut s = outer.lock();
    if mem::take(&mut s.broken) || (!s.running && s.waiting_on().is_none()) {
        // A stale marker: `outer` was broken out of a cycle by `cancel` and runs on its own.
        return Step::Done(result);
    }
    let was_dead = mem::take(&mut s.reported_dead);
    let inner = s.take_waiting_on(); // dropped after the lock is released
                                     // A hand-off to its runner (still `running`), at rest until `unpause`, or parked for us.
    s.result = Some(result);
    let claim = !s.running && s.paused == 0;
    s.running |= claim;
    drop(s);
    if let Some(inner) = inner {
        links::unlink(&inner, was_dead);
    }
    if claim {
        Step::RunOuter(outer)
    } else {
        Step::Done(spent())
    }
}
