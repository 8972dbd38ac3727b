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
//! microseconds ([`SPIN_ROUNDS`]), and finally the worker runs the maintenance step and parks.
//!
//! Wake-ups are batched: a task pushed by `spawn` posts a notification (one `SeqCst` fence),
//! a task re-queued by `yield_now` does not (this worker will run it); the maintenance step
//! (every [`MAINTENANCE_INTERVAL`] ticks) wakes a sleeper if the local queues hold more than
//! one task and nobody searches.

use crate::context::{self, Context};
use crate::deferred_yields::DeferredYields;
use crate::forkjoin::JobRef;
use crate::priority::{ClassPicker, CLASSES};
use crate::queue::{self, Local};
use crate::runtime::{run_hook, run_wrapped, Handle, KeepAlive, Shared, StartLatch};
use crate::sync::atomic::Ordering;
use crate::sync::Arc;
use crate::task::{Notified, RunOutcome};
use crate::time::driver::Horizon;
use std::cell::Cell;
use std::time::Instant;

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
            shared,
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
        }
    }

    /// This worker's index (0..workers).
    #[inline]
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// A task spawned on this worker: back of its class's deque, then a notification.
    #[inline]
    pub(crate) fn push_spawned(&self, task: Notified) {
        self.push_local(task);
        self.shared.idle.notify_work();
    }

    /// Back of the task's class deque (no notification).
    #[inline]
    fn push_local(&self, task: Notified) {
        let class = task.priority().index();
        self.locals[class].push(task);
        self.mark_class(class, true);
    }

    /// Keeps `class_hint` in step with our deque of `class` (a store only on a change).
    #[inline]
    fn mark_class(&self, class: usize, nonempty: bool) {
        let old = self.class_hint.get();
        let new = if nonempty { old | (1 << class) } else { old & !(1 << class) };
        if new != old {
            self.class_hint.set(new);
            // Relaxed: a hint; the deque's own synchronisation hands over the tasks.
            self.shared.workers[self.index].class_hint.store(new, Ordering::Relaxed);
        }
    }

    /// A task woken by code running on this worker: into the LIFO slot; the previous occupant
    /// goes to the back of its deque (and that push notifies).
    #[inline]
    pub(crate) fn push_woken(&self, task: Notified) {
        let slot = &self.shared.workers[self.index].lifo;
        if let Some(prev) = slot.put(task.into_raw()) {
            // SAFETY: only `Notified::into_raw` pointers enter the slot.
            let prev = unsafe { Notified::from_raw(prev) };
            self.push_spawned(prev);
        }
    }

    /// A fork-join job for this worker's job deque.
    #[inline]
    pub(crate) fn push_job(&self, job: JobRef) {
        self.jobs.push(job);
        // Fence-free: a missed wake-up only costs parallelism, since the pusher runs or waits
        // for its own job; so no SeqCst fence on the join fast path.
        if self.shared.idle.wants_worker() {
            self.shared.idle.notify_work();
        }
    }

    /// Pops this worker's newest fork-join job.
    #[inline]
    pub(crate) fn pop_job(&self) -> Option<JobRef> {
        self.jobs.pop()
    }

    /// Steals a fork-join job from another worker (used while a `join` waits).
    pub(crate) fn steal_job(&self) -> Option<JobRef> {
        let n = self.shared.workers.len();
        let start = self.next_rand() as usize % n;
        for k in 0..n {
            let v = (start + k) % n;
            if v == self.index {
                continue;
            }
            if let Some(job) = queue::steal_one(&self.shared.workers[v].jobs) {
                self.count_steal(v);
                return Some(job);
            }
        }
        None
    }

    fn next_rand(&self) -> u64 {
        // xorshift64*: victim order only, quality barely matters.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn stats(&self) -> &crate::metrics::WorkerStats {
        &self.shared.workers[self.index].stats
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

    fn count_steal(&self, victim: usize) {
        let stats = self.stats();
        crate::metrics::bump(&stats.steals);
        // Relaxed: a counter; several thieves may add at once, hence the RMW.
        self.shared.workers[victim].stats.stolen_from.fetch_add(1, Ordering::Relaxed);
    }

    /// Is there a task of a class above `class` in our own deques or the injector?
    #[inline]
    fn higher_class_waiting(&self, class: usize) -> bool {
        (0..class).any(|c| !self.locals[c].is_empty() || !self.shared.injector[c].is_empty())
    }

    /// The next piece of work from this worker's own queues and the injector.
    pub(crate) fn next_local(&self) -> Option<Work> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick % GLOBAL_POLL_INTERVAL == 0 {
            if let Some(t) = self.take_injector_first() {
                return Some(Work::Task(t));
            }
        }
        if let Some(t) = self.take_lifo() {
            return Some(Work::Task(t));
        }
        if let Some(job) = self.jobs.pop() {
            return Some(Work::Job(job));
        }
        self.take_by_class(false).or_else(|| self.take_deferred()).map(Work::Task)
    }

    /// A task woken during its own poll (`yield_now`): to the back of its class deque, unless
    /// remote work of its class waits in the injector; then it waits in `deferred` until the
    /// injector has been seen empty (yield fairness, module doc). The common path costs one
    /// `is_empty` on the injector (two loads of lines that only remote spawns write).
    #[inline]
    fn push_yielded(&self, task: Notified) {
        if self.shared.injector[task.priority().index()].is_empty() {
            self.push_local(task);
        } else {
            self.deferred.push(task, self.tick.get());
        }
    }

    /// Called once `take_by_class` found every class's deque and injector empty: the deferred
    /// tasks go back to their deques (stealable again) and the pick is made among them.
    #[inline]
    fn take_deferred(&self) -> Option<Notified> {
        if self.deferred.is_empty() {
            return None;
        }
        self.release_deferred();
        self.take_by_class(false)
    }

    /// Moves every deferred task, oldest first, to the back of its class deque.
    #[cold]
    fn release_deferred(&self) {
        for task in self.deferred.take_all() {
            self.push_local(task);
        }
    }

    /// The starvation bound of the yield fairness rule: deferred tasks that have waited a
    /// whole [`MAINTENANCE_INTERVAL`] behind a never-empty injector go back to their deques.
    fn release_aged_deferred(&self) {
        if self.deferred.waited(self.tick.get(), MAINTENANCE_INTERVAL) {
            self.release_deferred();
        }
    }

    fn take_lifo(&self) -> Option<Notified> {
        let slot = &self.shared.workers[self.index].lifo;
        let raw = slot.take()?;
        // SAFETY: only `Notified::into_raw` pointers enter the slot.
        let task = unsafe { Notified::from_raw(raw) };
        let streak = self.lifo_streak.get();
        let class = task.priority().index();
        if streak >= LIFO_CAP || self.higher_class_waiting(class) {
            // Cap reached (or a higher class waits): the occupant goes behind the others.
            self.lifo_streak.set(0);
            self.push_local(task);
            return None;
        }
        self.lifo_streak.set(streak + 1);
        Some(task)
    }

    fn take_injector_first(&self) -> Option<Notified> {
        self.take_by_class(true)
    }

    /// Walks the classes in bounded-share order: own deque then injector (or the reverse).
    #[inline]
    fn take_by_class(&self, injector_first: bool) -> Option<Notified> {
        let order = self.picker.get().order();
        for (rank, class) in order.into_iter().enumerate() {
            let local = &self.locals[class];
            let inj = &self.shared.injector[class];
            // `is_empty` (two loads) first: an empty injector's `steal_batch` costs ~70
            // instructions, paid on every pick for each class above the one with work.
            let from_inj = || {
                if inj.is_empty() {
                    return None;
                }
                let t = queue::inject_steal_batch(inj, local);
                if t.is_some() {
                    self.mark_class(class, true); // the rest of the batch
                }
                t
            };
            let pop_local = || {
                // A clear hint bit means the deque is empty (only this worker pushes to it,
                // and every push sets the bit): skip the pop.
                if self.class_hint.get() & (1 << class) == 0 {
                    return None;
                }
                let t = local.pop();
                if t.is_none() {
                    self.mark_class(class, false);
                }
                t
            };
            let mut found = if injector_first {
                from_inj().or_else(pop_local)
            } else {
                pop_local().or_else(from_inj)
            };
            if found.is_none() && rank + 1 < CLASSES {
                // Priority holds across workers: before a lower class runs here, take this
                // class's work from another worker's deque.
                found = self.steal_class(class);
            }
            if let Some(task) = found {
                self.lifo_streak.set(0);
                return Some(task);
            }
        }
        None
    }

    /// Steals a batch of `class` tasks from another worker; cheap when no victim advertises
    /// tasks of that class in its `class_hint` (one load each, no fence).
    fn steal_class(&self, class: usize) -> Option<Notified> {
        let workers = &self.shared.workers;
        let n = workers.len();
        for k in 1..n {
            let v = (self.index + k) % n;
            // One Relaxed load of a line that changes only when that deque empties or refills.
            if workers[v].class_hint.load(Ordering::Relaxed) & (1 << class) == 0 {
                continue;
            }
            if let Some(t) = queue::steal_batch(&workers[v].stealers[class], &self.locals[class]) {
                self.mark_class(class, true);
                self.count_steal(v);
                return Some(t);
            }
        }
        None
    }

    /// Searches other workers: per class the injector, then their deques (random victim
    /// order); then their fork-join jobs; then their LIFO slots. Refused (None) when half the
    /// workers already search.
    pub(crate) fn steal(&self) -> Option<Work> {
        if !self.searching.get() {
            if !self.shared.idle.try_start_searching() {
                return None;
            }
            self.searching.set(true);
        }
        let shared = &*self.shared;
        let n = shared.workers.len();
        let start = self.next_rand() as usize % n;
        let victims = (0..n).map(|k| (start + k) % n).filter(|&v| v != self.index);
        if let Some(job) = self.steal_job() {
            return Some(Work::Job(job));
        }
        for class in 0..CLASSES {
            if let Some(t) = queue::inject_steal_batch(&shared.injector[class], &self.locals[class])
            {
                self.mark_class(class, true);
                return Some(Work::Task(t));
            }
            for v in victims.clone() {
                let remote = &shared.workers[v].stealers[class];
                if let Some(t) = queue::steal_batch(remote, &self.locals[class]) {
                    self.mark_class(class, true);
                    self.count_steal(v);
                    return Some(Work::Task(t));
                }
            }
        }
        for v in victims {
            if let Some(raw) = shared.workers[v].lifo.take() {
                self.count_steal(v);
                // SAFETY: only `Notified::into_raw` pointers enter a slot.
                return Some(Work::Task(unsafe { Notified::from_raw(raw) }));
            }
        }
        None
    }

    /// Leaves the searching state after finding work; the last searcher wakes one more.
    #[inline]
    fn found_work(&self) {
        if self.searching.get()
            && self.searching.replace(false)
            && self.shared.idle.stop_searching()
        {
            self.shared.idle.notify_work();
        }
    }

    fn run(&self, work: Work) {
        match work {
            Work::Job(job) => {
                // SAFETY: a job in a deque is alive until executed (see `forkjoin`).
                unsafe { job.execute() }
            }
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

    /// Before parking, the searcher (only it: at most half the workers) polls the queues for
    /// a few microseconds: a producer that spawns just after we looked then costs neither a
    /// futex wake on its side nor a park/unpark on ours. Bounded ([`SPIN_ROUNDS`]); returns
    /// true when work showed up.
    fn spin_for_work(&self) -> bool {
        if !self.searching.get() {
            return false;
        }
        let n = self.shared.workers.len();
        let mut from = self.next_rand() as usize % n;
        for _ in 0..SPIN_ROUNDS {
            for _ in 0..SPINS_PER_ROUND {
                std::hint::spin_loop();
            }
            if self.shared.has_work_near(from, SPIN_LOOK_WORKERS) || self.shared.is_shutdown() {
                return true;
            }
            from = (from + SPIN_LOOK_WORKERS) % n;
        }
        false
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
        let slot = &self.shared.workers[self.index].lifo;
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
    /// left in the LIFO slot, the deques and the deferred list.
    fn drain(&self) {
        let slot = &self.shared.workers[self.index].lifo;
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
