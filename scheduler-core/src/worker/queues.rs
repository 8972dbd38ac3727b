//! The worker's own queues: where a task or job it pushes goes (its class deque, the LIFO
//! slot, the fork-join deque, the deferred yielders) and the order it picks them in
//! (`Core::next_local`, the pick order of the module doc of `worker`).

use super::*;

impl Core {
    /// The runtime this worker belongs to.
    #[inline]
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// A task spawned on this worker: back of its class's deque, then a notification.
    #[inline]
    pub(crate) fn push_spawned(&self, task: Notified) {
        self.push_local(task);
        self.shared.idle.notify_work();
    }

    /// Back of the task's class deque (no notification).
    #[inline]
    pub(super) fn push_local(&self, task: Notified) {
        let class = task.priority().index();
        self.locals[class].push(task);
        self.mark_class(class, true);
    }

    /// Keeps `class_hint` in step with our deque of `class` (a store only on a change).
    #[inline]
    pub(super) fn mark_class(&self, class: usize, nonempty: bool) {
        let old = self.class_hint.get();
        let new = if nonempty { old | (1 << class) } else { old & !(1 << class) };
        if new != old {
            self.class_hint.set(new);
            // Relaxed: a hint; the deque's own synchronisation hands over the tasks.
            self.remote().class_hint.store(new, Ordering::Relaxed);
        }
    }

    /// A task woken by code running on this worker: into the LIFO slot; the previous occupant
    /// goes to the back of its deque (and that push notifies).
    #[inline]
    pub(crate) fn push_woken(&self, task: Notified) {
        let slot = &self.remote().lifo;
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

    /// Is there a task of a class above `class` in our own deques or the injector?
    #[inline]
    pub(super) fn higher_class_waiting(&self, class: usize) -> bool {
        (0..class).any(|c| !self.locals[c].is_empty() || !self.shared.injector[c].is_empty())
    }

    /// The next piece of work from this worker's own queues and the injector.
    pub(crate) fn next_local(&self) -> Option<Work> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick % GLOBAL_POLL_INTERVAL == 0 {
            if let Some(install) = self.shared.take_install() {
                return Some(Work::Install(install));
            }
            if let Some(t) = self.take_injector_first() {
                return Some(Work::Task(t));
            }
        }
        if let Some(t) = self.take_lifo() {
            return Some(Work::Task(t));
        }
        // `is_empty` (two loads, inline) first: `pop` is a call, and the job deque is empty
        // on almost every pick outside fork-join work.
        if !self.jobs.is_empty() {
            if let Some(job) = self.jobs.pop() {
                return Some(Work::Job(job));
            }
        }
        self.take_by_class(false).or_else(|| self.take_deferred()).map(Work::Task)
    }

    /// A task woken during its own poll (`yield_now`): to the back of its class deque, unless
    /// remote work of its class waits in the injector; then it waits in `deferred` until the
    /// injector has been seen empty (yield fairness, module doc). The common path costs one
    /// `is_empty` on the injector (two loads of lines that only remote spawns write).
    #[inline]
    pub(super) fn push_yielded(&self, task: Notified) {
        if self.shared.injector[task.priority().index()].is_empty() {
            self.push_local(task);
        } else {
            self.deferred.push(task, self.tick.get());
        }
    }

    /// Called once `take_by_class` found every class's deque and injector empty: the deferred
    /// tasks go back to their deques (stealable again) and the pick is made among them.
    #[inline]
    pub(super) fn take_deferred(&self) -> Option<Notified> {
        if self.deferred.is_empty() {
            return None;
        }
        self.release_deferred();
        self.take_by_class(false)
    }

    /// Moves every deferred task, oldest first, to the back of its class deque.
    #[cold]
    pub(super) fn release_deferred(&self) {
        for task in self.deferred.take_all() {
            self.push_local(task);
        }
    }

    /// The starvation bound of the yield fairness rule: deferred tasks that have waited a
    /// whole [`MAINTENANCE_INTERVAL`] behind a never-empty injector go back to their deques.
    pub(super) fn release_aged_deferred(&self) {
        if self.deferred.waited(self.tick.get(), MAINTENANCE_INTERVAL) {
            self.release_deferred();
        }
    }

    pub(super) fn take_lifo(&self) -> Option<Notified> {
        let slot = &self.remote().lifo;
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

    pub(super) fn take_injector_first(&self) -> Option<Notified> {
        self.take_by_class(true)
    }

    /// Walks the classes in bounded-share order: own deque then injector (or the reverse).
    #[inline(always)]
    pub(super) fn take_by_class(&self, injector_first: bool) -> Option<Notified> {
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
}
