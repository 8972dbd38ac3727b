//! `impl Future for Deferred<T>` and [`Deferred::from_future`]: Deferreds in `async` code.
//!
//! Awaiting a Deferred waits until its chain holds a result at rest (fired, not paused, not
//! waiting on a chained Deferred, no callback pending) and *takes* it: a failure taken this
//! way is handled (not reported when the Deferred is dropped), and the chain is spent: a
//! callback added afterwards continues it with a [`ResultTaken`](crate::ResultTaken) failure.
//!
//! [`Deferred::from_future`] and its driver are in `driver.rs`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::deferred::typed_result;
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
            None => {
                // A `from_future` coroutine now awaits this chain: a cancel of its Deferred
                // comes here (`awaited.rs`).
                crate::driver::awaiting(cx.waker(), &this.core);
                Poll::Pending
            }
        }
    }
}
