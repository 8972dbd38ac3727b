//! Workloads of the executor crate: spawn, fork-join, yield, ping-pong, priority latency,
//! parallel speed-up. Every runtime is built before the timed part starts; tokio is a
//! multi-thread runtime with `worker_threads(workers)` and no I/O or time driver, rayon a
//! `ThreadPool` with `num_threads(workers)`.

use crate::{Latency, RunConfig, Sample, System, Target, Unit, Workload};
use scheduler_core::{Handle, Priority, Runtime};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

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

// ---- helpers --------------------------------------------------------------------------------

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

// ---- spawn_external -------------------------------------------------------------------------

fn spawn_external_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let latch = Latch::leak(cfg.n);
    let start = Instant::now();
    for _ in 0..cfg.n {
        drop(rt.spawn(async move { latch.count_down() }));
    }
    latch.wait();
    Sample::per_op(start.elapsed(), cfg.n)
}

fn spawn_external_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let latch = Latch::leak(cfg.n);
    let start = Instant::now();
    for _ in 0..cfg.n {
        drop(rt.spawn(async move { latch.count_down() }));
    }
    latch.wait();
    Sample::per_op(start.elapsed(), cfg.n)
}

fn spawn_external_rayon(cfg: &RunConfig) -> Sample {
    let pool = rayon_pool(cfg);
    let latch = Latch::leak(cfg.n);
    let start = Instant::now();
    for _ in 0..cfg.n {
        pool.spawn(move || latch.count_down());
    }
    latch.wait();
    Sample::per_op(start.elapsed(), cfg.n)
}

// ---- spawn_internal -------------------------------------------------------------------------

fn spawn_internal_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let latch = Latch::leak(cfg.n);
    let n = cfg.n;
    let start = Instant::now();
    drop(rt.spawn(async move {
        let h = Handle::current();
        for _ in 0..n {
            drop(h.spawn(async move { latch.count_down() }));
        }
    }));
    latch.wait();
    Sample::per_op(start.elapsed(), cfg.n)
}

fn spawn_internal_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let latch = Latch::leak(cfg.n);
    let n = cfg.n;
    let start = Instant::now();
    drop(rt.spawn(async move {
        for _ in 0..n {
            drop(tokio::spawn(async move { latch.count_down() }));
        }
    }));
    latch.wait();
    Sample::per_op(start.elapsed(), cfg.n)
}

fn spawn_internal_rayon(cfg: &RunConfig) -> Sample {
    let pool = rayon_pool(cfg);
    let latch = Latch::leak(cfg.n);
    let n = cfg.n;
    let start = Instant::now();
    pool.spawn(move || {
        for _ in 0..n {
            rayon::spawn(move || latch.count_down());
        }
    });
    latch.wait();
    Sample::per_op(start.elapsed(), cfg.n)
}

// ---- fib30_join -----------------------------------------------------------------------------

fn joins(n: u64) -> u64 {
    // fib(n + 1) - 1 joins for fib(n) with a join at every level above the leaves.
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..=n {
        (a, b) = (b, a + b);
    }
    a.saturating_sub(1).max(1)
}

fn fib_serial(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib_serial(n - 1) + fib_serial(n - 2)
    }
}

fn fib_join_ours(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = scheduler_core::join(|| fib_join_ours(n - 1), || fib_join_ours(n - 2));
    a + b
}

fn fib_join_rayon(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = rayon::join(|| fib_join_rayon(n - 1), || fib_join_rayon(n - 2));
    a + b
}

fn fib_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let n = cfg.n;
    let elapsed = rt
        .block_on(rt.spawn_fn(move || {
            let start = Instant::now();
            std::hint::black_box(fib_join_ours(std::hint::black_box(n)));
            start.elapsed()
        }))
        .expect("fib task");
    Sample::per_op(elapsed, joins(n))
}

fn fib_rayon(cfg: &RunConfig) -> Sample {
    let pool = rayon_pool(cfg);
    let n = cfg.n;
    let elapsed = pool.install(move || {
        let start = Instant::now();
        std::hint::black_box(fib_join_rayon(std::hint::black_box(n)));
        start.elapsed()
    });
    Sample::per_op(elapsed, joins(n))
}

fn fib_serial_run(cfg: &RunConfig) -> Sample {
    let start = Instant::now();
    std::hint::black_box(fib_serial(std::hint::black_box(cfg.n)));
    Sample::per_op(start.elapsed(), joins(cfg.n))
}

// ---- yield_many -----------------------------------------------------------------------------

const YIELD_TASKS: u64 = 1_000;

fn yield_many_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let per_task = (cfg.n / YIELD_TASKS).max(1);
    let latch = Latch::leak(YIELD_TASKS);
    let start = Instant::now();
    for _ in 0..YIELD_TASKS {
        drop(rt.spawn(async move {
            for _ in 0..per_task {
                scheduler_core::yield_now().await;
            }
            latch.count_down();
        }));
    }
    latch.wait();
    Sample::per_op(start.elapsed(), per_task * YIELD_TASKS)
}

fn yield_many_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let per_task = (cfg.n / YIELD_TASKS).max(1);
    let latch = Latch::leak(YIELD_TASKS);
    let start = Instant::now();
    for _ in 0..YIELD_TASKS {
        drop(rt.spawn(async move {
            for _ in 0..per_task {
                tokio::task::yield_now().await;
            }
            latch.count_down();
        }));
    }
    latch.wait();
    Sample::per_op(start.elapsed(), per_task * YIELD_TASKS)
}

// ---- ping_pong ------------------------------------------------------------------------------

/// `ours`: the channels are [`DeferredQueue`](scheduler_deferred::DeferredQueue)s (our
/// product's channel: `put` fires the waiting `get` Deferred, which wakes the awaiting task),
/// beside tokio's unbounded mpsc channels, each between two tasks spawned on its runtime.
fn ping_pong_ours(cfg: &RunConfig) -> Sample {
    use scheduler_deferred::DeferredQueue;
    let rt = ours(cfg);
    let n = cfg.n;
    let elapsed = rt
        .block_on(rt.spawn(async move {
            let ping = DeferredQueue::<u64>::new();
            let pong = DeferredQueue::<u64>::new();
            let (pi, po) = (ping.clone(), pong.clone());
            let ponger = Handle::current().spawn(async move {
                for _ in 0..n {
                    let v = pi.get().expect("no backlog limit").await.expect("ping");
                    po.put(v + 1).expect("no size limit");
                }
            });
            let start = Instant::now();
            for i in 0..n {
                ping.put(i).expect("no size limit");
                let v = pong.get().expect("no backlog limit").await.expect("pong");
                debug_assert_eq!(v, i + 1);
            }
            let elapsed = start.elapsed();
            ponger.await.expect("ponger");
            elapsed
        }))
        .expect("driver");
    Sample::per_op(elapsed, n)
}

fn ping_pong_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let n = cfg.n;
    let elapsed = rt
        .block_on(rt.spawn(async move {
            let (ping_tx, mut ping_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
            let (pong_tx, mut pong_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
            let ponger = tokio::spawn(async move {
                while let Some(v) = ping_rx.recv().await {
                    if pong_tx.send(v + 1).is_err() {
                        break;
                    }
                }
            });
            let start = Instant::now();
            for i in 0..n {
                ping_tx.send(i).expect("ping");
                let v = pong_rx.recv().await.expect("pong");
                debug_assert_eq!(v, i + 1);
            }
            let elapsed = start.elapsed();
            drop(ping_tx);
            ponger.await.expect("ponger");
            elapsed
        }))
        .expect("driver");
    Sample::per_op(elapsed, n)
}

// ---- priority_latency -----------------------------------------------------------------------

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

const LOW_TASK: Duration = Duration::from_micros(20);
const HIGH_EVERY: Duration = Duration::from_millis(1);

fn latency_sample(mut lat_us: Vec<f64>, elapsed: Duration) -> Sample {
    lat_us.sort_by(f64::total_cmp);
    let pick = |q: f64| lat_us[((lat_us.len() - 1) as f64 * q).round() as usize];
    let latency = Latency { p50_us: pick(0.5), p99_us: pick(0.99), max_us: pick(1.0) };
    Sample { value: latency.p99_us, elapsed, latency: Some(latency) }
}

fn low_loop_ours(h: Handle, stop: Arc<AtomicBool>) {
    if stop.load(Ordering::Relaxed) {
        return;
    }
    spin_for(LOW_TASK);
    let h2 = h.clone();
    drop(h.spawn_fn_with(Priority::Low, move || low_loop_ours(h2, stop)));
}

fn priority_latency_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let stop = Arc::new(AtomicBool::new(false));
    // A backlog of self-respawning Low tasks keeps every worker busy.
    for _ in 0..(cfg.workers * 8) {
        let (h, s) = (rt.handle().clone(), stop.clone());
        drop(rt.spawn_fn_with(Priority::Low, move || low_loop_ours(h, s)));
    }
    std::thread::sleep(Duration::from_millis(5));
    let samples = Arc::new(Mutex::new(Vec::with_capacity(cfg.n as usize)));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(cfg.n as usize);
    for _ in 0..cfg.n {
        let spawned = Instant::now();
        let s = samples.clone();
        handles.push(rt.spawn_fn_with(Priority::High, move || {
            s.lock().unwrap().push(spawned.elapsed().as_secs_f64() * 1e6);
        }));
        std::thread::sleep(HIGH_EVERY);
    }
    for h in handles {
        rt.block_on(h).expect("high task");
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let lat = std::mem::take(&mut *samples.lock().unwrap());
    latency_sample(lat, elapsed)
}

fn low_loop_tokio(h: tokio::runtime::Handle, stop: Arc<AtomicBool>) {
    if stop.load(Ordering::Relaxed) {
        return;
    }
    spin_for(LOW_TASK);
    let h2 = h.clone();
    drop(h.spawn(async move { low_loop_tokio(h2, stop) }));
}

fn priority_latency_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..(cfg.workers * 8) {
        let (h, s) = (rt.handle().clone(), stop.clone());
        drop(rt.spawn(async move { low_loop_tokio(h, s) }));
    }
    std::thread::sleep(Duration::from_millis(5));
    let samples = Arc::new(Mutex::new(Vec::with_capacity(cfg.n as usize)));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(cfg.n as usize);
    for _ in 0..cfg.n {
        let spawned = Instant::now();
        let s = samples.clone();
        handles.push(rt.spawn(async move {
            s.lock().unwrap().push(spawned.elapsed().as_secs_f64() * 1e6);
        }));
        std::thread::sleep(HIGH_EVERY);
    }
    for h in handles {
        rt.block_on(h).expect("high task");
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let lat = std::mem::take(&mut *samples.lock().unwrap());
    latency_sample(lat, elapsed)
}

// ---- parallel_speedup -----------------------------------------------------------------------

const CPU_TASK: Duration = Duration::from_micros(100);

fn run_cpu_tasks(rt: &Runtime, n: u64) -> Duration {
    spin_for(Duration::from_micros(1)); // calibrate outside the timed part
    let latch = Latch::leak(n);
    let start = Instant::now();
    for _ in 0..n {
        drop(rt.spawn_fn(move || {
            spin_for(CPU_TASK);
            latch.count_down();
        }));
    }
    latch.wait();
    start.elapsed()
}

fn parallel_speedup_ours(cfg: &RunConfig) -> Sample {
    let one = ours_n(1);
    let t1 = run_cpu_tasks(&one, cfg.n);
    drop(one);
    let many = ours(cfg);
    let tn = run_cpu_tasks(&many, cfg.n);
    Sample { value: t1.as_secs_f64() / tn.as_secs_f64(), elapsed: tn, latency: None }
}
