//! The thread-local context: which runtime (and which worker, if any) this thread belongs to.
//!
//! A worker thread sets it for its whole life to a [`Context`] on its own stack holding the
//! worker's [`Core`]; blocking-pool threads and `block_on` callers set one without a core, so
//! `Handle::current()` works there too. The pointer is only ever read on the thread that set
//! it, while the frame that owns the `Context` is alive (the [`EnterGuard`] restores the
//! previous value when that frame ends).
//!
//! Not modelled by loom: the protocols the models check take their pieces directly
//! (`loom_api`), so this is a plain `std` thread-local.

use crate::runtime::{Handle, Shared};
use crate::worker::Core;
use std::cell::Cell;
use std::ptr;

/// What the current thread knows about its runtime.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) handle: Handle,
    pub(crate) shared: *const Shared,
    pub(crate) core: Option<Core>,
}

thread_local! {
    static CURRENT: Cell<*const Context> = const { Cell::new(ptr::null()) };
    /// Set for the whole life of a worker thread, whatever context is current (a task may
    /// `Handle::enter` another runtime): `block_on` refuses to block a worker.
    static ON_WORKER: Cell<bool> = const { Cell::new(false) };
    /// The worker's own context, for its whole life, whatever context is current: fork-join
    /// (`join`, `scope`) and `install` find the worker's core through it even while a task has
    /// another runtime entered.
    static WORKER: Cell<*const Context> = const { Cell::new(ptr::null()) };
}

/// Clears [`WORKER`] when the worker's body ends.
#[derive(Debug)]
pub(crate) struct WorkerGuard(());

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        WORKER.with(|w| w.set(ptr::null()));
    }
}

/// Records `ctx` (a worker's own context, holding its core) as this thread's worker context
/// until the guard drops. `ctx` must outlive the guard.
pub(crate) fn set_worker(ctx: &Context) -> WorkerGuard {
    WORKER.with(|w| w.set(ctx as *const Context));
    WorkerGuard(())
}

#[inline]
fn worker() -> Option<&'static Context> {
    let p = WORKER.with(|w| w.get());
    // SAFETY: a non-null pointer was set by `set_worker` from the worker's body frame, which
    // is still running (its guard resets it before that frame ends); the reference does not
    // escape this thread's use.
    unsafe { p.as_ref() }
}

/// Marks this thread as a worker thread (for its whole life).
pub(crate) fn mark_worker_thread() {
    ON_WORKER.with(|w| w.set(true));
}

/// True on a worker thread of any runtime.
pub(crate) fn on_worker_thread() -> bool {
    ON_WORKER.with(Cell::get)
}

/// Restores the previous context (and `Deferred::from_future` spawner) on drop.
#[derive(Debug)]
pub(crate) struct EnterGuard {
    prev: *const Context,
    prev_spawner: Option<scheduler_deferred::Spawner>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.prev));
        scheduler_deferred::set_thread_spawner(self.prev_spawner.take());
    }
}

/// Makes `ctx` the current context until the guard drops. `ctx` must outlive the guard. A
/// `Deferred::from_future` made meanwhile on this thread runs its later polls as tasks of
/// this runtime (`crate::defer::DeferredSpawner`), never inside a foreign `Waker::wake`.
pub(crate) fn enter(ctx: &Context) -> EnterGuard {
    let prev = CURRENT.with(|c| c.replace(ctx as *const Context));
    let spawner = crate::defer::DeferredSpawner::for_handle(&ctx.handle);
    let prev_spawner = scheduler_deferred::set_thread_spawner(Some(spawner));
    EnterGuard { prev, prev_spawner }
}

/// The current context's address (null outside any context).
pub(crate) fn current_ptr() -> *const Context {
    CURRENT.with(|c| c.get())
}

#[inline]
fn current() -> Option<&'static Context> {
    let p = CURRENT.with(|c| c.get());
    // SAFETY: a non-null pointer was set by `enter` from a frame that is still alive (the guard
    // resets it before that frame ends); the reference does not escape this thread's use.
    unsafe { p.as_ref() }
}

/// Runs `f` with this thread's worker core if the thread is a worker of `shared`.
#[inline]
pub(crate) fn with_core<R>(shared: *const Shared, f: impl FnOnce(Option<&Core>) -> R) -> R {
    match current() {
        Some(ctx) if ptr::eq(ctx.shared, shared) => f(ctx.core.as_ref()),
        _ => f(None),
    }
}

/// Runs `f` with this thread's worker core, whatever runtime it belongs to (and whatever
/// runtime is entered: a worker's own core stays reachable under a `Handle::enter`).
#[inline]
pub(crate) fn with_any_core<R>(f: impl FnOnce(Option<&Core>) -> R) -> R {
    f(worker().and_then(|ctx| ctx.core.as_ref()))
}

/// True on a worker thread of the runtime at `shared` (even under a `Handle::enter`).
#[inline]
pub(crate) fn is_worker_of(shared: *const Shared) -> bool {
    worker().is_some_and(|ctx| ptr::eq(ctx.shared, shared))
}

/// The handle of the runtime this thread belongs to.
pub(crate) fn current_handle() -> Option<Handle> {
    current().map(|ctx| ctx.handle.clone())
}

/// True when a context (worker, blocking thread or `block_on`) is set.
pub(crate) fn is_set() -> bool {
    current().is_some()
}
