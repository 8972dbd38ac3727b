//! The callback-chain state machine behind every `Deferred`: a type-erased [`Core`].
//!
//! # Values
//!
//! A chain's current result is an [`Outcome`]: `Ok(Value)` or `Err(Failure)` (see `value.rs`
//! for the type-erased `Value`). A spent value means the result was taken (by an `.await`, a
//! chained Deferred or a `DeferredList`): the first user callback that meets it continues the
//! chain with a `ResultTaken` failure (`deferred.rs`), so nothing added later vanishes; the
//! crate's own entries (resume markers, a list's recorder) pass it on as it is.
//!
//! # State (all under the core's one mutex)
//!
//! * `called`: fired once; never reset.
//! * `running`: one thread owns the chain and holds the current result on its own stack.
//!   Invariant: `running` implies `result` is `None`, except for a hand-off (below).
//! * `result`: the result *at rest*: fired, not running, not waiting on another Deferred.
//! * `paused`: the user's pause count (mirrored in the `pause_hint` atomic, written only under
//!   the mutex, so the runner can check it after each callback without locking).
//! * `waiting_on`: the inner Deferred this one is chained onto (a callback returned it).
//! * `queue`: callbacks not yet run, in chain order; resume markers among them.
//! * `wakers`: one waker per handle awaiting the chain (`wakers.rs`), all woken when the result
//!   comes to rest.
//! * `armed`, `registered`: a queue, lock or semaphore waiter that its last user handle's drop
//!   withdraws (`waiter.rs`); mirrored in the `hints` atomic.
//! * `linked`, `waited_by`, `dead_outers`, `reported_dead`: the bookkeeping that frees chained
//!   Deferreds nobody can observe (`links.rs`); `linked` mirrored in `hints`.
//! * `broken`: left a cycle by `cancel` (below).
//!
//! # Protocol
//!
//! Exactly one thread runs a chain at a time: the thread that flips `running` from false to
//! true under the mutex (by firing, by adding a callback to an idle fired chain, by `unpause`,
//! or by delivering a chained result). Any other thread that wants work done appends to
//! `queue` under the mutex and returns: the runner takes the whole queue under the mutex, runs
//! the batch without the lock, and locks again to take more. It stops (`running = false`,
//! result back at rest) only under the mutex and only when the queue is empty or the chain is
//! paused, so no appended callback is ever stranded: whoever appends while `running` is true
//! is seen by the runner's next locked check, and whoever appends after it is false finds the
//! result at rest and becomes the runner itself. Callbacks therefore run exactly once, in
//! queue order, never two of one chain at once, and no thread blocks for longer than a queue
//! operation.
//!
//! **Chaining.** When a callback of `outer` returns `inner`: if `inner` holds a result at rest
//! and is not paused, `outer` takes it (inner keeps `Spent`) and continues in the same loop.
//! Otherwise the runner appends `Resume(outer)` to `inner`'s queue, then locks `outer`: if a
//! result was handed back meanwhile it continues with it, else it records `waiting_on = inner`
//! and stops. When `inner`'s runner reaches `Resume(outer)` it locks `outer`: if `outer` is
//! still `running` (its runner has not yet stopped) it leaves the result there as a hand-off
//! for that runner; if `outer` is paused it leaves it at rest; otherwise it claims `outer`
//! (`running = true`) and runs it next on its own explicit stack, then comes back to the rest
//! of `inner`'s queue (Twisted's order). Nothing recurses, so a chain of 1,000,000 nested
//! Deferreds needs no more native stack than one.
//!
//! **Cycles.** A callback of `outer` that returns an `inner` waiting (through `waiting_on`
//! links, followed up to `CYCLE_WALK` of them) on `outer` itself would close a cycle nothing
//! can ever fire: `outer` continues with a [`ChainCycle`](crate::ChainCycle) failure instead, which then reaches
//! every Deferred of the would-be cycle through its markers.
//!
//! **Cancellation** walks `waiting_on` links to the innermost Deferred still unfired and
//! cancels that one; its failure then flows back up through the resume markers. The walk
//! detects a cycle that formed anyway (deeper than the chaining walk, or closed by two threads
//! at once) with Brent's algorithm and breaks it: one member stops waiting and runs on with a
//! [`ChainCycle`](crate::ChainCycle) failure, and the stale marker of the cycle that names it (`broken`) passes
//! its result on instead of resuming it. A cancel never spins.
//!
//! Locks are never nested: the runner holds at most one core's mutex at a time.
//!
//! **Handles.** Every handle (a `Deferred`, a resume marker, `waiting_on`) is a
//! [`CoreRef`]: a strong count only, since nothing takes a weak reference to a core. A handle
//! that finds the count at 1 owns the core outright (`add_owned` queues a callback on a fresh
//! Deferred without locking); see `core_ref.rs` for the orderings.
//!
//! **Dropping.** The last handle's drop reports a failure still at rest (Twisted's "Unhandled
//! error in Deferred"), then drops the queue, canceller, waker and result, which may own
//! further Deferreds to any depth: [`teardown`] does that in a loop, so an
//! unfired chain of 1,000,000 nested Deferreds is dropped on one native stack frame too.
//!
//! A chained pair keeps each other alive (`waiting_on` one way, the resume marker the other)
//! until the inner Deferred fires or is cancelled, or until nothing can observe either of them
//! any more: then `links.rs` frees both (and a whole tree of Deferreds waiting on one never
//! fired), in a loop.
//!
//! # Files
//!
//! This module holds the state ([`State`], [`Core`]) and its transitions under the mutex:
//! fire, add, pause and unpause, take, drop. Its child modules: [`runner`] runs a claimed
//! chain; [`chaining`] chains one Deferred onto another (the resume marker, the hand-off, the
//! cycle walk); [`cancel`] cancels; [`links`] frees chained Deferreds nobody can observe;
//! [`waiter`] is the withdraw protocol of a queue, lock or semaphore waiter.

use std::mem::{self, ManuallyDrop};
use std::task::Waker;

mod cancel;
mod chaining;
mod links;
mod runner;
mod waiter;
use runner::drive;
pub(crate) use waiter::Registration;

use crate::callbacks::CallbackQueue;
use crate::core_ref::CoreRef;
use crate::errors::{AlreadyCalled, NotPaused};
use crate::failure::Failure;
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::sync::{Arc, SpinGuard, SpinLock};
use crate::teardown::{self, Remains};
use crate::value::Value;
use crate::wakers::{self, WaiterKey, Wakers};

/// A chain's current result.
pub(crate) type Outcome = Result<Value, Failure>;

/// What a callback entry did with the result it was given.
pub(crate) enum Step {
    /// The next result of the chain.
    Done(Outcome),
    /// The callback returned a Deferred: continue with its result once it has one.
    Chain(CoreRef),
    /// Twisted's `_CONTINUE` marker handed the result to the outer Deferred waiting on the
    /// chain being run and claimed it: this thread runs the outer one next (its result is
    /// parked in its state), then the rest of this chain with a spent result.
    RunOuter(CoreRef),
}

/// One callback/errback pair, already specialised to the chain's types.
pub(crate) type Callback = Box<dyn FnOnce(Outcome) -> Step + Send>;

/// A user's canceller closure, given the cancelled core.
pub(crate) type CancelFn = Box<dyn FnOnce(&CoreRef) + Send>;

/// A canceller, given the cancelled core.
pub(crate) enum Canceller {
    /// A user's closure (`Deferred::with_canceller`).
    Boxed(CancelFn),
    /// A hook shared by many Deferreds (a queue's list of waiting getters): making such a
    /// Deferred clones one `Arc`, allocating nothing.
    Hook(Arc<dyn CancelHook>),
}

/// What a [`CancelHook`] did with a cancel.
#[must_use]
pub(crate) enum HookCancel {
    /// Done: `cancel` fails the Deferred with `Cancelled` unless the hook fired it.
    Fire,
    /// Passed on (a `from_future` driver cancelled what its coroutine awaits): the Deferred
    /// stays pending and keeps the hook as its canceller, for the next cancel.
    PassedOn,
}

/// A canceller shared by many Deferreds; told which one is cancelled.
pub(crate) trait CancelHook: Send + Sync {
    /// Cancels `core`, one of the Deferreds this hook was given to.
    fn cancel(&self, core: &CoreRef);

    /// [`cancel`](CancelHook::cancel), saying whether the Deferred is to fail now; a hook that
    /// may pass the cancel on overrides this one.
    fn cancel_or_pass_on(&self, core: &CoreRef) -> HookCancel {
        self.cancel(core);
        HookCancel::Fire
    }

    /// True if a cancel leaves the waiter armed while this hook runs (`waiter.rs`): a
    /// `from_future` driver that passes the cancel on stays a detachable waiter, so dropping
    /// every handle afterwards still detaches it. Other hooks' waiters are consumed by a cancel.
    fn keeps_armed_on_cancel(&self) -> bool {
        false
    }

    /// The last handle of `core`, one of this hook's waiters, was dropped (see `waiter.rs`):
    /// with `None` it was still waiting and must leave the waiters; with `Some` it had been
    /// handed `outcome` and nobody took it, so the value or token goes back.
    fn withdraw(&self, core: &CoreRef, handed: Option<Outcome>);
}

impl Canceller {
    /// A shared hook, as `Arc<dyn CancelHook>` (loom's `Arc` cannot coerce to a trait object
    /// itself: it takes one made by std's).
    pub(crate) fn hook<H: CancelHook + 'static>(hook: H) -> Arc<dyn CancelHook> {
        #[cfg(not(loom))]
        let hook: Arc<dyn CancelHook> = Arc::new(hook);
        #[cfg(loom)]
        let hook = Arc::from_std(std::sync::Arc::new(hook) as std::sync::Arc<dyn CancelHook>);
        hook
    }

    /// Runs the canceller; gives it back if it passed the cancel on (see [`HookCancel`]).
    fn run(self, core: &CoreRef) -> Option<Canceller> {
        match self {
            Canceller::Boxed(canceller) => {
                canceller(core);
                None
            }
            Canceller::Hook(hook) => match hook.cancel_or_pass_on(core) {
                HookCancel::Fire => None,
                HookCancel::PassedOn => Some(Canceller::Hook(hook)),
            },
        }
    }
}

/// A fresh spent result (no allocation).
pub(crate) fn spent() -> Outcome {
    Ok(Value::spent())
}

#[derive(Default)]
struct State {
    called: bool,
    running: bool,
    cancelling: bool,
    suppress_next_fire: bool,
    /// A primitive's waiter whose handles may withdraw it (see `waiter.rs`); mirrored in
    /// [`Core::hints`].
    armed: bool,
    /// The primitive's own handle ([`Registration`]) is alive.
    registered: bool,
    /// Broken out of a cycle by `cancel`: the marker of the cycle that still names this chain
    /// passes its result on (see [`Core::break_cycle`]).
    broken: bool,
    /// Ever chained to or from (sticky; mirrored in the `LINKED` hint): handles' drops take the
    /// liveness path of `links.rs`.
    linked: bool,
    /// Outer chains whose `waiting_on` is this one (`links.rs`; may lag by one link, never
    /// ahead).
    waited_by: i32,
    /// Of those, how many reported that nothing can observe them any more (`links.rs`; may
    /// lag, never ahead).
    dead_outers: i32,
    /// This chain waits on another and told it that nothing can observe it (`links.rs`).
    reported_dead: bool,
    paused: usize,
    result: Option<Outcome>,
    queue: CallbackQueue,
    /// Fields a plain callback chain never uses, kept inline: a queue's getter has a canceller
    /// and an awaited Deferred a waker, and a box for them cost an allocation per Deferred.
    /// Dropped only by [`tear_down`]: an inert state's are all `None` (see
    /// [`State::is_inert`]), so `Core`'s drop skips their drop glue.
    cold: ManuallyDrop<Cold>,
}

/// See [`State::cold`]; dropped by [`teardown`].
#[derive(Default)]
pub(crate) struct Cold {
    waiting_on: Option<CoreRef>,
    canceller: Option<Canceller>,
    wakers: Wakers,
}

impl Cold {
    fn is_empty(&self) -> bool {
        self.waiting_on.is_none() && self.canceller.is_none() && self.wakers.is_empty()
    }
}

impl State {
    fn waiting_on(&self) -> Option<&CoreRef> {
        self.cold.waiting_on.as_ref()
    }

    fn take_waiting_on(&mut self) -> Option<CoreRef> {
        self.cold.waiting_on.take()
    }

    fn take_canceller(&mut self) -> Option<Canceller> {
        self.cold.canceller.take()
    }

    #[inline]
    fn take_wakers(&mut self) -> Option<wakers::Taken> {
        self.cold.wakers.take()
    }

    /// Ends the waiter state (see `waiter.rs`): a callback, a take, a cancel or a fire by
    /// someone else than the primitive means somebody consumes this Deferred. A waiter's hook
    /// is its canceller: kept while it waits (a cancel still withdraws it), returned once it
    /// was fired (to drop after the lock is released), as a fire drops a canceller.
    #[cold]
    fn disarm(&mut self, core: &Core) -> Option<Canceller> {
        if !self.armed {
            return None;
        }
        self.armed = false;
        core.store_hints(self);
        if self.called {
            self.take_canceller()
        } else {
            None
        }
    }

    /// Holds nothing that reports a failure when dropped or may own another core: no
    /// callbacks, no canceller, waker or chained Deferred, a result absent or plain.
    #[inline]
    fn is_inert(&self) -> bool {
        let plain_result = match &self.result {
            None => true,
            Some(Ok(value)) => value.is_plain(),
            Some(Err(_)) => false,
        };
        plain_result && self.queue.is_empty() && self.cold.is_empty()
    }

    /// An armed waiter whose hook keeps it armed through a cancel (see
    /// [`CancelHook::keeps_armed_on_cancel`]).
    fn keeps_armed_on_cancel(&self) -> bool {
        matches!(&self.cold.canceller, Some(Canceller::Hook(hook)) if hook.keeps_armed_on_cancel())
    }

    /// The result is at rest and nothing blocks its delivery to an awaiting future.
    fn ready(&self) -> bool {
        self.result.is_some() && !self.running && self.paused == 0 && self.queue.is_empty()
    }
}

/// The shared, type-erased heart of a Deferred. See the module doc for the protocol.
pub(crate) struct Core {
    state: SpinLock<State>,
    /// Mirror of `state.paused != 0`, written only under the mutex; read by the runner after
    /// each callback. Relaxed: a pause from the running thread itself is program-ordered, and a
    /// pause from another thread is only a hint, rechecked under the mutex.
    pause_hint: AtomicBool,
    /// Mirror of `state.armed` ([`ARMED`]) and `state.linked` ([`LINKED`]), written only under
    /// the mutex; read by every handle's drop to take the waiter path (`waiter.rs`) or the
    /// liveness path (`links.rs`). Relaxed: both paths lock and reread the state before they
    /// act; a stale hint only costs a lock (`waiter.rs` and `links.rs` say why a stale clear
    /// one is harmless).
    hints: AtomicUsize,
}

/// [`Core::hints`] bit: `state.armed`.
const ARMED: usize = 1;
/// [`Core::hints`] bit: `state.linked`.
const LINKED: usize = 2;

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("Core")
            .field("called", &s.called)
            .field("running", &s.running)
            .field("paused", &s.paused)
            .field("waiting", &s.waiting_on().is_some())
            .field("pending_callbacks", &s.queue.len())
            .finish()
    }
}

impl Core {
    /// A new unfired core.
    #[inline]
    pub(crate) fn unfired(canceller: Option<Canceller>) -> CoreRef {
        CoreRef::new(|| {
            let cold = ManuallyDrop::new(Cold { canceller, ..Cold::default() });
            let state = State { cold, ..State::default() };
            Core::with_state(state, false)
        })
    }

    fn with_state(state: State, armed: bool) -> Core {
        Core {
            state: SpinLock::new(state),
            pause_hint: AtomicBool::new(false),
            hints: AtomicUsize::new(if armed { ARMED } else { 0 }),
        }
    }

    /// Publishes `s.armed` and `s.linked` in the hints (called under the lock).
    fn store_hints(&self, s: &State) {
        let hints = if s.armed { ARMED } else { 0 } | if s.linked { LINKED } else { 0 };
        self.hints.store(hints, Ordering::Relaxed);
    }

    /// A core already fired with `outcome` (Twisted's `succeed` / `fail` fast path).
    pub(crate) fn fired(outcome: Outcome) -> CoreRef {
        CoreRef::new(|| {
            let state = State { called: true, result: Some(outcome), ..State::default() };
            Core::with_state(state, false)
        })
    }

    fn lock(&self) -> SpinGuard<'_, State> {
        self.state.lock()
    }

    /// True once fired.
    pub(crate) fn is_called(&self) -> bool {
        self.lock().called
    }

    /// Fires the chain with `outcome`.
    pub(crate) fn fire(this: &CoreRef, outcome: Outcome) -> Result<(), AlreadyCalled> {
        Core::fire_or_return(this, outcome).map_err(|_| AlreadyCalled)
    }

    /// Fires the chain with `outcome`, or gives it back if the chain was already fired.
    pub(crate) fn fire_or_return(this: &CoreRef, outcome: Outcome) -> Result<(), Outcome> {
        let mut s = this.lock();
        if s.called {
            if mem::take(&mut s.suppress_next_fire) {
                return Ok(()); // Twisted: one fire after a canceller-less cancel is swallowed
            }
            return Err(outcome);
        }
        if s.armed {
            s = Core::disarm_relock(this, s); // a user fired it: not the primitive's value
        }
        Core::start(this, s, outcome);
        Ok(())
    }

    /// Disarms a waiter (see [`State::disarm`]) and drops what that released without the
    /// lock; returns the lock taken again (the caller rereads the state).
    #[cold]
    #[inline(never)]
    fn disarm_relock<'a>(this: &'a CoreRef, mut s: SpinGuard<'a, State>) -> SpinGuard<'a, State> {
        let stale = s.disarm(this);
        drop(s);
        drop(stale);
        this.lock()
    }

    /// Marks the chain fired and runs it (or leaves the result at rest if paused).
    fn start(this: &CoreRef, mut s: SpinGuard<'_, State>, outcome: Outcome) {
        s.called = true;
        // Dropped on fire: a canceller that captured a handle of this Deferred would otherwise
        // keep the chain alive for ever (an Arc cycle, `tests/cycles.rs`). An armed waiter
        // keeps its hook, which takes a value or token back if it is dropped untaken
        // (`waiter.rs`).
        let canceller = if s.armed { None } else { s.take_canceller() };
        if s.paused > 0 || s.queue.is_empty() {
            s.result = Some(outcome);
            let wakers = if s.paused == 0 { s.take_wakers() } else { None };
            drop(s);
            drop(canceller);
            if let Some(wakers) = wakers {
                wakers.wake_all();
            }
            return;
        }
        s.running = true;
        let batch = s.queue.take();
        drop(s);
        drop(canceller);
        drive(this, outcome, batch);
    }

    /// [`add`](Core::add) through an owned handle: when it is the only handle and the chain is
    /// unfired, no other thread can see the core, so the callback is queued without locking.
    #[inline(always)]
    pub(crate) fn add_owned(mut this: CoreRef, callback: Callback) -> CoreRef {
        if let Some(core) = this.get_mut() {
            let s = core.state.get_mut();
            if !s.called {
                s.queue.push_back(callback);
                return this;
            }
        }
        Core::add_shared(this, callback)
    }

    /// [`add_owned`](Core::add_owned)'s path for a shared or fired chain, out of line so the
    /// fast path inlines into every `add_*` call.
    #[inline(never)]
    fn add_shared(this: CoreRef, callback: Callback) -> CoreRef {
        Core::add(&this, callback);
        this
    }

    /// Appends a callback; runs it at once (on this thread) if the chain is fired and idle.
    pub(crate) fn add(this: &CoreRef, callback: Callback) {
        let mut s = this.lock();
        if s.armed {
            s = Core::disarm_relock(this, s); // a callback consumes this waiter's value
        }
        if s.running || s.paused > 0 || s.result.is_none() {
            // Unfired, paused, waiting, or another thread runs it: queue it.
            s.queue.push_back(callback);
            return;
        }
        // At rest and not paused, so the queue is empty: run the callback here, now.
        debug_assert!(s.queue.is_empty());
        let Some(outcome) = s.result.take() else { return };
        s.running = true;
        drop(s);
        let mut batch = CallbackQueue::default();
        batch.push_back(callback);
        drive(this, outcome, batch);
    }

    /// Increments the pause count.
    pub(crate) fn pause(&self) {
        let mut s = self.lock();
        s.paused += 1;
        self.pause_hint.store(true, Ordering::Relaxed);
    }

    /// Decrements the pause count; at zero, runs the chain if it holds a result.
    pub(crate) fn unpause(this: &CoreRef) -> Result<(), NotPaused> {
        let mut s = this.lock();
        if s.paused == 0 {
            return Err(NotPaused);
        }
        s.paused -= 1;
        if s.paused > 0 {
            return Ok(());
        }
        this.pause_hint.store(false, Ordering::Relaxed);
        if s.running || s.result.is_none() {
            return Ok(());
        }
        if s.queue.is_empty() {
            let wakers = s.take_wakers();
            drop(s);
            if let Some(wakers) = wakers {
                wakers.wake_all();
            }
            return Ok(());
        }
        let Some(outcome) = s.result.take() else { return Ok(()) };
        s.running = true;
        let batch = s.queue.take();
        drop(s);
        drive(this, outcome, batch);
        Ok(())
    }

    /// The result, if it is ready for an awaiting future; else registers `waker` as the
    /// waker of the handle with `key` (see `wakers.rs`; a handle without a key gets one).
    pub(crate) fn poll_take(&self, waker: &Waker, key: &mut WaiterKey) -> Option<Outcome> {
        let mut s = self.lock();
        if s.ready() {
            if s.armed {
                return take_disarming(self, s);
            }
            return s.result.replace(spent());
        }
        let old = s.cold.wakers.register(key, waker);
        drop(s);
        drop(old); // a waker's drop may run arbitrary code: never under the lock
        None
    }

    /// Forgets the waker of a handle that goes away (dropped, or turned into a chain link);
    /// a `from_future` coroutine whose waker it was no longer awaits this chain
    /// (`awaited.rs`).
    #[cold]
    pub(crate) fn forget_waiter(&self, key: WaiterKey) {
        let old = self.lock().cold.wakers.remove(key);
        if let Some(waker) = old {
            crate::driver::not_awaiting(&waker, self);
        }
    }

    /// The `ARMED` hint (see [`Core::hints`]).
    #[inline]
    pub(crate) fn armed_hint(&self) -> bool {
        self.hints.load(Ordering::Relaxed) & ARMED != 0
    }

    /// True if a handle's drop must take the waiter path (`waiter.rs`) or the liveness path
    /// (`links.rs`): see [`Core::drop_user`].
    #[inline]
    pub(crate) fn drop_hint(&self) -> bool {
        self.hints.load(Ordering::Relaxed) != 0
    }

    /// True if a result is at rest and ready to be taken (see [`State::ready`]).
    pub(crate) fn has_result(&self) -> bool {
        self.lock().ready()
    }

    /// Takes the result if it is ready (for `DeferredList` and tests), leaving `Spent`.
    pub(crate) fn try_take(&self) -> Option<Outcome> {
        let mut s = self.lock();
        if !s.ready() {
            return None;
        }
        if s.armed {
            return take_disarming(self, s);
        }
        s.result.replace(spent())
    }
}

/// Takes the ready result of an armed waiter: it is consumed, so it is disarmed (its hook
/// dropped after the lock is released).
/// Inline: a queue getter or an acquire is armed, and awaiting one ends here.
#[inline]
fn take_disarming(core: &Core, mut s: SpinGuard<'_, State>) -> Option<Outcome> {
    // Armed and ready, so fired: not linked (a waiter never chains), so the hints go to 0,
    // and the hook goes with the disarm (`State::disarm`).
    s.armed = false;
    core.hints.store(0, Ordering::Relaxed);
    let stale = s.cold.canceller.take();
    let outcome = s.result.replace(spent());
    drop(s);
    drop(stale);
    outcome
}

impl Drop for Core {
    /// Reports a failure still held, then drops what the chain owns, iteratively (see
    /// [`teardown`]); a plain fired chain is left to the drop glue.
    fn drop(&mut self) {
        let s = self.state.get_mut();
        if !s.is_inert() {
            tear_down(s);
        }
    }
}

/// [`Core`]'s drop for a state that may report a failure or own another core.
#[cold]
#[inline(never)]
fn tear_down(s: &mut State) {
    let (result, queue, cold) = (s.result.take(), s.queue.take(), mem::take(&mut *s.cold));
    teardown::dispose(Remains { result, queue, cold });
}
