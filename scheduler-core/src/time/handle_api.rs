//! The time API on [`Handle`] and [`Runtime`], and [`Builder::clock`].

use super::call::{CallFn, DelayedCall};
use super::driver::TimeSource;
use super::error::InvalidDelay;
use super::reactor::{Host, ReactorTime};
use super::sleep::{Sleep, Timeout};
use crate::priority::Priority;
use crate::runtime::{Builder, Handle, Runtime};
use crate::sync::Arc;
use scheduler_timers::{duration_to_ns, Clock, ManualClock};
use std::future::Future;
use std::time::{Duration, Instant};

impl Builder {
    /// Drives the runtime's timers with a manual clock instead of the system clock: timers
    /// fire only when time is moved ([`Handle::advance`]), never by waiting. Workers then park
    /// without a deadline.
    ///
    /// # Examples
    /// ```
    /// use scheduler_core::Runtime;
    /// use scheduler_timers::ManualClock;
    /// use std::sync::{Arc, atomic::{AtomicBool, Ordering}};
    /// use std::time::Duration;
    ///
    /// let rt = Runtime::builder().worker_threads(2).clock(ManualClock::new()).build().unwrap();
    /// let done = Arc::new(AtomicBool::new(false));
    /// let flag = done.clone();
    /// let hour = Duration::from_secs(3600);
    /// let call = rt.call_later(hour, move || flag.store(true, Ordering::SeqCst));
    /// // An hour passes instantly; the call fires from here or from a worker's maintenance.
    /// assert!(rt.handle().advance(hour).is_some());
    /// while !done.load(Ordering::SeqCst) { std::thread::yield_now() } // the call runs as a task
    /// assert!(call.called());
    /// ```
    pub fn clock(mut self, clock: ManualClock) -> Self {
        self.clock = Some(TimeSource::Manual(clock));
        self
    }
}

impl Handle {
    fn host(&self) -> Host {
        Host::Runtime(self.clone())
    }

    /// Runs `f` as a task (at [`Priority::Normal`]) once `delay` has passed (Twisted's
    /// `reactor.callLater`). `Duration::MAX` is accepted (it never comes, in effect).
    ///
    /// If the runtime shuts down before the call runs (or had shut down already), `f` is
    /// dropped without running and the call reports [`cancelled`](DelayedCall::cancelled).
    /// Whatever `f` captured is dropped then: a Deferred that only `f` would have fired stays
    /// unfired, so awaiters of such a Deferred should use
    /// [`defer_later`](fn@crate::time::defer_later), whose Deferred fails with `Cancelled` at
    /// shutdown, or cancel it themselves.
    ///
    /// # Examples
    /// ```
    /// use scheduler_core::Runtime;
    /// use std::time::Duration;
    /// let rt = Runtime::builder().worker_threads(2).build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let call = rt.call_later(Duration::from_millis(1), move || tx.send(42).unwrap());
    /// assert_eq!(rx.recv().unwrap(), 42);
    /// assert!(call.cancel().is_err()); // AlreadyCalled
    /// ```
    pub fn call_later<F>(&self, delay: Duration, f: F) -> DelayedCall
    where
        F: FnOnce() + Send + 'static,
    {
        self.call_later_with(Priority::Normal, delay, f)
    }

    /// [`call_later`](Self::call_later) in a priority class.
    pub fn call_later_with<F>(&self, priority: Priority, delay: Duration, f: F) -> DelayedCall
    where
        F: FnOnce() + Send + 'static,
    {
        let at = self.shared.time.now_ns().saturating_add(duration_to_ns(delay));
        DelayedCall::schedule(self.host(), at, priority, CallFn::Once(Box::new(f)))
    }

    /// [`call_later`](Self::call_later) with the delay in `f64` seconds (Twisted's float).
    ///
    /// # Errors
    /// [`InvalidDelay`] for a negative, NaN or infinite delay; nothing is scheduled.
    pub fn call_later_secs<F>(&self, secs: f64, f: F) -> Result<DelayedCall, InvalidDelay>
    where
        F: FnOnce() + Send + 'static,
    {
        Ok(self.call_later(super::error::secs_f64(secs)?, f))
    }

    /// Runs `f` as a task at `deadline` (a past deadline: as soon as possible).
    pub fn call_at<F>(&self, deadline: Instant, f: F) -> DelayedCall
    where
        F: FnOnce() + Send + 'static,
    {
        self.call_at_with(Priority::Normal, deadline, f)
    }

    /// [`call_at`](Self::call_at) in a priority class.
    pub fn call_at_with<F>(&self, priority: Priority, deadline: Instant, f: F) -> DelayedCall
    where
        F: FnOnce() + Send + 'static,
    {
        let at = self.shared.time.source().deadline_of(deadline);
        DelayedCall::schedule(self.host(), at, priority, CallFn::Once(Box::new(f)))
    }

    /// A future that completes once `delay` has passed on this runtime's clock (usable from
    /// any thread, including in `block_on`).
    pub fn sleep(&self, delay: Duration) -> Sleep {
        Sleep::after(self.host(), delay)
    }

    /// A future that completes at `deadline`.
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep::at(self.host(), deadline)
    }

    /// Runs `future` with a deadline `after` from now on this runtime's clock; see
    /// [`time::timeout`](crate::time::timeout).
    pub fn timeout<F: Future>(&self, after: Duration, future: F) -> Timeout<F> {
        Timeout::with_sleep(future, self.sleep(after), after)
    }

    /// The runtime clock's time since its epoch (the runtime's start for the system clock).
    pub fn clock_now(&self) -> Duration {
        ReactorTime::now(self)
    }

    /// With a manual clock ([`Builder::clock`]): moves time forward by `d` and fires every
    /// timer now due, from the calling thread (calls are spawned as tasks, sleeps are woken).
    /// Returns how many this call fired (a worker running its maintenance at the same moment
    /// may fire some of them instead), or `None` when the runtime runs on the system clock
    /// (which cannot be moved).
    pub fn advance(&self, d: Duration) -> Option<usize> {
        let TimeSource::Manual(clock) = self.shared.time.source() else { return None };
        let now = clock.advance(d);
        let shared = Arc::clone(&self.shared);
        Some(self.shared.time.fire_all_due(now, |p| super::reactor::dispatch(&shared, p)))
    }

    /// With a manual clock: moves time forward by `d` deadline by deadline: the clock is set
    /// to each next deadline in turn and the timers due then fire (from the calling thread),
    /// so a call sees its own deadline as the time when it is fired, and `advance_stepping(a);
    /// advance_stepping(b)` equals `advance_stepping(a + b)`. The tasks the calls start run
    /// concurrently on the workers (no barrier between steps: for a step-by-step quiescent run
    /// use [`DeterministicRuntime`](crate::DeterministicRuntime)). Returns how many fired,
    /// or `None` on the system clock.
    pub fn advance_stepping(&self, d: Duration) -> Option<usize> {
        let TimeSource::Manual(clock) = self.shared.time.source() else { return None };
        let target = scheduler_timers::deadline_after(clock.now_ns(), d);
        let shared = &*self.shared;
        let mut fired = 0;
        while let Some(next) = shared.time.earliest_deadline() {
            if next > target {
                break;
            }
            let now = next.max(clock.now_ns());
            clock.set_ns(now);
            fired += shared.time.fire_all_due(now, |p| super::reactor::dispatch(shared, p));
        }
        clock.set_ns(target.max(clock.now_ns()));
        Some(fired)
    }
}

impl Runtime {
    /// Runs `f` once `delay` has passed; see [`Handle::call_later`].
    pub fn call_later<F>(&self, delay: Duration, f: F) -> DelayedCall
    where
        F: FnOnce() + Send + 'static,
    {
        self.handle().call_later(delay, f)
    }

    /// Runs `f` at `deadline`; see [`Handle::call_at`].
    pub fn call_at<F>(&self, deadline: Instant, f: F) -> DelayedCall
    where
        F: FnOnce() + Send + 'static,
    {
        self.handle().call_at(deadline, f)
    }

    /// A sleep on this runtime; see [`Handle::sleep`].
    pub fn sleep(&self, delay: Duration) -> Sleep {
        self.handle().sleep(delay)
    }
}
