//! The state every thread of one runtime shares: queues, idle workers, owned tasks, pools.
//!
//! # Lifetime
//!
//! `Shared` lives in one `Arc`, made by `Builder::build`. `Handle`s, the `Runtime`, worker
//! and blocking threads hold strong references. Task headers hold a raw pointer instead (no
//! `Arc` clone per task), and what keeps `Shared` alive for them is [`Shared::keepalive`], one
//! strong reference that is released only after shutdown has finished *and* the owned-task
//! list is empty.
//!
//! The rule: **every thread holds a strong reference for as long as it touches `Shared`.**
//! Workers, blocking threads and spawners hold theirs already. A thread that reaches `Shared`
//! only through a task's raw pointer takes one before its first touch and drops it after its
//! last, and the keep-alive is what makes taking it sound: it is held while any task is listed
//! (bound, not yet completed), and both such paths start while their task is listed:
//!
//! - *a foreign wake* ([`Shared::schedule`] off the runtime's workers): the task was idle, so
//!   it is listed (see `runtime::owned`); the waker pushes it to the injector and, after
//!   shutdown began, drains the injectors itself, cancelling tasks. Without its own reference
//!   the cancellation of the last listed task released the keep-alive and freed `Shared` while
//!   the drain still walked the queue (a use-after-free valgrind showed).
//! - *a completion off the runtime's threads* (`Shared::release` from an `abort()` or from such
//!   a drain): the task is still listed when `release` starts, so the reference is taken before
//!   the task leaves the list, and handed back as the [`KeepAlive`] the completion drops after
//!   it stopped touching the scheduler. Two such completions racing for the last two listed
//!   tasks each hold their own, so the one that releases the keep-alive never frees `Shared`
//!   under the other.
//!
//! A task calls its scheduler only while it is not complete (`task::raw` module doc), so after
//! its completion's `release` nothing reaches `Shared` through it again.

use super::owned::OwnedTasks;
use super::Config;
use crate::blocking::BlockingPool;
use crate::context;
use crate::forkjoin::JobRef;
use crate::idle::{Idle, Parker};
use crate::install::InstallTask;
use crate::lifo::LifoSlot;
use crate::metrics::WorkerStats;
use crate::priority::{Priority, CLASSES};
use crate::queue::{self, Injector, Remote};
use crate::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use crate::sync::{Arc, Condvar, Mutex};
use crate::task::raw::{self, Header, Scheduler, SchedulerVtable};
use crate::task::{JoinHandle, Notified};
use crate::worker::Core;
use crossbeam_utils::CachePadded;
use std::future::Future;
use std::ptr::NonNull;

/// What other threads may touch of one worker.
#[derive(Debug)]
pub(crate) struct WorkerRemote {
    pub(crate) stealers: [Remote<Notified>; CLASSES],
    pub(crate) jobs: Remote<JobRef>,
    pub(crate) lifo: LifoSlot<Header>,
    /// Bit `c` set: this worker's deque of class `c` may hold tasks. Written by the owner only
    /// (set on push, cleared when its own pop finds the deque empty), read by other workers to
    /// skip empty deques without touching them; a stale bit costs one wasted or one missed
    /// look, never a lost task (the deque itself decides).
    pub(crate) class_hint: CachePadded<AtomicUsize>,
    pub(crate) stats: CachePadded<WorkerStats>,
    /// Where this worker naps while it waits in a `join` or `scope` (`crate::done_latch`);
    /// the setter of the latch it waits on unparks it.
    pub(crate) nap: Parker,
}

impl WorkerRemote {
    /// True when this worker's LIFO slot, fork-join deque or any class deque holds work.
    fn has_work(&self) -> bool {
        self.lifo.is_occupied()
            || !self.jobs.is_empty()
            || self.stealers.iter().any(|s| !s.is_empty())
    }
}

/// A strong reference to `Shared` whose drop may end the runtime's life; dropped after a
/// completing task has stopped touching the scheduler.
#[derive(Debug)]
pub(crate) struct KeepAlive {
    /// Held only to be dropped.
    _shared: Arc<Shared>,
}

/// The shared state of one runtime.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) workers: Box<[WorkerRemote]>,
    pub(crate) injector: [Injector<Notified>; CLASSES],
    /// `install`s sent by workers of other runtimes (`crate::install`): any worker takes them
    /// as work, and a worker waiting inside a `join` or another runtime's `install` runs them
    /// meanwhile, so installs bouncing between runtimes whose workers all wait cannot
    /// deadlock (rayon's `in_worker_cross`).
    pub(crate) installs: Injector<InstallTask>,
    pub(crate) idle: Idle,
    pub(crate) owned: OwnedTasks,
    pub(crate) blocking: BlockingPool,
    pub(crate) shutdown: AtomicBool,
    /// Set once shutdown drained every queue and swept the owned list.
    pub(crate) finished: AtomicBool,
    pub(crate) workers_alive: AtomicUsize,
    /// Tasks spawned / completed off the workers (the workers count theirs in `WorkerStats`).
    /// On their own cache lines: a producer thread bumps them once per spawn, and must not
    /// invalidate the line of `shutdown`, which every worker reads once per loop.
    pub(crate) external_spawned: CachePadded<AtomicU64>,
    pub(crate) external_completed: CachePadded<AtomicU64>,
    pub(crate) keepalive: Mutex<Option<Arc<Shared>>>,
    /// `exit_cvar` is signalled (under `exit_lock`) each time a worker exits.
    pub(crate) exit_lock: Mutex<()>,
    pub(crate) exit_cvar: Condvar,
    pub(crate) config: Config,
    /// The timer shards (one per worker) and the clock: `crate::time::driver`.
    pub(crate) time: crate::time::driver::TimeDriver,
    /// `Handle::call_soon`'s FIFO queue (`runtime::call_soon`).
    pub(crate) soon: super::call_soon::SoonQueue,
    /// This `Shared`'s own `Arc` address ([`Shared::strong_ref`], and the tasks' scheduler
    /// pointer). Set by `Builder::build` right after `Arc::new`, before any clone leaves it.
    /// Relaxed loads suffice: the store happens-before every other thread's first sight of
    /// this `Shared` (it is published by the thread spawns and `Arc` clones that follow it).
    pub(crate) this: AtomicPtr<Shared>,
}

pub(crate) static SCHEDULER_VTABLE: SchedulerVtable = SchedulerVtable {
    schedule: schedule_erased,
    bind: bind_erased,
    release: release_erased,
    on_panic: on_panic_erased,
};

/// # Safety
/// As for `schedule_erased`; the caller holds `RUNNING` of `task`.
unsafe fn bind_erased(data: *const (), task: NonNull<Header>) -> bool {
    // SAFETY: forwarded from the caller.
    let shared = unsafe { &*(data as *const Shared) };
    shared.bind(task)
}

/// # Safety
/// As for `schedule_erased`.
unsafe fn on_panic_erased(data: *const ()) {
    // SAFETY: forwarded from the caller.
    let shared = unsafe { &*(data as *const Shared) };
    context::with_core(shared, |core| match core {
        Some(core) => core.count_panic(),
        None => shared.blocking.count_panic(),
    })
}

/// # Safety
/// `data` is a live `Shared` (the caller's task is not complete: module doc).
unsafe fn schedule_erased(data: *const (), task: Notified) {
    // SAFETY: forwarded from the caller.
    let shared = unsafe { &*(data as *const Shared) };
    shared.schedule(task);
}

/// # Safety
/// As for `schedule_erased`; `task` is completing.
unsafe fn release_erased(data: *const (), task: NonNull<Header>) -> Option<KeepAlive> {
    // SAFETY: forwarded from the caller.
    let shared = unsafe { &*(data as *const Shared) };
    shared.release(task)
}

impl Shared {
    pub(crate) fn scheduler(&self) -> Scheduler {
        Scheduler { vtable: &SCHEDULER_VTABLE, data: self.arc_ptr() as *const () }
    }

    /// Records this `Shared`'s `Arc` address; `Builder::build` calls it once, right after
    /// `Arc::new` and before any clone leaves the building thread.
    pub(crate) fn set_arc_ptr(this: &Arc<Shared>) {
        this.this.store(Arc::as_ptr(this) as *mut Shared, Ordering::Relaxed);
    }

    #[inline]
    fn arc_ptr(&self) -> *const Shared {
        let ptr = self.this.load(Ordering::Relaxed) as *const Shared;
        debug_assert!(std::ptr::eq(ptr, self), "Builder::build records the Arc address");
        ptr
    }

    /// A new strong reference to this `Shared`, for a thread that reached it through a task's
    /// raw pointer (module doc, "Lifetime").
    ///
    /// # Safety
    /// `Shared` must be alive with a strong count above zero for the whole call: the caller's
    /// task is listed (so the keep-alive is held), or the caller holds a strong reference.
    unsafe fn strong_ref(&self) -> Arc<Shared> {
        let ptr = self.arc_ptr();
        // SAFETY: `ptr` is `Arc::as_ptr` of the `Arc` that holds this `Shared` (set by
        // `Builder::build`), whose strong count the caller guarantees is positive; the count we
        // add is the one `from_raw` takes over.
        unsafe {
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Allocates and queues a new task (cancelled at once after shutdown).
    #[inline]
    pub(crate) fn spawn<F>(&self, future: F, priority: Priority) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let ptr = raw::allocate(future, self.scheduler(), priority);
        // SAFETY: `allocate` hands us the JoinHandle ref.
        let jh = unsafe { JoinHandle::from_raw(ptr) };
        context::with_core(self, |core| self.submit_new(core, Notified(ptr)));
        jh
    }

    /// Allocates and queues a new task that nobody joins: no `JoinHandle` is made, and the
    /// output is dropped where the task completes (cancelled at once after shutdown).
    #[inline]
    pub(crate) fn spawn_detached<F>(&self, future: F, priority: Priority)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        context::with_core(self, |core| self.spawn_detached_via(core, future, priority));
    }

    /// [`spawn_detached`](Self::spawn_detached) for a caller that already looked up its core
    /// (`core`: this thread's core if it is a worker of this runtime, else `None`).
    #[inline(always)]
    pub(crate) fn spawn_detached_via<F>(&self, core: Option<&Core>, future: F, priority: Priority)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let ptr = raw::allocate_detached(future, self.scheduler(), priority);
        self.submit_new(core, Notified(ptr));
    }

    /// Counts and queues a freshly allocated task: on `core`'s own deque when spawned on one
    /// of our workers, else the injector; cancelled at once after shutdown.
    #[inline(always)]
    fn submit_new(&self, core: Option<&Core>, task: Notified) {
        match core {
            Some(core) => {
                core.count_spawned();
                if self.is_shutdown() {
                    task.cancel();
                } else {
                    core.push_spawned(task);
                }
            }
            None => {
                self.external_spawned.fetch_add(1, Ordering::Relaxed);
                if self.is_shutdown() {
                    task.cancel();
                } else {
                    self.inject(task);
                }
            }
        }
    }

    /// Allocates a task for the blocking pool (not queued anywhere yet); `None` after
    /// shutdown (the task is then already cancelled).
    pub(crate) fn new_blocking_task<F>(
        &self,
        future: F,
    ) -> (JoinHandle<F::Output>, Option<Notified>)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let ptr = raw::allocate(future, self.scheduler(), Priority::Normal);
        // SAFETY: `allocate` hands us the JoinHandle ref.
        let jh = unsafe { JoinHandle::from_raw(ptr) };
        let task = Notified(ptr);
        self.external_spawned.fetch_add(1, Ordering::Relaxed);
        if self.is_shutdown() {
            task.cancel();
            (jh, None)
        } else {
            (jh, Some(task))
        }
    }

    /// A waker made `task` runnable: the LIFO slot when woken on one of our workers, else the
    /// injector. Off the workers the waking thread holds no reference to `Shared` of its own:
    /// it takes one for the whole push (module doc, "Lifetime"); the last drop of `Shared` may
    /// then happen here, after the push and its shutdown drain are done.
    fn schedule(&self, task: Notified) {
        let me = self as *const Shared;
        let foreign = context::with_core(me, |core| match core {
            Some(core) => {
                core.push_woken(task);
                None
            }
            None => Some(task),
        });
        if let Some(task) = foreign {
            // SAFETY: `task` was idle until this wake, so it is listed and the keep-alive is
            // held (module doc); nothing of `Shared` was touched before this line.
            let _alive = unsafe { self.foreign_ref() };
            self.inject(task);
        }
    }

    /// [`strong_ref`](Self::strong_ref) for a thread off the runtime's workers; `None` only in
    /// the loom models' buggy variant (`loom_api::skip_foreign_ref`).
    ///
    /// # Safety
    /// As for `strong_ref`.
    #[inline]
    unsafe fn foreign_ref(&self) -> Option<Arc<Shared>> {
        #[cfg(loom)]
        if crate::loom_api::foreign_ref_skipped() {
            return None;
        }
        // SAFETY: forwarded from the caller.
        Some(unsafe { self.strong_ref() })
    }

    /// Pushes to the global queue of the task's class and notifies an idle worker.
    /// The caller holds a strong reference to `Shared` (a drain below may cancel the last
    /// listed task, which releases the keep-alive).
    pub(crate) fn inject(&self, task: Notified) {
        self.injector[task.priority().index()].push(task);
        self.after_global_push();
    }

    /// After a push to a global queue (an injector, `installs`): notify an idle worker, and
    /// drain if a shutdown raced the push. push; fence(SeqCst); read idle state. The fence in
    /// notify_work also orders the push before the flag read below, against the shutdown's
    /// flag store + fence + drain: either the drain sees the item or we see the flag
    /// (Dekker), so nothing is left behind in the queue.
    #[inline]
    fn after_global_push(&self) {
        self.idle.notify_work();
        if self.shutdown.load(Ordering::Relaxed) {
            self.drain_injectors();
        }
    }

    /// Queues an install sent by a worker of another runtime and notifies an idle worker; as
    /// [`inject`](Self::inject), a shutdown that raced the push drops it (the caller then
    /// sees the closure abandoned).
    pub(crate) fn push_install(&self, task: InstallTask) {
        self.installs.push(task);
        self.after_global_push();
    }

    /// The oldest queued install, if any (one `is_empty` look when there is none).
    #[inline]
    pub(crate) fn take_install(&self) -> Option<InstallTask> {
        if self.installs.is_empty() {
            return None;
        }
        queue::inject_steal_one(&self.installs)
    }

    /// True when any queue of any worker, any LIFO slot, or the injector holds work.
    pub(crate) fn has_work(&self) -> bool {
        self.has_work_near(0, self.workers.len())
    }

    /// [`has_work`](Self::has_work) for the injectors and `count` workers from `from` on
    /// (wrapping): a searcher's spin looks at a few workers per round, not all of them.
    pub(crate) fn has_work_near(&self, from: usize, count: usize) -> bool {
        let n = self.workers.len();
        self.injector.iter().any(|q| !q.is_empty())
            || !self.installs.is_empty()
            || (0..count.min(n)).any(|k| self.workers[(from + k) % n].has_work())
    }

    /// Cancels every task in the injectors, and drops every queued install unrun (its caller
    /// then panics with the shutdown message).
    pub(crate) fn drain_injectors(&self) {
        for inj in &self.injector {
            while let Some(task) = queue::inject_steal_one(inj) {
                task.cancel();
                probe_alive();
            }
        }
        while let Some(install) = queue::inject_steal_one(&self.installs) {
            drop(install);
        }
    }

    /// A task goes idle for the first time: list it in the current worker's shard.
    fn bind(&self, task: NonNull<Header>) -> bool {
        let shard = context::with_core(self, |core| match core {
            Some(core) => core.index(),
            None => self.owned.external_shard(),
        });
        self.owned.bind(task, shard, &self.shutdown)
    }

    /// Tasks spawned and not yet completed (approximate while tasks run; exact when quiet).
    pub(crate) fn live_tasks(&self) -> usize {
        let read = |c: &crate::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let spawned: u64 = self.workers.iter().map(|w| read(&w.stats.spawned)).sum::<u64>()
            + read(&self.external_spawned);
        let completed: u64 = self.workers.iter().map(|w| read(&w.stats.completed)).sum::<u64>()
            + read(&self.external_completed);
        spawned.saturating_sub(completed) as usize
    }

    /// A completing task leaves the owned list; after shutdown the last one releases the
    /// keep-alive. Off the workers the completing thread first takes a strong reference of its
    /// own (module doc, "Lifetime"), returned to be dropped once the task no longer touches
    /// `Shared`.
    #[inline]
    fn release(&self, task: NonNull<Header>) -> Option<KeepAlive> {
        let on_worker = context::with_core(self, |core| core.map(|core| core.count_completed()));
        let alive = match on_worker {
            Some(()) => None,
            None => {
                // SAFETY: the task is not yet unlisted (that is below), so if it is listed the
                // keep-alive is held; an unlisted task completes off the workers only on a
                // thread that holds a reference already (a spawner, a blocking thread, or a
                // foreign waker's drain, which took one in `schedule`).
                let alive = unsafe { self.foreign_ref() };
                self.external_completed.fetch_add(1, Ordering::Relaxed);
                alive
            }
        };
        self.owned.remove(task);
        probe_alive();
        let keepalive =
            if self.finished.load(Ordering::Acquire) { self.try_release_keepalive() } else { None };
        match alive {
            // Ours outlives the keep-alive: dropping that now cannot free `Shared`.
            Some(alive) => Some(KeepAlive { _shared: alive }),
            None => keepalive,
        }
    }

    fn try_release_keepalive(&self) -> Option<KeepAlive> {
        if self.owned.len() == 0 {
            self.keepalive.lock().take().map(|s| KeepAlive { _shared: s })
        } else {
            None
        }
    }

    /// Stops accepting work and wakes every thread. Idempotent. Step 1 of the shutdown
    /// protocol (`runtime` module doc, "Shutdown").
    pub(crate) fn begin_shutdown(&self) {
        if self.shutdown.swap(true, Ordering::AcqRel) {
            return;
        }
        // SeqCst fence: pairs with the fence in `inject` (see there).
        fence(Ordering::SeqCst);
        self.idle.unpark_all();
        self.blocking.begin_shutdown();
    }

    /// Called by each worker thread as it exits; the last one finishes the shutdown.
    pub(crate) fn worker_exited(&self) -> Option<KeepAlive> {
        let keep = if self.workers_alive.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.finish_shutdown()
        } else {
            None
        };
        drop(self.exit_lock.lock());
        self.exit_cvar.notify_all();
        keep
    }

    /// Waits until every worker exited or `deadline` passed; true if they all exited.
    pub(crate) fn wait_workers(&self, deadline: Option<std::time::Instant>) -> bool {
        let mut guard = self.exit_lock.lock();
        while self.workers_alive.load(Ordering::Acquire) > 0 {
            match deadline {
                Some(d) if std::time::Instant::now() >= d => return false,
                Some(d) => guard = self.exit_cvar.wait_until(guard, d),
                None => guard = self.exit_cvar.wait(guard),
            }
        }
        true
    }

    /// Cancels what no worker will run any more: the injectors, then every idle task (step 3
    /// of the shutdown protocol, `runtime` module doc).
    fn finish_shutdown(&self) -> Option<KeepAlive> {
        self.time.shutdown(); // pending timers' payloads may hold handles: drop them first
        self.drain_injectors();
        for task in self.owned.snapshot() {
            // SAFETY: `snapshot` gave us a ref on each task.
            unsafe {
                raw::cancel_task(task);
                Header::drop_refs(task, 1);
            }
        }
        self.drain_injectors();
        self.finished.store(true, Ordering::Release);
        self.try_release_keepalive()
    }
}

/// The loom models' use-after-free oracle: under `cfg(loom)` it panics when this `Shared` was
/// already dropped (`loom_api::ForeignWakeShutdown`), at the points where a thread that
/// reached `Shared` through a task touches it again after a cancellation or an unlisting.
#[inline(always)]
fn probe_alive() {
    #[cfg(loom)]
    crate::loom_api::assert_shared_alive();
}

#[cfg(loom)]
impl Drop for Shared {
    fn drop(&mut self) {
        crate::loom_api::shared_dropped();
    }
}
