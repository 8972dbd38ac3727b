//! Criterion groups for the peers workloads (see `benches::workloads::peers`).

mod common;

use benches::workloads::peers;
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    common::bench_workloads(c, peers::workloads());
}

criterion_group!(benches, bench);
criterion_main!(benches);
