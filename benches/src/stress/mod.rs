//! `schedbench stress`: a seeded, randomised soak of the whole runtime with exact accounting.
//!
//! A driver thread (outside the runtime) starts operations drawn from a seeded generator:
//! tasks that return, panic or are aborted; closures, blocking closures; timers set from the
//! driver and from workers, reset, cancelled or left to fire; sleeps and timeouts; Deferred
//! chains, `defer_later`, queue gets and puts, lock runs; LoopingCalls started and stopped
//! ([`ops`]). At most `window` operations are in flight; the oldest is settled (awaited,
//! cancelled or stopped) when the window is full. At each checkpoint the driver drains
//! everything and reads the heap (glibc's live bytes, `mallinfo2`), so the readings compare
//! like with like. At the end every count must balance ([`ledger`]) and the heap must not have
//! grown by more than the bound per million operations after the warm-up checkpoint.

pub mod cli;
pub mod ledger;
pub mod ops;

use crate::workloads::memory::heap_in_use;
use ledger::{count, Balance, Ledger};
use ops::{Env, Expect, InFlight, KINDS, PLANNED_PANIC};
use scheduler_core::Runtime;
use scheduler_deferred::{DeferredLock, DeferredQueue};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

/// What a soak runs.
#[derive(Debug, Clone)]
pub struct StressConfig {
    /// Seed of the operation generator (the same seed gives the same operation sequence).
    pub seed: u64,
    /// Stop after this many operations.
    pub ops: Option<u64>,
    /// Stop after this long (whichever budget ends first).
    pub seconds: Option<f64>,
    /// Worker threads of the runtime under test.
    pub workers: usize,
    /// Operations in flight at most.
    pub window: usize,
    /// Operations between checkpoints.
    pub checkpoint_every: u64,
    /// Heap growth allowed after the warm-up checkpoint, in MiB per million operations.
    pub max_growth_mib_per_million: f64,
    /// Print a line per checkpoint (stderr).
    pub verbose: bool,
}

impl Default for StressConfig {
    fn default() -> Self {
        StressConfig {
            seed: 1,
            ops: Some(1_000_000),
            seconds: None,
            workers: 2,
            window: 256,
            checkpoint_every: 100_000,
            max_growth_mib_per_million: 0.25,
            verbose: false,
        }
    }
}

/// One checkpoint: operations so far and the heap's live bytes after draining.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Operations started so far.
    pub ops: u64,
    /// Live heap bytes with nothing in flight.
    pub heap_bytes: usize,
}

/// The outcome of a soak.
#[derive(Debug, Clone)]
pub struct Report {
    /// Operations run.
    pub ops: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// The accounting.
    pub balance: Balance,
    /// The heap readings.
    pub checkpoints: Vec<Checkpoint>,
    /// Heap growth after the warm-up checkpoint, MiB per million operations (`None` with
    /// fewer than three checkpoints: nothing to compare after the warm-up).
    pub growth_mib_per_million: Option<f64>,
    /// The bound it was held to.
    pub max_growth_mib_per_million: f64,
    /// Tasks the runtime still counted live at the end (must be 0).
    pub live_tasks: usize,
}

impl Report {
    /// True when nothing was lost, nothing is left live and the heap stayed within bound.
    pub fn ok(&self) -> bool {
        self.balance.holds()
            && self.live_tasks == 0
            && self.growth_mib_per_million.is_none_or(|g| g <= self.max_growth_mib_per_million)
    }
}

/// A small, fast, seeded generator (xorshift64*).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Keeps the planned panics off stderr (other panics still print).
fn quiet_planned_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&PLANNED_PANIC) {
                previous(info);
            }
        }));
    });
}

/// Runs one soak; `tick(ops)` is called every 1,000 operations (a progress bar).
pub fn run(cfg: &StressConfig, mut tick: impl FnMut(u64)) -> Report {
    quiet_planned_panics();
    let rt = Runtime::builder().worker_threads(cfg.workers.max(1)).build().expect("runtime");
    let env = Env {
        handle: rt.handle().clone(),
        ledger: Arc::new(Ledger::default()),
        queue: Arc::new(DeferredQueue::new()),
        lock: Arc::new(DeferredLock::new()),
    };
    let mut rng = Rng(cfg.seed.max(1));
    let mut window = VecDeque::with_capacity(cfg.window + 1);
    let mut checkpoints = Vec::new();
    let started = Instant::now();
    let budget = cfg.seconds.map(Duration::from_secs_f64);
    let mut ops = 0u64;
    while cfg.ops.is_none_or(|n| ops < n) && budget.is_none_or(|b| started.elapsed() < b) {
        let r = rng.next();
        window.push_back(ops::start(&env, (r >> 40) % KINDS, r));
        ops += 1;
        if window.len() > cfg.window {
            settle(&env, window.pop_front().expect("non-empty"));
        }
        if ops % 1_000 == 0 {
            tick(ops);
        }
        if ops % cfg.checkpoint_every.max(1) == 0 {
            checkpoints.push(checkpoint(&env, &mut window, ops, cfg.verbose));
        }
    }
    if checkpoints.last().is_none_or(|c: &Checkpoint| c.ops != ops) {
        checkpoints.push(checkpoint(&env, &mut window, ops, cfg.verbose));
    }
    let live_tasks = wait_idle(&env);
    end_checks(&env);
    drop(rt);
    let growth = growth_after_warmup(&checkpoints);
    Report {
        ops,
        elapsed: started.elapsed(),
        balance: env.ledger.balance(),
        checkpoints,
        growth_mib_per_million: growth,
        max_growth_mib_per_million: cfg.max_growth_mib_per_million,
        live_tasks,
    }
}

/// Settles one operation and books its outcome.
fn settle(env: &Env, item: InFlight) {
    let l = &env.ledger;
    let h = &env.handle;
    match item {
        InFlight::Task(jh, expect) => {
            let out = h.block_on(jh);
            let planned = match (&out, expect) {
                (Ok(v), Expect::Value(want)) => *v == want,
                (Err(e), Expect::Panic) => e.is_panic(),
                (Err(e), Expect::Cancelled) => e.is_cancelled(),
                _ => false,
            };
            match out {
                Ok(_) => count(&l.tasks_completed),
                Err(e) if e.is_panic() => count(&l.tasks_panicked),
                Err(_) => count(&l.tasks_cancelled),
            }
            if !planned {
                count(&l.surprises);
            }
        }
        InFlight::Timer(call, cancel) => {
            if cancel && call.cancel().is_ok() {
                count(&l.timers_cancelled);
            }
        }
        InFlight::Deferred(d, want) => {
            if h.block_on(d).ok() != Some(want) {
                count(&l.surprises);
            }
            count(&l.deferreds_resolved);
        }
        InFlight::Loop(lc, done) => {
            if lc.stop().is_err() {
                count(&l.surprises);
            }
            match h.block_on(done) {
                Ok(_) => count(&l.loops_stopped),
                Err(_) => count(&l.surprises),
            }
        }
    }
}

/// Drains the window, waits for the timers it left to fire, and reads the heap.
fn checkpoint(env: &Env, window: &mut VecDeque<InFlight>, ops: u64, verbose: bool) -> Checkpoint {
    while let Some(item) = window.pop_front() {
        settle(env, item);
    }
    wait_for_timers(env);
    let _ = wait_idle(env);
    let cp = Checkpoint { ops, heap_bytes: heap_in_use() };
    if verbose {
        eprintln!("  ops {:>10}  heap {:>8.2} MiB", cp.ops, cp.heap_bytes as f64 / MIB);
    }
    cp
}

const MIB: f64 = 1024.0 * 1024.0;

/// Waits (bounded: 30 s) until every timer set has fired or was cancelled.
fn wait_for_timers(env: &Env) {
    let l = &env.ledger;
    let deadline = Instant::now() + Duration::from_secs(30);
    while l.timers_fired.load(Ordering::Relaxed) + l.timers_cancelled.load(Ordering::Relaxed)
        < l.timers_set.load(Ordering::Relaxed)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Waits (bounded: 10 s) until the runtime counts no live task; returns the count left.
fn wait_idle(env: &Env) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let live = env.handle.metrics().live_tasks;
        if live == 0 || Instant::now() >= deadline {
            return live;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The shared queue and lock must be back at rest.
fn end_checks(env: &Env) {
    let q = &env.queue;
    if q.pending() != 0 || q.waiting() != 0 || env.lock.is_locked() {
        count(&env.ledger.surprises);
    }
}

/// MiB per million operations between the warm-up checkpoint (the second reading; the first
/// absorbs the pools' one-time growth) and the last one.
fn growth_after_warmup(cps: &[Checkpoint]) -> Option<f64> {
    let (first, last) = (cps.get(1)?, cps.last()?);
    if cps.len() < 3 || last.ops <= first.ops {
        return None;
    }
    let grown = last.heap_bytes as f64 - first.heap_bytes as f64;
    Some((grown / MIB) / ((last.ops - first.ops) as f64 / 1e6))
}
