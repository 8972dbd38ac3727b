//! [`Handle`]: a cloneable, thread-safe reference to a runtime.

use super::Shared;
use crate::blocking::BlockingTask;
use crate::metrics::RuntimeMetrics;
use crate::priority::Priority;
use crate::sync::Arc;
use crate::task::JoinHandle;
use std::fmt;
use std::future::Future;

/// A cheap, cloneable reference to a [`Runtime`](crate::Runtime), usable from any thread.
///
/// Spawning through a handle whose runtime has shut down does not panic: [`Handle::spawn`]
/// returns a `JoinHandle` that resolves as cancelled, and [`Handle::try_spawn`] returns
/// [`SpawnError::Shutdown`].
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.workers.len())
            .field("shutdown", &self.shared.is_shutdown())
            .finish()
    }
}

/// Why a task was not spawned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// The runtime is shutting down or has shut down.
    Shutdown,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Shutdown => f.write_str("the runtime has shut down"),
        }
    }
}

impl std::error::Error for SpawnError {}

/// [`Handle::try_current`] was called outside any runtime thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not on a thread of a scheduler runtime")
    }
}

impl std::error::Error for TryCurrentError {}

/// A closure as a future that completes on its first poll (for `spawn_fn`).
struct FnTask<F>(Option<F>);

impl<F> Unpin for FnTask<F> {}

impl<F: FnOnce() -> R, R> Future for FnTask<F> {
    type Output = R;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<R> {
        match self.0.take() {
            Some(f) => std::task::Poll::Ready(f()),
            None => std::task::Poll::Pending, // completes on its first poll; never polled again
        }
    }
}

impl Handle {
    /// The handle of the runtime whose thread (worker, blocking thread, or `block_on` caller)
    /// this is.
    ///
    /// # Panics
    /// Panics outside a runtime thread; use [`Handle::try_current`] to get an error instead.
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(h) => h,
            Err(e) => panic!("Handle::current: {e}"),
        }
    }

    /// Makes this runtime current on the calling thread until the guard drops: then
    /// [`Handle::current`], the free time functions ([`time::sleep`](crate::time::sleep),
    /// [`time::timeout`](crate::time::timeout)) and the time API that reads the context work
    /// there, as on the runtime's own threads. For code on another runtime's threads (a tokio
    /// handler) that calls into ours without carrying a `Handle`.
    ///
    /// # Examples
    /// ```
    /// use scheduler_core::{Handle, Runtime};
    /// let rt = Runtime::builder().worker_threads(1).build().unwrap();
    /// assert!(Handle::try_current().is_err());
    /// {
    ///     let _guard = rt.handle().enter();
    ///     let jh = Handle::current().spawn(async { 7 });
    ///     assert_eq!(rt.block_on(jh).unwrap(), 7);
    /// }
    /// assert!(Handle::try_current().is_err());
    /// ```
    pub fn enter(&self) -> super::EnterGuard<'_> {
        super::EnterGuard::new(self)
    }

    /// The handle of the runtime whose thread this is.
    ///
    /// # Errors
    /// [`TryCurrentError`] outside a runtime thread.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        crate::context::current_handle().ok_or(TryCurrentError(()))
    }

    /// Spawns `future` at [`Priority::Normal`].
    ///
    /// From a worker of this runtime the task goes to that worker's queue; from any other
    /// thread, to the global injector. After shutdown the returned handle resolves as
    /// cancelled.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(future, Priority::Normal)
    }

    /// Spawns `future` in the given priority class (see [`Priority`] for the ordering rule).
    pub fn spawn_with<F>(&self, priority: Priority, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(future, priority)
    }

    /// Spawns `future`, or reports that the runtime no longer accepts work.
    ///
    /// # Errors
    /// [`SpawnError::Shutdown`] after shutdown began (the future is dropped).
    pub fn try_spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.try_spawn_with(Priority::Normal, future)
    }

    /// [`try_spawn`](Handle::try_spawn) in a priority class.
    ///
    /// # Errors
    /// [`SpawnError::Shutdown`] after shutdown began (the future is dropped).
    pub fn try_spawn_with<F>(
        &self,
        priority: Priority,
        future: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if self.shared.is_shutdown() {
            return Err(SpawnError::Shutdown);
        }
        Ok(self.shared.spawn(future, priority))
    }

    /// Runs the closure `f` as a task on a worker (it should not block; see
    /// [`spawn_blocking`](Handle::spawn_blocking)).
    pub fn spawn_fn<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.shared.spawn(FnTask(Some(f)), Priority::Normal)
    }

    /// [`spawn_fn`](Handle::spawn_fn) in a priority class.
    pub fn spawn_fn_with<F, R>(&self, priority: Priority, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.shared.spawn(FnTask(Some(f)), priority)
    }

    /// Runs the closure `f` as a task on a worker and forgets about it (rayon's
    /// [`ThreadPool::spawn`](https://docs.rs/rayon/latest/rayon/struct.ThreadPool.html#method.spawn)):
    /// no [`JoinHandle`] is made, so this costs less than `spawn_fn` and dropping its handle.
    ///
    /// Placed as [`spawn_fn`](Handle::spawn_fn) places its task (this worker's queue from one of
    /// the runtime's workers, else the global injector), at [`Priority::Normal`]. A panic in
    /// `f` is caught and counted in [`RuntimeMetrics::panics`]; the worker goes on. After
    /// shutdown began, `f` is dropped without running; a shutdown also drops every `f` still
    /// queued. Either way each `f` is run or dropped exactly once.
    ///
    /// # Examples
    /// ```
    /// use scheduler_core::Runtime;
    /// use std::sync::mpsc;
    /// let rt = Runtime::builder().worker_threads(2).build().unwrap();
    /// let (tx, rx) = mpsc::channel();
    /// for i in 0..4 {
    ///     let tx = tx.clone();
    ///     rt.handle().spawn_fn_detached(move || tx.send(i * i).unwrap());
    /// }
    /// drop(tx);
    /// let mut squares: Vec<i32> = rx.iter().collect();
    /// squares.sort();
    /// assert_eq!(squares, [0, 1, 4, 9]);
    /// ```
    pub fn spawn_fn_detached<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        self.shared.spawn_detached(FnTask(Some(f)), Priority::Normal)
    }

    /// Runs the blocking closure `f` on the blocking pool, which starts threads up to its
    /// bound and lets idle ones exit. A panic in `f` resolves the handle as panicked.
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (jh, task) = self.shared.new_blocking_task(BlockingTask::new(f));
        if let Some(task) = task {
            self.shared.blocking.push(self, task);
        }
        jh
    }

    /// Runs `future` to completion on the calling thread, parking it between polls.
    ///
    /// For threads outside the runtime's workers: any other thread, and the blocking pool's
    /// threads ([`spawn_blocking`](Self::spawn_blocking) closures may call it).
    ///
    /// # Panics
    /// At once when called on a worker thread (inside a task or a `spawn_fn` closure of any
    /// runtime): a blocked worker can wait for itself for ever. Inside a task, `.await` the
    /// future; wrap blocking code in `spawn_blocking`.
    ///
    /// ```
    /// use scheduler_core::Runtime;
    /// let rt = Runtime::builder().worker_threads(1).build().unwrap();
    /// let h = rt.handle().clone();
    /// // On a worker: refused with a message, instead of a deadlock.
    /// let nested = rt.block_on(rt.spawn_fn({
    ///     let h = h.clone();
    ///     move || h.block_on(async { 1 })
    /// }));
    /// assert!(nested.unwrap_err().is_panic());
    /// // On a blocking-pool thread: fine.
    /// let fine = rt.block_on(rt.spawn_blocking(move || h.block_on(h.spawn(async { 2 }))));
    /// assert_eq!(fine.unwrap().unwrap(), 2);
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        crate::block_on::block_on(Some(self), future)
    }

    /// Runs `f` on one of this runtime's workers and blocks the caller until it returns
    /// (rayon's `install`). `f` may borrow from the caller's stack; inside it, [`join`],
    /// [`scope`](fn@crate::scope) and [`join_context`](fn@crate::join_context) use this runtime's
    /// workers.
    ///
    /// - From a worker of this runtime, `f` runs inline, on the calling thread.
    /// - From any other thread (a plain thread, a `block_on` caller, a blocking-pool thread),
    ///   `f` goes to the runtime as a task and the caller parks until it returned.
    /// - From a worker of *another* runtime, the same, but that worker does not park: while it
    ///   waits it runs its own runtime's fork-join jobs (rayon's `in_worker_cross`), not its
    ///   tasks, as a `join` whose half was stolen does. So an `f` that waits for a task of the
    ///   calling runtime, or installs back into it when all its workers wait like this, never
    ///   finishes: the same hazard as [`block_on`](Self::block_on) on a worker, which refuses.
    ///
    /// [`join`]: crate::join
    ///
    /// # Panics
    /// Resumes `f`'s panic, with its payload, on the caller. Panics if the runtime shut down
    /// before `f` ran (then `f` was dropped unrun before `install` returned); once `f` runs, a
    /// shutdown lets it finish and `install` returns its result.
    ///
    /// # Examples
    /// ```
    /// use scheduler_core::{join, Runtime};
    /// let rt = Runtime::builder().worker_threads(2).build().unwrap();
    /// let mut v = vec![1, 2, 3, 4];
    /// let sum = rt.handle().install(|| {
    ///     let (left, right) = v.split_at_mut(2);
    ///     let (a, b) = join(
    ///         || left.iter_mut().map(|x| { *x *= 10; *x }).sum::<i32>(),
    ///         || right.iter().sum::<i32>(),
    ///     );
    ///     a + b
    /// });
    /// assert_eq!((sum, v), (37, vec![10, 20, 3, 4]));
    /// let h = rt.handle();
    /// let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     h.install(|| panic!("boom"))
    /// }));
    /// assert_eq!(panicked.unwrap_err().downcast_ref::<&str>(), Some(&"boom"));
    /// ```
    pub fn install<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        crate::install::install(self, f)
    }

    /// A snapshot of the runtime's metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        crate::metrics::collect(&self.shared)
    }

    /// Number of worker threads.
    pub fn worker_threads(&self) -> usize {
        self.shared.workers.len()
    }

    /// Begins shutting the runtime down, from any thread (Twisted's `reactor.stop()`): no new
    /// task runs, every task that will not run again is cancelled, pending sleeps and timeouts
    /// complete (see [`time::sleep`](crate::time::sleep)). It does not wait: the `Runtime`'s
    /// drop (or [`Runtime::shutdown_timeout`](crate::Runtime::shutdown_timeout)) waits for the
    /// threads, and [`react`](crate::time::react) returns once it sees the stop. Idempotent.
    pub fn stop(&self) {
        self.shared.begin_shutdown();
    }

    /// True once shutdown has begun.
    pub fn is_shutdown(&self) -> bool {
        self.shared.is_shutdown()
    }
}

/// Runs the closure `f` as a detached task on the runtime the caller is on (rayon's
/// [`spawn`](https://docs.rs/rayon/latest/rayon/fn.spawn.html)): from one of a runtime's workers
/// (inside a task or closure it runs) on that runtime, into the worker's own queue; elsewhere on
/// the runtime in context ([`Handle::enter`], a blocking-pool thread, a `block_on` caller),
/// else on the global runtime ([`Builder::build_global`](crate::Builder::build_global)), as
/// [`join`](crate::join) chooses. What happens to `f` is what
/// [`Handle::spawn_fn_detached`] says: run or dropped exactly once, a panic counted and
/// contained, no [`JoinHandle`].
///
/// # Examples
/// A chain of closures, each spawning its successor from the worker it runs on:
/// ```
/// use scheduler_core::{spawn_fn_detached, Runtime};
/// use std::sync::mpsc;
/// fn link(left: u32, done: mpsc::Sender<u32>) {
///     if left == 0 {
///         done.send(0).unwrap();
///     } else {
///         spawn_fn_detached(move || link(left - 1, done));
///     }
/// }
/// let rt = Runtime::builder().worker_threads(2).build().unwrap();
/// let (tx, rx) = mpsc::channel();
/// rt.handle().spawn_fn_detached(move || link(100, tx));
/// assert_eq!(rx.recv().unwrap(), 0);
/// ```
pub fn spawn_fn_detached<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    let not_on_worker = crate::context::with_any_core(|core| match core {
        Some(core) => {
            core.shared().spawn_detached_via(Some(core), FnTask(Some(f)), Priority::Normal);
            None
        }
        None => Some(f),
    });
    if let Some(f) = not_on_worker {
        crate::global::cold_handle().spawn_fn_detached(f);
    }
}
