//! Runtime metrics: per-worker counters and global gauges.
//!
//! Per-worker counters live in a cache-padded [`WorkerStats`] that only its worker writes, with
//! a plain `load` + `store` (no read-modify-write, no shared cache line on the hot path); other
//! threads read them with `Relaxed` loads, so a reading may lag by a few events. The one
//! exception is "stolen from", which the thieves add to the victim's counter with a
//! `fetch_add` (a steal already touched the victim's deque; a per-pair table instead cost
//! `workers^2` counters: 128 MiB at 4,096 workers).

use crate::sync::atomic::{AtomicU64, Ordering};

/// Counters of one worker, written by that worker only.
#[derive(Debug)]
pub(crate) struct WorkerStats {
    pub(crate) polls: AtomicU64,
    pub(crate) steals: AtomicU64,
    /// Tasks and jobs other workers stole from this one (written by the thieves, `fetch_add`).
    pub(crate) stolen_from: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) panics: AtomicU64,
    /// Timers this worker's maintenance passes fired (its own shard's and stolen ones).
    pub(crate) timers_fired: AtomicU64,
    /// Tasks spawned from / completed on this worker (live tasks = spawned - completed).
    pub(crate) spawned: AtomicU64,
    pub(crate) completed: AtomicU64,
}

impl WorkerStats {
    pub(crate) fn new() -> WorkerStats {
        WorkerStats {
            polls: AtomicU64::new(0),
            steals: AtomicU64::new(0),
            stolen_from: AtomicU64::new(0),
            parks: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            timers_fired: AtomicU64::new(0),
            spawned: AtomicU64::new(0),
            completed: AtomicU64::new(0),
        }
    }
}

/// Adds one to a counter that only the calling thread writes (no RMW).
#[inline]
pub(crate) fn bump(counter: &AtomicU64) {
    add(counter, 1);
}

/// Adds `n` to a counter that only the calling thread writes (no RMW).
#[inline]
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    // Relaxed: single writer; readers only need an eventually-current value.
    counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

pub(crate) fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// A snapshot of one worker's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Task polls this worker ran.
    pub polls: u64,
    /// Tasks and fork-join jobs this worker stole from other workers.
    pub steals: u64,
    /// Tasks and fork-join jobs other workers stole from this one.
    pub stolen_from: u64,
    /// Times this worker parked.
    pub parks: u64,
    /// Task panics caught on this worker.
    pub panics: u64,
    /// Timers this worker fired: its own shard's, and other shards' overdue ones it stole.
    /// Timers fired by [`Handle::advance`](crate::Handle::advance) on a manual clock run on
    /// the calling thread and are not counted here.
    pub timers_fired: u64,
    /// Tasks waiting in this worker's deques (all classes) and LIFO slot.
    pub local_queue_depth: usize,
}

/// A snapshot of a runtime's metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// One entry per worker, by index.
    pub workers: Vec<WorkerMetrics>,
    /// Tasks waiting in the global injector (all classes).
    pub injector_depth: usize,
    /// Spawned tasks (including blocking ones) that have not completed yet.
    pub live_tasks: usize,
    /// Task panics caught, on workers and in the blocking pool.
    pub panics: u64,
    /// Threads currently in the blocking pool.
    pub blocking_threads: usize,
    /// Blocking-pool threads waiting for work (they exit after the pool's keep-alive).
    pub blocking_idle_threads: usize,
    /// Blocking tasks waiting for a thread.
    pub blocking_queue_depth: usize,
}

impl RuntimeMetrics {
    /// Total polls over all workers.
    pub fn total_polls(&self) -> u64 {
        self.workers.iter().map(|w| w.polls).sum()
    }

    /// Total steals over all workers.
    pub fn total_steals(&self) -> u64 {
        self.workers.iter().map(|w| w.steals).sum()
    }
}

pub(crate) fn collect(shared: &crate::runtime::Shared) -> RuntimeMetrics {
    let workers: Vec<WorkerMetrics> = shared
        .workers
        .iter()
        .map(|w| WorkerMetrics {
            polls: read(&w.stats.polls),
            steals: read(&w.stats.steals),
            stolen_from: read(&w.stats.stolen_from),
            parks: read(&w.stats.parks),
            panics: read(&w.stats.panics),
            timers_fired: read(&w.stats.timers_fired),
            local_queue_depth: w.stealers.iter().map(|s| s.len()).sum::<usize>()
                + usize::from(w.lifo.is_occupied()),
        })
        .collect();
    let worker_panics: u64 = workers.iter().map(|w| w.panics).sum();
    RuntimeMetrics {
        injector_depth: shared.injector.iter().map(|q| q.len()).sum(),
        live_tasks: shared.live_tasks(),
        panics: worker_panics + shared.blocking.panics(),
        blocking_threads: shared.blocking.threads(),
        blocking_idle_threads: shared.blocking.idle_threads(),
        blocking_queue_depth: shared.blocking.queue_depth(),
        workers,
    }
}
