//! `scope`: spawn closures that borrow from the caller's stack, rayon style.
//!
//! Each `Scope::spawn` boxes the closure as a heap job and pushes it on the current worker's
//! job deque. `scope` called from a thread that is not a worker runs on a runtime's workers
//! (the runtime in context, else the global one), like `join`; a `spawn` on a thread that is
//! not a worker (a `&Scope` sent to a plain thread) runs the closure at once. `scope` returns only after every spawned
//! closure finished, which is what makes the borrows sound: a job's `'scope` data outlives it.
//!
//! Invariants: `pending` counts spawned jobs not yet finished; a job's decrement (Release) is
//! its last access to the scope, and `scope` waits (Acquire) for `pending == 0` before the
//! `Scope` leaves its stack frame. The first panic of a job is kept and resumed by `scope`.

use crate::context;
use crate::done_latch::DoneLatch;
use crate::forkjoin::{self, JobRef};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::Mutex;
use std::any::Any;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// A scope in which closures borrowing from the enclosing stack can be spawned; see [`scope`].
pub struct Scope<'scope> {
    pending: AtomicUsize,
    /// Set when `pending` drops to zero after the body returned (wakes the waiter).
    all_done: DoneLatch,
    panic: Mutex<Option<Box<dyn Any + Send + 'static>>>,
    /// Invariant in `'scope`, like rayon's: closures may borrow anything that outlives it.
    _marker: PhantomData<fn(&'scope ()) -> &'scope ()>,
}

impl std::fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope").field("pending", &self.pending.load(Ordering::Relaxed)).finish()
    }
}

struct HeapJob<'scope, F> {
    scope: *const Scope<'scope>,
    func: F,
}

/// Runs `op` with a [`Scope`] and returns its result once every closure spawned in the scope
/// has finished. Closures may borrow from the caller's stack.
///
/// The spawned closures are offered to all workers. Called from a thread that is not a
/// worker, the whole scope (`op` and its spawns) runs on a runtime's workers and the caller
/// blocks until it finished: the runtime in context
/// ([`Handle::enter`](crate::Handle::enter), a `block_on` caller, a blocking-pool thread),
/// else the global runtime, built on first use
/// ([`Builder::build_global`](crate::Builder::build_global) configures it); it panics if that
/// runtime has shut down. A panic in `op` or in a spawned closure is resumed after all have
/// finished.
///
/// # Examples
/// ```
/// let rt = scheduler_core::Runtime::builder().worker_threads(2).build().unwrap();
/// let total = rt.block_on(rt.spawn_fn(|| {
///     let data = vec![1u64, 2, 3, 4];
///     let sums: Vec<std::sync::atomic::AtomicU64> =
///         (0..2).map(|_| std::sync::atomic::AtomicU64::new(0)).collect();
///     scheduler_core::scope(|s| {
///         for (i, half) in data.chunks(2).enumerate() {
///             let sums = &sums;
///             s.spawn(move |_| {
///                 sums[i].store(half.iter().sum(), std::sync::atomic::Ordering::Relaxed)
///             });
///         }
///     });
///     sums.iter().map(|a| a.load(std::sync::atomic::Ordering::Relaxed)).sum::<u64>()
/// })).unwrap();
/// assert_eq!(total, 10);
/// ```
///
/// A spawned closure may borrow only what outlives the scope. Data declared before the
/// `scope` call may be borrowed:
///
/// ```
/// let counter = std::sync::atomic::AtomicUsize::new(0);
/// scheduler_core::scope(|s| {
///     let counter = &counter;
///     s.spawn(move |_| {
///         counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///     });
/// });
/// assert_eq!(counter.into_inner(), 1);
/// ```
///
/// but data local to the scope's body is dropped while a spawned closure may still run, so
/// borrowing it is rejected:
///
/// ```compile_fail,E0597
/// scheduler_core::scope(|s| {
///     let counter = std::sync::atomic::AtomicUsize::new(0);
///     let counter = &counter; // error: `counter` does not live long enough
///     s.spawn(move |_| {
///         counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///     });
/// });
/// ```
pub fn scope<'scope, OP, R>(op: OP) -> R
where
    OP: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    if context::with_any_core(|core| core.is_some()) {
        scope_here(op)
    } else {
        scope_cold(op)
    }
}

/// `scope` from a thread that is not a worker: the whole scope runs on a runtime's workers.
#[cold]
fn scope_cold<'scope, OP, R>(op: OP) -> R
where
    OP: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    crate::global::cold_handle().install(move || scope_here(op))
}

/// The scope on the calling thread (a worker, but for the unreachable fallback below).
fn scope_here<'scope, OP, R>(op: OP) -> R
where
    OP: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    let scope = Scope {
        pending: AtomicUsize::new(1), // the body itself
        all_done: DoneLatch::for_this_thread(),
        panic: Mutex::new(None),
        _marker: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| op(&scope)));
    scope.job_finished();
    context::with_any_core(|core| match core {
        Some(core) => forkjoin::wait_for(core, &scope.all_done),
        None => {
            // Off the runtime every job ran inline, so nothing is pending.
            debug_assert!(scope.all_done.is_set());
        }
    });
    if let Some(p) = scope.panic.lock().take() {
        resume_unwind(p);
    }
    match result {
        Ok(r) => r,
        Err(p) => resume_unwind(p),
    }
}

impl<'scope> Scope<'scope> {
    /// Spawns `f` into the scope; it may borrow anything that outlives the scope.
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce(&Scope<'scope>) + Send + 'scope,
    {
        self.pending.fetch_add(1, Ordering::Relaxed);
        let job = Box::new(HeapJob { scope: self as *const Scope<'scope>, func: f });
        let data = Box::into_raw(job) as *const ();
        // SAFETY: the box stays alive until `execute_heap_job` frees it; the scope waits for
        // the job (module invariants), so `'scope` borrows outlive it.
        let job_ref = unsafe { JobRef::new(data, execute_heap_job::<'scope, F>) };
        context::with_any_core(|core| match core {
            Some(core) => core.push_job(job_ref),
            // SAFETY: the job was just created and runs exactly once, here.
            None => unsafe { job_ref.execute() },
        });
    }

    fn job_finished(&self) {
        // AcqRel: Release publishes this job's effects; Acquire (for the last one) sees all
        // other jobs' before announcing completion.
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Release: pairs with the Acquire in `wait_for`. Last access to the scope.
            self.all_done.set(Ordering::Release);
        }
    }
}

/// # Safety
/// `data` is a `Box<HeapJob<'scope, F>>` leaked by `Scope::spawn`, executed once.
unsafe fn execute_heap_job<'scope, F>(data: *const ())
where
    F: FnOnce(&Scope<'scope>) + Send + 'scope,
{
    // SAFETY: forwarded from the caller; the box is reclaimed exactly once.
    let job = unsafe { Box::from_raw(data as *mut HeapJob<'scope, F>) };
    // SAFETY: the scope waits for this job before leaving its frame.
    let scope = unsafe { &*job.scope };
    let func = job.func;
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| func(scope))) {
        let mut slot = scope.panic.lock();
        if slot.is_none() {
            *slot = Some(p);
        }
    }
    scope.job_finished();
}
