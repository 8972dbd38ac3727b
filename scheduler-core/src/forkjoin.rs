//! Fork-join: [`join`] runs two closures, potentially in parallel, rayon style.
//!
//! `join(a, b)` on a worker records `b` as a [`JobRef`] to a [`StackJob`] on the caller's
//! stack, runs `a`, then finishes `b`. Whether `b` is offered to other workers, and when, is
//! the business of `crate::join_frames`: deep in a recursion while no worker wants work the
//! call runs serially, a lazy frame runs `b` inline with no atomic operation, and a published
//! frame is on the worker's LIFO job deque, rayon's way. For a published frame the `join`
//! pops: if it gets its own job back, `b` runs inline; if `b` was stolen, it runs other
//! jobs, or steals some, until the thief sets the job's `done` latch; when it finds none for
//! a while it naps on its worker's nap parker, which the thief's set unparks
//! (`crate::done_latch`), so a long wait does not burn the core.
//!
//! Invariants:
//! - A `StackJob` lives on the frame of the `join` that pushed it, and that frame does not
//!   return until the job is either popped back by it or marked `done` by the thief; the
//!   thief's `done.set(Release)` is its last access to the job.
//! - `done`'s Release pairs with the waiter's Acquire load, so the result written before it is
//!   visible to the waiter.
//! - A panic in `a` or `b` is caught and resumed on the caller after both finished.
//!
//! Outside a worker, `join` sends the whole call to a runtime's workers ([`join_cold`], rayon's
//! `in_worker_cold`): the runtime in context, else the global one (`crate::global`), through
//! `Handle::install`; the caller blocks until both halves returned.
//!
//! The closures receive `migrated` (a bool, `FnContext` for [`join_context`]): `b` gets true
//! when a thief ran it, and both get true when the whole call came from outside the workers.
//!
//! [`join_context`]: fn@crate::join_context

use crate::context;
use crate::done_latch::DoneLatch;
use crate::idle::Parker;
use crate::join_frames::Popped;
#[cfg(loom)]
use crate::queue;
use crate::sync::atomic::Ordering;
use crate::sync::UnsafeCell;
use crate::worker::Core;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// A type-erased pointer to a job plus the function that runs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JobRef {
    data: *const (),
    execute: unsafe fn(*const ()),
}

// SAFETY: a JobRef is only created for jobs whose closures and results are `Send`; the job
// outlives every JobRef to it (module invariants).
unsafe impl Send for JobRef {}

/// Two refs are the same job when they point to the same job data.
impl PartialEq for JobRef {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.data, other.data)
    }
}

impl JobRef {
    /// # Safety
    /// `data` must stay valid until `execute` has run, and `execute(data)` must be sound.
    pub(crate) unsafe fn new(data: *const (), execute: unsafe fn(*const ())) -> JobRef {
        JobRef { data, execute }
    }

    /// Runs the job.
    ///
    /// # Safety
    /// The job is alive and has not run yet; each JobRef is executed at most once.
    pub(crate) unsafe fn execute(self) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.execute)(self.data) }
    }
}

/// A job on the stack of the `join` that waits for it.
struct StackJob<F, R> {
    func: UnsafeCell<Option<F>>,
    result: UnsafeCell<Option<std::thread::Result<R>>>,
    done: DoneLatch,
}

impl<F: FnOnce(bool) -> R + Send, R: Send> StackJob<F, R> {
    /// `nap`: the parker of the worker that will wait for the job, if it is stolen.
    fn new(f: F, nap: Option<&Parker>) -> Self {
        StackJob {
            func: UnsafeCell::new(Some(f)),
            result: UnsafeCell::new(None),
            done: DoneLatch::new(nap),
        }
    }

    fn as_job_ref(&self) -> JobRef {
        // SAFETY: the `join` frame keeps `self` alive until the job ran (module invariants);
        // `execute_stack_job::<F, R>` matches the type.
        unsafe { JobRef::new(self as *const Self as *const (), execute_stack_job::<F, R>) }
    }

    /// Takes the closure back (the job was popped by its owner, never executed).
    fn take_func(&self) -> Option<F> {
        // SAFETY: the owner popped the only JobRef: nobody else can reach the job.
        self.func.with_mut(|f| unsafe { (*f).take() })
    }

    fn take_result(&self) -> std::thread::Result<R> {
        match self.result.with_mut(|r| {
            // SAFETY: `done` was observed with Acquire: the thief finished writing.
            unsafe { (*r).take() }
        }) {
            Some(r) => r,
            None => unreachable!("a done job holds its result"),
        }
    }
}

/// # Safety
/// `data` is a live, not yet executed `StackJob<F, R>`.
unsafe fn execute_stack_job<F: FnOnce(bool) -> R + Send, R: Send>(data: *const ()) {
    // SAFETY: the caller guarantees liveness and the type.
    let job = unsafe { &*(data as *const StackJob<F, R>) };
    // SAFETY: whoever executes the JobRef (it was taken off a deque exactly once) owns the
    // closure and the result slot until it sets `done`.
    let f = job.func.with_mut(|f| unsafe { (*f).take() });
    let r = match f {
        // Run through its JobRef: by a thief, or by a worker that waits on something else
        // (the owner of a job it pops back takes it with `take_func` instead): migrated.
        Some(f) => catch_unwind(AssertUnwindSafe(|| f(true))),
        None => unreachable!("a job runs once"),
    };
    // SAFETY: as above.
    job.result.with_mut(|slot| unsafe { *slot = Some(r) });
    // Release: publishes the result to the waiter's Acquire. Last access to `job`.
    job.done.set(release());
}

/// `Release`, or `Relaxed` in the loom models' buggy variant (`loom_api::weaken_join_done`).
#[inline(always)]
fn release() -> Ordering {
    #[cfg(loom)]
    if crate::loom_api::join_done_weakened() {
        return Ordering::Relaxed;
    }
    Ordering::Release
}

/// Runs `a` and `b`, potentially in parallel, and returns both results.
///
/// On a worker thread `b` is offered to other workers when one of them wants work: near the
/// root of a recursion always (as rayon does), deeper down when another worker searches or
/// sleeps as the call starts; deep in a recursion while every worker is busy most calls run
/// `a` then `b` with no bookkeeping at all, so a fine-grained `join` costs little more than
/// the two calls (heartbeat scheduling's trade, see chili and Spice). So `join` does not
/// promise that `a` and `b` run at the same time: a closure must never wait for the other
/// one. Called from a thread that is not a worker, the whole call goes to a runtime's
/// workers and the caller blocks until it returns: the runtime in context
/// ([`Handle::enter`](crate::Handle::enter), a `block_on` caller, a blocking-pool thread),
/// else the global runtime, built on first use
/// ([`Builder::build_global`](crate::Builder::build_global) configures it). It never runs
/// serially on the caller. A panic in either closure is propagated after both have finished.
/// Called from outside, it panics if that runtime has shut down.
///
/// # Examples
/// ```
/// fn fib(n: u64) -> u64 {
///     if n < 2 { return n; }
///     let (a, b) = scheduler_core::join(|| fib(n - 1), || fib(n - 2));
///     a + b
/// }
/// let rt = scheduler_core::Runtime::builder().worker_threads(2).build().unwrap();
/// assert_eq!(rt.block_on(rt.spawn_fn(|| fib(20))).unwrap(), 6765);
/// ```
///
/// Either closure may run on another worker, so both must be `Send`: capturing an `Arc` is
/// fine,
///
/// ```
/// use std::sync::Arc;
/// let shared = Arc::new(20);
/// let (a, b) = scheduler_core::join(|| *shared + 1, || *shared * 2);
/// assert_eq!((a, b), (21, 40));
/// ```
///
/// capturing an `Rc` is not:
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
/// let shared = Rc::new(20);
/// // error: `Rc<i32>` cannot be shared between threads safely
/// let (a, b) = scheduler_core::join(|| *shared + 1, || *shared * 2);
/// ```
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    context::with_any_core(|core| match core {
        Some(core) => join_on_worker(core, |_| a(), |_| b(), false),
        None => join_cold(|_| a(), |_| b()),
    })
}

/// `join` from a thread that is not a worker: the call runs on a runtime's workers (module
/// doc); `injected` is true there, so both halves report `migrated`.
#[cold]
pub(crate) fn join_cold<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce(bool) -> RA + Send,
    B: FnOnce(bool) -> RB + Send,
    RA: Send,
    RB: Send,
{
    crate::global::cold_handle().install(move || {
        context::with_any_core(|core| match core {
            Some(core) => join_on_worker(core, a, b, true),
            // Not reached: an installed closure runs on a worker.
            None => (a(true), b(true)),
        })
    })
}

/// `join` on worker `core`. `a` and `b` receive `migrated`: `injected` (the call came from
/// outside), or true for `b` when a thief ran it. Serial, lazy or published: see
/// `crate::join_frames`.
#[inline(always)]
pub(crate) fn join_on_worker<A, B, RA, RB>(core: &Core, a: A, b: B, injected: bool) -> (RA, RB)
where
    A: FnOnce(bool) -> RA + Send,
    B: FnOnce(bool) -> RB + Send,
    RA: Send,
    RB: Send,
{
    let hungry = core.peers_hungry();
    if core.frames().serial(hungry) {
        // `b` runs even if `a` panicked; a panic of `b` itself propagates as it is, `a`
        // being finished.
        let ra = catch_unwind(AssertUnwindSafe(|| a(injected)));
        let rb = b(injected);
        return match ra {
            Ok(ra) => (ra, rb),
            Err(p) => resume_unwind(p),
        };
    }
    join_with_frame(core, a, b, injected, hungry)
}

/// `join` with a frame, lazy or published (`crate::join_frames`).
#[inline(never)]
fn join_with_frame<A, B, RA, RB>(core: &Core, a: A, b: B, injected: bool, hungry: bool) -> (RA, RB)
where
    A: FnOnce(bool) -> RA + Send,
    B: FnOnce(bool) -> RB + Send,
    RA: Send,
    RB: Send,
{
    let job = StackJob::new(b, Some(core.nap_parker()));
    let job_ref = job.as_job_ref();
    if core.frames().push(job_ref) {
        core.push_job(job_ref);
    } else if hungry {
        core.offer_to_hungry();
    }
    let ra = catch_unwind(AssertUnwindSafe(|| a(injected)));
    let rb = match core.frames().pop() {
        Popped::Lazy => match job.take_func() {
            Some(b) => catch_unwind(AssertUnwindSafe(|| b(injected))),
            None => unreachable!("a lazy frame's job was never given to anyone"),
        },
        Popped::Published => {
            finish_published(&job, job_ref, injected, || core.pop_job(), |d| wait_for(core, d))
        }
    };
    core.frames().finished();
    both(ra, rb)
}

/// The end of a `join` whose frame was published: take the job back if it is still on our
/// deque (`pop`), else run other jobs until the thief is done with it (`wait`).
fn finish_published<F: FnOnce(bool) -> R + Send, R: Send>(
    job: &StackJob<F, R>,
    job_ref: JobRef,
    injected: bool,
    pop: impl Fn() -> Option<JobRef>,
    wait: impl FnOnce(&DoneLatch),
) -> std::thread::Result<R> {
    loop {
        if job.done.is_set() {
            return job.take_result();
        }
        match pop() {
            Some(j) if j == job_ref => match job.take_func() {
                Some(b) => return catch_unwind(AssertUnwindSafe(|| b(injected))),
                None => unreachable!("our own job was never executed"),
            },
            // SAFETY: a job popped from a deque is alive and runs once.
            Some(other) => unsafe { other.execute() },
            None => {
                wait(&job.done);
                return job.take_result();
            }
        }
    }
}

/// The published-frame protocol with a model thread as the thief (`loom_api::join_handoff`):
/// `b`'s job goes on a fresh deque, `thief` gets its stealer, and this thread finishes the
/// frame as a `join` does, yielding to loom while it waits.
#[cfg(loom)]
pub(crate) fn handoff_for_loom<F, R>(b: F, thief: impl FnOnce(queue::Remote<JobRef>)) -> R
where
    F: FnOnce(bool) -> R + Send,
    R: Send,
{
    let jobs = queue::new_lifo::<JobRef>();
    let job = StackJob::new(b, None);
    let job_ref = job.as_job_ref();
    jobs.push(job_ref);
    thief(jobs.stealer());
    let wait = |done: &DoneLatch| {
        while !done.is_set() {
            loom::thread::yield_now();
        }
    };
    match finish_published(&job, job_ref, false, || jobs.pop(), wait) {
        Ok(r) => r,
        Err(p) => resume_unwind(p),
    }
}

/// Both results, or the first panic (resumed once both halves finished).
fn both<RA, RB>(ra: std::thread::Result<RA>, rb: std::thread::Result<RB>) -> (RA, RB) {
    match (ra, rb) {
        (Ok(ra), Ok(rb)) => (ra, rb),
        (Err(p), _) | (_, Err(p)) => resume_unwind(p),
    }
}

/// Waits until `done` is set, running stolen jobs meanwhile, napping when there are none.
pub(crate) fn wait_for(core: &Core, done: &DoneLatch) {
    wait_until(core, || done.is_set(), || done.nap(NAP));
}

/// Idle rounds of a waiter that spin before it yields.
const WAIT_SPINS: u32 = 64;
/// Idle rounds of a waiter that yield before it naps (about 150 us on the 2-core CI machine,
/// where a yield with nothing else to run costs ~145 ns: a wait that ends sooner costs no
/// wake-up; with 256 rounds, `join_recursively`'s waits for the halves stolen near its root
/// napped and lost 5 %).
const WAIT_YIELDS: u32 = 1024;
/// Idle rounds that yield between two naps.
const WAIT_YIELDS_AFTER_NAP: u32 = 16;
/// The longest nap of a waiter: it then looks for jobs again (and is hungry meanwhile).
pub(crate) const NAP: std::time::Duration = std::time::Duration::from_millis(1);

/// Waits until `done()` holds, running this worker's jobs (and stolen ones) meanwhile. When
/// it finds none for a while, it calls `nap`, which parks until the awaited event or for at
/// most [`NAP`], then looks again: a long wait does not burn the core.
pub(crate) fn wait_until(core: &Core, done: impl Fn() -> bool, nap: impl Fn()) {
    if done() {
        return;
    }
    // Lazy frames below this wait are work this worker can do meanwhile (`join_frames`).
    core.publish_all_frames();
    // While it finds nothing to run, this worker wants work: the other workers' joins then
    // offer their lazy frames (`join_frames`). Not while it runs a job: its own joins there
    // would count it as hungry.
    let mut hungry = None;
    let mut idle_rounds = 0u32;
    while !done() {
        if let Some(job) = core.pop_job().or_else(|| core.steal_job()) {
            hungry = None;
            // SAFETY: a job taken off a deque is alive and runs once.
            unsafe { job.execute() };
            idle_rounds = 0;
        } else if let Some(install) = core.shared().take_install() {
            // Another runtime's worker waits for it, maybe for us in turn (`Shared::installs`).
            hungry = None;
            install.run_now();
            idle_rounds = 0;
        } else if idle_rounds < WAIT_SPINS + WAIT_YIELDS {
            if hungry.is_none() {
                hungry = Some(core.join_waiting());
            }
            idle_rounds += 1;
            if idle_rounds <= WAIT_SPINS {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        } else {
            // Not hungry while asleep: nobody should offer work to a napper.
            hungry = None;
            nap();
            // Hungry again for a few yields (others may offer work), then the next nap.
            idle_rounds = WAIT_SPINS + WAIT_YIELDS - WAIT_YIELDS_AFTER_NAP;
        }
    }
}
