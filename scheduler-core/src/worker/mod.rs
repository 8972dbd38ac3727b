//! A worker thread: its private queues ([`Core`]) and its scheduling loop.
//!
//! Each worker owns one FIFO deque per priority class, a LIFO deque of fork-join jobs, and a
//! LIFO slot (see [`crate::lifo`]). It picks work in this order (`Core::next_local`):
//!
//! 1. every [`GLOBAL_POLL_INTERVAL`] ticks, the injector before its own queues (so the global
//!    queue never starves behind a busy local queue);
//! 2. the LIFO slot, at most [`LIFO_CAP`] times in a row, and only if no higher class waits;
//! 3. its fork-join jobs (the continuation of a `join`/`scope` frame);
//! 4. per class in the bounded-share order of [`crate::priority`]: its own deque, then the
//!    injector of that class (a batch moves into the local deque), then, before going on to
//!    a lower class, other workers' deques of that class (so priority holds across workers).
//!
//! 5. its deferred yielders (below), once everything above came up empty.
//!
//! **Yield fairness.** A task woken during its own poll (`yield_now`) goes to the back of its
//! class deque, unless its class's injector holds remote work at that moment: then it waits
//! in the worker's private `deferred` list, which goes back to the deques only when step 4
//! found every class's deque and injector empty. So a yielder does not run again before the
//! remote spawns that were queued when it yielded, whatever the local deques hold (tokio
//! defers a yielded task behind its global queue the same way); other classes' work keeps
//! the order of [`crate::priority`]. Starvation bound: deferred tasks that waited a whole
//! [`MAINTENANCE_INTERVAL`] behind an injector that never empties go back to their deques at
//! the next maintenance step. When the injector is empty a yield costs what it did before,
//! plus that one `is_empty` look.
//!
//! When all that is empty it searches (`Core::steal`), at most half the workers at once
//! ([`crate::idle`]): per class, the injector then other workers' deques in random victim
//! order, and last other workers' LIFO slots. Then the searcher polls the queues for a few
//! microseconds ([`SPIN_ROUNDS`]); the last awake worker, when none of its timers is due
//! soon, also yields and polls for about ten more ([`LAST_AWAKE_YIELDS`]), since its work
//! can only come from outside; and finally the worker runs the maintenance step and parks.
//!
//! Wake-ups are batched: a task pushed by `spawn` posts a notification (one `SeqCst` fence),
//! a task re-queued by `yield_now` does not (this worker will run it); the maintenance step
//! (every [`MAINTENANCE_INTERVAL`] ticks) wakes a sleeper if the local queues hold more than
//! one task and nobody searches.

use crate::context::{self, Context};
use crate::deferred_yields::DeferredYields;
use crate::forkjoin::JobRef;
use crate::install::InstallTask;
use crate::priority::{ClassPicker, CLASSES};
use crate::queue::{self, Local};
use crate::runtime::{run_hook, run_wrapped, Handle, KeepAlive, Shared, StartLatch, WorkerRemote};
use crate::sync::atomic::Ordering;
use crate::sync::Arc;
use crate::task::{Notified, RunOutcome};
use crate::time::driver::Horizon;
use std::cell::Cell;
use std::ptr::NonNull;
use std::time::Instant;

mod frames;
mod queues;
mod search;

/// Ticks between two looks at the injector ahead of the local queues (Go and tokio use 61).
#[cfg(not(loom))]
pub(crate) const GLOBAL_POLL_INTERVAL: u32 = 61;
/// Shrunk under loom so a model reaches the global check within a few steps.
#[cfg(loom)]
pub(crate) const GLOBAL_POLL_INTERVAL: u32 = 4;

/// Ticks between two maintenance steps (also run before parking).
#[cfg(not(loom))]
pub(crate) const MAINTENANCE_INTERVAL: u32 = 61;
/// Shrunk under loom, as above.
#[cfg(loom)]
pub(crate) const MAINTENANCE_INTERVAL: u32 = 4;

/// Rounds of [`SPINS_PER_ROUND`] spin hints the searcher polls the queues for before it parks
/// (about 3 µs on the 2-core CI machine, where one hint is ~25 ns).
pub(crate) const SPIN_ROUNDS: u32 = 16;

/// Spin hints between two looks at the queues while spinning.
pub(crate) const SPINS_PER_ROUND: u32 = 8;

/// Yields the last awake worker adds to its spin before it parks (about 10 us on the CI
/// machine, where a yield with nothing else to run costs ~145 ns). Enough for a thread that
/// feeds the runtime chains of work to come back before the worker parks (chained_spawn_fn:
/// 126 -> 63 ns per spawn); with 128 or 256, a burst of remote spawns into an idle runtime
/// (spawn_many_remote_idle) lost a third of its speed, the searching spinner holding back the
/// wake-up of the second worker.
#[cfg(not(loom))]
pub(crate) const LAST_AWAKE_YIELDS: u32 = 64;
/// None under loom: the models' schedules stay short.
#[cfg(loom)]
pub(crate) const LAST_AWAKE_YIELDS: u32 = 0;

/// The last awake worker skips those yields when one of its timers is due sooner than this.
pub(crate) const LAST_AWAKE_WINDOW: std::time::Duration = std::time::Duration::from_micros(200);

/// Workers whose queues one spin round looks at (besides the injectors), in turn: a look at
/// every queue of a 4,096-worker runtime costs ~20,000 loads per round, and a few thousand
/// searchers spinning at start-up made `build` take minutes on 2 cores.
pub(crate) const SPIN_LOOK_WORKERS: usize = 8;

/// Consecutive runs from the LIFO slot before its occupant goes to the back of the queue.
pub(crate) const LIFO_CAP: u32 = 3;

/// One unit of work.
#[derive(Debug)]
pub(crate) enum Work {
    Task(Notified),
    Job(JobRef),
    /// An `install` sent by a worker of another runtime (`Shared::installs`).
    Install(InstallTask),
}

/// The private part of a worker, reachable only from its own thread.
#[derive(Debug)]
pub(crate) struct Core {
    index: usize,
    shared: Arc<Shared>,
    locals: [Local<Notified>; CLASSES],
    jobs: Local<JobRef>,
    picker: Cell<ClassPicker>,
    tick: Cell<u32>,
    lifo_streak: Cell<u32>,
    rng: Cell<u64>,
    searching: Cell<bool>,
    /// The owner's copy of `WorkerRemote::class_hint`.
    class_hint: Cell<usize>,
    /// Tasks that yielded while remote work of their class waited in the injector (the
    /// yield fairness rule, module doc).
    deferred: DeferredYields,
    /// The `join` frames running on this worker (`crate::join_frames`).
    frames: crate::join_frames::JoinFrames,
    /// `&shared.workers[index]`, cached: the hot paths (counters, LIFO slot, class hint)
    /// reach it with one load instead of an `Arc` deref, a bounds check and an index.
    remote: NonNull<WorkerRemote>,
}

impl Core {
    pub(crate) fn new(
        index: usize,
        shared: Arc<Shared>,
        locals: [Local<Notified>; CLASSES],
        jobs: Local<JobRef>,
    ) -> Core {
        Core {
            index,
            locals,
            jobs,
            picker: Cell::new(ClassPicker::default()),
            tick: Cell::new(0),
            lifo_streak: Cell::new(0),
            rng: Cell::new(
                0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
            ),
            searching: Cell::new(false),
            class_hint: Cell::new(0),
            deferred: DeferredYields::default(),
            frames: Default::default(),
            remote: NonNull::from(&shared.workers[index]),
            shared,
        }
    }

    /// This worker's index (0..workers).
    #[inline]
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// The parker this worker naps on while it waits in a `join` or `scope`.
    #[inline]
    pub(crate) fn nap_parker(&self) -> &crate::idle::Parker {
        &self.remote().nap
    }

    /// What other threads may touch of this worker: its entry of `shared.workers`.
    #[inline]
    pub(super) fn remote(&self) -> &WorkerRemote {
        // SAFETY: `remote` points into `shared.workers`, a boxed slice that `shared` (an `Arc`
        // this core holds) keeps alive and never reallocates.
        unsafe { self.remote.as_ref() }
    }

    #[inline]
    pub(super) fn stats(&self) -> &crate::metrics::WorkerStats {
        &self.remote().stats
    }

    /// Counts a task spawned from this worker.
    #[inline]
    pub(crate) fn count_spawned(&self) {
        crate::metrics::bump(&self.stats().spawned);
    }

    /// Counts a task completed on this worker.
    #[inline]
    pub(crate) fn count_completed(&self) {
        crate::metrics::bump(&self.stats().completed);
    }

    /// Counts a caught task panic on this worker.
    pub(crate) fn count_panic(&self) {
        crate::metrics::bump(&self.stats().panics);
    }

    pub(super) fn count_steal(&self, victim: usize) {
        let stats = self.stats();
        crate::metrics::bump(&stats.steals);
        // Relaxed: a counter; several thieves may add at once, hence the RMW.
        self.shared.workers[victim].stats.stolen_from.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn run(&self, work: Work) {
        match work {
            Work::Job(job) => {
                // SAFETY: a job in a deque is alive until executed (see `forkjoin`).
                unsafe { job.execute() }
            }
            Work::Install(install) => install.run_now(),
            Work::Task(task) => {
                crate::metrics::bump(&self.stats().polls);
                // The bounded-share rule counts every task this worker runs, however it got it
                // (own deque, injector, LIFO slot, or stolen).
                let mut picker = self.picker.get();
                picker.picked(task.priority().index());
                self.picker.set(picker);
                match task.run() {
                    RunOutcome::Idle => {}
                    RunOutcome::Yielded(task) => self.push_yielded(task),
                    RunOutcome::Done => {}
                }
            }
        }
    }

    /// The maintenance step: runs every `MAINTENANCE_INTERVAL` ticks and before parking
    /// (with `Horizon::LastGridPoint`, see there). Per-worker extra work (the timer wheel's
    /// expiry, for instance) belongs here. Returns how many timers it fired.
    pub(crate) fn maintenance(&self, horizon: Horizon) -> usize {
        let queued: usize = self.locals.iter().map(Local::len).sum();
        if queued > 1 && self.shared.idle.wants_worker() {
            self.shared.idle.notify_work();
        }
        let shared = &*self.shared;
        let fired =
            shared.time.maintain(self.index, horizon, |p| crate::time::driver::dispatch(shared, p));
        if fired > 0 {
            crate::metrics::add(&self.stats().timers_fired, fired as u64);
        }
        fired
    }

    /// The deadline a parked worker must wake at (its next timer), if any. Timer hook.
    pub(crate) fn park_deadline(&self) -> Option<Instant> {
        // Timers fired by the maintenance step just before parking may have queued work here
        // (a woken task sits in the LIFO slot without a notification): do not sleep on it.
        let slot = &self.remote().lifo;
        if slot.is_occupied()
            || self.locals.iter().any(|l| !l.is_empty())
            || !self.deferred.is_empty()
        {
            return Some(Instant::now());
        }
        self.shared.time.park_deadline(self.index)
    }

    /// The scheduling loop; returns at shutdown.
    fn run_loop(&self) {
        let shared = &*self.shared;
        loop {
            if shared.is_shutdown() {
                break;
            }
            if self.tick.get() % MAINTENANCE_INTERVAL == 0 {
                self.maintenance(Horizon::Now);
                self.release_aged_deferred();
            }
            if let Some(work) = self.next_local() {
                // A worker woken as a searcher may find its work here (the injector): it must
                // leave the searching state, or no one else would ever be woken.
                self.found_work();
                self.run(work);
                continue;
            }
            if let Some(work) = self.steal() {
                self.found_work();
                self.run(work);
                continue;
            }
            if self.spin_for_work() {
                continue;
            }
            if self.maintenance(Horizon::LastGridPoint) > 0 {
                continue; // fired timers may have queued work here: run it before parking
            }
            if shared.is_shutdown() {
                break;
            }
            // Counted before it blocks, so a worker parked for good shows its park.
            crate::metrics::bump(&self.stats().parks);
            let woken = shared.idle.park_worker(
                self.index,
                self.searching.get(),
                || shared.has_work() || shared.is_shutdown(),
                self.park_deadline(),
            );
            self.searching.set(woken == crate::idle::Woken::Notified);
        }
        if self.searching.replace(false) {
            let _ = shared.idle.stop_searching();
        }
    }

    /// At exit: finish the fork-join jobs (they belong to running frames), cancel every task
    /// left in the LIFO slot, the deques and the deferred list (step 2 of the shutdown
    /// protocol, `runtime` module doc).
    fn drain(&self) {
        let slot = &self.remote().lifo;
        loop {
            let mut any = false;
            for task in self.deferred.take_all() {
                any = true;
                task.cancel();
            }
            while let Some(job) = self.jobs.pop() {
                any = true;
                // SAFETY: a job in a deque is alive until executed.
                unsafe { job.execute() }
            }
            if let Some(raw) = slot.take() {
                any = true;
                // SAFETY: only `Notified::into_raw` pointers enter the slot.
                unsafe { Notified::from_raw(raw) }.cancel();
            }
            for local in &self.locals {
                while let Some(task) = local.pop() {
                    any = true;
                    task.cancel();
                }
            }
            if !any {
                break;
            }
        }
    }
}

/// Worker thread `index`: its body, inside the thread wrapper if one is set. A wrapper that
/// never runs the body fails the start (`build` returns the error) and the worker exits.
pub(crate) fn run_worker(
    handle: Handle,
    latch: Arc<StartLatch>,
    index: usize,
    locals: [Local<Notified>; CLASSES],
    jobs: Local<JobRef>,
) {
    let shared = handle.shared.clone();
    let report = latch.clone();
    let body = move || worker_body(handle, latch, index, locals, jobs);
    if let Err((why, unrun)) = run_wrapped(shared.config.wrap_threads.as_ref(), body) {
        drop(unrun);
        report.report(Err(format!("wrap_threads {why}")));
        shared.begin_shutdown();
        drop(shared.worker_exited());
    }
}

/// The life of a worker thread: start hook, loop, drain, exit.
fn worker_body(
    handle: Handle,
    latch: Arc<StartLatch>,
    index: usize,
    locals: [Local<Notified>; CLASSES],
    jobs: Local<JobRef>,
) {
    let shared = handle.shared.clone();
    let started = run_hook(shared.config.on_thread_start.as_ref());
    let hook_ok = started.is_ok();
    // `build` fails (and shuts down) if any worker's hook panicked.
    latch.report(started.map_err(|msg| format!("on_thread_start panicked: {msg}")));
    drop(latch);
    if hook_ok {
        context::mark_worker_thread(); // from here on `block_on` refuses to block this thread
        let ctx = Context {
            shared: &*shared as *const Shared,
            handle,
            core: Some(Core::new(index, shared.clone(), locals, jobs)),
        };
        let _guard = context::enter(&ctx);
        let _worker = context::set_worker(&ctx);
        if let Some(core) = ctx.core.as_ref() {
            core.run_loop();
            core.drain();
        }
    } else {
        shared.begin_shutdown(); // `build` returns the error; nothing ran on this runtime
    }
    // Outside the worker context: wake-ups caused by the final cancellations go through the
    // injector (which, after shutdown, cancels them) instead of this worker's LIFO slot.
    let keep: Option<KeepAlive> = shared.worker_exited();
    if run_hook(shared.config.on_thread_stop.as_ref()).is_err() {
        shared.blocking.count_panic(); // contained: the runtime's drop still returns
    }
    drop(keep);
}
