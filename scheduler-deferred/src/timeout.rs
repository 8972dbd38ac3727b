//! [`CallLater`]: the one timer service this crate needs, and [`Deferred::add_timeout`].
//!
//! The crate knows no clock or runtime; `scheduler-core` implements [`CallLater`] for its
//! runtime handle, and tests implement it with a manual clock.

use std::fmt;
use std::time::Duration;

use crate::errors::{Cancelled, TimedOut};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::Arc;
use crate::{Deferred, Failure};

/// A call scheduled by [`CallLater::call_later`] (Twisted's `IDelayedCall`, reduced to what a
/// Deferred needs).
pub trait ScheduledCall: Send + Sync {
    /// Cancels the call if it has not run yet; a no-op afterwards.
    fn cancel(&self);
}

/// Something that can run a function after a delay (Twisted's `IReactorTime.callLater`).
pub trait CallLater {
    /// Runs `f` once `delay` has passed; the returned handle can cancel it.
    fn call_later(&self, delay: Duration, f: Box<dyn FnOnce() + Send>) -> Box<dyn ScheduledCall>;
}

impl fmt::Debug for dyn ScheduledCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScheduledCall")
    }
}

impl<T: Send + 'static> Deferred<T> {
    /// Cancels this Deferred if it has not fired `delay` after now, turning the resulting
    /// [`Cancelled`] failure into [`TimedOut`] (Twisted's `addTimeout`). Only callbacks added
    /// before this call are covered; firing earlier cancels the timer. A manual `cancel()` keeps
    /// `Cancelled`, and a canceller that fires with a value or another failure keeps it.
    ///
    /// # Examples
    ///
    /// A manual clock that runs calls when told:
    ///
    /// ```
    /// use scheduler_deferred::{CallLater, Deferred, ScheduledCall, TimedOut};
    /// use std::sync::Mutex;
    /// use std::time::Duration;
    ///
    /// #[derive(Default)]
    /// struct Manual(Mutex<Vec<Box<dyn FnOnce() + Send>>>);
    /// struct Noop;
    /// impl ScheduledCall for Noop { fn cancel(&self) {} }
    /// impl CallLater for Manual {
    ///     fn call_later(&self, _: Duration, f: Box<dyn FnOnce() + Send>) -> Box<dyn ScheduledCall> {
    ///         self.0.lock().unwrap().push(f);
    ///         Box::new(Noop)
    ///     }
    /// }
    ///
    /// let clock = Manual::default();
    /// let d = Deferred::<u8>::new().add_timeout(Duration::from_secs(5), &clock);
    /// for call in clock.0.lock().unwrap().drain(..) { call() } // five seconds pass
    /// assert!(d.take_result().unwrap().unwrap_err().is::<TimedOut>());
    /// ```
    pub fn add_timeout(self, delay: Duration, clock: &dyn CallLater) -> Deferred<T> {
        self.add_timeout_with(delay, clock, |result, after| match result {
            Err(failure) if failure.is::<Cancelled>() => Err(Failure::new(TimedOut { after })),
            other => other,
        })
    }

    /// [`add_timeout`](Self::add_timeout) with the caller's conversion (Twisted's
    /// `onTimeoutCancel`): when the timeout fired, `on_timeout_cancel(result, delay)` gets the
    /// result the cancellation left (usually a [`Cancelled`] failure; a canceller may have
    /// fired a value or another failure instead) and returns what the chain continues with.
    /// It is not called when the Deferred fired in time, or when someone else cancelled it
    /// before the timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use scheduler_deferred::{CallLater, Deferred, ScheduledCall};
    /// use std::sync::Mutex;
    /// use std::time::Duration;
    ///
    /// #[derive(Default)]
    /// struct Manual(Mutex<Vec<Box<dyn FnOnce() + Send>>>);
    /// struct Noop;
    /// impl ScheduledCall for Noop { fn cancel(&self) {} }
    /// impl CallLater for Manual {
    ///     fn call_later(&self, _: Duration, f: Box<dyn FnOnce() + Send>) -> Box<dyn ScheduledCall> {
    ///         self.0.lock().unwrap().push(f);
    ///         Box::new(Noop)
    ///     }
    /// }
    ///
    /// let clock = Manual::default();
    /// let d = Deferred::<&str>::new()
    ///     .add_timeout_with(Duration::from_secs(5), &clock, |_, _| Ok("used the cache instead"));
    /// for call in clock.0.lock().unwrap().drain(..) { call() }
    /// assert_eq!(d.take_result().unwrap().unwrap(), "used the cache instead");
    /// ```
    pub fn add_timeout_with<F>(
        self,
        delay: Duration,
        clock: &dyn CallLater,
        on_timeout_cancel: F,
    ) -> Deferred<T>
    where
        F: FnOnce(Result<T, Failure>, Duration) -> Result<T, Failure> + Send + 'static,
    {
        let timed_out = Arc::new(AtomicBool::new(false));
        let flag = timed_out.clone();
        let target = self.clone();
        let call = clock.call_later(
            delay,
            Box::new(move || {
                // Release: pairs with the Acquire in the conversion below (run after `cancel`
                // fires the chain, on this thread or on the chain's runner).
                flag.store(true, Ordering::Release);
                target.cancel();
            }),
        );
        self.add_both(move |result: Result<T, Failure>| {
            call.cancel();
            if timed_out.load(Ordering::Acquire) {
                on_timeout_cancel(result, delay)
            } else {
                result
            }
        })
    }
}
