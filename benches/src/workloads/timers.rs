//! Workloads of the timers crate: `timer_insert_cancel` and `timer_insert_mt` (benches/README.md).
//!
//! * `timer_insert_cancel`: insert `n` timers with deadlines spread over 1..10 s (a fixed
//!   pseudo-random permutation), then cancel all of them; ns per insert+cancel pair.
//!   - `ours`: the owner path of one `TimerShard` (what a worker does for its own timers).
//!   - `tokio`: `n` `tokio::time::sleep_until` futures, each polled once so it really registers
//!     with the time driver (an unpolled `Sleep` never touches the wheel), then all dropped;
//!     inside `block_on` of a 2-worker multi-thread runtime with the time driver enabled. The
//!     sleeps are pinned in place in a pre-sized `Vec` (no per-timer `Box`), the cheapest way
//!     tokio allows.
//!   - `binary_heap`: `std::collections::BinaryHeap` of `(deadline, id)` with a cancel flag per
//!     id (lazy cancel: a cancel sets the flag); the floor of what a timer can cost.
//!
//!   The target in benches/README.md is "<= 0.25 of tokio and <= 5 of BinaryHeap": both bounds are
//!   checked (`Target::RatioToPeers`); the printed ratio is ours / tokio.
//! * `timer_insert_mt`: 2 threads each insert and cancel `n` timers; ns per pair per thread
//!   (wall time / n).
//!   - `ours`: one `TimerShard` per thread (as one per worker); each thread inserts its timers
//!     into its own shard and cancels them (the owner path a worker takes for the timers of
//!     the tasks it runs). The cross-worker path (`RemoteShard`: CAS + inbox) is not in this
//!     table; the timers crate's report gives its figure.
//!   - `tokio`: 2 tasks spawned on a 2-worker runtime, each creating `n` sleeps polled once,
//!     then dropping them.
//!
//!   Target: `RatioToBestPeer(0.25)` against tokio.
//!
//! `timer_fire` and `looping_call` (below) go through the runtime (scheduler-core): they are
//! written by the runtime's issue.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::Barrier;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use scheduler_timers::{TimerConfig, TimerKey, TimerShard};

use crate::{RunConfig, Sample, System, Target, Unit, Workload};

/// The timers workloads of benches/README.md.
pub fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "timer_insert_cancel",
            unit: Unit::NsPerOp,
            target: Target::RatioToPeers(&[("tokio", 0.25), ("binary_heap", 5.0)]),
            full_n: 1_000_000,
            default_n: 500_000,
            quick_n: 50_000,
            systems: vec![
                System { name: "ours", run: insert_cancel_ours },
                System { name: "tokio", run: insert_cancel_tokio },
                System { name: "binary_heap", run: insert_cancel_binary_heap },
            ],
        },
        Workload {
            name: "timer_insert_mt",
            unit: Unit::NsPerOp,
            target: Target::RatioToBestPeer(0.25),
            full_n: 1_000_000,
            default_n: 500_000,
            quick_n: 50_000,
            systems: vec![
                System { name: "ours", run: insert_mt_ours },
                System { name: "tokio", run: insert_mt_tokio },
            ],
        },
        timer_fire_workload(),
        looping_call_workload(),
    ]
}

/// Delay of timer `i` of `n`: spread over 1..10 s in a fixed pseudo-random order.
fn spread_delay_ns(i: u64, n: u64) -> u64 {
    let slot = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % n.max(1);
    1_000_000_000 + slot * (9_000_000_000 / n.max(1))
}

// Every system runs one untimed warm-up round and then the timed round on the same buffers:
// the steady state of a long-lived runtime (our slab, tokio's `Vec<Sleep>`, the heap's buffer
// have grown once), not first-touch page faults.

fn insert_cancel_ours(cfg: &RunConfig) -> Sample {
    let n = cfg.n;
    let shard: TimerShard<u64> = TimerShard::new(0, TimerConfig::default());
    let mut keys: Vec<TimerKey> = Vec::with_capacity(n as usize);
    // The owner's batch path: a `TimerSession` holds the shard's expiry right across the
    // burst of inserts and across the burst of cancels (released in between, as a worker does
    // at a maintenance point), so each insert needs no atomic read-modify-write and each
    // cancel one CAS on the timer's entry. The one-shot `shard.insert` / `shard.cancel` take
    // the right per call (one CAS more each); the timers crate's report gives both figures.
    let mut round = || {
        let start = Instant::now();
        let mut session = shard.session().expect("no stealer");
        for i in 0..n {
            keys.push(session.insert(spread_delay_ns(i, n), i).expect("insert").0);
        }
        drop(session);
        let mut session = shard.session().expect("no stealer");
        for key in keys.drain(..) {
            let _ = black_box(session.cancel(key));
        }
        drop(session);
        start.elapsed()
    };
    let _warm_up = round();
    Sample::per_op(round(), n)
}

fn insert_cancel_binary_heap(cfg: &RunConfig) -> Sample {
    let n = cfg.n;
    let mut cancelled = vec![false; n as usize];
    let mut heap = BinaryHeap::new();
    let mut round = || {
        heap.clear();
        cancelled.fill(false);
        let start = Instant::now();
        for i in 0..n {
            heap.push(Reverse((spread_delay_ns(i, n), i as u32)));
        }
        for flag in cancelled.iter_mut() {
            *flag = true;
        }
        black_box(&heap);
        black_box(&cancelled);
        start.elapsed()
    };
    let _warm_up = round();
    Sample::per_op(round(), n)
}

fn tokio_rt(cfg: &RunConfig) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.workers)
        .enable_time()
        .build()
        .expect("tokio runtime")
}

/// Creates `n` sleeps in `sleeps` (empty, capacity >= n), polls each once (registering it),
/// then drops them all; returns the time this took.
fn tokio_sleeps_polled_then_dropped(n: u64, sleeps: &mut Vec<tokio::time::Sleep>) -> Duration {
    assert!(sleeps.is_empty() && sleeps.capacity() >= n as usize);
    let mut cx = Context::from_waker(Waker::noop());
    let start = Instant::now();
    let now = tokio::time::Instant::now();
    for i in 0..n {
        sleeps.push(tokio::time::sleep_until(now + Duration::from_nanos(spread_delay_ns(i, n))));
        let last = sleeps.last_mut().expect("just pushed");
        // SAFETY: the Vec has room for all `n` sleeps, so it never reallocates while they
        // live and no `Sleep` moves after being pinned here; `clear` drops each in place.
        let pinned = unsafe { Pin::new_unchecked(last) };
        let _ = black_box(pinned.poll(&mut cx));
    }
    sleeps.clear();
    start.elapsed()
}

fn insert_cancel_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let n = cfg.n;
    let elapsed = rt.block_on(async move {
        let mut sleeps = Vec::with_capacity(n as usize);
        let _warm_up = tokio_sleeps_polled_then_dropped(n, &mut sleeps);
        tokio_sleeps_polled_then_dropped(n, &mut sleeps)
    });
    Sample::per_op(elapsed, n)
}

/// One thread of `insert_mt_ours`: inserts and cancels `n` timers on its own shard, as a
/// worker does for the timers of the tasks it runs (the tokio peer does the same on its
/// worker-local registration path).
fn mt_thread(own: &TimerShard<u64>, n: u64) {
    // As `insert_cancel_ours`: one `TimerSession` per burst.
    let mut keys = Vec::with_capacity(n as usize);
    let mut session = own.session().expect("no stealer");
    for i in 0..n {
        keys.push(session.insert(spread_delay_ns(i, n), i).expect("insert").0);
    }
    drop(session);
    let mut session = own.session().expect("no stealer");
    for key in keys {
        let _ = black_box(session.cancel(key));
    }
}

/// The span of a multi-threaded phase: from the first thread's start to the last one's end,
/// each read by the thread itself (a timestamp of the releasing thread could be taken after
/// the workers finished: three threads on two cores).
fn span(spans: &[(Instant, Instant)]) -> Duration {
    let first = spans.iter().map(|s| s.0).min();
    let last = spans.iter().map(|s| s.1).max();
    match (first, last) {
        (Some(first), Some(last)) => last.saturating_duration_since(first),
        _ => Duration::ZERO,
    }
}

fn insert_mt_ours(cfg: &RunConfig) -> Sample {
    let n = cfg.n;
    let a: TimerShard<u64> = TimerShard::new(0, TimerConfig::default());
    let b: TimerShard<u64> = TimerShard::new(1, TimerConfig::default());
    let barrier = Barrier::new(2);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let barrier = &barrier;
        let threads: Vec<_> = [a, b]
            .into_iter()
            .map(|own| {
                s.spawn(move || {
                    mt_thread(&own, n); // warm-up
                    barrier.wait();
                    let start = Instant::now();
                    mt_thread(&own, n);
                    (start, Instant::now())
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("inserting thread")).collect()
    });
    Sample::per_op(span(&spans), n)
}

fn insert_mt_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let n = cfg.n;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let spans = rt.block_on(async move {
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    let mut sleeps = Vec::with_capacity(n as usize);
                    let _warm_up = tokio_sleeps_polled_then_dropped(n, &mut sleeps);
                    barrier.wait().await;
                    let start = Instant::now();
                    tokio_sleeps_polled_then_dropped(n, &mut sleeps);
                    (start, Instant::now())
                })
            })
            .collect();
        let mut spans = Vec::new();
        for t in tasks {
            spans.push(t.await.expect("tokio task"));
        }
        spans
    });
    Sample::per_op(span(&spans), n)
}

// Runtime time API workloads (scheduler-core's `time` module): `timer_fire`, `looping_call`.

/// `timer_fire`: `n` timers due over a window of `n` µs starting `2.5 n` µs after the start
/// (full: 200,000 timers due 500..700 ms after the start, benches/README.md; quick and default
/// scale the window with `n`, keeping one deadline per µs). Each callback records when it ran;
/// lateness = run instant - deadline. Target: throughput >= 2x tokio (ratio <= 0.5) and p99
/// lateness <= 2 ms, both judged (`Target::RatioAndP99`).
///
/// The figure (ns per timer) is the CPU time the whole process burns from the first insert
/// until the last timer ran, divided by `n` (all threads: the inserting thread, the workers,
/// their spinning and parking). Wall time cannot measure throughput here: the schedule puts
/// one deadline per µs, so every system that keeps up takes the same `n` µs; what differs is
/// how much CPU it spends doing so. Wall time (insert phase + firing span) is what criterion
/// is given.
/// - `ours`: `Runtime::call_at` from the bench thread on a 2-worker runtime (callbacks run as
///   tasks).
/// - `tokio`: one spawned task per timer doing `sleep_until(deadline).await` on a 2-worker
///   runtime.
fn timer_fire_workload() -> Workload {
    Workload {
        name: "timer_fire",
        unit: Unit::NsPerOp,
        target: Target::RatioAndP99 { ratio: 0.5, p99_us: 2_000.0 },
        full_n: 200_000,
        default_n: 100_000,
        quick_n: 10_000,
        systems: vec![
            System { name: "ours", run: timer_fire_ours },
            System { name: "tokio", run: timer_fire_tokio },
        ],
    }
}

/// When each timer ran, in ns since the run's base instant (0 = not yet).
struct FireLog {
    base: Instant,
    ran_at: Vec<std::sync::atomic::AtomicU64>,
    left: std::sync::atomic::AtomicU64,
    done: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

impl FireLog {
    fn new(n: u64) -> (std::sync::Arc<FireLog>, std::sync::mpsc::Receiver<()>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let log = FireLog {
            base: Instant::now(),
            ran_at: (0..n).map(|_| std::sync::atomic::AtomicU64::new(0)).collect(),
            left: std::sync::atomic::AtomicU64::new(n),
            done: std::sync::Mutex::new(Some(tx)),
        };
        (std::sync::Arc::new(log), rx)
    }

    /// Deadline of timer `i` of `n`, in ns after `base`: `2.5 n` µs + `i` µs-ish.
    fn deadline_ns(i: u64, n: u64) -> u64 {
        2_500 * n + i * 1_000
    }

    fn ran(&self, i: u64) {
        let now = (self.base.elapsed().as_nanos() as u64).max(1);
        self.ran_at[i as usize].store(now, std::sync::atomic::Ordering::Relaxed);
        if self.left.fetch_sub(1, std::sync::atomic::Ordering::AcqRel) == 1 {
            if let Some(tx) = self.done.lock().expect("fire log").take() {
                let _ = tx.send(());
            }
        }
    }

    /// The sample: CPU ns per timer, wall time of insert phase + firing span, lateness.
    fn sample(&self, n: u64, insert: Duration, cpu: Duration) -> Sample {
        let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)
            .expect("histogram bounds");
        let mut last_run = 0u64;
        for i in 0..n {
            let ran = self.ran_at[i as usize].load(std::sync::atomic::Ordering::Relaxed);
            last_run = last_run.max(ran);
            let late = ran.saturating_sub(Self::deadline_ns(i, n)).max(1);
            let _ = hist.record(late.min(hist.high()));
        }
        let span = Duration::from_nanos(last_run.saturating_sub(Self::deadline_ns(0, n)));
        let elapsed = insert + span;
        let us = |q: f64| hist.value_at_quantile(q) as f64 / 1_000.0;
        Sample {
            value: cpu.as_nanos() as f64 / n.max(1) as f64,
            elapsed,
            latency: Some(crate::Latency {
                p50_us: us(0.5),
                p99_us: us(0.99),
                max_us: hist.max() as f64 / 1_000.0,
            }),
        }
    }
}

fn timer_fire_ours(cfg: &RunConfig) -> Sample {
    let rt =
        scheduler_core::Runtime::builder().worker_threads(cfg.workers).build().expect("runtime");
    let n = cfg.n;
    let (log, done) = FireLog::new(n);
    let cpu_start = crate::process_cpu_time();
    let start = Instant::now();
    for i in 0..n {
        let at = log.base + Duration::from_nanos(FireLog::deadline_ns(i, n));
        let log = log.clone();
        let _call = rt.call_at(at, move || log.ran(i));
    }
    let insert = start.elapsed();
    done.recv().expect("every timer fires");
    let cpu = crate::process_cpu_time().saturating_sub(cpu_start);
    log.sample(n, insert, cpu)
}

fn timer_fire_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let n = cfg.n;
    let (log, done) = FireLog::new(n);
    let base = tokio::time::Instant::from_std(log.base);
    let cpu_start = crate::process_cpu_time();
    let start = Instant::now();
    for i in 0..n {
        let at = base + Duration::from_nanos(FireLog::deadline_ns(i, n));
        let log = log.clone();
        drop(rt.spawn(async move {
            tokio::time::sleep_until(at).await;
            log.ran(i);
        }));
    }
    let insert = start.elapsed();
    done.recv().expect("every timer fires");
    let cpu = crate::process_cpu_time().saturating_sub(cpu_start);
    log.sample(n, insert, cpu)
}

/// `looping_call`: a `LoopingCall` with a 1 ms interval on a `ManualReactor` (Twisted's
/// `task.Clock`), advanced by 1 ms `n` times: ns per tick (advance + one call of `f` +
/// re-arming the next call). No Rust peer runs it; Twisted's tick is 4.6 µs (benches/README.md).
/// Target: at most 100 ns per tick.
fn looping_call_workload() -> Workload {
    Workload {
        name: "looping_call",
        unit: Unit::NsPerOp,
        target: Target::AtMost(100.0),
        full_n: 200_000,
        default_n: 200_000,
        quick_n: 20_000,
        systems: vec![System { name: "ours", run: looping_call_ours }],
    }
}

fn looping_call_ours(cfg: &RunConfig) -> Sample {
    use scheduler_core::time::{LoopingCall, ManualReactor};
    let clock = ManualReactor::new();
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let t = ticks.clone();
    let lc = LoopingCall::new(clock.clone(), move || {
        t.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok::<_, scheduler_deferred::Failure>(())
    });
    let _done = lc.start(Duration::from_millis(1), false).expect("start");
    let step = Duration::from_millis(1);
    for _ in 0..1_000 {
        clock.advance(step); // warm-up: the slab and the wheel reach their steady state
    }
    let start = Instant::now();
    for _ in 0..cfg.n {
        clock.advance(step);
    }
    let elapsed = start.elapsed();
    let _ = lc.stop();
    assert_eq!(ticks.load(std::sync::atomic::Ordering::Relaxed), cfg.n + 1_000);
    Sample::per_op(elapsed, cfg.n)
}
