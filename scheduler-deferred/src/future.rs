//! `impl Future for Deferred<T>` and [`Deferred::from_future`]: Deferreds in `async` code.
//!
//! Awaiting a Deferred waits until its chain holds a result at rest (fired, not paused, not
//! waiting on a chained Deferred, no callback pending) and *takes* it: a failure taken this
//! way is handled (not reported when the Deferred is dropped), and callbacks added afterwards
//! are dropped unrun (the result is spent).
//!
//! # The built-in driver of `from_future`
//!
//! This crate knows no executor, so `from_future` drives its future itself: it polls it once on
//! the calling thread, and afterwards on whichever thread wakes it (inside `Waker::wake`).
//! A small state word makes polls exclusive without blocking:
//!
//! * `IDLE` → a wake claims the future (`POLLING`) and polls it;
//! * `POLLING` → a wake (from another thread, or from inside the poll) only marks `NOTIFIED`,
//!   and the polling thread polls again before going back to `IDLE`;
//! * `DONE` once the future returned `Ready`, panicked, or was cancelled.
//!
//! Lost wake-ups are impossible: the poller leaves `POLLING` only by a compare-exchange from
//! `POLLING` to `IDLE`, which fails if a wake marked `NOTIFIED` meanwhile. A runtime that wants
//! the polls on its own workers (scheduler-core) should spawn the future and fire a Deferred
//! instead.
//!
//! Cancelling the Deferred drops the future (at once if no poll is running, else right after the
//! running poll) and fails the Deferred with [`Cancelled`](crate::Cancelled).

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
// `Waker::from` needs std's `Arc`; the driver's protocol state below still uses the facade.
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Wake, Waker};

use crate::deferred::typed_result;
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::sync::Mutex;
use crate::{Deferred, Failure};

impl<T: Send + 'static> Future for Deferred<T> {
    type Output = Result<T, Failure>;

    /// Every task awaiting a clone of one Deferred is woken when its result comes to rest;
    /// the first to poll then takes the result, the others get
    /// [`ResultTaken`](crate::ResultTaken). A handle polled from another task than before
    /// replaces its waker; a handle dropped while waiting takes its waker out.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this.core.poll_take(cx.waker(), &mut this.waiter) {
            Some(outcome) => {
                this.waiter = 0;
                Poll::Ready(typed_result::<T>(outcome))
            }
            None => Poll::Pending,
        }
    }
}

type BoxedFuture<T> = Pin<Box<dyn Future<Output = Result<T, Failure>> + Send + 'static>>;

const IDLE: usize = 0;
const POLLING: usize = 1;
const NOTIFIED: usize = 2;
const DONE: usize = 3;

struct Driver<T> {
    state: AtomicUsize,
    cancelled: AtomicBool,
    future: Mutex<Option<BoxedFuture<T>>>,
    deferred: Deferred<T>,
}

impl<T: Send + 'static> Deferred<T> {
    /// A Deferred fired with the output of `future`, which is polled at once on this thread
    /// and then on whichever thread wakes it (see the module doc). This is the Rust form of
    /// `inlineCallbacks` / `ensureDeferred`.
    ///
    /// # Examples
    ///
    /// An `async` block awaiting Deferreds, inlineCallbacks-style, driven by a tiny `block_on`
    /// (this crate has no runtime):
    ///
    /// ```
    /// use scheduler_deferred::{Deferred, Failure};
    /// use std::future::Future;
    /// use std::sync::Arc;
    /// use std::task::{Context, Poll, Wake, Waker};
    ///
    /// struct Unpark(std::thread::Thread);
    /// impl Wake for Unpark {
    ///     fn wake(self: Arc<Self>) { self.0.unpark() }
    /// }
    /// fn block_on<F: Future>(f: F) -> F::Output {
    ///     let mut f = std::pin::pin!(f);
    ///     let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    ///     let mut cx = Context::from_waker(&waker);
    ///     loop {
    ///         if let Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    ///         std::thread::park();
    ///     }
    /// }
    ///
    /// let port = Deferred::<u16>::new();
    /// let answer = {
    ///     let port = port.clone();
    ///     Deferred::from_future(async move {
    ///         let p = port.await?;                       // waits for the producer
    ///         let banner = Deferred::succeed(format!("listening on {p}")).await?;
    ///         Ok::<_, Failure>(banner)
    ///     })
    /// };
    /// std::thread::spawn(move || port.callback(8080).unwrap());
    /// assert_eq!(block_on(answer).unwrap(), "listening on 8080");
    /// ```
    pub fn from_future<F>(future: F) -> Deferred<T>
    where
        F: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        let slot: StdArc<std::sync::OnceLock<std::sync::Weak<Driver<T>>>> = Default::default();
        let canceller_slot = slot.clone();
        let deferred = Deferred::with_canceller(move |_: &Deferred<T>| {
            if let Some(driver) = canceller_slot.get().and_then(std::sync::Weak::upgrade) {
                driver.cancel();
            }
        });
        let driver = StdArc::new(Driver {
            state: AtomicUsize::new(IDLE),
            cancelled: AtomicBool::new(false),
            future: Mutex::new(Some(Box::pin(future))),
            deferred: deferred.clone(),
        });
        let _ = slot.set(StdArc::downgrade(&driver));
        driver.schedule();
        deferred
    }
}

impl<T: Send + 'static> Driver<T> {
    /// A wake-up: poll now unless another thread is polling (then it polls again).
    fn schedule(self: &StdArc<Self>) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                IDLE => POLLING,
                POLLING => NOTIFIED,
                _ => return, // NOTIFIED or DONE: nothing to add
            };
            // AcqRel: pairs with the Release of the poller's POLLING -> IDLE exchange, so the
            // next poller sees the previous poll's writes to the future.
            match self.state.compare_exchange(state, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) if next == POLLING => return self.poll_loop(),
                Ok(_) => return,
                Err(actual) => state = actual,
            }
        }
    }

    fn poll_loop(self: &StdArc<Self>) {
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        loop {
            let mut slot = self.future.lock();
            let polled = match slot.as_mut() {
                Some(_) if self.cancelled.load(Ordering::Acquire) => None,
                Some(future) => {
                    Some(catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx))))
                }
                None => None,
            };
            let output = match polled {
                Some(Ok(Poll::Pending)) if !self.cancelled.load(Ordering::Acquire) => None,
                Some(Ok(Poll::Pending)) | None => Some(None), // cancelled or gone: drop it
                Some(Ok(Poll::Ready(result))) => Some(Some(result)),
                Some(Err(payload)) => Some(Some(Err(Failure::from_panic(payload)))),
            };
            if let Some(result) = output {
                let future = slot.take();
                drop(slot);
                drop(future);
                self.state.store(DONE, Ordering::Release);
                // AlreadyCalled only after a cancel, whose failure stands.
                let _ = match result {
                    Some(Ok(value)) => self.deferred.callback(value),
                    Some(Err(failure)) => self.deferred.errback(failure),
                    None => Ok(()),
                };
                return;
            }
            drop(slot);
            // Release: pairs with the AcqRel exchange in `schedule`.
            match self.state.compare_exchange(POLLING, IDLE, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(_) => self.state.store(POLLING, Ordering::Release), // NOTIFIED: poll again
            }
        }
    }

    /// The Deferred's canceller: drop the future now if no poll runs, else after that poll.
    fn cancel(&self) {
        // Release: pairs with the Acquire loads in `poll_loop`.
        self.cancelled.store(true, Ordering::Release);
        if let Some(mut slot) = self.future.try_lock() {
            let future = slot.take();
            drop(slot);
            drop(future);
        }
    }
}

impl<T: Send + 'static> Wake for Driver<T> {
    fn wake(self: StdArc<Self>) {
        self.schedule();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        self.schedule();
    }
}
