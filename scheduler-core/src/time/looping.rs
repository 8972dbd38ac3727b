//! [`LoopingCall`]: Twisted's `task.LoopingCall`, on any [`ReactorTime`].
//!
//! # State and locking
//!
//! `state` (a spin lock: its sections are a few field updates) holds what Twisted keeps in attributes: `running`, the interval, the
//! start time, the pending `DelayedCall`, the `start()` Deferred, and `_realLastTime` for
//! `with_count`, and the function itself, which is taken out while it runs (a re-entrant call
//! finds it absent and skips). The lock is never held while `f` runs or while a Deferred
//! fires, so `f` may call `stop`, `reset` or `start` on its own loop.
//!
//! # Runs
//!
//! Each `start` begins a new *run* (`LoopState::run`, a counter), and every call the loop
//! schedules carries the run it belongs to. A call of an earlier run that was already on its
//! way when that run stopped (taken for running, so `stop` could not cancel it, or `f` still
//! running or waiting on its Deferred) does not tick the current run: when it finishes, it
//! completes the old run's stop (that run's `start` Deferred, kept in `LoopState::stopping`,
//! fires) and schedules nothing. So a loop stopped and restarted from inside `f`, or from a
//! call batched with the loop's own, keeps exactly one pending call, and every `start`
//! Deferred fires once. (Twisted overwrites the first Deferred, which then never fires, and
//! schedules twice.)
//!
//! # Schedule
//!
//! After each call (or when the Deferred `f` returned fires), the next call is placed on the
//! grid `start + k * interval`, strictly after now: missed intervals are skipped, not
//! replayed (Twisted's `_scheduleFrom`), in O(1) whatever the jump. A grid point past the
//! clock's last instant (`u64::MAX` ns, where `Duration::MAX` saturates) is never armed: the
//! loop keeps running with no call pending until `stop` (which fires its Deferred at once)
//! or `reset`. An interval of zero schedules the next call with
//! delay zero: on a runtime it runs as a new task, behind whatever is queued, so the loop
//! never starves other tasks; on a [`ManualReactor`](super::ManualReactor) it runs again
//! within the same `advance`, like Twisted's `Clock`, until stopped.

use super::call::{CallFn, CallInner, DelayedCall};
use super::error::{secs_f64, LoopingCallError};
use super::reactor::ReactorTime;
use crate::priority::Priority;
use crate::sync::{Arc, SpinLock};
use scheduler_deferred::{Deferred, Failure};
use scheduler_timers::duration_to_ns;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

type LoopFn = Box<dyn FnMut(u64) -> LoopOutcome + Send + 'static>;

/// What a [`LoopingCall`]'s function returns: the call is over (`Done`), or the loop waits
/// for a Deferred (`Wait`). Built with `.into()` from `()`, a `Result<(), E>` or a
/// `Deferred<()>`, so the function may return any of those.
#[derive(Debug)]
pub enum LoopOutcome {
    /// The call finished: `Ok` schedules the next one, `Err` fails and stops the loop.
    Done(Result<(), Failure>),
    /// Wait for this Deferred before scheduling the next call (its failure stops the loop).
    Wait(Deferred<()>),
}

impl From<()> for LoopOutcome {
    fn from((): ()) -> Self {
        LoopOutcome::Done(Ok(()))
    }
}

impl<E: Into<Failure>> From<Result<(), E>> for LoopOutcome {
    fn from(r: Result<(), E>) -> Self {
        LoopOutcome::Done(r.map_err(Into::into))
    }
}

impl From<Deferred<()>> for LoopOutcome {
    fn from(d: Deferred<()>) -> Self {
        LoopOutcome::Wait(d)
    }
}

#[derive(Default)]
struct LoopState {
    /// The function; taken out while it runs (a re-entrant call finds `None` and skips).
    f: Option<LoopFn>,
    running: bool,
    interval_ns: u64,
    start_ns: u64,
    run_at_start: bool,
    call: Option<DelayedCall>,
    /// The call that last ran, re-armed for the next tick (no allocation per tick).
    spare: Option<DelayedCall>,
    deferred: Option<Deferred<LoopingCall>>,
    real_last_ns: Option<u64>,
    /// The current run: incremented by every `start` (module doc, "Runs").
    run: u64,
    /// `start` Deferreds of stopped runs whose in-flight call has not finished yet.
    stopping: Vec<(u64, Deferred<LoopingCall>)>,
    /// The grid point the call was last armed for, while the grid (`start_ns`, `interval_ns`)
    /// has not changed since: the next grid point follows from it without a division.
    armed_ns: Option<u64>,
    /// The next grid point lies past the last representable instant (the clock is at or near
    /// `u64::MAX` ns): no call is pending, the loop waits, running, until `stop` or `reset`.
    past_end: bool,
}

impl LoopState {
    /// The `start` Deferred of earlier run `run`, if its stop is still pending.
    fn take_stopping(&mut self, run: u64) -> Option<Deferred<LoopingCall>> {
        let i = self.stopping.iter().position(|(r, _)| *r == run)?;
        Some(self.stopping.swap_remove(i).1)
    }
}

struct LoopInner {
    clock: Box<dyn ReactorTime>,
    with_count: bool,
    priority: Priority,
    state: SpinLock<LoopState>,
}

/// Calls a function every `interval` (Twisted's `task.LoopingCall`).
///
/// [`start`](Self::start) returns a Deferred that fires with the `LoopingCall` when
/// [`stop`](Self::stop) is called, or fails (and the loop stops) when `f` fails or panics.
/// If `f` returns a Deferred, the next call waits until it fires. Missed intervals are
/// skipped, and [`with_count`](Self::with_count) tells `f` how many intervals passed since
/// its last call. Clones refer to the same loop.
///
/// # Examples
/// On a manual clock (Twisted's `task.Clock` pattern): nothing waits on real time.
/// ```
/// use scheduler_core::time::{LoopingCall, ManualReactor};
/// use scheduler_deferred::Failure;
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// let clock = ManualReactor::new();
/// let counts = Arc::new(Mutex::new(Vec::new()));
/// let seen = counts.clone();
/// let lc = LoopingCall::with_count(clock.clone(), move |n| {
///     seen.lock().unwrap().push(n);
///     Ok::<_, Failure>(())
/// });
/// let done = lc.start(Duration::from_secs(1), true).unwrap();
/// clock.advance(Duration::from_secs(1));
/// clock.advance(Duration::from_secs(3)); // two intervals missed
/// lc.stop().unwrap();
/// assert_eq!(*counts.lock().unwrap(), [1, 1, 3]);
/// assert!(done.take_result().unwrap().is_ok());
/// ```
#[derive(Clone)]
pub struct LoopingCall {
    inner: Arc<LoopInner>,
}

impl fmt::Debug for LoopingCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.lock();
        f.debug_struct("LoopingCall")
            .field("running", &st.running)
            .field("interval", &Duration::from_nanos(st.interval_ns))
            .finish()
    }
}

impl LoopingCall {
    /// A loop calling `f` on `clock`; `f` returns `()`, a `Result` or a `Deferred` (see
    /// [`LoopOutcome`]).
    pub fn new<C, R, F>(clock: C, mut f: F) -> LoopingCall
    where
        C: ReactorTime + 'static,
        R: Into<LoopOutcome>,
        F: FnMut() -> R + Send + 'static,
    {
        Self::build(Box::new(clock), false, Box::new(move |_| call_user(&mut f)))
    }

    /// A loop calling `f(count)`, where `count` is the number of intervals that passed since
    /// the previous call (Twisted's `LoopingCall.withCount`; always 1 with a zero interval).
    pub fn with_count<C, R, F>(clock: C, mut f: F) -> LoopingCall
    where
        C: ReactorTime + 'static,
        R: Into<LoopOutcome>,
        F: FnMut(u64) -> R + Send + 'static,
    {
        Self::build(Box::new(clock), true, Box::new(move |n| call_user(&mut || f(n))))
    }

    fn build(clock: Box<dyn ReactorTime>, with_count: bool, f: LoopFn) -> LoopingCall {
        LoopingCall {
            inner: Arc::new(LoopInner {
                clock,
                with_count,
                priority: Priority::Normal,
                state: SpinLock::new(LoopState { f: Some(f), ..LoopState::default() }),
            }),
        }
    }

    /// Starts calling every `interval`; with `now`, the first call happens inside `start`.
    /// The returned Deferred fires with this `LoopingCall` after [`stop`](Self::stop), or
    /// fails with `f`'s failure (if `f` fails during `start`, it has already failed).
    ///
    /// # Errors
    /// [`LoopingCallError::AlreadyRunning`] if the loop runs.
    pub fn start(
        &self,
        interval: Duration,
        now: bool,
    ) -> Result<Deferred<LoopingCall>, LoopingCallError> {
        let d = Deferred::new();
        {
            let mut st = self.inner.state.lock();
            if st.running {
                return Err(LoopingCallError::AlreadyRunning);
            }
            if let Some(old) = st.deferred.take() {
                // The previous run stopped while its call was on its way: that call completes
                // the old stop when it finishes (module doc, "Runs").
                let old_run = st.run;
                st.stopping.push((old_run, old));
            }
            st.run += 1;
            st.running = true;
            st.past_end = false;
            st.deferred = Some(d.clone());
            st.start_ns = self.now_ns();
            st.interval_ns = duration_to_ns(interval);
            st.run_at_start = now;
            st.real_last_ns = None;
            st.armed_ns = None;
            if !now {
                let from = st.start_ns;
                self.schedule_from(&mut st, from, None);
            }
        }
        if now {
            let run = self.inner.state.lock().run;
            self.tick(run);
        }
        Ok(d)
    }

    /// [`start`](Self::start) with the interval in `f64` seconds, as Twisted takes it.
    ///
    /// # Errors
    /// [`LoopingCallError::InvalidInterval`] for a negative, NaN or infinite interval;
    /// [`LoopingCallError::AlreadyRunning`] as for `start`.
    pub fn start_secs(
        &self,
        interval: f64,
        now: bool,
    ) -> Result<Deferred<LoopingCall>, LoopingCallError> {
        let interval = secs_f64(interval).map_err(|e| LoopingCallError::InvalidInterval(e.0))?;
        self.start(interval, now)
    }

    /// Stops the loop. With a call pending, the `start` Deferred fires now; from inside `f`
    /// (or while waiting on `f`'s Deferred), it fires when that call finishes.
    ///
    /// # Errors
    /// [`LoopingCallError::NotRunning`] if the loop is not running.
    pub fn stop(&self) -> Result<(), LoopingCallError> {
        let fire = {
            let mut st = self.inner.state.lock();
            if !st.running {
                return Err(LoopingCallError::NotRunning);
            }
            st.running = false;
            match st.call.take() {
                // Cancelled in time: nothing is in flight, fire now.
                Some(call) if call.cancel().is_ok() => st.deferred.take(),
                // Waiting past the end of time: nothing is in flight either.
                None if std::mem::take(&mut st.past_end) => st.deferred.take(),
                // No call pending, or it is already on its way: `call()` fires on its end.
                _ => None,
            }
        };
        if let Some(d) = fire {
            let _ = d.callback(self.clone());
        }
        Ok(())
    }

    /// Restarts the interval from now (the next call comes one interval from now). A no-op
    /// while `f` runs or while its Deferred is pending.
    ///
    /// # Errors
    /// [`LoopingCallError::NotRunning`] if the loop is not running.
    pub fn reset(&self) -> Result<(), LoopingCallError> {
        let mut st = self.inner.state.lock();
        if !st.running {
            return Err(LoopingCallError::NotRunning);
        }
        if let Some(call) = st.call.take() {
            if call.cancel().is_ok() {
                st.start_ns = self.now_ns();
                st.armed_ns = None;
                let from = st.start_ns;
                self.schedule_from(&mut st, from, None);
            } else {
                st.call = Some(call); // already on its way: leave it
            }
        } else if st.past_end {
            st.start_ns = self.now_ns();
            st.armed_ns = None;
            let from = st.start_ns;
            self.schedule_from(&mut st, from, None);
        }
        Ok(())
    }

    /// True from `start` until `stop` or a failure (false by the time the `start` Deferred
    /// fires).
    pub fn running(&self) -> bool {
        self.inner.state.lock().running
    }

    /// The interval (zero before the first `start`).
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.inner.state.lock().interval_ns)
    }

    /// Changes the interval; the next scheduling uses it (Twisted allows assigning
    /// `lc.interval` while running).
    pub fn set_interval(&self, interval: Duration) {
        let mut st = self.inner.state.lock();
        st.interval_ns = duration_to_ns(interval);
        st.armed_ns = None; // a new grid
    }

    fn now_ns(&self) -> u64 {
        self.inner.clock.now_ns()
    }

    /// Twisted's `_scheduleFrom(when)`: the next grid point strictly after `when`. `fired` is
    /// the fired timer's reference to the call that just ran, for its re-arm.
    /// O(1) whatever the jump. When that point is not representable (past `u64::MAX` ns), no
    /// call is armed: at the clock's end a call "strictly after now" would be due at once
    /// and run again and again within one `advance`.
    fn schedule_from(&self, st: &mut LoopState, when: u64, fired: Option<Arc<CallInner>>) {
        self.schedule_next(st, when, fired);
    }

    /// [`schedule_from`](Self::schedule_from), inlined into the tick's own re-arm
    /// (`finished`); `start` and `reset` call the out-of-line copy.
    #[inline(always)]
    fn schedule_next(&self, st: &mut LoopState, when: u64, fired: Option<Arc<CallInner>>) {
        let delay = next_delay(st, when);
        let Some(at) = when.checked_add(delay).filter(|&at| at > when || delay == 0) else {
            st.past_end = true;
            st.armed_ns = None;
            return;
        };
        // `at` is a grid point unless `when` came before the start (a clock set back).
        st.armed_ns = (when >= st.start_ns).then_some(at);
        st.past_end = false;
        let run = st.run;
        if let Some(spare) = st.spare.take() {
            if spare.rearm(at, CallFn::Loop(self.clone(), run), fired).is_ok() {
                st.call = Some(spare);
                return;
            }
            // It never ran (cancelled by `reset`): schedule a fresh call.
        }
        let me = self.clone();
        let at = Duration::from_nanos(at);
        let f = Box::new(move || me.tick(run));
        st.call = Some(self.inner.clock.call_at_boxed_with(self.inner.priority, at, f));
    }

    /// One call of run `run` of the loop (Twisted's `__call__`).
    pub(crate) fn tick(&self, run: u64) {
        self.tick_fired(run, None);
    }

    /// [`tick`](Self::tick) run by the timer of the loop's call, which passes its reference to
    /// that call (`fired`) on to the re-arm.
    pub(crate) fn tick_fired(&self, run: u64, fired: Option<Arc<CallInner>>) {
        let (count, f) = {
            let mut st = self.inner.state.lock();
            if run != st.run {
                // A call of an earlier run, on its way when that run stopped: it completes
                // that stop and leaves the current run's call alone.
                let d = st.take_stopping(run);
                drop(st);
                if let Some(d) = d {
                    let _ = d.callback(self.clone());
                }
                return;
            }
            st.spare = st.call.take();
            if !st.running {
                // Stopped while this call was on its way: the stop is completed here.
                let d = st.deferred.take();
                drop(st);
                if let Some(d) = d {
                    let _ = d.callback(self.clone());
                }
                return;
            }
            let count = self.count(&mut st);
            (count, if count.is_some() { st.f.take() } else { None })
        };
        let (outcome, f) = match (count, f) {
            (Some(n), Some(mut f)) => (f(n), Some(f)),
            _ => (LoopOutcome::Done(Ok(())), None),
        };
        match outcome {
            LoopOutcome::Done(r) => self.finished(run, f, r, fired),
            LoopOutcome::Wait(d) => {
                if let Some(f) = f {
                    self.inner.state.lock().f = Some(f);
                }
                let me = self.clone();
                drop(d.add_both(move |r: Result<(), Failure>| {
                    me.finished(run, None, r, None);
                    Ok::<(), Failure>(())
                }));
            }
        }
    }

    /// `with_count`'s count (None: skip this call, the float-rounding guard of Twisted).
    fn count(&self, st: &mut LoopState) -> Option<u64> {
        if !self.inner.with_count {
            return Some(1);
        }
        let now = self.now_ns();
        if st.interval_ns == 0 {
            st.real_last_ns = Some(now);
            return Some(1);
        }
        let iv = i128::from(st.interval_ns);
        let start = i128::from(st.start_ns);
        let last = match st.real_last_ns {
            Some(t) => i128::from(t),
            None if st.run_at_start => start - iv,
            None => start,
        };
        let count = (i128::from(now) - start) / iv - (last - start) / iv;
        if count <= 0 {
            return None;
        }
        st.real_last_ns = Some(now);
        Some(u64::try_from(count).unwrap_or(u64::MAX))
    }

    /// `f`'s result is in for a call of run `run`: put `f` back (if it was taken for this
    /// call), then schedule the next call or complete the `start` Deferred (of that run).
    #[inline(always)]
    fn finished(
        &self,
        run: u64,
        f: Option<LoopFn>,
        result: Result<(), Failure>,
        fired: Option<Arc<CallInner>>,
    ) {
        let mut st = self.inner.state.lock();
        if f.is_some() {
            st.f = f;
        }
        if run != st.run {
            // The loop was stopped and restarted while this call ran: complete the old stop.
            let d = st.take_stopping(run);
            drop(st);
            if let Some(d) = d {
                let _ = match result {
                    Ok(()) => d.callback(self.clone()),
                    Err(failure) => d.errback(failure),
                };
            }
            return;
        }
        match result {
            Ok(()) if st.running => {
                let now = self.now_ns();
                self.schedule_next(&mut st, now, fired);
            }
            Ok(()) => {
                let d = st.deferred.take();
                drop(st);
                if let Some(d) = d {
                    let _ = d.callback(self.clone());
                }
            }
            Err(failure) => {
                st.running = false;
                let d = st.deferred.take();
                drop(st);
                if let Some(d) = d {
                    let _ = d.errback(failure);
                }
            }
        }
    }
}

/// The delay from `when` to the next grid point `start + k * interval` strictly after it
/// (zero for a zero interval). Without a division when `when` lies within one interval after
/// the grid point last armed (a call that ran on time, or less than an interval late).
fn next_delay(st: &LoopState, when: u64) -> u64 {
    if st.interval_ns == 0 {
        return 0;
    }
    if let Some(armed) = st.armed_ns {
        if when >= armed && when - armed < st.interval_ns {
            return st.interval_ns - (when - armed);
        }
    }
    let since = when.saturating_sub(st.start_ns);
    st.interval_ns - since % st.interval_ns
}

/// Calls the user's function, turning a panic into a failure.
fn call_user<R: Into<LoopOutcome>>(f: &mut dyn FnMut() -> R) -> LoopOutcome {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.into(),
        Err(payload) => LoopOutcome::Done(Err(Failure::from_panic(payload))),
    }
}
