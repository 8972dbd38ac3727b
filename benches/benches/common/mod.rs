//! The one loop every criterion file runs: a group per workload, a function per system, each
//! timed at the workload's `--quick` size on 2 workers (`schedbench` gives the real figures).

use benches::{RunConfig, Workload};
use criterion::{Criterion, Throughput};

/// Registers `workloads` with criterion.
pub(crate) fn bench_workloads(c: &mut Criterion, workloads: Vec<Workload>) {
    for w in workloads {
        let mut group = c.benchmark_group(w.name);
        group.sample_size(10);
        group.throughput(Throughput::Elements(w.quick_n));
        for s in &w.systems {
            let cfg = RunConfig { workers: 2, n: w.quick_n };
            group.bench_function(s.name, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| (s.run)(&cfg).elapsed).sum())
            });
        }
        group.finish();
    }
}
