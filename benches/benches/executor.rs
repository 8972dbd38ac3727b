//! Criterion groups for the executor workloads (see `benches::workloads::executor`).

mod common;

use benches::workloads::executor;
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    common::bench_workloads(c, executor::workloads());
}

criterion_group!(benches, bench);
criterion_main!(benches);
