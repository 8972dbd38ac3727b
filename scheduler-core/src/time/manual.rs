//! [`ManualReactor`]: Twisted's `task.Clock`, thread-safe, as a [`ReactorTime`].

use super::call::{CallFn, DelayedCall};
use super::driver::TimerPayload;
use super::reactor::{Host, ReactorTime};
use crate::priority::Priority;
use crate::sync::{Arc, Mutex};
use scheduler_timers::{
    deadline_after, duration_to_ns, Clock, ManualClock, RemoteShard, TimerConfig, TimerError,
    TimerKey, TimerShard,
};
use std::cell::RefCell;
use std::fmt;
use std::time::Duration;

struct Inner {
    clock: ManualClock,
    shard: RemoteShard<TimerPayload>,
    /// The owner handle, for the slab scan of `pending_calls`; inserts (`insert_direct`),
    /// firing, cancels and resets go through `shard`.
    owner: Mutex<TimerShard<TimerPayload>>,
}

/// A manual clock with its pending calls: Twisted's `task.Clock`, usable from any thread.
///
/// Time starts at zero and moves only by [`advance`](Self::advance) (or
/// [`advance_stepping`](Self::advance_stepping)); functions scheduled on it run inside those
/// calls, on the calling thread, earliest first, equal times in scheduling order, including
/// calls scheduled *during* the advance that are already due (Twisted's `Clock.advance`; each
/// function sees the final time). A panic in a function propagates out of `advance` (as an
/// exception does out of Twisted's), leaving the later calls pending. Clones share the clock.
///
/// An advance holds its timer shard for the whole run of due functions (their own calls
/// re-arm through it: no atomic read-modify-write on the shard per call), so another thread's
/// `advance` or [`next_call_time`](Self::next_call_time) waits until it ends: a function must
/// not wait for another thread that advances or queries the same clock.
///
/// A pending call that holds a clone of its reactor (a running [`LoopingCall`] does) keeps
/// the reactor alive, as Twisted's reactor keeps a running loop alive: stop loops (or cancel
/// the calls) before dropping the last handle, or their captures stay allocated.
///
/// [`LoopingCall`]: crate::LoopingCall
///
/// # Examples
/// ```
/// use scheduler_core::time::ManualReactor;
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// let clock = ManualReactor::new();
/// let log = Arc::new(Mutex::new(Vec::new()));
/// for (delay, name) in [(2, "b"), (1, "a"), (2, "c")] {
///     let log = log.clone();
///     let _call = clock.call_later(Duration::from_secs(delay), move || log.lock().unwrap().push(name));
/// }
/// clock.pump(&[Duration::from_secs(1), Duration::from_secs(1)]);
/// assert_eq!(*log.lock().unwrap(), ["a", "b", "c"]);
/// assert!(clock.pending_calls().is_empty());
/// ```
#[derive(Clone)]
pub struct ManualReactor {
    inner: Arc<Inner>,
}

impl fmt::Debug for ManualReactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualReactor")
            .field("now", &self.now())
            .field("pending", &self.pending_calls().len())
            .finish()
    }
}

impl Default for ManualReactor {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualReactor {
    /// A manual reactor at time zero.
    pub fn new() -> Self {
        Self::with_clock(ManualClock::new())
    }

    /// A manual reactor on an existing clock (clones of a `ManualClock` share its time).
    pub fn with_clock(clock: ManualClock) -> Self {
        let owner = TimerShard::new(0, TimerConfig::default());
        let shard = owner.remote();
        ManualReactor { inner: Arc::new(Inner { clock, shard, owner: Mutex::new(owner) }) }
    }

    /// The clock (clones share its time).
    pub fn clock(&self) -> &ManualClock {
        &self.inner.clock
    }

    pub(crate) fn now_ns(&self) -> u64 {
        self.inner.clock.now_ns()
    }

    /// The current time since the epoch (Twisted's `seconds()`).
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.now_ns())
    }

    /// Schedules `f` to run once `delay` has passed (Twisted's `callLater`).
    pub fn call_later<F>(&self, delay: Duration, f: F) -> DelayedCall
    where
        F: FnOnce() + Send + 'static,
    {
        self.call_at(self.now().saturating_add(delay), f)
    }

    /// Schedules `f` at `at` (time since the epoch; a past time runs at the next advance).
    pub fn call_at<F>(&self, at: Duration, f: F) -> DelayedCall
    where
        F: FnOnce() + Send + 'static,
    {
        let host = Host::Manual(self.clone());
        DelayedCall::schedule(host, duration_to_ns(at), Priority::Normal, CallFn::Once(Box::new(f)))
    }

    /// Times of the pending calls, sorted (Twisted's `getDelayedCalls`, by time).
    pub fn pending_calls(&self) -> Vec<Duration> {
        let owner = self.inner.owner.lock();
        owner.pending_deadlines().into_iter().map(Duration::from_nanos).collect()
    }

    /// Twisted's `Clock.advance(d)`: moves the clock, then runs every due call; returns how
    /// many ran.
    pub fn advance(&self, d: Duration) -> usize {
        let now = self.inner.clock.advance(d);
        self.run_due(now)
    }

    /// Twisted's `Clock.pump(steps)`: one [`advance`](Self::advance) per step.
    pub fn pump(&self, steps: &[Duration]) -> usize {
        steps.iter().map(|d| self.advance(*d)).sum()
    }

    /// Advances by `d` deadline by deadline: the clock is set to each due call's own time
    /// before it runs, so `advance_stepping(a); advance_stepping(b)` equals
    /// `advance_stepping(a + b)`.
    pub fn advance_stepping(&self, d: Duration) -> usize {
        let target = deadline_after(self.now_ns(), d);
        let mut ran = 0;
        while let Some(next) = self.next_deadline() {
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

    /// The time of the earliest pending call, if any.
    pub fn next_call_time(&self) -> Option<Duration> {
        self.next_deadline().map(Duration::from_nanos)
    }

    pub(crate) fn next_deadline(&self) -> Option<u64> {
        loop {
            if let Ok(next) = self.inner.shard.earliest_deadline() {
                return next;
            }
            std::thread::yield_now(); // another thread is firing: brief
        }
    }

    /// Runs every call due at `now_ns` without moving the clock.
    pub(crate) fn run_due(&self, now_ns: u64) -> usize {
        loop {
            // One hold of the expiry right for the whole advance, lent to the calls' own
            // re-arms; nobody parks on this shard, so its deadline is not republished.
            match self.inner.shard.expire_pass(now_ns, run_payload) {
                Ok(fired) => return fired,
                Err(_) => std::thread::yield_now(),
            }
        }
    }

    pub(crate) fn insert(
        &self,
        deadline_ns: u64,
        payload: TimerPayload,
    ) -> Result<TimerKey, TimerError> {
        // Filed directly under the expiry right when it is free (no inbox round trip, no
        // fence), as the owner handle would, but without locking the owner's mutex: the right
        // alone guards the wheel. While another thread holds the right (it is advancing), the
        // timer goes through the inbox, as `TimerShard::insert` does then.
        // `?` keeps `Full` and drops the refused payload, as the insert did before it handed
        // payloads back (`InsertError`).
        let (key, _) = self.inner.shard.insert_direct(deadline_ns, payload)?;
        Ok(key)
    }

    /// [`insert`](Self::insert) of the next timer of a call whose timer `fired` just fired:
    /// from that call, run by an advance, the new timer takes the fired one's slot
    /// (`RemoteShard::rearm_direct`).
    #[inline(always)]
    pub(crate) fn rearm(
        &self,
        fired: TimerKey,
        deadline_ns: u64,
        payload: TimerPayload,
    ) -> Result<TimerKey, TimerError> {
        let (key, _) = self.inner.shard.rearm_direct(fired, deadline_ns, payload)?;
        Ok(key)
    }

    pub(crate) fn cancel_key(&self, key: TimerKey) -> Result<(), TimerError> {
        self.inner.shard.cancel(key)
    }

    pub(crate) fn reset_key(&self, key: TimerKey, deadline_ns: u64) -> Result<(), TimerError> {
        self.inner.shard.reset(key, deadline_ns).map(|_| ())
    }
}

/// Runs a payload fired by a manual reactor: inline, on the advancing thread.
fn run_payload(payload: TimerPayload) {
    match payload {
        TimerPayload::Wake(waker) => waker.wake(),
        TimerPayload::Call(call) => {
            if let Some(f) = call.begin_call() {
                f.run_fired(call);
            }
        }
    }
}

impl ReactorTime for ManualReactor {
    fn now(&self) -> Duration {
        ManualReactor::now(self)
    }

    fn now_ns(&self) -> u64 {
        ManualReactor::now_ns(self)
    }

    fn call_at_boxed_with(
        &self,
        priority: Priority,
        deadline: Duration,
        f: Box<dyn FnOnce() + Send + 'static>,
    ) -> DelayedCall {
        super::reactor::call_once_at(Host::Manual(self.clone()), priority, deadline, f)
    }
}

thread_local! {
    /// The manual reactor of the deterministic runtime running on this thread, if any.
    static CURRENT: RefCell<Option<ManualReactor>> = const { RefCell::new(None) };
}

/// The manual reactor set on this thread by a running deterministic runtime.
pub(crate) fn current() -> Option<ManualReactor> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Makes `reactor` this thread's current one until the guard drops.
pub(crate) fn enter(reactor: &ManualReactor) -> EnterGuard {
    let prev = CURRENT.with(|c| c.replace(Some(reactor.clone())));
    EnterGuard { prev }
}

/// Restores the previous current manual reactor on drop.
#[derive(Debug)]
pub(crate) struct EnterGuard {
    prev: Option<ManualReactor>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        CURRENT.with(|c| *c.borrow_mut() = prev);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::ManualReactor;
    use crate::LoopingCall;
    use scheduler_deferred::Failure;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// A looping call re-arms its fired timer in place: after 1,000,000 ticks its timer still
    /// sits in the slab slot it started in (the slab never grew past its first chunk).
    #[test]
    fn a_looping_call_keeps_its_slab_slot_over_a_million_ticks() {
        let clock = ManualReactor::new();
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        let lc = LoopingCall::new(clock.clone(), move || {
            c.fetch_add(1, Ordering::Relaxed);
            Ok::<_, Failure>(())
        });
        let _done = lc.start(Duration::from_millis(1), false).unwrap();
        let slab = clock.inner.owner.lock().slab_len();
        for _ in 0..1_000_000 {
            clock.advance(Duration::from_millis(1));
        }
        assert_eq!(calls.load(Ordering::Relaxed), 1_000_000);
        assert_eq!(clock.inner.owner.lock().slab_len(), slab);
        assert_eq!(clock.pending_calls().len(), 1);
        lc.stop().unwrap();
        assert!(clock.pending_calls().is_empty());
    }
}
