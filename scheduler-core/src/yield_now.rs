//! `yield_now`: let other tasks run.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields once to the scheduler: the task goes to the back of its worker's queue (not the
/// LIFO slot) and other queued tasks run first. Nor does it run again before the remote work
/// queued when it yielded (spawns from other threads, in the global injector) has left the
/// injector and what its worker took of it has run (on one worker: before all of it ran), or
/// before other classes' work that is due by the [`Priority`](crate::Priority) rule. Only
/// behind an injector that never empties does it run again sooner, after a bounded wait (one
/// maintenance interval, 61 ticks).
///
/// # Examples
/// ```
/// # let rt = scheduler_core::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(rt.spawn(async {
///     for _ in 0..3 {
///         scheduler_core::yield_now().await;
///     }
/// })).unwrap();
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // A wake while the task runs only sets NOTIFIED; the worker re-queues it at the back
        // of its FIFO deque after this poll returns.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
