//! `server_offload`: a tokio server (2 workers) with its load generator in one process, 20 %
//! of its requests a ~250 us CPU job, the same code as `scheduler-core`'s
//! `examples/tokio_server` (its `offload.rs`, compiled in here). The heavy job runs:
//!
//! * `ours`: on our runtime (`Handle::spawn_fn`, awaited from the tokio handler);
//! * `tokio`: inline on the tokio worker that handles the request;
//! * `spawn_blocking`: on tokio's blocking pool;
//! * `rayon`: on a rayon pool, its result sent back through a tokio oneshot.
//!
//! Three rows share the shape, each a run of its own: ns per request (throughput, target
//! ours / best peer <= 1 / 0.95), light-request p99 and heavy-request p99 (targets <= 1.0).
//! `n` is the number of requests, over 16 connections.

#[path = "../../../scheduler-core/examples/tokio_server/offload.rs"]
mod offload;

use crate::{Latency, RunConfig, Sample, System, Target, Unit, Workload};
use offload::{calibrate, cpu_job, percentile, run_load, LoadReport, Offload};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const CONNS: usize = 16;

/// Rounds of the heavy job (about 250 us here), calibrated once per process.
fn rounds() -> u64 {
    static ROUNDS: OnceLock<u64> = OnceLock::new();
    *ROUNDS.get_or_init(|| calibrate(Duration::from_micros(250)))
}

fn tokio_server(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[derive(Debug, Clone, Copy)]
enum Variant {
    Ours,
    Inline,
    Blocking,
    Rayon,
}

fn load(variant: Variant, cfg: &RunConfig) -> LoadReport {
    let tokio_rt = tokio_server(2);
    let requests = cfg.n as usize;
    match variant {
        Variant::Ours => {
            let pool = scheduler_core::Runtime::builder()
                .worker_threads(cfg.workers)
                .build()
                .expect("runtime");
            let h = pool.handle().clone();
            let offload: Offload = Arc::new(move |seed, rounds| {
                let job = h.spawn_fn(move || cpu_job(seed, rounds));
                Box::pin(async move { job.await.expect("no panic") })
            });
            let report = run_load(&tokio_rt, offload, rounds(), requests, CONNS);
            drop(pool);
            report
        }
        Variant::Inline => {
            let offload: Offload =
                Arc::new(|seed, rounds| Box::pin(async move { cpu_job(seed, rounds) }));
            run_load(&tokio_rt, offload, rounds(), requests, CONNS)
        }
        Variant::Blocking => {
            let offload: Offload = Arc::new(|seed, rounds| {
                Box::pin(async move {
                    tokio::task::spawn_blocking(move || cpu_job(seed, rounds)).await.expect("ok")
                })
            });
            run_load(&tokio_rt, offload, rounds(), requests, CONNS)
        }
        Variant::Rayon => {
            let pool = Arc::new(
                rayon::ThreadPoolBuilder::new().num_threads(cfg.workers).build().expect("rayon"),
            );
            let p = pool.clone();
            let offload: Offload = Arc::new(move |seed, rounds| {
                let (tx, rx) = tokio::sync::oneshot::channel();
                p.spawn(move || {
                    let _ = tx.send(cpu_job(seed, rounds));
                });
                Box::pin(async move { rx.await.expect("the job answers") })
            });
            run_load(&tokio_rt, offload, rounds(), requests, CONNS)
        }
    }
}

fn throughput(variant: Variant, cfg: &RunConfig) -> Sample {
    let r = load(variant, cfg);
    Sample::per_op(r.elapsed, r.requests as u64)
}

fn latency_of(us: &[u32], elapsed: Duration) -> Sample {
    let p = |q| f64::from(percentile(us, q));
    let latency = Latency { p50_us: p(0.5), p99_us: p(0.99), max_us: p(1.0) };
    Sample { value: latency.p99_us, elapsed, latency: Some(latency) }
}

fn light(variant: Variant, cfg: &RunConfig) -> Sample {
    let r = load(variant, cfg);
    latency_of(&r.light_us, r.elapsed)
}

fn heavy(variant: Variant, cfg: &RunConfig) -> Sample {
    let r = load(variant, cfg);
    latency_of(&r.heavy_us, r.elapsed)
}

macro_rules! systems {
    ($measure:ident) => {{
        fn ours(cfg: &RunConfig) -> Sample {
            $measure(Variant::Ours, cfg)
        }
        fn inline(cfg: &RunConfig) -> Sample {
            $measure(Variant::Inline, cfg)
        }
        fn blocking(cfg: &RunConfig) -> Sample {
            $measure(Variant::Blocking, cfg)
        }
        fn rayon_oneshot(cfg: &RunConfig) -> Sample {
            $measure(Variant::Rayon, cfg)
        }
        vec![
            System { name: "ours", run: ours },
            System { name: "tokio", run: inline },
            System { name: "spawn_blocking", run: blocking },
            System { name: "rayon", run: rayon_oneshot },
        ]
    }};
}

/// Where one variant's CPU goes, per request, from the process's own counters (not a row:
/// `examples/offload_cpu.rs` prints it; the machine's load changes none of the definitions).
#[derive(Debug, Clone)]
pub struct CpuBreakdown {
    /// The variant, as named in the rows.
    pub system: &'static str,
    /// Wall time per request (the throughput row's figure, in microseconds).
    pub wall_us: f64,
    /// CPU time of the whole process per request, every thread.
    pub cpu_us: f64,
    /// `cpu_us` less the heavy jobs' own CPU (their count times one job's CPU time measured
    /// alone on this thread): the cost of serving, offloading and switching.
    pub overhead_us: f64,
    /// Voluntary context switches per request (a thread blocked: park, `epoll_wait`, futex).
    pub voluntary: f64,
    /// Involuntary context switches per request (a thread was preempted).
    pub involuntary: f64,
}

/// Runs `cfg.n` requests through each variant once and reports [`CpuBreakdown`]s, in the
/// order of the rows.
pub fn cpu_breakdown(cfg: &RunConfig) -> Vec<CpuBreakdown> {
    let job_cpu = heavy_job_cpu();
    let variants = [
        ("ours", Variant::Ours),
        ("tokio", Variant::Inline),
        ("spawn_blocking", Variant::Blocking),
        ("rayon", Variant::Rayon),
    ];
    variants.into_iter().map(|(system, variant)| breakdown(system, variant, cfg, job_cpu)).collect()
}

fn breakdown(system: &'static str, v: Variant, cfg: &RunConfig, job_cpu: Duration) -> CpuBreakdown {
    let (vol0, invol0) = crate::process_context_switches();
    let cpu0 = crate::process_cpu_time();
    let r = load(v, cfg);
    let cpu = crate::process_cpu_time().saturating_sub(cpu0);
    let (vol1, invol1) = crate::process_context_switches();
    let n = r.requests.max(1) as f64;
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n;
    let jobs = job_cpu * r.heavy_us.len() as u32;
    CpuBreakdown {
        system,
        wall_us: us(r.elapsed),
        cpu_us: us(cpu),
        overhead_us: us(cpu.saturating_sub(jobs)),
        voluntary: (vol1 - vol0) as f64 / n,
        involuntary: (invol1 - invol0) as f64 / n,
    }
}

/// One heavy job's CPU time, run alone on this thread (median of 9).
fn heavy_job_cpu() -> Duration {
    let mut runs: Vec<Duration> = (0..9u64)
        .map(|seed| {
            let t = crate::thread_cpu_time();
            cpu_job(seed, rounds());
            crate::thread_cpu_time().saturating_sub(t)
        })
        .collect();
    runs.sort();
    runs[runs.len() / 2]
}

/// The three `server_offload` rows.
pub fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "server_offload",
            unit: Unit::NsPerOp,
            // Throughput ours / best >= 0.95, i.e. ns per request ours / best <= 1 / 0.95.
            target: Target::RatioToBestPeer(1.0 / 0.95),
            full_n: 50_000,
            default_n: 10_000,
            quick_n: 2_000,
            systems: systems!(throughput),
        },
        Workload {
            name: "server_offload_light_p99",
            unit: Unit::Micros,
            target: Target::RatioToBestPeer(1.0),
            full_n: 50_000,
            default_n: 10_000,
            quick_n: 2_000,
            systems: systems!(light),
        },
        Workload {
            name: "server_offload_heavy_p99",
            unit: Unit::Micros,
            target: Target::RatioToBestPeer(1.0),
            full_n: 50_000,
            default_n: 10_000,
            quick_n: 2_000,
            systems: systems!(heavy),
        },
    ]
}
