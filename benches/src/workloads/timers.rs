//! Workloads of the timers crate (filled in by its issue).

use crate::Workload;

/// The timers workloads of BENCHMARKS.md.
pub fn workloads() -> Vec<Workload> {
    Vec::new()
}
