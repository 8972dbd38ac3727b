//! `schedbench`: runs the benches/README.md matrix (ours beside tokio, rayon and std) and prints a
//! table of medians with each of our rows' ratio to the best peer and its target.
//!
//! `--quick` is the CI smoke run (seconds), the default runs in under a minute, `--full` gives
//! the real figures. Exit status is 0 even when a target is missed; non-zero only when a
//! workload could not be measured.

use std::path::PathBuf;
use std::process::ExitCode;

use benches::report::{self, Row};
use benches::{all_workloads, peer_workloads, workloads::peers, RunConfig, Workload};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(name = "schedbench", about = "Scheduler benchmarks beside tokio and rayon")]
struct Args {
    /// A subcommand instead of the benchmark matrix.
    #[command(subcommand)]
    command: Option<Command>,
    /// CI smoke run: small sizes, 3 runs each.
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// The real figures: benches/README.md sizes, 7 runs each.
    #[arg(long)]
    full: bool,
    /// Only these workloads (comma-separated names; `peers` names the whole peers group).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Worker threads for every system.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Runs per (workload, system); the median is reported. Default: 3 quick, 5 default, 7 full.
    #[arg(long)]
    runs: Option<usize>,
    /// Write the rows as a JSON array to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a bar chart of our ratios as SVG to this file.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    no_progress: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// A seeded soak of the whole runtime with exact accounting and a heap bound.
    Stress(benches::stress::cli::StressArgs),
}

impl Args {
    fn size(&self, w: &Workload) -> u64 {
        if self.quick {
            w.quick_n
        } else if self.full {
            w.full_n
        } else {
            w.default_n
        }
    }

    fn runs(&self) -> usize {
        self.runs
            .unwrap_or(if self.quick {
                3
            } else if self.full {
                7
            } else {
                5
            })
            .max(1)
    }
}

/// The matrix, plus the `peers` group with `--full`; with `--only`, the named rows (a
/// peer row or `peers` included).
fn selected(args: &Args) -> Result<Vec<Workload>, String> {
    let main = all_workloads();
    let peer_rows = peer_workloads();
    let known =
        |name: &str| name == peers::GROUP || main.iter().chain(&peer_rows).any(|w| w.name == name);
    if let Some(name) = args.only.iter().find(|n| !known(n)) {
        let mut names: Vec<_> = main.iter().chain(&peer_rows).map(|w| w.name).collect();
        names.push(peers::GROUP);
        return Err(format!("unknown workload {name:?}; known: {}", names.join(", ")));
    }
    if args.only.is_empty() {
        let mut rows = main;
        if args.full {
            rows.extend(peer_rows);
        }
        return Ok(rows);
    }
    let whole_group = args.only.iter().any(|n| n == peers::GROUP);
    let named = |w: &Workload| args.only.iter().any(|n| n == w.name);
    let mut rows: Vec<Workload> = main.into_iter().filter(|w| named(w)).collect();
    rows.extend(peer_rows.into_iter().filter(|w| whole_group || named(w)));
    Ok(rows)
}

fn progress(args: &Args, total: u64) -> ProgressBar {
    if args.no_progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    bar
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Stress(stress)) = &args.command {
        return benches::stress::cli::main(stress);
    }
    if args.workers == 0 {
        eprintln!("schedbench: --workers must be at least 1");
        return ExitCode::from(2);
    }
    let workloads = match selected(&args) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("schedbench: {e}");
            return ExitCode::from(2);
        }
    };
    if workloads.is_empty() {
        eprintln!("schedbench: no workloads to run");
        return ExitCode::from(2);
    }
    let runs = args.runs();
    let total: u64 = workloads.iter().map(|w| (w.systems.len() * (runs + 1)) as u64).sum();
    let bar = progress(&args, total);
    let mut rows: Vec<Row> = Vec::new();
    for w in &workloads {
        let cfg = RunConfig { workers: args.workers, n: args.size(w) };
        rows.extend(report::measure_workload(w, &cfg, runs, &|msg| {
            bar.set_message(msg.to_string());
            bar.inc(1);
        }));
    }
    bar.finish_and_clear();
    print!("{}", report::table(&rows));
    let mut failed = false;
    if let Some(path) = &args.json {
        if let Err(e) = std::fs::write(path, report::json(&rows)) {
            eprintln!("schedbench: cannot write {}: {e}", path.display());
            failed = true;
        }
    }
    if let Some(path) = &args.svg {
        if let Err(e) = std::fs::write(path, report::svg(&rows)) {
            eprintln!("schedbench: cannot write {}: {e}", path.display());
            failed = true;
        }
    }
    if rows.iter().any(|r| r.median.is_nan()) {
        eprintln!("schedbench: some rows could not be measured");
        failed = true;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
