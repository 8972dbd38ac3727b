//! Criterion groups for the deferred workloads (see `benches::workloads::deferred`).

mod common;

use benches::workloads::deferred;
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    common::bench_workloads(c, deferred::workloads());
}

criterion_group!(benches, bench);
criterion_main!(benches);
