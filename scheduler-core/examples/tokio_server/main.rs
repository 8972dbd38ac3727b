//! A tokio TCP server that offloads its CPU-heavy requests to this crate's runtime, with a
//! built-in, bounded load generator:
//!
//! ```sh
//! cargo run --release -p scheduler-core --example tokio_server -- --requests 20000 --conns 32
//! ```
//!
//! The line protocol: `E <text>` is a light request (the server echoes `<text>`), `H <seed>` a
//! heavy one (a fixed CPU job of about 250 us, calibrated at start, run on our pool; the
//! server answers with its result). The load generator opens `--conns` connections to the
//! server on 127.0.0.1 (an ephemeral port), sends `--requests` requests in all, one in five
//! heavy, each connection waiting for each answer (a closed loop), and stops by itself. It
//! prints the throughput and the light and heavy latency percentiles. `--mode inline` runs the
//! heavy job on the tokio worker instead and `--mode blocking` on tokio's `spawn_blocking`, to
//! compare. The server and the generator are in `offload.rs` (`schedbench`'s
//! `server_offload` workload runs the same code).

mod offload;

use offload::{calibrate, cpu_job, percentile, run_load, Offload};
use scheduler_core::{Priority, Runtime};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ours,
    Inline,
    Blocking,
}

#[derive(Debug, Clone, Copy)]
struct Options {
    requests: usize,
    conns: usize,
    mode: Mode,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options { requests: 20_000, conns: 32, mode: Mode::Ours };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--requests" => {
                opts.requests = value()?.parse().map_err(|e| format!("--requests: {e}"))?
            }
            "--conns" => opts.conns = value()?.parse().map_err(|e| format!("--conns: {e}"))?,
            "--mode" => {
                opts.mode = match value()?.as_str() {
                    "ours" => Mode::Ours,
                    "inline" => Mode::Inline,
                    "blocking" => Mode::Blocking,
                    other => {
                        return Err(format!("--mode: ours, inline or blocking, not {other:?}"))
                    }
                }
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if opts.requests == 0 || opts.conns == 0 {
        return Err("--requests and --conns must be at least 1".into());
    }
    Ok(opts)
}

fn offload_for(mode: Mode, pool: &Runtime) -> Offload {
    match mode {
        Mode::Ours => {
            let h = pool.handle().clone();
            Arc::new(move |seed, rounds| {
                let job = h.spawn_fn_with(Priority::Normal, move || cpu_job(seed, rounds));
                Box::pin(async move { job.await.expect("the job does not panic") })
            })
        }
        Mode::Inline => Arc::new(|seed, rounds| Box::pin(async move { cpu_job(seed, rounds) })),
        Mode::Blocking => Arc::new(|seed, rounds| {
            Box::pin(async move {
                tokio::task::spawn_blocking(move || cpu_job(seed, rounds)).await.expect("no panic")
            })
        }),
    }
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("tokio_server: {e}");
            std::process::exit(2);
        }
    };
    let rounds = calibrate(Duration::from_micros(250));
    let pool = Runtime::builder().build().expect("our runtime");
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let report =
        run_load(&tokio_rt, offload_for(opts.mode, &pool), rounds, opts.requests, opts.conns);
    drop(pool); // ours first, then tokio's (the guide's shutdown order)
    drop(tokio_rt);
    assert_eq!(report.requests, opts.requests, "every request answered");
    println!(
        "mode {:?}: {} requests over {} connections in {:.2} s: {:.0} req/s",
        opts.mode,
        report.requests,
        opts.conns,
        report.elapsed.as_secs_f64(),
        report.throughput()
    );
    println!(
        "  light: p50 {} us, p99 {} us   heavy (~250 us job): p50 {} us, p99 {} us",
        percentile(&report.light_us, 0.5),
        percentile(&report.light_us, 0.99),
        percentile(&report.heavy_us, 0.5),
        percentile(&report.heavy_us, 0.99)
    );
}
