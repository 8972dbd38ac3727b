//! Narrow handles on the crate's protocols for the loom models in `loom-tests` (only under
//! `cfg(loom)`). Each wraps the real code, so a model checks what the runtime runs without
//! starting a whole runtime.

#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use crate::idle::{Idle, Woken};
use crate::queue::{self, Injector};
use crate::sync::{Arc, Mutex};
use crate::task::raw::{self, Header, Scheduler, SchedulerVtable};
use crate::task::{JoinHandle, Notified, RunOutcome};
use std::future::Future;
use std::ptr::NonNull;
use std::task::Poll;

/// A model switch: a thread-local flag that a model sets to pick the buggy variant of a
/// protocol (`should_panic` models), and that the protocol code reads through the getter. One
/// OS thread runs every loom thread of a model, so a plain thread-local is the model's flag.
macro_rules! model_switch {
    ($flag:ident; $(#[$doc:meta])* pub fn $set:ident; pub(crate) fn $get:ident;) => {
        thread_local! {
            static $flag: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        }

        $(#[$doc])*
        pub fn $set(on: bool) {
            $flag.with(|b| b.set(on));
        }

        pub(crate) fn $get() -> bool {
            $flag.with(std::cell::Cell::get)
        }
    };
}

// ---- park / notify ----------------------------------------------------------------------------

model_switch! {
    RECHECK_BROKEN;
    /// Switches off the last searcher's re-check of the queues before it parks (step 2 of the
    /// protocol in `idle.rs`) on this OS thread, which runs every loom thread of a model: the
    /// buggy variant for `should_panic` models.
    pub fn break_park_recheck;
    pub(crate) fn park_recheck_broken;
}

/// The idle protocol of `idle.rs` with one global queue of `usize` work items.
pub struct ParkProtocol {
    idle: Idle,
    queue: Injector<usize>,
}

impl ParkProtocol {
    pub fn new(workers: usize) -> Self {
        ParkProtocol { idle: Idle::new(workers), queue: Injector::new() }
    }

    /// Post work: push, then `notify_work` (fence; read state; maybe wake).
    pub fn push(&self, item: usize) {
        self.queue.push(item);
        self.idle.notify_work();
    }

    /// Post work without the notification (the buggy variant, for `should_panic` models).
    pub fn push_without_notify(&self, item: usize) {
        self.queue.push(item);
    }

    pub fn pop(&self) -> Option<usize> {
        queue::inject_steal_one(&self.queue)
    }

    pub fn try_start_searching(&self) -> bool {
        self.idle.try_start_searching()
    }

    /// Leaves searching; returns true if it was the last searcher (then call `notify`).
    pub fn stop_searching(&self) -> bool {
        self.idle.stop_searching()
    }

    pub fn notify(&self) {
        self.idle.notify_work();
    }

    /// The sleep half of the protocol; returns true when a notifier chose this worker (it is
    /// then searching).
    pub fn park(&self, idx: usize, searching: bool) -> bool {
        self.idle.park_worker(idx, searching, || !self.queue.is_empty(), None) == Woken::Notified
    }

    /// Wakes worker `idx` unconditionally (shutdown / timer hook).
    pub fn unpark(&self, idx: usize) {
        self.idle.unpark(idx)
    }
}

// ---- task state word: the already-notified wake ----------------------------------------------

model_switch! {
    NOTIFIED_WRITE_SKIPPED;
    /// Restores the old, write-free branch of a wake that finds its task already notified (see
    /// `State::transition_to_notified`) on this OS thread, which runs every loom thread of a model:
    /// the buggy variant for `should_panic` models.
    pub fn skip_notified_wake_write;
    pub(crate) fn notified_wake_write_skipped;
}

// ---- runtime lifetime: a foreign wake racing the runtime's drop -------------------------------

model_switch! {
    FOREIGN_REF_SKIPPED;
    /// Restores the old foreign wake and completion paths, which touched `Shared` without a
    /// strong reference of their own (`runtime::shared`, "Lifetime"), on this OS thread (which
    /// runs every loom thread of a model): the buggy variant for `should_panic` models.
    pub fn skip_foreign_ref;
    pub(crate) fn foreign_ref_skipped;
}

thread_local! {
    static SHARED_DROPPED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

pub(crate) fn shared_dropped() {
    SHARED_DROPPED.with(|d| d.set(true));
}

/// Panics when the model's `Shared` was dropped: called where a thread that reached it through
/// a task touches it again. (All loom threads of a model run on one OS thread, so this plain
/// thread-local sees the model's execution order.)
pub(crate) fn assert_shared_alive() {
    assert!(!SHARED_DROPPED.with(std::cell::Cell::get), "Shared used after it was freed");
}

/// Stores its waker on every poll and never completes.
struct ParkForever(std::sync::Arc<std::sync::Mutex<Option<std::task::Waker>>>);

impl Future for ParkForever {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        *self.0.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A real runtime's shared state (one worker slot, no threads) for models of its lifetime.
pub struct ForeignWakeShutdown {
    runtime: Option<Arc<crate::runtime::Shared>>,
}

impl Default for ForeignWakeShutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl ForeignWakeShutdown {
    /// Builds the state as `Builder::build` does, without starting the worker.
    pub fn new() -> Self {
        SHARED_DROPPED.with(|d| d.set(false));
        let (shared, locals) =
            crate::Builder::new().worker_threads(1).build_shared().expect("1 worker builds");
        drop(locals); // the worker never runs; its queues stay empty
        ForeignWakeShutdown { runtime: Some(shared) }
    }

    /// Spawns a task that parks its waker and polls it once on this thread, so it is idle and
    /// listed; returns its waker and `JoinHandle`.
    pub fn spawn_parked(&self) -> (std::task::Waker, JoinHandle<()>) {
        let shared = self.runtime.as_ref().expect("the runtime is not dropped yet");
        let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
        let jh = shared.spawn(ParkForever(slot.clone()), crate::Priority::Normal);
        let queued = queue::inject_steal_one(&shared.injector[crate::Priority::Normal.index()]);
        let task = queued.expect("a spawn off the workers goes to the injector");
        assert!(matches!(task.run(), RunOutcome::Idle), "the first poll parks the task");
        let waker = slot.lock().unwrap().take().expect("the poll stored its waker");
        (waker, jh)
    }

    /// What dropping a `Runtime` does once its only worker has left its loop: shutdown begins,
    /// the worker's exit finishes it (drains, sweeps the owned list), and the `Runtime`'s own
    /// reference goes.
    pub fn drop_runtime(&mut self) {
        let shared = self.runtime.take().expect("dropped once");
        shared.begin_shutdown();
        drop(shared.worker_exited());
        drop(shared);
    }

    /// True once the runtime's `Shared` has been freed.
    pub fn shared_freed() -> bool {
        SHARED_DROPPED.with(std::cell::Cell::get)
    }
}

// ---- LIFO slot --------------------------------------------------------------------------------

/// The stealable LIFO slot of `lifo.rs`, holding boxed `usize`s.
pub struct LifoSlot(crate::lifo::LifoSlot<usize>);

impl Default for LifoSlot {
    fn default() -> Self {
        LifoSlot(crate::lifo::LifoSlot::new())
    }
}

impl LifoSlot {
    /// Owner: puts `v`, returning the displaced occupant.
    pub fn put(&self, v: usize) -> Option<usize> {
        let p = NonNull::from(Box::leak(Box::new(v)));
        // SAFETY: every pointer in the slot came from `Box::leak` here and is taken out once.
        self.0.put(p).map(|old| *unsafe { Box::from_raw(old.as_ptr()) })
    }

    /// Owner or thief: takes the occupant.
    pub fn take(&self) -> Option<usize> {
        // SAFETY: as in `put`.
        self.0.take().map(|p| *unsafe { Box::from_raw(p.as_ptr()) })
    }
}

// ---- task state machine -----------------------------------------------------------------------

/// A stand-in scheduler: woken tasks land in a queue the model drains by hand.
pub struct TestScheduler {
    queue: Mutex<Vec<Notified>>,
}

static TEST_VTABLE: SchedulerVtable = SchedulerVtable {
    schedule: test_schedule,
    bind: test_bind,
    release: test_release,
    on_panic: test_on_panic,
};

unsafe fn test_bind(_: *const (), _: NonNull<Header>) -> bool {
    true
}

unsafe fn test_on_panic(_: *const ()) {}

/// # Safety
/// `data` is a live `TestScheduler` (the model keeps its `Arc` until every task completed).
unsafe fn test_schedule(data: *const (), task: Notified) {
    // SAFETY: see above.
    let s = unsafe { &*(data as *const TestScheduler) };
    s.queue.lock().push(task);
}

unsafe fn test_release(_: *const (), _: NonNull<Header>) -> Option<crate::runtime::KeepAlive> {
    None
}

impl TestScheduler {
    pub fn new() -> Arc<TestScheduler> {
        Arc::new(TestScheduler { queue: Mutex::new(Vec::new()) })
    }

    /// Allocates a task for `future` and returns its handle; the task is queued here.
    pub fn spawn<F>(this: &Arc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let sched =
            Scheduler { vtable: &TEST_VTABLE, data: &**this as *const TestScheduler as *const () };
        let ptr = raw::allocate(future, sched, crate::Priority::Normal);
        this.queue.lock().push(Notified(ptr));
        // SAFETY: `allocate` hands over the JoinHandle ref.
        unsafe { JoinHandle::from_raw(ptr) }
    }

    /// Allocates a detached task for `future` (no `JoinHandle`, `spawn_fn_detached`'s cell);
    /// the task is queued here.
    pub fn spawn_detached<F>(this: &Arc<Self>, future: F)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let sched =
            Scheduler { vtable: &TEST_VTABLE, data: &**this as *const TestScheduler as *const () };
        let ptr = raw::allocate_detached(future, sched, crate::Priority::Normal);
        this.queue.lock().push(Notified(ptr));
    }

    /// Runs one queued task, if any. Returns false when the queue was empty.
    pub fn run_one(&self) -> bool {
        let task = self.queue.lock().pop();
        match task {
            Some(t) => {
                if let RunOutcome::Yielded(t) = t.run() {
                    self.queue.lock().push(t);
                }
                true
            }
            None => false,
        }
    }

    /// Cancels every queued task without running it (a shutdown drain).
    pub fn drain_cancel(&self) {
        let tasks: Vec<Notified> = self.queue.lock().drain(..).collect();
        tasks.into_iter().for_each(Notified::cancel);
    }
}

// ---- install latch ----------------------------------------------------------------------------

model_switch! {
    INSTALL_LATCH_WEAK;
    /// Makes the install latch's `DONE`/`ABANDONED` store Relaxed instead of Release on this OS
    /// thread (which runs every loom thread of a model): the buggy variant for `should_panic`
    /// models.
    pub fn weaken_install_latch;
    pub(crate) fn install_latch_weakened;
}

/// The task `Handle::install` sends to the runtime (`install.rs`): run it (`run`, the worker's
/// poll) or drop it (a shutdown's cancellation).
pub struct InstallTask(crate::install::InstallTask);

impl InstallTask {
    /// Polls the task once, as a worker does: runs the installed closure.
    pub fn run(mut self) {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(std::pin::Pin::new(&mut self.0).poll(&mut cx).is_ready());
    }
}

/// `Handle::install`'s caller side with `send` as the runtime: `f` borrows the caller's stack,
/// `send` gets the task (to run or drop on another model thread). `None`: dropped unrun.
pub fn install_with<F, R>(f: F, send: impl FnOnce(InstallTask)) -> Option<R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    let parker = Arc::new(crate::idle::Parker::new());
    crate::install::run_elsewhere(f, parker, |t| send(InstallTask(t)))
        .map(|r| r.unwrap_or_else(|p| std::panic::resume_unwind(p)))
}

// ---- fork-join: a published join frame and its thief -------------------------------------------

model_switch! {
    JOIN_DONE_WEAK;
    /// Makes a stolen join job's `done` store Relaxed instead of Release on this OS thread (which
    /// runs every loom thread of a model): the buggy variant for `should_panic` models.
    pub fn weaken_join_done;
    pub(crate) fn join_done_weakened;
}

/// The stealing end of the deque a published join frame sits on.
pub struct JobStealer(queue::Remote<crate::forkjoin::JobRef>);

impl JobStealer {
    /// Steals the job, if the owner has not popped it back yet, and runs it.
    pub fn steal_and_run(&self) -> bool {
        match queue::steal_one(&self.0) {
            Some(job) => {
                // SAFETY: the job was taken off its deque exactly once; its `join` frame waits
                // for its `done` flag before it returns.
                unsafe { job.execute() };
                true
            }
            None => false,
        }
    }
}

/// A `join`'s published frame (`forkjoin.rs`): `b` on a deque, `thief` gets the stealer (to
/// use on another model thread), and this thread finishes the frame as `join` does: pops `b`
/// back and runs it, or waits for the thief's `done`. Returns `b`'s result.
pub fn join_handoff<F, R>(b: F, thief: impl FnOnce(JobStealer)) -> R
where
    F: FnOnce(bool) -> R + Send,
    R: Send,
{
    crate::forkjoin::handoff_for_loom(b, |remote| thief(JobStealer(remote)))
}

// ---- a fork-join waiter's nap (done_latch.rs) -----------------------------------------------

/// How the setter of [`NapHandoff`] sets the latch: as the runtime does, or one of the two
/// buggy variants a model must catch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NapSetter {
    /// `DoneLatch::set` with Release, as `forkjoin` and `scope` call it.
    Real,
    /// Release, but a plain store that never unparks a napper.
    ForgetsTheNapper,
    /// `DoneLatch::set` with Relaxed: no happens-before edge to the waiter.
    Relaxed,
}

/// A `join` waiter napping on its `DoneLatch` while a thief finishes `b`: the thief writes a
/// value and sets the latch (`set`, from any model thread), the owner (`wait`) naps until it
/// is set, as `forkjoin::wait_until` does once it finds no work, and reads the value.
pub struct NapHandoff {
    /// Owns the parker `latch` points to.
    _parker: Arc<crate::idle::Parker>,
    latch: crate::done_latch::DoneLatch,
    value: crate::sync::UnsafeCell<u32>,
}

// SAFETY: `value` is written by the setter before `set` and read by the waiter after it saw
// the latch set (the protocol under test); loom checks exactly that.
unsafe impl Sync for NapHandoff {}
// SAFETY: as above.
unsafe impl Send for NapHandoff {}

impl NapHandoff {
    pub fn new() -> Arc<Self> {
        let parker = Arc::new(crate::idle::Parker::new());
        // The latch points into the `Arc`'s allocation, which lives as long as `self`.
        let latch = crate::done_latch::DoneLatch::new(Some(&*parker));
        Arc::new(NapHandoff { _parker: parker, latch, value: crate::sync::UnsafeCell::new(0) })
    }

    /// The thief: writes `v`, then sets the latch the way `how` says.
    pub fn set(&self, v: u32, how: NapSetter) {
        // SAFETY: the waiter reads `value` only after it saw the latch set.
        self.value.with_mut(|p| unsafe { *p = v });
        match how {
            NapSetter::Real => self.latch.set(crate::sync::atomic::Ordering::Release),
            NapSetter::Relaxed => self.latch.set(crate::sync::atomic::Ordering::Relaxed),
            NapSetter::ForgetsTheNapper => self.latch.set_without_waking(),
        }
    }

    /// The owner: naps until the latch is set (loom ignores the nap's deadline, so a lost
    /// unpark is a deadlock), then reads the value.
    pub fn wait(&self) -> u32 {
        while !self.latch.is_set() {
            self.latch.nap(crate::forkjoin::NAP);
        }
        // SAFETY: the latch was seen set with Acquire: the setter's write happened before.
        self.value.with(|p| unsafe { *p })
    }
}
