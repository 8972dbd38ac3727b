//! Chained Deferreds nobody can observe any more are freed (a child module of `chain`: it
//! reads the state's fields).
//!
//! # Why
//!
//! When `outer`'s callback returns `inner` and `inner` has no result yet, each holds the
//! other: `outer.waiting_on` holds `inner`, and the resume marker in `inner`'s queue holds
//! `outer`. If every handle of both is then dropped and `inner` was never fired (Twisted's
//! "abandoned request"), nothing can fire `inner` any more, so neither chain can ever run
//! again, yet each keeps the other, and all their callbacks' captures, alive for ever.
//!
//! # The bookkeeping
//!
//! References to a core are *structural* (the `waiting_on` of an outer chain, the resume
//! marker of an inner chain holding this one) or not: user handles, a primitive's
//! [`Registration`](super::Registration), a runner's or a canceller's temporary handle. Under
//! each core's lock:
//!
//! * `waited_by`: outers whose `waiting_on` is this core ([`link`] after the outer recorded
//!   it, [`unlink`] once a resume took it back); with `waiting_on` itself that is
//!   `structural()`, and `refs - structural()` counts the other references;
//! * `dead_outers`: outers that reported that nothing can observe them; `reported_dead`: this
//!   core reported so to the core it waits on.
//!
//! The updates of an inner's counters run after the outer's lock is released (locks never
//! nest), so they may lag behind the links, but never run ahead: `waited_by` is incremented
//! after the link exists and decremented while the resume still holds its `waiting_on`
//! reference, and `dead_outers` is incremented after `reported_dead` was set and decremented
//! after it was taken back. A lagging count only makes a core look observed.
//!
//! # Deciding that nothing observes a tree
//!
//! A core is *settled* when no runner holds it and it either waits (`waiting_on`) or is unfired
//! with outers waiting on it. A settled core's structural references cannot go while its lock
//! is held (each goes only through a resume, which locks the outer, or with a queue, which only
//! changes under the lock). When a non-structural reference to a possibly linked core goes (a
//! user handle's drop, the end of a runner's hold, a registration's drop), [`Core::release_linked`]
//! locks it and, if it is settled, counts under the lock: if other non-structural references
//! are left, or an outer has not reported dead, it releases the reference under the lock (so
//! two last drops on two threads cannot both miss each other; safe because the structural
//! references outlive the guard) and stops. Otherwise nothing can observe this core: if it
//! waits, it reports dead to its inner core and the same check runs there (a loop, not a
//! recursion); if it is the unfired root of the tree, nothing can fire it either, so the
//! whole tree is unreachable: the root's queue and canceller are taken and dropped. Each
//! resume marker dropped unrun that way *orphans* its outer core ([`Waiting`]'s drop): under
//! its lock, an outer that still waits and is observed by nothing gives up its queue,
//! canceller and `waiting_on` too, and so on outwards, in a loop driven by a thread-local list
//! (as `teardown.rs` does for drops). Every member's memory and captures are then freed.
//!
//! A reference that goes while its core is not settled (a runner still holds it) is released
//! without the check; a tree whose last observer went that way, in a race, stays alive (a leak,
//! never a premature free). A cycle that formed despite the walk at chaining (see `chain_onto`)
//! has no unfired root and is not freed either.

use std::cell::{Cell, RefCell};
use std::mem::ManuallyDrop;

use super::{Core, State, LINKED};
use crate::core_ref::CoreRef;
use crate::sync::atomic::Ordering;

impl State {
    /// See the module doc.
    fn settled(&self) -> bool {
        !self.running && (self.waiting_on().is_some() || (!self.called && self.waited_by > 0))
    }

    /// Structural references to this core (module doc).
    fn structural(&self) -> i64 {
        i64::from(self.waited_by) + i64::from(self.waiting_on().is_some())
    }

    /// Outers waiting on this core that did not report dead.
    fn live_outers(&self) -> i64 {
        i64::from(self.waited_by) - i64::from(self.dead_outers)
    }
}

/// An outer chain now waits on `inner` (its `waiting_on` is recorded).
pub(super) fn link(inner: &CoreRef) {
    let mut s = inner.lock();
    s.waited_by += 1;
    if !s.linked {
        s.linked = true;
        inner.store_hints(&s);
    }
}

/// An outer chain stopped waiting on `inner` (a resume took its `waiting_on`); `was_dead`: it
/// had reported dead.
pub(super) fn unlink(inner: &CoreRef, was_dead: bool) {
    let mut s = inner.lock();
    s.waited_by -= 1;
    if was_dead {
        s.dead_outers -= 1;
    }
}

/// `&Core` of `this`, not tied to the borrow of `this` (see [`Core::release_linked`]).
fn detach(this: &CoreRef) -> &'static Core {
    let core: *const Core = &**this;
    // SAFETY: the caller holds `this` until it has dropped the guard, or releases it under the
    // lock of a settled core, whose structural references outlive the guard (module doc); the
    // `'static` never escapes `release_linked`.
    unsafe { &*core }
}

impl Core {
    /// Releases a non-structural reference: through [`Core::release_linked`] if the core was
    /// ever linked, else as a plain drop.
    #[inline]
    pub(crate) fn release(this: CoreRef) {
        if this.hints.load(Ordering::Relaxed) & LINKED != 0 {
            Core::release_linked(this);
        }
    }

    /// Releases a non-structural reference to a core that may be linked (module doc).
    #[cold]
    #[inline(never)]
    pub(crate) fn release_linked(this: CoreRef) {
        let (mut current, mut report) = (this, false);
        loop {
            let core = detach(&current);
            let mut s = core.lock();
            if report {
                s.dead_outers += 1;
            }
            if !s.settled() {
                drop(s);
                return drop(current);
            }
            let others = current.refs() as i64 - s.structural() - 1;
            if others > 0 || s.live_outers() > 0 || s.reported_dead {
                // SAFETY: not the last reference (the structural ones remain), and those
                // outlive the guard: the core is settled (module doc).
                unsafe { CoreRef::release_not_last(current) };
                return drop(s);
            }
            let Some(inner) = s.waiting_on().cloned() else {
                // The unfired root of a tree nothing observes: nothing can fire it either.
                let remains = (s.queue.take(), s.take_canceller());
                drop(s);
                return collecting(move || drop(remains), Some(current));
            };
            s.reported_dead = true;
            // SAFETY: as above.
            unsafe { CoreRef::release_not_last(current) };
            drop(s);
            (current, report) = (inner, true);
        }
    }
}

/// The reference a resume marker holds to the outer chain waiting on the marker's chain. The
/// marker's run takes it ([`Waiting::into_outer`]); a marker dropped unrun orphans the outer
/// (module doc).
pub(super) struct Waiting(ManuallyDrop<CoreRef>);

impl Waiting {
    pub(super) fn new(outer: CoreRef) -> Self {
        Waiting(ManuallyDrop::new(outer))
    }

    pub(super) fn into_outer(self) -> CoreRef {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the reference is taken exactly once.
        unsafe { ManuallyDrop::take(&mut this.0) }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        // SAFETY: taken once, here; the field is not used afterwards.
        let outer = unsafe { ManuallyDrop::take(&mut self.0) };
        orphaned(outer);
    }
}

crate::sync::thread_local_const! {
    /// True while this thread frees an unobservable tree.
    static COLLECTING: Cell<bool> = Cell::new(false);
    /// Outer chains whose markers were dropped unrun meanwhile.
    static ORPHANS: RefCell<Vec<CoreRef>> = RefCell::new(Vec::new());
}

/// Runs `drop_remains` and frees every outer it orphans, in a loop; then drops `last`.
fn collecting(drop_remains: impl FnOnce(), last: Option<CoreRef>) {
    match COLLECTING.try_with(|on| on.replace(true)) {
        Ok(false) => {}
        _ => return drop((drop_remains(), last)), // a loop below drains what this orphans
    }
    let on = Collecting;
    drop_remains();
    while let Some(outer) = pop() {
        collect_orphan(outer);
    }
    drop(on);
    drop(last);
}

fn pop() -> Option<CoreRef> {
    ORPHANS.try_with(|orphans| orphans.borrow_mut().pop()).ok().flatten()
}

/// A marker of `outer` was dropped unrun.
fn orphaned(outer: CoreRef) {
    let mut slot = Some(outer);
    if COLLECTING.try_with(Cell::get).unwrap_or(false) {
        let _ = ORPHANS.try_with(|orphans| orphans.borrow_mut().extend(slot.take()));
    }
    if let Some(outer) = slot {
        collecting(|| collect_orphan(outer), None);
    }
}

/// Frees what `outer` holds if it still waits and nothing observes it (its marker, whose
/// reference this is, was dropped unrun); else only drops the reference.
fn collect_orphan(outer: CoreRef) {
    let mut s = outer.lock();
    let unobserved = !s.running
        && s.waiting_on().is_some()
        && outer.refs() as i64 == s.structural()
        && s.live_outers() <= 0;
    if !unobserved {
        drop(s);
        return drop(outer);
    }
    let remains = (s.take_waiting_on(), s.queue.take(), s.take_canceller());
    drop(s);
    drop(remains);
    drop(outer);
}

/// Ends a collecting loop, also when a drop panicked.
struct Collecting;

impl Drop for Collecting {
    fn drop(&mut self) {
        while let Some(outer) = pop() {
            collect_orphan(outer);
        }
        let _ = COLLECTING.try_with(|on| on.set(false));
    }
}
