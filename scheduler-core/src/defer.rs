//! Bridges to `scheduler-deferred`: [`JoinHandle::into_deferred`] and
//! [`Handle::defer_to_thread`] (Twisted's `threads.deferToThread`).

use crate::runtime::{Handle, Runtime};
use crate::task::{JoinError, JoinHandle};
use scheduler_deferred::{Cancelled, Deferred, Failure};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs the later polls of a `Deferred::from_future` made on one of this runtime's threads as
/// tasks of the runtime (installed by `context::enter`); after shutdown, on a new thread (the
/// poll must not run inside the `Waker::wake` that asked for it).
#[derive(Debug)]
pub(crate) struct DeferredSpawner(Handle);

impl DeferredSpawner {
    pub(crate) fn for_handle(handle: &Handle) -> scheduler_deferred::Spawner {
        std::sync::Arc::new(DeferredSpawner(handle.clone()))
    }
}

impl scheduler_deferred::Spawn for DeferredSpawner {
    fn spawn(&self, task: scheduler_deferred::PollTask) {
        if self.0.is_shutdown() {
            std::thread::spawn(move || task.run());
        } else {
            drop(self.0.spawn_fn(move || task.run())); // detached
        }
    }
}

/// A task's failure as a Deferred [`Failure`]: a panic keeps its payload; a cancelled task
/// becomes [`Cancelled`].
pub(crate) fn join_error_to_failure(e: JoinError) -> Failure {
    match e.try_into_panic() {
        Ok(payload) => Failure::from_panic(payload),
        Err(_) => Failure::new(Cancelled),
    }
}

/// Awaits a `JoinHandle` and aborts its task if dropped first (the Deferred was cancelled).
struct AbortOnDrop<T>(Option<JoinHandle<T>>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(jh) = self.0.as_mut() else { return Poll::Ready(Err(Failure::new(Cancelled))) };
        match Pin::new(jh).poll(cx) {
            Poll::Ready(r) => {
                self.0 = None;
                Poll::Ready(r.map_err(join_error_to_failure))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        if let Some(jh) = self.0.take() {
            jh.abort();
        }
    }
}

impl<T: Send + 'static> JoinHandle<T> {
    /// Turns the handle into a [`Deferred`] that fires with the task's value, or fails with
    /// the panic ([`Failure::from_panic`]) or [`Cancelled`]. Cancelling the Deferred aborts
    /// the task.
    ///
    /// # Examples
    /// ```
    /// let rt = scheduler_core::Runtime::builder().worker_threads(1).build().unwrap();
    /// let d = rt.spawn(async { 2 + 2 }).into_deferred().add_callback(|v| v * 10);
    /// assert_eq!(rt.block_on(d).unwrap(), 40);
    /// ```
    pub fn into_deferred(self) -> Deferred<T> {
        Deferred::from_future(AbortOnDrop(Some(self)))
    }
}

impl Handle {
    /// Runs the blocking closure `f` on the blocking pool and returns a [`Deferred`] of its
    /// result (Twisted's `deferToThread`). A panic fails the Deferred with
    /// [`Failure::from_panic`]; cancelling the Deferred before `f` started drops `f`.
    ///
    /// # Examples
    /// ```
    /// let rt = scheduler_core::Runtime::builder().worker_threads(1).build().unwrap();
    /// let d = rt.handle().defer_to_thread(|| "from a thread".len());
    /// assert_eq!(rt.block_on(d).unwrap(), 13);
    /// ```
    pub fn defer_to_thread<F, T>(&self, f: F) -> Deferred<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_blocking(f).into_deferred()
    }
}

impl Runtime {
    /// Runs `f` on the blocking pool, as a Deferred; see [`Handle::defer_to_thread`].
    pub fn defer_to_thread<F, T>(&self, f: F) -> Deferred<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.handle().defer_to_thread(f)
    }
}
