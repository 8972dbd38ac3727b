//! The chain's runner (a child module of `chain`: it reads the state's fields): the thread
//! that claimed a chain (`running = true` under its mutex; see the [`chain`](super) module
//! doc, "Protocol") runs the chain's callbacks here.
//!
//! [`run`] runs a batch taken from the queue without the lock, each callback given the result
//! of the one before, checks the pause hint after each callback, and locks again to take
//! more. It stops only at that locked check, with the queue empty or the chain paused: the
//! result goes back to rest and the awaiting handles are woken. A callback that returns a
//! Deferred continues through `chaining.rs` (taking its result, or the hand-off). A `Resume`
//! marker that claims its outer chain (`Step::RunOuter`) makes [`drive`] run that chain next
//! on an explicit stack, then the rest of the inner one (Twisted's order): nothing recurses.

use super::{chaining, spent, Core, Outcome, Step};
use crate::callbacks::CallbackQueue;
use crate::core_ref::CoreRef;
use crate::sync::atomic::Ordering;

/// Runs `core`'s chain from `outcome`, starting with `batch` (taken from its queue); the
/// caller has set `core.running`.
///
/// The explicit stack holds cores whose runner was interrupted by a `Resume` marker: the outer
/// Deferred runs first, then the rest of the inner one (Twisted's order, no recursion).
pub(super) fn drive(core: &CoreRef, outcome: Outcome, batch: CallbackQueue) {
    if let Some(first) = run(core, outcome, batch) {
        drive_chained(core.clone(), first);
    }
}

/// The rest of [`drive`] once a `Resume` marker handed this thread an outer core to run.
#[cold]
fn drive_chained(core: CoreRef, first: (CoreRef, Outcome)) {
    let mut stack: Vec<(CoreRef, Outcome)> = Vec::new();
    let mut next = Some((core, first));
    while let Some((inner, (outer, handed))) = next.take() {
        stack.push((inner, spent()));
        next = run_held(outer, handed);
        while next.is_none() {
            let Some((core, outcome)) = stack.pop() else { break };
            next = run_held(core, outcome);
        }
    }
}

/// [`run`] for a core this runner holds a reference to, released once it stops (`links.rs`:
/// it may have been the last thing observing a chain that now waits).
fn run_held(core: CoreRef, outcome: Outcome) -> Option<(CoreRef, (CoreRef, Outcome))> {
    match run(&core, outcome, CallbackQueue::default()) {
        Some(next) => Some((core, next)),
        None => {
            Core::release(core);
            None
        }
    }
}

/// Runs one core until it stops. Returns `Some((outer, result))` when it met a `Resume`
/// marker whose outer core this thread must run next; `core` then stays `running`, with the
/// rest of its batch back at the front of its queue.
fn run(
    core: &CoreRef,
    mut current: Outcome,
    mut batch: CallbackQueue,
) -> Option<(CoreRef, Outcome)> {
    loop {
        while let Some(callback) = batch.pop_front() {
            match callback(current) {
                Step::Done(outcome) => current = outcome,
                Step::Chain(inner) => match chaining::chain_onto(core, inner, &mut batch) {
                    Some(outcome) => current = outcome,
                    None => return None,
                },
                Step::RunOuter(outer) => {
                    core.lock().queue.prepend(batch);
                    let result = outer.lock().result.take().unwrap_or_else(spent);
                    return Some((outer, result));
                }
            }
            if core.pause_hint.load(Ordering::Relaxed) {
                core.lock().queue.prepend(batch.take()); // the locked check below stops us
            }
        }
        let mut s = core.lock();
        // The invariant of the module doc: a hand-off is consumed inside `chain_onto`, so at
        // this locked check a running chain holds no result at rest.
        debug_assert!(s.running && s.result.is_none(), "a running chain holds a result at rest");
        if s.paused > 0 || s.queue.is_empty() {
            s.result = Some(current);
            s.running = false;
            let wakers = if s.paused == 0 { s.take_wakers() } else { None };
            drop(s);
            if let Some(wakers) = wakers {
                wakers.wake_all();
            }
            return None;
        }
        batch = s.queue.take();
    }
}
