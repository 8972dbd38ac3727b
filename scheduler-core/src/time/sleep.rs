//! [`sleep`], [`sleep_until`] and [`timeout`]: futures on the runtime's timers.
//!
//! A [`Sleep`] registers a waker timer on its first poll (lazily: an unpolled sleep costs no
//! timer) and is ready once the clock reads at least its deadline. A timer never fires early,
//! so the poll that follows the wake-up finds the deadline passed. If the task's waker changes
//! between polls, the timer is re-registered with the new one. Dropping a pending sleep
//! cancels its timer.
//!
//! Shutdown is a wake-up too: when the runtime shuts down, the driver wakes every pending
//! timer's waker (`driver::discard`), and a sleep polled on a shut-down runtime completes at
//! once, before its deadline (a [`Timeout`] then fails with [`Elapsed::is_shutdown`]). So
//! nothing waiting on a runtime's timers stays pending after the runtime is gone, whatever
//! thread or executor polls it.

use super::driver::TimerPayload;
use super::error::Elapsed;
use super::reactor::Host;
use scheduler_timers::{deadline_after, TimerKey};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// When a sleep ends, before its host is known.
#[derive(Debug, Clone, Copy)]
enum Until {
    After(Duration),
    At(Instant),
    AtNs(u64),
}

/// The future of [`sleep`] / [`sleep_until`] / [`Handle::sleep`](crate::Handle::sleep).
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    host: Option<Host>,
    until: Until,
    registered: Option<(TimerKey, Waker)>,
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("until", &self.until)
            .field("registered", &self.registered.is_some())
            .finish()
    }
}

/// Waits until `delay` has passed, on the runtime (or deterministic runtime) that polls it.
///
/// The deadline is fixed when the sleep is created if that happens inside a runtime, else at
/// its first poll. If the runtime shuts down first, the sleep completes then, early (check
/// [`Handle::is_shutdown`](crate::Handle::is_shutdown) to tell).
///
/// # Panics
/// When polled outside any runtime (use [`Handle::sleep`](crate::Handle::sleep) there).
///
/// # Examples
/// ```
/// use scheduler_core::{time, Runtime};
/// use std::time::Duration;
/// let rt = Runtime::builder().worker_threads(2).build().unwrap();
/// let jh = rt.spawn(async { time::sleep(Duration::from_millis(1)).await; 7 });
/// assert_eq!(rt.block_on(jh).unwrap(), 7);
/// ```
pub fn sleep(delay: Duration) -> Sleep {
    Sleep::new(Host::current(), Until::After(delay))
}

/// Waits until `deadline`; see [`sleep`].
///
/// # Panics
/// As [`sleep`].
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(Host::current(), Until::At(deadline))
}

impl Sleep {
    fn new(host: Option<Host>, until: Until) -> Sleep {
        let mut sleep = Sleep { host: None, until, registered: None };
        if let Some(host) = host {
            sleep.bind(host);
        }
        sleep
    }

    pub(crate) fn after(host: Host, delay: Duration) -> Sleep {
        Sleep::new(Some(host), Until::After(delay))
    }

    pub(crate) fn at(host: Host, deadline: Instant) -> Sleep {
        Sleep::new(Some(host), Until::At(deadline))
    }

    fn bind(&mut self, host: Host) {
        let ns = match self.until {
            Until::After(d) => deadline_after(host.now_ns(), d),
            Until::At(i) => host.deadline_of(i),
            Until::AtNs(ns) => ns,
        };
        self.until = Until::AtNs(ns);
        self.host = Some(host);
    }

    fn deadline_ns(&self) -> u64 {
        match self.until {
            Until::AtNs(ns) => ns,
            _ => u64::MAX,
        }
    }

    /// True once the deadline has passed on the host's clock.
    pub fn is_elapsed(&self) -> bool {
        self.host.as_ref().is_some_and(|h| h.now_ns() >= self.deadline_ns())
    }

    /// True when the sleep's runtime shut down before its deadline.
    fn cut_short(&self) -> bool {
        self.host.as_ref().is_some_and(Host::is_shut_down) && !self.is_elapsed()
    }

    /// Withdraws the registered timer. Once the deadline has passed the timer has fired (or
    /// is about to, harmlessly waking this task's waker): its key is left alone, so a `Sleep`
    /// dropped long after firing never presents a key whose slot may since have been reused.
    fn cancel_timer(&mut self) {
        if let (Some((key, _)), Some(host)) = (self.registered.take(), self.host.as_ref()) {
            if host.now_ns() < self.deadline_ns() {
                host.cancel(key);
            }
        }
    }
}

impl Unpin for Sleep {}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.host.is_none() {
            match Host::current() {
                Some(h) => this.bind(h),
                None => panic!("time::sleep polled outside a runtime; use Handle::sleep"),
            }
        }
        let Some(host) = this.host.as_ref() else { return Poll::Pending };
        let deadline = this.deadline_ns();
        if host.now_ns() >= deadline || host.is_shut_down() {
            this.cancel_timer();
            return Poll::Ready(());
        }
        if let Some((_, waker)) = &this.registered {
            if waker.will_wake(cx.waker()) {
                return Poll::Pending;
            }
            this.cancel_timer();
        }
        let host = this.host.clone().expect("bound above");
        let waker = cx.waker().clone();
        match host.insert(deadline, TimerPayload::Wake(waker.clone())) {
            Some(key) => this.registered = Some((key, waker)),
            None => return Poll::Ready(()), // refused: the runtime shut down meanwhile
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel_timer();
    }
}

/// The future of [`timeout`]: `Ok(output)` if the future completes first, else
/// `Err(Elapsed)`.
#[must_use = "futures do nothing unless polled"]
pub struct Timeout<F> {
    future: Pin<Box<F>>,
    sleep: Sleep,
    after: Duration,
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout").field("after", &self.after).field("sleep", &self.sleep).finish()
    }
}

/// Runs `future` with a deadline `after` from now: `Err(Elapsed)` if it has not completed by
/// then (the future is dropped with the `Timeout`), or if the runtime shut down first
/// (then [`Elapsed::is_shutdown`] is true).
///
/// # Panics
/// As [`sleep`].
///
/// # Examples
/// ```
/// use scheduler_core::{time, Runtime};
/// use std::time::Duration;
/// let rt = Runtime::builder().worker_threads(1).build().unwrap();
/// let slow = time::sleep(Duration::from_secs(3600));
/// let r = rt.block_on(async { time::timeout(Duration::from_millis(1), slow).await });
/// assert!(r.is_err());
/// ```
pub fn timeout<F: Future>(after: Duration, future: F) -> Timeout<F> {
    Timeout { future: Box::pin(future), sleep: sleep(after), after }
}

impl<F> Timeout<F> {
    pub(crate) fn with_sleep(future: F, sleep: Sleep, after: Duration) -> Self {
        Timeout { future: Box::pin(future), sleep, after }
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(v) = self.future.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        let after = self.after;
        match Pin::new(&mut self.sleep).poll(cx) {
            Poll::Ready(()) if self.sleep.cut_short() => Poll::Ready(Err(Elapsed::shutdown(after))),
            Poll::Ready(()) => Poll::Ready(Err(Elapsed::deadline(after))),
            Poll::Pending => Poll::Pending,
        }
    }
}
