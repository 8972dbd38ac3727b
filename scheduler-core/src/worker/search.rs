//! Looking beyond the worker's own queues: stealing fork-join jobs, tasks of a class, the
//! injector's batches and other workers' LIFO slots (`Core::steal`, at most half the workers
//! at once, see `crate::idle`), and the short spin a searcher does before it parks.

use super::*;

impl Core {
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

    pub(super) fn next_rand(&self) -> u64 {
        // xorshift64*: victim order only, quality barely matters.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Steals a batch of `class` tasks from another worker; cheap when no victim advertises
    /// tasks of that class in its `class_hint` (one load each, no fence).
    pub(super) fn steal_class(&self, class: usize) -> Option<Notified> {
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
        if let Some(install) = shared.take_install() {
            return Some(Work::Install(install));
        }
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
    pub(super) fn found_work(&self) {
        if self.searching.get()
            && self.searching.replace(false)
            && self.shared.idle.stop_searching()
        {
            self.shared.idle.notify_work();
        }
    }

    /// Before parking, the searcher (only it: at most half the workers) polls the queues for
    /// a few microseconds: a producer that spawns just after we looked then costs neither a
    /// futex wake on its side nor a park/unpark on ours. Bounded ([`SPIN_ROUNDS`]); returns
    /// true when work showed up.
    pub(super) fn spin_for_work(&self) -> bool {
        if !self.searching.get() {
            return false;
        }
        let n = self.shared.workers.len();
        let mut from = self.next_rand() as usize % n;
        for _ in 0..SPIN_ROUNDS {
            for _ in 0..SPINS_PER_ROUND {
                std::hint::spin_loop();
            }
            if self.work_showed_up(from) {
                return true;
            }
            from = (from + SPIN_LOOK_WORKERS) % n;
        }
        // The last awake worker waits for work from outside: it stays a little longer, so a
        // producer that comes back soon (a request loop, a thread feeding chains of tasks)
        // needs no wake-up on either side. Yielding, so it gives way to any runnable thread;
        // not when one of its timers is due within the window (its park wakes on time).
        if !self.shared.idle.only_one_awake() || self.timer_due_within(LAST_AWAKE_WINDOW) {
            return false;
        }
        for _ in 0..LAST_AWAKE_YIELDS {
            if !self.shared.idle.only_one_awake() {
                break;
            }
            std::thread::yield_now();
            if self.work_showed_up(from) {
                return true;
            }
        }
        false
    }

    /// One look of the spin: work in the injectors or near worker `from`, or a shutdown.
    #[inline]
    fn work_showed_up(&self, from: usize) -> bool {
        self.shared.has_work_near(from, SPIN_LOOK_WORKERS) || self.shared.is_shutdown()
    }

    /// Is one of this worker's timers due within `window`?
    fn timer_due_within(&self, window: std::time::Duration) -> bool {
        self.shared.time.park_deadline(self.index).is_some_and(|d| d <= Instant::now() + window)
    }
}
