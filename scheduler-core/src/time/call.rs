//! [`DelayedCall`]: a function scheduled at a deadline (Twisted's `base.DelayedCall`).
//!
//! # State
//!
//! One word, `state`, decides the call's fate: `PENDING -> CALLED` (its timer fired and the
//! function is handed out to run) or `PENDING -> CANCELLED` (`cancel`). Each transition is one
//! compare-exchange, so exactly one of "fire" and "cancel" wins, whatever threads race. The
//! wheel entry only schedules: `cancel` also cancels it (best effort, to free the slot early),
//! and a fire that loses to a cancel drops the payload.
//!
//! The function lives in `f`, a cell owned through the state word, with no lock of its own:
//! while `PENDING` nobody touches it; the thread whose compare-exchange moves the state out of
//! `PENDING` owns it (a fire takes it to run it, a cancel or a shutdown discard drops it at
//! once, like Twisted's `del self.func`); while `CALLED` it belongs to the call's owner, the
//! `LoopingCall` that re-arms the call (`rearm`, serialised by the loop's lock, stores the
//! next function, then `PENDING` with `Release`, which pairs with the `Acquire` of the next
//! winner's compare-exchange).
//!
//! The timer key sits beside it in `key`, a cell with no lock either: it is written only by
//! the thread arming the call, once the timer is inserted, and no read can race that write. A
//! one-shot call's key is written by `schedule` before the `DelayedCall` exists, so any thread
//! that later holds a handle (and reads the key in `cancel` or `reset`) got it through a
//! synchronisation that follows the write. A loop's call is re-armed (`rearm`, which writes
//! the key) and cancelled (`LoopingCall::stop` / `reset`, which read it) only under the loop's
//! lock, and its handle never leaves the loop. (A fire or a shutdown discard never reads the
//! key.)
//!
//! `reset` and `delay` move the wheel entry; when the wheel says the timer already fired, the
//! call is on its way to run and they report [`DelayedCallError::AlreadyCalled`].

use super::driver::TimerPayload;
use super::error::DelayedCallError;
use super::reactor::Host;
use crate::priority::Priority;
use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use crate::sync::{Arc, UnsafeCell};
use scheduler_timers::{duration_to_ns, TimerKey};
use std::fmt;
use std::time::Duration;

const PENDING: usize = 0;
const CALLED: usize = 1;
const CANCELLED: usize = 2;

/// The function of a call: any closure, or the next tick of a `LoopingCall` (which re-arms
/// its call every tick, so this saves an allocation per tick).
pub(crate) enum CallFn {
    Once(Box<dyn FnOnce() + Send + 'static>),
    /// A tick of run `.1` of the loop (see `LoopState::run` in `looping.rs`).
    Loop(crate::LoopingCall, u64),
}

impl CallFn {
    /// Runs the function.
    pub(crate) fn run(self) {
        match self {
            CallFn::Once(f) => f(),
            CallFn::Loop(lc, run) => lc.tick(run),
        }
    }

    /// Runs the function of `call`, whose timer just fired and handed out this function. A
    /// `LoopingCall` tick passes `call` (the fired payload's reference) on to its re-arm, so
    /// the next timer's payload costs no reference-count round trip.
    pub(crate) fn run_fired(self, call: Arc<CallInner>) {
        match self {
            CallFn::Once(f) => {
                f();
                drop(call);
            }
            CallFn::Loop(lc, run) => lc.tick_fired(run, Some(call)),
        }
    }
}

/// The shared part of a delayed call: what the timer payload and every handle point to.
pub(crate) struct CallInner {
    state: AtomicUsize,
    deadline_ns: AtomicU64,
    priority: Priority,
    /// The function: owned by whoever moved `state` out of `PENDING`, or by the re-arming
    /// loop while `CALLED` (module doc); untouched while `PENDING`.
    f: UnsafeCell<Option<CallFn>>,
    /// The key of the call's timer, once inserted: written by the arming thread only, never
    /// concurrently with a read (module doc).
    key: UnsafeCell<Option<TimerKey>>,
    host: Host,
}

// SAFETY: `f` and `key` (the fields that are not `Sync`) are never accessed concurrently with
// a write: `f` by one thread at a time, the one whose compare-exchange took `state` out of
// `PENDING` or the re-arming owner while it is `CALLED` (the state word's Acquire/Release
// orders the hand-overs); `key` written by the arming thread before any handle can read it,
// or under the owning loop's lock (module doc). Their contents are `Send`.
unsafe impl Sync for CallInner {}

impl CallInner {
    /// Fire: wins the call for running (`PENDING -> CALLED`) and hands out the function.
    pub(crate) fn begin_call(&self) -> Option<CallFn> {
        // AcqRel: pairs with the cancel CAS; the winner owns the slot's function.
        self.state.compare_exchange(PENDING, CALLED, Ordering::AcqRel, Ordering::Acquire).ok()?;
        // SAFETY: this thread just moved `state` out of `PENDING`: it owns `f` (module doc).
        unsafe { self.take_f() }
    }

    /// Takes the function out of its cell.
    ///
    /// # Safety
    /// The caller owns `f`: its compare-exchange moved `state` out of `PENDING` (module doc).
    unsafe fn take_f(&self) -> Option<CallFn> {
        // SAFETY: exclusive by the caller's contract.
        self.f.with_mut(|f| unsafe { (*f).take() })
    }

    /// Shutdown: the call will never run; mark it cancelled and drop its function.
    pub(crate) fn discard(&self) {
        if self
            .state
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: this thread just moved `state` out of `PENDING`: it owns `f`.
            drop(unsafe { self.take_f() });
        }
    }

    /// Inserts the call's timer (`this` is its payload's reference to `self`) and records
    /// its key; a host that refuses (shut down) leaves the call cancelled.
    fn insert(&self, deadline_ns: u64, this: Arc<CallInner>) {
        let key = self.host.insert(deadline_ns, TimerPayload::Call(this));
        self.record_key(key);
    }

    /// Re-inserts the timer of a call that ran (`this` is its payload's reference to `self`),
    /// in the fired timer's slot when the host can reuse it (a manual reactor's advance, from
    /// the fired call itself), and records the new key.
    #[inline(always)]
    fn reinsert(&self, deadline_ns: u64, this: Arc<CallInner>) {
        // The key read here is the one the previous arm wrote: a loop's re-arms are
        // serialised by the loop's lock (module doc).
        let fired = self.key();
        let key = self.host.rearm(fired, deadline_ns, TimerPayload::Call(this));
        self.record_key(key);
    }

    /// Records the key of the timer just inserted; `None` (the host refused: shut down)
    /// leaves the call cancelled.
    fn record_key(&self, key: Option<TimerKey>) {
        match key {
            // SAFETY: the arming thread writes the key; no read can run concurrently: a
            // one-shot call has no handle yet, a loop's call is re-armed and cancelled only
            // under the loop's lock (module doc).
            Some(key) => self.key.with_mut(|k| unsafe { *k = Some(key) }),
            None => self.discard(),
        }
    }

    /// The key of the call's timer (read by a handle's `cancel` and `reset`).
    fn key(&self) -> Option<TimerKey> {
        // SAFETY: a read by a handle holder, after the arming write and never concurrent with
        // one (module doc).
        self.key.with(|k| unsafe { *k })
    }

    pub(crate) fn priority(&self) -> Priority {
        self.priority
    }

    fn error(&self) -> DelayedCallError {
        match self.state.load(Ordering::Acquire) {
            CANCELLED => DelayedCallError::AlreadyCancelled,
            _ => DelayedCallError::AlreadyCalled,
        }
    }
}

/// A call scheduled by [`Handle::call_later`](crate::Handle::call_later),
/// [`ReactorTime::call_later`](crate::time::ReactorTime::call_later) or
/// [`ManualReactor::call_later`](crate::time::ManualReactor::call_later): Twisted's
/// `DelayedCall`. Clones refer to the same call; any thread may use them.
///
/// # Examples
/// ```
/// use scheduler_core::time::{DelayedCallError, ManualReactor};
/// use std::time::Duration;
///
/// let clock = ManualReactor::new();
/// let call = clock.call_later(Duration::from_secs(1), || println!("late"));
/// call.delay(Duration::from_secs(1)).unwrap();
/// assert_eq!(call.time(), Duration::from_secs(2));
/// call.cancel().unwrap();
/// assert_eq!(call.cancel(), Err(DelayedCallError::AlreadyCancelled));
/// assert_eq!(clock.advance(Duration::from_secs(5)), 0);
/// ```
#[derive(Clone)]
#[must_use = "dropping a DelayedCall does not cancel it; keep it to cancel or reset the call"]
pub struct DelayedCall {
    inner: Arc<CallInner>,
}

impl fmt::Debug for DelayedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.inner.state.load(Ordering::Relaxed) {
            PENDING => "pending",
            CALLED => "called",
            _ => "cancelled",
        };
        f.debug_struct("DelayedCall")
            .field("time", &self.time())
            .field("state", &state)
            .field("priority", &self.inner.priority)
            .finish()
    }
}

impl DelayedCall {
    /// Schedules `f` at `deadline_ns` on `host`. If the host refuses (its runtime shut down),
    /// the call is born cancelled and `f` is dropped.
    pub(crate) fn schedule(host: Host, deadline_ns: u64, priority: Priority, f: CallFn) -> Self {
        let inner = Arc::new(CallInner {
            state: AtomicUsize::new(PENDING),
            deadline_ns: AtomicU64::new(deadline_ns),
            priority,
            f: UnsafeCell::new(Some(f)),
            key: UnsafeCell::new(None),
            host,
        });
        inner.insert(deadline_ns, inner.clone());
        DelayedCall { inner }
    }

    /// Re-arms a call whose time came (`CALLED`) with a new function and deadline, reusing its
    /// allocation: a `LoopingCall`'s next tick. The handle must not be shared outside its
    /// owner (the loop), which serialises re-arms and cancels under its own lock. `fired` is a
    /// reference to this call that its fired timer gave up (reused as the new timer's payload
    /// instead of a fresh clone); a reference to another call is dropped.
    ///
    /// # Errors
    /// The function back, untouched, if the call is not `CALLED`.
    #[inline(always)]
    pub(crate) fn rearm(
        &self,
        deadline_ns: u64,
        f: CallFn,
        fired: Option<Arc<CallInner>>,
    ) -> Result<(), CallFn> {
        let inner = &*self.inner;
        if inner.state.load(Ordering::Acquire) != CALLED {
            return Err(f);
        }
        // SAFETY: `CALLED`: the function cell belongs to the call's owner, the loop, which
        // serialises its re-arms under its lock (module doc); the fire that took the previous
        // function happened before (it ran the tick that led here).
        inner.f.with_mut(|slot| unsafe { *slot = Some(f) });
        inner.deadline_ns.store(deadline_ns, Ordering::Release);
        // Release: pairs with the Acquire of the next winning compare-exchange (fire, cancel,
        // discard), which then owns the function stored above. A cancel cannot come before
        // the new key is stored below: the loop cancels under the lock its re-arm holds.
        inner.state.store(PENDING, Ordering::Release);
        let payload = match fired {
            Some(fired) if Arc::ptr_eq(&fired, &self.inner) => fired,
            _ => self.inner.clone(),
        };
        inner.reinsert(deadline_ns, payload);
        Ok(())
    }

    /// Cancels the call: its function will not run and is dropped now.
    ///
    /// # Errors
    /// [`DelayedCallError::AlreadyCalled`] if its time came (it ran, runs, or is about to run:
    /// also from inside the function itself); [`DelayedCallError::AlreadyCancelled`] if it
    /// was cancelled before.
    pub fn cancel(&self) -> Result<(), DelayedCallError> {
        let inner = &*self.inner;
        if inner
            .state
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(inner.error());
        }
        // SAFETY: this thread just moved `state` out of `PENDING`: it owns `f`.
        drop(unsafe { inner.take_f() });
        if let Some(key) = inner.key() {
            inner.host.cancel(key);
        }
        Ok(())
    }

    /// Re-schedules the call to `delay` from now (earlier or later; Twisted's `reset`).
    ///
    /// # Errors
    /// As [`cancel`](Self::cancel).
    pub fn reset(&self, delay: Duration) -> Result<(), DelayedCallError> {
        let now = self.inner.host.now_ns();
        self.reset_to(now.saturating_add(duration_to_ns(delay)))
    }

    /// Pushes the call `more` later than its current time (Twisted's `delay`; Rust durations
    /// cannot be negative, use [`reset`](Self::reset) to move it earlier).
    ///
    /// # Errors
    /// As [`cancel`](Self::cancel).
    pub fn delay(&self, more: Duration) -> Result<(), DelayedCallError> {
        let current = self.inner.deadline_ns.load(Ordering::Acquire);
        self.reset_to(current.saturating_add(duration_to_ns(more)))
    }

    fn reset_to(&self, deadline_ns: u64) -> Result<(), DelayedCallError> {
        let inner = &*self.inner;
        if inner.state.load(Ordering::Acquire) != PENDING {
            return Err(inner.error());
        }
        let Some(key) = inner.key() else { return Err(inner.error()) };
        match inner.host.reset(key, deadline_ns) {
            Ok(()) => {
                // Release: pairs with the Acquire loads of `time`/`delay`.
                inner.deadline_ns.store(deadline_ns, Ordering::Release);
                Ok(())
            }
            Err(_) => Err(inner.error()),
        }
    }

    /// True until the call runs or is cancelled (Twisted's `active()`).
    pub fn active(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) == PENDING
    }

    /// True once its time came (Twisted's `called`).
    pub fn called(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) == CALLED
    }

    /// True once cancelled (Twisted's `cancelled`).
    pub fn cancelled(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) == CANCELLED
    }

    /// When the call is due, as time since its clock's epoch (Twisted's `getTime()`).
    pub fn time(&self) -> Duration {
        Duration::from_nanos(self.inner.deadline_ns.load(Ordering::Acquire))
    }

    /// The priority class its function runs in (on a runtime).
    pub fn priority(&self) -> Priority {
        self.inner.priority
    }
}

impl scheduler_deferred::ScheduledCall for DelayedCall {
    fn cancel(&self) {
        let _ = DelayedCall::cancel(self);
    }
}
