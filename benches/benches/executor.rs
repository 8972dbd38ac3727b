//! Criterion groups for the executor workloads (see `benches::workloads::executor`).

use benches::workloads::executor;
use benches::RunConfig;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    for w in executor::workloads() {
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

criterion_group!(benches, bench);
criterion_main!(benches);
