//! `schedbench stress`: the soak's command line and report (the soak itself is [`super::run`]).

use super::{Report, StressConfig};
use clap::Args as ClapArgs;
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;

/// Options of `schedbench stress`.
#[derive(Debug, ClapArgs)]
pub struct StressArgs {
    /// Seed of the operation generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop after this many seconds (default 20 when --ops is not given either).
    #[arg(long)]
    seconds: Option<f64>,
    /// Stop after this many operations.
    #[arg(long)]
    ops: Option<u64>,
    /// Worker threads of the runtime under test.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Operations in flight at most.
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// Operations between heap checkpoints.
    #[arg(long, default_value_t = 200_000)]
    checkpoint_every: u64,
    /// Allowed heap growth after warm-up, MiB per million operations.
    #[arg(long, default_value_t = 0.25)]
    max_growth: f64,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    no_progress: bool,
}

/// Runs the soak, prints its report; the exit status is non-zero when anything was lost,
/// left live, or the heap grew past the bound.
pub fn main(args: &StressArgs) -> ExitCode {
    if args.workers == 0 || args.window == 0 {
        eprintln!("schedbench stress: --workers and --window must be at least 1");
        return ExitCode::from(2);
    }
    let seconds = match (args.seconds, args.ops) {
        (None, None) => Some(20.0),
        (s, _) => s,
    };
    if seconds.is_some_and(|s| !s.is_finite() || s < 0.0) {
        eprintln!("schedbench stress: --seconds must be a non-negative number");
        return ExitCode::from(2);
    }
    let cfg = StressConfig {
        seed: args.seed,
        ops: args.ops,
        seconds,
        workers: args.workers,
        window: args.window,
        checkpoint_every: args.checkpoint_every,
        max_growth_mib_per_million: args.max_growth,
        verbose: true,
    };
    println!(
        "schedbench stress: seed {}, {} workers, window {}, budget {}",
        cfg.seed,
        cfg.workers,
        cfg.window,
        budget(&cfg)
    );
    let bar = progress(args, &cfg);
    let started = std::time::Instant::now();
    let report = super::run(&cfg, |ops| match cfg.seconds {
        Some(_) => bar.set_position(started.elapsed().as_secs()),
        None => bar.set_position(ops),
    });
    bar.finish_and_clear();
    print_report(&report);
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn budget(cfg: &StressConfig) -> String {
    match (cfg.ops, cfg.seconds) {
        (Some(n), Some(s)) => format!("{n} ops or {s} s"),
        (Some(n), None) => format!("{n} ops"),
        (None, Some(s)) => format!("{s} s"),
        (None, None) => "unbounded".to_owned(),
    }
}

fn progress(args: &StressArgs, cfg: &StressConfig) -> ProgressBar {
    if args.no_progress {
        return ProgressBar::hidden();
    }
    let len = match (cfg.seconds, cfg.ops) {
        (Some(s), _) => s.ceil() as u64,
        (None, Some(n)) => n,
        (None, None) => 0,
    };
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed}") {
        bar.set_style(style);
    }
    bar
}

fn print_report(r: &Report) {
    println!("{} operations in {:.1} s", r.ops, r.elapsed.as_secs_f64());
    print!("{}", r.balance);
    println!("  live tasks at the end: {}", r.live_tasks);
    if let (Some(first), Some(last)) = (r.checkpoints.first(), r.checkpoints.last()) {
        let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
        println!(
            "  heap: {:.2} MiB at {} ops, {:.2} MiB at {} ops",
            mib(first.heap_bytes),
            first.ops,
            mib(last.heap_bytes),
            last.ops
        );
    }
    match r.growth_mib_per_million {
        Some(g) => println!(
            "  heap growth after warm-up: {g:.3} MiB per million ops (bound {:.3})",
            r.max_growth_mib_per_million
        ),
        None => println!("  heap growth after warm-up: n/a (fewer than three checkpoints)"),
    }
    println!("{}", if r.ok() { "PASS" } else { "FAIL" });
}
