//! Workloads of the executor crate: spawn, fork-join, yield, ping-pong, priority latency,
//! parallel speed-up. Every runtime is built before the timed part starts; tokio is a
//! multi-thread runtime with `worker_threads(workers)` and no I/O or time driver, rayon a
//! `ThreadPool` with `num_threads(workers)`.

use crate::{Latency, RunConfig, Sample, System, Target, Unit, Workload};
use scheduler_core::{Handle, Priority, Runtime};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

mod fork_join;
mod priority;
mod spawn;
mod tasks;

use fork_join::*;
use priority::*;
use spawn::*;
use tasks::*;

/// The executor workloads of benches/README.md.
pub fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "spawn_external",
            unit: Unit::NsPerOp,
            target: Target::RatioToBestPeer(0.5),
            full_n: 1_000_000,
            default_n: 200_000,
            quick_n: 20_000,
            systems: vec![
                System { name: "ours", run: spawn_external_ours },
                System { name: "tokio", run: spawn_external_tokio },
                System { name: "rayon", run: spawn_external_rayon },
            ],
        },
        Workload {
            name: "spawn_internal",
            unit: Unit::NsPerOp,
            target: Target::RatioToBestPeer(0.3),
            full_n: 1_000_000,
            default_n: 200_000,
            quick_n: 20_000,
            systems: vec![
                System { name: "ours", run: spawn_internal_ours },
                System { name: "tokio", run: spawn_internal_tokio },
                System { name: "rayon", run: spawn_internal_rayon },
            ],
        },
        Workload {
            name: "fib30_join",
            unit: Unit::NsPerOp,
            target: Target::RatioToBestPeer(1.0),
            // n is fib's argument: ns per join over fib(n+1) - 1 joins (1,346,268 for 30).
            full_n: 30,
            default_n: 25,
            quick_n: 20,
            systems: vec![
                System { name: "ours", run: fib_ours },
                System { name: "rayon", run: fib_rayon },
            ],
        },
        Workload {
            // The serial floor of fib30_join, in its own row so that it is not taken as the
            // "best peer" of fib30_join (the report treats every non-ours system as a peer).
            // serial ns/join divided by ours is our parallel efficiency.
            name: "fib30_serial",
            unit: Unit::NsPerOp,
            target: Target::RatioToBestPeer(1.0),
            full_n: 30,
            default_n: 25,
            quick_n: 20,
            systems: vec![System { name: "std", run: fib_serial_run }],
        },
        Workload {
            name: "yield_many",
            unit: Unit::NsPerOp,
            target: Target::RatioToBestPeer(0.8),
            // n = total yields: 1,000 tasks x n/1,000 yields each.
            full_n: 1_000_000,
            default_n: 300_000,
            quick_n: 50_000,
            systems: vec![
                System { name: "ours", run: yield_many_ours },
                System { name: "tokio", run: yield_many_tokio },
            ],
        },
        Workload {
            name: "ping_pong",
            unit: Unit::NsPerOp,
            target: Target::RatioToBestPeer(0.5),
            full_n: 100_000,
            default_n: 50_000,
            quick_n: 10_000,
            systems: vec![
                System { name: "ours", run: ping_pong_ours },
                System { name: "tokio", run: ping_pong_tokio },
            ],
        },
        Workload {
            name: "priority_latency",
            unit: Unit::Micros,
            target: Target::AtMost(40.0),
            // n = number of High tasks sampled, one per millisecond.
            full_n: 1_000,
            default_n: 300,
            quick_n: 50,
            systems: vec![
                System { name: "ours", run: priority_latency_ours },
                System { name: "tokio", run: priority_latency_tokio },
            ],
        },
        Workload {
            name: "parallel_speedup",
            unit: Unit::Speedup,
            target: Target::AtLeast(1.9),
            // n = tasks of ~100 us each.
            full_n: 2_000,
            default_n: 1_000,
            quick_n: 200,
            systems: vec![System { name: "ours", run: parallel_speedup_ours }],
        },
    ]
}

/// Counts down to zero; `wait` blocks until it gets there. Leaked per run so tasks can hold a
/// `&'static` (no `Arc` clone per task in any contender).
struct Latch {
    remaining: AtomicUsize,
    done: Mutex<bool>,
    cv: Condvar,
}

impl Latch {
    fn leak(n: u64) -> &'static Latch {
        Box::leak(Box::new(Latch {
            remaining: AtomicUsize::new(n as usize),
            done: Mutex::new(n == 0),
            cv: Condvar::new(),
        }))
    }

    #[inline]
    fn count_down(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.done.lock().unwrap() = true;
            self.cv.notify_all();
        }
    }

    fn wait(&self) {
        let mut d = self.done.lock().unwrap();
        while !*d {
            d = self.cv.wait(d).unwrap();
        }
    }
}

fn ours(cfg: &RunConfig) -> Runtime {
    Runtime::builder().worker_threads(cfg.workers).build().expect("runtime")
}

fn ours_n(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).build().expect("runtime")
}

fn tokio_rt(cfg: &RunConfig) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.workers)
        .build()
        .expect("tokio runtime")
}

fn rayon_pool(cfg: &RunConfig) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(cfg.workers).build().expect("rayon pool")
}

/// Spins for about `d` of CPU work (calibrated once), without reading the clock in the loop.
fn spin_for(d: Duration) {
    static ITERS_PER_US: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let per_us = *ITERS_PER_US.get_or_init(|| {
        let iters = 2_000_000u64;
        let start = Instant::now();
        spin_iters(iters);
        let us = start.elapsed().as_secs_f64() * 1e6;
        ((iters as f64 / us) as u64).max(1)
    });
    spin_iters(per_us * d.as_micros() as u64);
}

fn spin_iters(n: u64) {
    let mut x = 0u64;
    for i in 0..n {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    std::hint::black_box(x);
}
