//! Where time comes from: the [`Clock`] trait, a monotonic [`SystemClock`] and a
//! [`ManualClock`] that only moves when told to.
//!
//! Time is a `u64` count of nanoseconds since the clock's own epoch (its creation for
//! [`SystemClock`], zero for [`ManualClock`]). Every deadline of the wheel is on that scale.
//! A clock may go backwards (a manual clock set back, say): the wheel tolerates it, and simply
//! fires nothing until time passes the next deadline again.

use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Arc;
use std::fmt;
use std::time::{Duration, Instant};

/// A source of "now" in nanoseconds since the clock's epoch.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time in nanoseconds since this clock's epoch.
    fn now_ns(&self) -> u64;
}

/// Converts a duration to nanoseconds, saturating at `u64::MAX` (about 584 years).
pub fn duration_to_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `now + delay` in nanoseconds, clamped at `u64::MAX` instead of overflowing.
pub fn deadline_after(now_ns: u64, delay: Duration) -> u64 {
    now_ns.saturating_add(duration_to_ns(delay))
}

/// The monotonic system clock: nanoseconds since this value was created.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    epoch: Instant,
}

impl SystemClock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        SystemClock { epoch: Instant::now() }
    }

    /// The instant this clock counts from.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// The deadline (ns on this clock) of an `Instant`; instants before the epoch map to 0.
    pub fn deadline_of(&self, at: Instant) -> u64 {
        duration_to_ns(at.saturating_duration_since(self.epoch))
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ns(&self) -> u64 {
        duration_to_ns(self.epoch.elapsed())
    }
}

/// A clock that moves only when told to (Twisted's `task.Clock`). Clones share one time.
///
/// `advance` here moves the time only; firing the timers that come due is the job of whoever
/// drives the wheel (scheduler-core's `ManualReactor`, deterministic runtime and time
/// driver), which steps deadline by deadline using
/// [`TimerShard::earliest_deadline`](crate::TimerShard::earliest_deadline).
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<AtomicU64>,
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock").field("now_ns", &self.now_ns()).finish()
    }
}

impl ManualClock {
    /// A manual clock at time zero.
    pub fn new() -> Self {
        Self::starting_at(0)
    }

    /// A manual clock at `now_ns`.
    pub fn starting_at(now_ns: u64) -> Self {
        ManualClock { now: Arc::new(AtomicU64::new(now_ns)) }
    }

    /// Moves the time forward by `d` (saturating at `u64::MAX`); returns the new time.
    pub fn advance(&self, d: Duration) -> u64 {
        let add = duration_to_ns(d);
        // Relaxed: the clock is a value, not a synchronisation point; drivers order their
        // own work.
        let prev = self
            .now
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| Some(t.saturating_add(add)))
            .unwrap_or_else(|t| t);
        prev.saturating_add(add)
    }

    /// Advances by each step in turn (Twisted's `Clock.pump`); returns the final time.
    pub fn pump(&self, steps: &[Duration]) -> u64 {
        steps.iter().fold(self.now_ns(), |_, d| self.advance(*d))
    }

    /// Sets the time, forwards or backwards (backwards is tolerated by the wheel).
    pub fn set_ns(&self, now_ns: u64) {
        self.now.store(now_ns, Ordering::Relaxed);
    }

    /// The current time as a `Duration` since the epoch.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.now_ns())
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> u64 {
        self.now.load(Ordering::Relaxed)
    }
}
