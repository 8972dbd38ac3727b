//! The [`Runtime`], its [`Builder`] and its cloneable [`Handle`].
//!
//! # Shutdown
//!
//! The whole protocol, in order (the pieces live where their data does):
//!
//! 1. **Begin** (`Shared::begin_shutdown`, from `Runtime::drop` / `shutdown_timeout`,
//!    [`Handle::stop`], or a failed `build`): the `shutdown` flag is set once (a swap), a
//!    `SeqCst` fence pairs with the one in `Shared::inject` so a spawner either sees the flag
//!    or has its task seen by the drains below, every worker is unparked and the blocking
//!    pool is told to stop. From here `try_spawn` returns `SpawnError::Shutdown`, and a
//!    thread that pushes a task to the injector and then sees the flag drains the injectors
//!    itself, cancelling what it finds (`Shared::inject`).
//! 2. **Each worker** (`Core::run_loop` sees the flag at its next pick or park, then
//!    `Core::drain`): finishes the fork-join jobs on its deque (they belong to frames still
//!    running), then cancels every task in its LIFO slot, class deques and deferred list; a
//!    task that is running finishes its current poll first. Then `Shared::worker_exited`.
//! 3. **The last worker to exit** (`Shared::finish_shutdown`): shuts the time driver down
//!    (pending timers' payloads are dropped and every `Sleep` / `Timeout` wakes), drains the
//!    injectors, cancels every idle task of the owned-task list (`runtime::owned`: the sweep
//!    and `bind` agree through the flag read under each shard's lock, so no idle task is
//!    missed), drains the injectors again (a cancellation may have woken more), marks the
//!    runtime finished and releases the keep-alive once the owned list is empty.
//! 4. **The dropping thread** (`Runtime::shutdown`) waits for the workers (unless it is one
//!    of them) and joins them, then waits for the blocking pool to go idle. `Shared` itself is
//!    freed when its last strong reference goes; who may still hold one and why that is
//!    sound: `runtime::shared`, "Lifetime".

mod builder;
mod call_soon;
mod enter;
mod handle;
mod owned;
mod shared;
mod start;

pub use builder::{Builder, MAX_WORKER_THREADS};
pub use enter::EnterGuard;
pub use handle::{spawn_fn_detached, Handle, SpawnError, TryCurrentError};
pub(crate) use shared::{KeepAlive, Shared, WorkerRemote};
pub(crate) use start::{run_hook, run_wrapped, StartLatch};

use crate::metrics::RuntimeMetrics;
use crate::priority::Priority;
use crate::task::JoinHandle;
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

type Hook = std::sync::Arc<dyn Fn() + Send + Sync + 'static>;

/// `Builder::wrap_threads`' function: runs a thread's whole body (the `&mut dyn FnMut()`).
type ThreadWrapper = std::sync::Arc<dyn Fn(&mut dyn FnMut()) + Send + Sync + 'static>;

/// The settings a runtime keeps after `build`.
pub(crate) struct Config {
    pub(crate) thread_name: String,
    pub(crate) stack_size: Option<usize>,
    pub(crate) on_thread_start: Option<Hook>,
    pub(crate) on_thread_stop: Option<Hook>,
    pub(crate) wrap_threads: Option<ThreadWrapper>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config").field("thread_name", &self.thread_name).finish_non_exhaustive()
    }
}

/// A multi-threaded work-stealing runtime: worker threads, a blocking pool, and their queues.
///
/// Dropping the runtime shuts it down and waits for its workers (see
/// [`shutdown_timeout`](Runtime::shutdown_timeout) for a bounded wait): no new task is
/// accepted, each running task finishes its current poll, every task that will not run again
/// resolves its `JoinHandle` as cancelled, and every task's memory is freed.
///
/// # Examples
/// ```
/// use scheduler_core::{Priority, Runtime};
/// let rt = Runtime::builder().worker_threads(2).build().unwrap();
/// let a = rt.spawn(async { 1 });
/// let b = rt.handle().spawn_with(Priority::High, async { 2 });
/// let c = rt.spawn_fn(|| 3);
/// let sum = rt.block_on(async move { a.await.unwrap() + b.await.unwrap() + c.await.unwrap() });
/// assert_eq!(sum, 6);
/// ```
///
/// `spawn` needs a `'static` future (use [`scope`](fn@crate::scope) to borrow):
/// ```compile_fail
/// let rt = scheduler_core::Runtime::new().unwrap();
/// let local = String::from("borrowed");
/// let jh = rt.spawn(async { local.len() }); // error: `local` does not live long enough
/// # drop(local);
/// ```
pub struct Runtime {
    handle: Handle,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").field("workers", &self.threads.len()).finish()
    }
}

impl Runtime {
    /// A [`Builder`] with the defaults.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A runtime with the default settings (one worker per CPU).
    ///
    /// # Errors
    /// The OS error when a worker thread cannot be started.
    pub fn new() -> std::io::Result<Runtime> {
        Builder::new().build()
    }

    /// A handle to this runtime (cheap to clone, usable from any thread).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns a future at [`Priority::Normal`]; see [`Handle::spawn`].
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Spawns a future in a priority class; see [`Handle::spawn_with`].
    pub fn spawn_with<F>(&self, priority: Priority, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn_with(priority, future)
    }

    /// Runs a closure as a task; see [`Handle::spawn_fn`].
    pub fn spawn_fn<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_fn(f)
    }

    /// Runs a closure as a task in a priority class; see [`Handle::spawn_fn_with`].
    pub fn spawn_fn_with<F, R>(&self, priority: Priority, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_fn_with(priority, f)
    }

    /// Runs a closure as a detached task (no `JoinHandle`); see
    /// [`Handle::spawn_fn_detached`].
    pub fn spawn_fn_detached<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        self.handle.spawn_fn_detached(f)
    }

    /// Runs a blocking closure on the blocking pool; see [`Handle::spawn_blocking`].
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// Runs `future` to completion on the calling thread; see [`Handle::block_on`].
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Runs `f` on a worker and blocks until it returns; see [`Handle::install`].
    ///
    /// ```
    /// let rt = scheduler_core::Runtime::builder().worker_threads(2).build().unwrap();
    /// let mut local = vec![1];
    /// rt.install(|| local.push(2));
    /// assert_eq!(local, [1, 2]);
    /// ```
    pub fn install<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        self.handle.install(f)
    }

    /// A snapshot of the runtime's metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Shuts down, waiting at most `timeout` for the worker and blocking threads to exit.
    ///
    /// Stops accepting work at once ([`Handle::try_spawn`] then returns
    /// [`SpawnError::Shutdown`]). Returns true if every thread exited in time; threads still
    /// running a long poll are left to finish it, then cancel what remains and exit.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> bool {
        self.shutdown(Instant::now().checked_add(timeout))
    }

    fn shutdown(&mut self, deadline: Option<Instant>) -> bool {
        let shared = &self.handle.shared;
        shared.begin_shutdown();
        let me = std::thread::current().id();
        let on_own_worker = self.threads.iter().any(|t| t.thread().id() == me);
        let workers_done = !on_own_worker && shared.wait_workers(deadline);
        let threads = std::mem::take(&mut self.threads);
        if workers_done {
            for t in threads {
                let _ = t.join(); // worker bodies catch task panics; a hook panic is ignored
            }
        }
        let blocking_done = shared.blocking.wait_idle(deadline);
        workers_done && blocking_done
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if !self.threads.is_empty() || !self.handle.shared.is_shutdown() {
            self.shutdown(None);
        }
    }
}
