//! [`Handle::install`](crate::Handle::install): run a closure on one of a runtime's workers
//! and block the caller until it returns (rayon's `install`, its `in_worker_cold` and
//! `in_worker_cross`).
//!
//! - On a worker of the same runtime the closure runs inline.
//! - Anywhere else an [`InstallJob`] on the caller's stack holds the closure and its result
//!   slot, and an [`InstallTask`] carries a type-erased pointer to it.
//!   - From a plain thread the task goes to the runtime's injector (one allocation, a
//!     detached task: nobody joins it), and the caller parks on the job's [`Latch`].
//!   - From a worker of another runtime it goes to the runtime's `installs` queue (no
//!     allocation), and the caller keeps running its own runtime's fork-join jobs and the
//!     installs sent to *its* runtime while it waits: two runtimes whose every worker waits
//!     for the other's install still make progress (rayon's `in_worker_cross`).
//!
//! Invariants (what makes the erased `'caller` borrows sound):
//! - The caller's frame does not return, nor unwind, until the latch left `PENDING`: it
//!   waits in a loop, and an [`AbortOnUnwind`] guard turns an unexpected unwind there into an
//!   abort rather than a dangling pointer.
//! - The task leaves `PENDING` exactly once, as its last access to the job: `DONE` after it
//!   ran the closure and stored the result, or `ABANDONED` after it dropped the closure unrun
//!   (the task was cancelled by a shutdown and dropped its future). It unparks the caller
//!   through its own clone of the caller's parker, never through the job.
//! - `set`'s Release store pairs with the caller's Acquire load: the result (or the drop of
//!   the closure) happens-before the caller reads it.

use crate::context;
use crate::idle::Parker;
use crate::priority::Priority;
use crate::runtime::Handle;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Arc, UnsafeCell};
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

/// The latch still waits for the task.
const PENDING: usize = 0;
/// The closure ran; the result slot holds its outcome.
const DONE: usize = 1;
/// The closure was dropped without running (the runtime shut down first).
const ABANDONED: usize = 2;

/// The message of the panic `install` raises when the runtime shut down before the closure
/// ran.
pub(crate) const INSTALL_SHUT_DOWN: &str =
    "Handle::install: the runtime shut down before the closure ran (it was dropped unrun)";

thread_local! {
    /// Each thread's parker for install waits (a stale unpark only makes one `park` return
    /// early; the wait loop re-checks the latch).
    static WAITER: Arc<Parker> = Arc::new(Parker::new());
}

/// Runs `f` on a worker of `handle`'s runtime and returns its result; see
/// [`Handle::install`](crate::Handle::install).
pub(crate) fn install<F, R>(handle: &Handle, f: F) -> R
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    if context::is_worker_of(&*handle.shared) {
        return f();
    }
    install_cold(handle, f)
}

#[cold]
fn install_cold<F, R>(handle: &Handle, f: F) -> R
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    let on_a_worker = context::with_any_core(|core| core.is_some());
    let send = |task| {
        if on_a_worker {
            // A worker of another runtime: to the installs queue, which waiting workers serve.
            handle.shared.push_install(task)
        } else {
            handle.shared.spawn_detached(task, Priority::Normal)
        }
    };
    match run_elsewhere(f, WAITER.with(Arc::clone), send) {
        Some(Ok(r)) => r,
        Some(Err(payload)) => resume_unwind(payload),
        None => panic!("{INSTALL_SHUT_DOWN}"),
    }
}

/// The caller's side: hands `send` an [`InstallTask`] for `f` (to run or drop on any thread)
/// and waits on `parker` until it did. `None`: the task was dropped and `f` with it, unrun.
/// (`loom_api::install_with` runs it with a model thread as the runtime.)
pub(crate) fn run_elsewhere<F, R>(
    f: F,
    parker: Arc<Parker>,
    send: impl FnOnce(InstallTask),
) -> Option<std::thread::Result<R>>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    let job = InstallJob::new(f, parker);
    let abort = AbortOnUnwind;
    // SAFETY: `job` stays on this frame, which waits below until the latch left PENDING, the
    // task's last access to it (module invariants); `abort` covers an unwind in between.
    let task = unsafe { job.as_task() };
    send(task);
    job.latch.wait();
    std::mem::forget(abort);
    job.into_result()
}

/// Aborts the process if dropped during an unwind (module invariants).
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        if std::thread::panicking() {
            std::process::abort();
        }
    }
}

/// Where the caller waits for the task: a state word and the caller's parker.
struct Latch {
    state: AtomicUsize,
    parker: Arc<Parker>,
}

impl Latch {
    /// The task's last access to the job: publishes `to` and unparks the caller.
    fn set(&self, to: usize) {
        let parker = self.parker.clone();
        // Release: pairs with the Acquire in `probe`. After this store the job may be gone.
        self.state.store(to, release());
        parker.unpark();
    }

    fn probe(&self) -> usize {
        // Acquire: pairs with the Release in `set`.
        self.state.load(Ordering::Acquire)
    }

    /// Blocks until the task set the latch. A worker (of another runtime: the same one ran
    /// the closure inline) runs its own fork-join jobs meanwhile instead of parking.
    fn wait(&self) {
        context::with_any_core(|core| match core {
            // The task's `set` unparks our parker: napping on it wakes at once when done.
            Some(core) => crate::forkjoin::wait_until(
                core,
                || self.probe() != PENDING,
                || {
                    let _ =
                        self.parker.park(Some(std::time::Instant::now() + crate::forkjoin::NAP));
                },
            ),
            None => {
                while self.probe() == PENDING {
                    self.parker.park(None);
                }
            }
        });
    }
}

/// `Release`, or `Relaxed` in the loom models' buggy variant (`loom_api::weaken_install_latch`).
#[inline(always)]
fn release() -> Ordering {
    #[cfg(loom)]
    if crate::loom_api::install_latch_weakened() {
        return Ordering::Relaxed;
    }
    Ordering::Release
}

/// The closure and its result slot, on the caller's stack.
struct InstallJob<F, R> {
    func: UnsafeCell<Option<F>>,
    result: UnsafeCell<Option<std::thread::Result<R>>>,
    latch: Latch,
}

impl<F: FnOnce() -> R + Send, R: Send> InstallJob<F, R> {
    fn new(f: F, parker: Arc<Parker>) -> Self {
        InstallJob {
            func: UnsafeCell::new(Some(f)),
            result: UnsafeCell::new(None),
            latch: Latch { state: AtomicUsize::new(PENDING), parker },
        }
    }

    /// A `'static` task pointing at this job.
    ///
    /// # Safety
    /// The job must stay where it is until its latch left `PENDING` (module invariants).
    unsafe fn as_task(&self) -> InstallTask {
        InstallTask {
            job: self as *const Self as *const (),
            run: run_job::<F, R>,
            abandon: abandon_job::<F, R>,
            pending: true,
        }
    }

    /// The closure's outcome once the latch left `PENDING`; `None` when it was abandoned.
    fn into_result(self) -> Option<std::thread::Result<R>> {
        if self.latch.probe() == ABANDONED {
            return None;
        }
        // SAFETY: DONE was observed with Acquire: the task finished writing and is gone.
        let r = self.result.with_mut(|r| unsafe { (*r).take() });
        debug_assert!(r.is_some(), "a DONE install job holds its result");
        r
    }
}

/// # Safety
/// `job` is a live `InstallJob<F, R>` whose latch is `PENDING`; called once.
unsafe fn run_job<F: FnOnce() -> R + Send, R: Send>(job: *const ()) {
    // SAFETY: forwarded from the caller (the waiting frame keeps the job alive).
    let job = unsafe { &*(job as *const InstallJob<F, R>) };
    // SAFETY: until the latch leaves PENDING the task alone touches the closure and the slot.
    let f = job.func.with_mut(|f| unsafe { (*f).take() });
    let Some(f) = f else { unreachable!("an install job runs once") };
    let r = catch_unwind(AssertUnwindSafe(f));
    // SAFETY: as above.
    job.result.with_mut(|slot| unsafe { *slot = Some(r) });
    job.latch.set(DONE);
}

/// # Safety
/// As for [`run_job`]; called instead of it, once.
unsafe fn abandon_job<F: FnOnce() -> R + Send, R: Send>(job: *const ()) {
    // SAFETY: forwarded from the caller.
    let job = unsafe { &*(job as *const InstallJob<F, R>) };
    // SAFETY: until the latch leaves PENDING the task alone touches the closure.
    let f = job.func.with_mut(|f| unsafe { (*f).take() });
    // The closure's borrows end here, before the caller may return. A panicking drop is
    // contained: the caller gets the shutdown panic either way.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(f)));
    job.latch.set(ABANDONED);
}

/// The task that runs an [`InstallJob`]: completes on its first poll (or [`run_now`]);
/// dropped unrun (a shutdown cancelled it), it abandons the job.
///
/// [`run_now`]: InstallTask::run_now
#[derive(Debug)]
pub(crate) struct InstallTask {
    job: *const (),
    run: unsafe fn(*const ()),
    abandon: unsafe fn(*const ()),
    /// True until `run` or `abandon` was called.
    pending: bool,
}

// SAFETY: the job's closure and result are `Send` (`InstallJob`'s bounds), and the job lives
// until the task reported through the latch (module invariants), wherever the task runs.
unsafe impl Send for InstallTask {}

impl InstallTask {
    /// Runs the closure here (a worker took the task off `Shared::installs`).
    pub(crate) fn run_now(mut self) {
        self.run_once();
    }

    /// Runs the job unless it already ran.
    fn run_once(&mut self) {
        if std::mem::replace(&mut self.pending, false) {
            // SAFETY: the job is alive and PENDING (`pending` was true), and this is the
            // one call: `pending` is false from here on, so the drop does not abandon it.
            unsafe { (self.run)(self.job) }
        }
    }
}

impl Future for InstallTask {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<()> {
        self.run_once();
        Poll::Ready(())
    }
}

impl Drop for InstallTask {
    fn drop(&mut self) {
        if self.pending {
            // SAFETY: never polled, so the job is alive and PENDING; the one call.
            unsafe { (self.abandon)(self.job) }
        }
    }
}
