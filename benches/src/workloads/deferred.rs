//! Workloads of the deferred crate (filled in by its issue).

use crate::Workload;

/// The deferred workloads of BENCHMARKS.md.
pub fn workloads() -> Vec<Workload> {
    Vec::new()
}
