//! [`ManualTimers`]: a single-threaded timer wheel on a [`ManualClock`], with Twisted's
//! `task.Clock` semantics, for testing timed logic without a runtime.

use crate::clock::{deadline_after, duration_to_ns, Clock, ManualClock};
use crate::error::TimerError;
use crate::key::TimerKey;
use crate::owner::TimerShard;
use crate::TimerConfig;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

/// A deferred call: what [`ManualTimers`] stores per timer.
pub type Callback = Box<dyn FnOnce()>;

struct Inner {
    clock: ManualClock,
    shard: TimerShard<Callback>,
}

/// One shard and a [`ManualClock`] on one thread: Twisted's `task.Clock`.
///
/// Clones share the same clock and timers, so a callback can hold a clone and schedule more
/// calls. Nothing ever waits on real time.
///
/// - [`advance`](Self::advance) is Twisted's `Clock.advance`: the clock first moves to
///   `now + d`, then every call due at the new time runs, earliest first, ties in the order
///   they were scheduled, including calls scheduled *during* the advance that are already due
///   (each callback sees the final time).
/// - [`advance_stepping`](Self::advance_stepping) moves the clock deadline by deadline (each
///   callback sees its own deadline as "now"), so `advance_stepping(a); advance_stepping(b)`
///   equals `advance_stepping(a + b)`: the semantics the runtime's deterministic mode uses.
///
/// # Examples
/// ```
/// use scheduler_timers::ManualTimers;
/// use std::{cell::RefCell, rc::Rc, time::Duration};
///
/// let timers = ManualTimers::new();
/// let log = Rc::new(RefCell::new(Vec::new()));
/// for name in ["a", "b"] {
///     let log = log.clone();
///     timers.call_later(Duration::from_secs(1), move || log.borrow_mut().push(name)).unwrap();
/// }
/// assert_eq!(timers.advance(Duration::from_millis(999)), 0);
/// assert_eq!(timers.advance(Duration::from_millis(1)), 2);
/// assert_eq!(*log.borrow(), ["a", "b"]);
/// ```
#[derive(Clone)]
pub struct ManualTimers {
    inner: Rc<Inner>,
}

impl fmt::Debug for ManualTimers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualTimers")
            .field("now_ns", &self.now_ns())
            .field("pending", &self.pending_deadlines().len())
            .finish()
    }
}

impl Default for ManualTimers {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualTimers {
    /// Timers on a new manual clock at time zero, default geometry.
    pub fn new() -> Self {
        Self::with_clock(ManualClock::new(), TimerConfig::default())
    }

    /// Timers on the given clock and geometry.
    pub fn with_clock(clock: ManualClock, config: TimerConfig) -> Self {
        ManualTimers { inner: Rc::new(Inner { clock, shard: TimerShard::new(0, config) }) }
    }

    /// The clock (clones share its time).
    pub fn clock(&self) -> &ManualClock {
        &self.inner.clock
    }

    /// The current time in ns since the epoch.
    pub fn now_ns(&self) -> u64 {
        self.inner.clock.now_ns()
    }

    /// The current time since the epoch.
    pub fn now(&self) -> Duration {
        self.inner.clock.now()
    }

    /// Schedules `f` to run `delay` from now (Twisted's `callLater`).
    ///
    /// # Errors
    /// [`TimerError::Full`] only if the shard cannot grow.
    pub fn call_later(
        &self,
        delay: Duration,
        f: impl FnOnce() + 'static,
    ) -> Result<TimerKey, TimerError> {
        self.call_at(deadline_after(self.now_ns(), delay), f)
    }

    /// Schedules `f` at an absolute deadline (ns); a past deadline runs at the next advance.
    ///
    /// # Errors
    /// As [`call_later`](Self::call_later).
    pub fn call_at(
        &self,
        deadline_ns: u64,
        f: impl FnOnce() + 'static,
    ) -> Result<TimerKey, TimerError> {
        self.inner.shard.insert(deadline_ns, Box::new(f))
    }

    /// Cancels a pending call.
    ///
    /// # Errors
    /// [`TimerError::AlreadyFired`] / [`TimerError::AlreadyCancelled`] / [`TimerError::Stale`].
    pub fn cancel(&self, key: TimerKey) -> Result<(), TimerError> {
        self.inner.shard.cancel(key)
    }

    /// Re-schedules a pending call to `delay` from now (Twisted's `DelayedCall.reset`).
    ///
    /// # Errors
    /// As [`cancel`](Self::cancel).
    pub fn reset(&self, key: TimerKey, delay: Duration) -> Result<(), TimerError> {
        self.inner.shard.reset(key, deadline_after(self.now_ns(), delay))
    }

    /// Pushes a pending call `more` later (Twisted's `DelayedCall.delay`).
    ///
    /// # Errors
    /// As [`cancel`](Self::cancel).
    pub fn delay(&self, key: TimerKey, more: Duration) -> Result<(), TimerError> {
        let deadline = self.inner.shard.deadline(key)?;
        self.inner.shard.reset(key, deadline.saturating_add(duration_to_ns(more)))
    }

    /// Whether the call is still pending (Twisted's `active()`).
    pub fn is_active(&self, key: TimerKey) -> bool {
        self.inner.shard.is_pending(key)
    }

    /// The deadline (ns) of a pending call (Twisted's `getTime()`).
    ///
    /// # Errors
    /// As [`cancel`](Self::cancel).
    pub fn deadline(&self, key: TimerKey) -> Result<u64, TimerError> {
        self.inner.shard.deadline(key)
    }

    /// Deadlines of the pending calls, sorted (Twisted's `getDelayedCalls`).
    pub fn pending_deadlines(&self) -> Vec<u64> {
        self.inner.shard.pending_deadlines()
    }

    /// Twisted's `Clock.advance(d)`; returns how many calls ran.
    pub fn advance(&self, d: Duration) -> usize {
        let now = self.inner.clock.advance(d);
        self.run_due(now)
    }

    /// Twisted's `Clock.pump(steps)`: one [`advance`](Self::advance) per step.
    pub fn pump(&self, steps: &[Duration]) -> usize {
        steps.iter().map(|d| self.advance(*d)).sum()
    }

    /// Advances by `d` deadline by deadline: sets the clock to each next deadline up to the
    /// target and runs the calls due then; finally sets the clock to the target.
    pub fn advance_stepping(&self, d: Duration) -> usize {
        let target = deadline_after(self.now_ns(), d);
        let mut ran = 0;
        while let Ok(Some(next)) = self.inner.shard.earliest_deadline() {
            if next > target {
                break;
            }
            let now = next.max(self.now_ns());
            self.inner.clock.set_ns(now);
            ran += self.run_due(now);
        }
        self.inner.clock.set_ns(target.max(self.now_ns()));
        ran
    }

    /// Runs every call due at `now_ns` (without moving the clock).
    pub fn run_due(&self, now_ns: u64) -> usize {
        self.inner.shard.fire_due(now_ns, |call| call()).fired
    }
}
