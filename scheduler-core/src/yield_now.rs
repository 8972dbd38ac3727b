//! `yield_now`: let other tasks run.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields once to the scheduler: the task goes to the back of its worker's queue (not the
/// LIFO slot) and other queued tasks run first.
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
