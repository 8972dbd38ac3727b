//! [`ReactorTime`]: Twisted's `IReactorTime` (`seconds()` + `callLater`), implemented by the
//! runtime [`Handle`] and by [`ManualReactor`], so timed logic is written once and tested on
//! virtual time.

use super::call::CallFn;
use super::call::DelayedCall;
use super::driver::{Fired, TimerPayload};
use super::error::InvalidDelay;
use super::manual::ManualReactor;
use crate::context;
use crate::priority::Priority;
use crate::runtime::{Handle, Shared};
use crate::sync::atomic::{fence, Ordering};
use scheduler_timers::{deadline_after, duration_to_ns, TimerError, TimerKey};
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// A clock that can run functions later (Twisted's `IReactorTime`).
///
/// Time is a [`Duration`] since the clock's epoch (the runtime's start, or zero for a
/// [`ManualReactor`]). Implemented by [`Handle`] (functions run as tasks at their priority)
/// and [`ManualReactor`] (functions run inside `advance`, on the advancing thread).
///
/// # Examples
/// ```
/// use scheduler_core::time::{ManualReactor, ReactorTime};
/// use std::sync::{Arc, atomic::{AtomicU32, Ordering}};
/// use std::time::Duration;
///
/// fn arm(clock: &dyn ReactorTime, hits: Arc<AtomicU32>) {
///     let _call = clock.call_later_boxed(Duration::from_millis(5), Box::new(move || {
///         hits.fetch_add(1, Ordering::SeqCst);
///     }));
/// }
/// let clock = ManualReactor::new();
/// let hits = Arc::new(AtomicU32::new(0));
/// arm(&clock, hits.clone());
/// clock.advance(Duration::from_millis(5));
/// assert_eq!(hits.load(Ordering::SeqCst), 1);
/// ```
pub trait ReactorTime: Send + Sync + fmt::Debug {
    /// The current time since the clock's epoch (Twisted's `seconds()`).
    fn now(&self) -> Duration;

    /// [`now`](Self::now) in nanoseconds (saturating at `u64::MAX`), the unit deadlines are
    /// kept in; a clock that keeps nanoseconds returns them without the conversions.
    fn now_ns(&self) -> u64 {
        duration_to_ns(self.now())
    }

    /// Runs `f` at `deadline` (time since the epoch; a past deadline runs as soon as
    /// possible) in the given priority class.
    fn call_at_boxed_with(
        &self,
        priority: Priority,
        deadline: Duration,
        f: Box<dyn FnOnce() + Send + 'static>,
    ) -> DelayedCall;

    /// Runs `f` once `delay` has passed (saturating: `Duration::MAX` is "never", in effect).
    fn call_later_boxed(
        &self,
        delay: Duration,
        f: Box<dyn FnOnce() + Send + 'static>,
    ) -> DelayedCall {
        let at = self.now().saturating_add(delay);
        self.call_at_boxed_with(Priority::Normal, at, f)
    }

    /// Runs `f` once `delay` has passed (Twisted's `callLater`).
    fn call_later<F>(&self, delay: Duration, f: F) -> DelayedCall
    where
        Self: Sized,
        F: FnOnce() + Send + 'static,
    {
        self.call_later_boxed(delay, Box::new(f))
    }

    /// `call_later` with the delay in `f64` seconds, as Twisted takes it.
    ///
    /// # Errors
    /// [`InvalidDelay`] for a negative, NaN or infinite delay (nothing is scheduled).
    fn call_later_secs<F>(&self, secs: f64, f: F) -> Result<DelayedCall, InvalidDelay>
    where
        Self: Sized,
        F: FnOnce() + Send + 'static,
    {
        Ok(self.call_later_boxed(super::error::secs_f64(secs)?, Box::new(f)))
    }
}

/// Where a timer lives: a runtime's driver, or a manual reactor.
#[derive(Clone, Debug)]
pub(crate) enum Host {
    Runtime(Handle),
    Manual(ManualReactor),
}

impl Host {
    /// The host of the calling context: the deterministic runtime being run on this thread,
    /// else the runtime whose thread this is.
    pub(crate) fn current() -> Option<Host> {
        if let Some(m) = super::manual::current() {
            return Some(Host::Manual(m));
        }
        context::current_handle().map(Host::Runtime)
    }

    pub(crate) fn now_ns(&self) -> u64 {
        match self {
            Host::Runtime(h) => h.shared.time.now_ns(),
            Host::Manual(m) => m.now_ns(),
        }
    }

    pub(crate) fn deadline_of(&self, at: Instant) -> u64 {
        match self {
            Host::Runtime(h) => h.shared.time.source().deadline_of(at),
            Host::Manual(m) => {
                deadline_after(m.now_ns(), at.saturating_duration_since(Instant::now()))
            }
        }
    }

    /// True when the host is a runtime that has begun shutting down (its timers will not
    /// fire; waiters complete at once).
    pub(crate) fn is_shut_down(&self) -> bool {
        match self {
            Host::Runtime(h) => h.is_shutdown(),
            Host::Manual(_) => false,
        }
    }

    /// Inserts a timer; `None` when the runtime has shut down (the payload is dropped).
    pub(crate) fn insert(&self, deadline_ns: u64, payload: TimerPayload) -> Option<TimerKey> {
        match self {
            Host::Runtime(h) => runtime_insert(&h.shared, deadline_ns, payload),
            Host::Manual(m) => m.insert(deadline_ns, payload).ok(),
        }
    }

    /// [`insert`](Self::insert) for the next timer of a call whose timer (`fired`) fired: a
    /// manual reactor reuses the fired timer's slot when its advance is running that call.
    #[inline(always)]
    pub(crate) fn rearm(
        &self,
        fired: Option<TimerKey>,
        deadline_ns: u64,
        payload: TimerPayload,
    ) -> Option<TimerKey> {
        match (self, fired) {
            (Host::Manual(m), Some(fired)) => m.rearm(fired, deadline_ns, payload).ok(),
            _ => self.insert(deadline_ns, payload),
        }
    }

    pub(crate) fn cancel(&self, key: TimerKey) {
        let _ = match self {
            Host::Runtime(h) => h.shared.time.cancel(local_worker(&h.shared), key),
            Host::Manual(m) => m.cancel_key(key),
        };
    }

    pub(crate) fn reset(&self, key: TimerKey, deadline_ns: u64) -> Result<(), TimerError> {
        match self {
            Host::Runtime(h) => {
                let shared = &*h.shared;
                let local = local_worker(shared);
                shared.time.reset(local, key, deadline_ns, |i| shared.idle.unpark(i))
            }
            Host::Manual(m) => m.reset_key(key, deadline_ns),
        }
    }
}

/// The index of the calling worker, if it is a worker of `shared`.
fn local_worker(shared: &Shared) -> Option<usize> {
    context::with_core(shared as *const Shared, |core| core.map(|c| c.index()))
}

fn runtime_insert(shared: &Shared, deadline_ns: u64, payload: TimerPayload) -> Option<TimerKey> {
    if shared.is_shutdown() {
        super::driver::discard(payload);
        return None;
    }
    let local = local_worker(shared);
    let key = shared.time.insert(local, deadline_ns, payload, |i| shared.idle.unpark(i)).ok()?;
    // SeqCst fence: pairs with the one in `Shared::begin_shutdown` (driver doc, "Shutdown"):
    // either the shutdown drain sees our timer, or we see the flag and drain it ourselves.
    fence(Ordering::SeqCst);
    if shared.shutdown.load(Ordering::Relaxed) {
        shared.time.drain_shard(key.shard() as usize);
    }
    Some(key)
}

/// Runs what fired on a runtime: wakers inline, calls as one task per batch in their class.
/// A panicking call does not stop the rest of its batch; the first panic is re-raised at the
/// end, so the task counts as panicked (runtime metrics).
pub(crate) fn dispatch(shared: &Shared, fired: Fired) {
    match fired {
        Fired::Wake(waker) => waker.wake(),
        Fired::Calls(calls, priority) => {
            drop(shared.spawn(async move { run_batch(calls) }, priority));
        }
    }
}

fn run_batch(calls: Vec<CallFn>) {
    let mut first_panic = None;
    for f in calls {
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| f.run())) {
            first_panic.get_or_insert(p);
        }
    }
    if let Some(p) = first_panic {
        resume_unwind(p);
    }
}

impl ReactorTime for Handle {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.shared.time.now_ns())
    }

    fn now_ns(&self) -> u64 {
        self.shared.time.now_ns()
    }

    fn call_at_boxed_with(
        &self,
        priority: Priority,
        deadline: Duration,
        f: Box<dyn FnOnce() + Send + 'static>,
    ) -> DelayedCall {
        call_once_at(Host::Runtime(self.clone()), priority, deadline, f)
    }
}

/// What both hosts' `ReactorTime::call_at_boxed_with` do: one call of `f` at `deadline`.
pub(super) fn call_once_at(
    host: Host,
    priority: Priority,
    deadline: Duration,
    f: Box<dyn FnOnce() + Send + 'static>,
) -> DelayedCall {
    DelayedCall::schedule(host, duration_to_ns(deadline), priority, CallFn::Once(f))
}

/// scheduler-deferred's timer trait (behind `Deferred::add_timeout`) for a [`ReactorTime`].
/// (A blanket impl over `T: ReactorTime` is refused by the orphan rule: both the trait and
/// `T` would be foreign to it.)
macro_rules! call_later_via_reactor_time {
    ($host:ty) => {
        impl scheduler_deferred::CallLater for $host {
            fn call_later(
                &self,
                delay: std::time::Duration,
                f: Box<dyn FnOnce() + Send>,
            ) -> Box<dyn scheduler_deferred::ScheduledCall> {
                Box::new($crate::time::ReactorTime::call_later_boxed(self, delay, f))
            }
        }
    };
}

call_later_via_reactor_time!(Handle);
call_later_via_reactor_time!(ManualReactor);
