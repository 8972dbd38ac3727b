//! The workloads, one module per crate under test.
//!
//! Each module exposes `workloads() -> Vec<Workload>`; [`all`] concatenates them in the
//! order of benches/README.md.

use crate::Workload;

pub mod deferred;
pub mod executor;
pub mod memory;
pub mod peers;
pub mod server;
pub mod timers;

/// Every workload, grouped by crate.
pub fn all() -> Vec<Workload> {
    let mut all = executor::workloads();
    all.extend(timers::workloads());
    all.extend(deferred::workloads());
    all.extend(memory::workloads());
    all.extend(server::workloads());
    all
}
