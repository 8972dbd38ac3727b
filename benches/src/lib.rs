//! Workloads shared by the criterion benches and the `schedbench` tool.
//!
//! Each workload of the benchmark matrix of `benches/README.md` is written once here, as one [`Workload`] with one
//! [`System`] per contender (ours, tokio, rayon, std, ...). The criterion files in `benches/`
//! and the `schedbench` binary both call the same functions, so the two always measure the same
//! thing. A system's `run` function does its own setup, times only the measured part, and
//! returns a [`Sample`] in the workload's [`Unit`].

pub mod report;
pub mod stress;
pub mod workloads;

use std::time::Duration;

/// The unit a workload reports, and which direction is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Nanoseconds per operation; lower is better.
    NsPerOp,
    /// Bytes of overhead per item; lower is better.
    Bytes,
    /// A speed-up factor; higher is better.
    Speedup,
    /// Microseconds (latency figures); lower is better.
    Micros,
}

impl Unit {
    /// The unit as `schedbench` prints it and writes it in JSON.
    pub fn label(self) -> &'static str {
        match self {
            Unit::NsPerOp => "ns/op",
            Unit::Bytes => "bytes",
            Unit::Speedup => "x",
            Unit::Micros => "us",
        }
    }

    /// True when a smaller figure is better.
    pub fn lower_is_better(self) -> bool {
        !matches!(self, Unit::Speedup)
    }
}

/// What our row must reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// ours / best peer must be at most this.
    RatioToBestPeer(f64),
    /// ours / each named peer must be at most the paired bound (all must hold). The first pair
    /// is the headline: its ratio and bound are what the table and JSON show.
    RatioToPeers(&'static [(&'static str, f64)]),
    /// ours / best peer must be at most `ratio`, and the median p99 latency at most `p99_us`
    /// (`timer_fire`: throughput and lateness targets together).
    RatioAndP99 {
        /// Bound on ours / best peer.
        ratio: f64,
        /// Bound on our median p99 latency, in microseconds.
        p99_us: f64,
    },
    /// our figure itself must be at most this (in the workload's unit).
    AtMost(f64),
    /// our figure itself must be at least this (in the workload's unit).
    AtLeast(f64),
}

/// Latency percentiles of one run, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Latency {
    /// Median latency.
    pub p50_us: f64,
    /// 99th percentile latency.
    pub p99_us: f64,
    /// Largest latency seen.
    pub max_us: f64,
}

/// One measured run of one system on one workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The figure in the workload's unit (ns per op, bytes, speed-up).
    pub value: f64,
    /// Wall time of the measured part (what criterion's `iter_custom` is given).
    pub elapsed: Duration,
    /// Latency percentiles, for latency workloads.
    pub latency: Option<Latency>,
}

impl Sample {
    /// A throughput sample: `ops` operations took `elapsed`.
    pub fn per_op(elapsed: Duration, ops: u64) -> Self {
        Sample { value: elapsed.as_nanos() as f64 / ops.max(1) as f64, elapsed, latency: None }
    }
}

/// How big a run is: the tool's `--quick`, default and `--full` modes scale `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunConfig {
    /// Worker threads every system gets (benches/README.md: 2).
    pub workers: usize,
    /// Operations per run (tasks, timers, callbacks, ...), as the workload defines it.
    pub n: u64,
}

/// One contender on one workload.
#[derive(Debug, Clone, Copy)]
pub struct System {
    /// `"ours"`, `"tokio"`, `"rayon"`, `"std"`, `"futures"`, `"binary_heap"`, ...
    pub name: &'static str,
    /// Runs the workload once and returns its figure.
    pub run: fn(&RunConfig) -> Sample,
}

/// One workload of benches/README.md with every contender that runs it.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The workload's name as benches/README.md spells it.
    pub name: &'static str,
    /// The unit of every system's figure.
    pub unit: Unit,
    /// What our row must reach.
    pub target: Target,
    /// `n` for `--full`, the figure benches/README.md names (e.g. 1,000,000 tasks).
    pub full_n: u64,
    /// `n` for the default mode (a run of the whole matrix stays under a minute).
    pub default_n: u64,
    /// `n` for `--quick` (CI smoke: seconds for the whole matrix).
    pub quick_n: u64,
    /// The contenders; `"ours"` first.
    pub systems: Vec<System>,
}

/// Every workload of the main matrix, in the order benches/README.md lists them.
pub fn all_workloads() -> Vec<Workload> {
    workloads::all()
}

/// The `peers` group ([`workloads::peers`]): the peers' own benchmark shapes.
pub fn peer_workloads() -> Vec<Workload> {
    workloads::peers::workloads()
}

/// Median of a non-empty slice (sorts a copy).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 0 && !v.is_empty() {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v.get(mid).copied().unwrap_or(f64::NAN)
    }
}

/// A `Duration` from fractional nanoseconds, for criterion's `iter_custom`.
pub fn nanos(ns: f64) -> Duration {
    Duration::from_nanos(ns.max(0.0) as u64)
}

/// CPU time consumed so far by the whole process (every thread), for workloads whose cost is
/// CPU burnt rather than wall time (a timer schedule's wall time is fixed by its deadlines).
pub fn process_cpu_time() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time consumed so far by the calling thread.
pub fn thread_cpu_time() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec that outlives the call; both CPU-time clocks
    // are supported on every Linux this tool runs on, and on error `ts` stays zeroed.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Context switches of the whole process so far (every thread, live or exited):
/// `(voluntary, involuntary)`. An involuntary one is a preemption.
pub fn process_context_switches() -> (u64, u64) {
    // SAFETY: an all-zero `rusage` is a valid value of that plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage that outlives the call; on error it stays
    // zeroed.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return (0, 0);
    }
    (usage.ru_nvcsw as u64, usage.ru_nivcsw as u64)
}
