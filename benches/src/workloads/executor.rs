//! Workloads of the executor crate (filled in by its issue).

use crate::Workload;

/// The executor workloads of BENCHMARKS.md.
pub fn workloads() -> Vec<Workload> {
    Vec::new()
}
