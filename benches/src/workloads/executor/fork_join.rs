//! `fib30_join` (recursive fib with a join per call, beside rayon, and the serial floor) and
//! `parallel_speedup` (independent CPU tasks on every worker).

use super::*;

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

pub(super) fn fib_ours(cfg: &RunConfig) -> Sample {
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

pub(super) fn fib_rayon(cfg: &RunConfig) -> Sample {
    let pool = rayon_pool(cfg);
    let n = cfg.n;
    let elapsed = pool.install(move || {
        let start = Instant::now();
        std::hint::black_box(fib_join_rayon(std::hint::black_box(n)));
        start.elapsed()
    });
    Sample::per_op(elapsed, joins(n))
}

pub(super) fn fib_serial_run(cfg: &RunConfig) -> Sample {
    let start = Instant::now();
    std::hint::black_box(fib_serial(std::hint::black_box(cfg.n)));
    Sample::per_op(start.elapsed(), joins(cfg.n))
}

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

pub(super) fn parallel_speedup_ours(cfg: &RunConfig) -> Sample {
    let one = ours_n(1);
    let t1 = run_cpu_tasks(&one, cfg.n);
    drop(one);
    let many = ours(cfg);
    let tn = run_cpu_tasks(&many, cfg.n);
    Sample { value: t1.as_secs_f64() / tn.as_secs_f64(), elapsed: tn, latency: None }
}
