//! Criterion groups for the timers workloads (see `benches::workloads::timers`).

mod common;

use benches::workloads::timers;
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    common::bench_workloads(c, timers::workloads());
}

criterion_group!(benches, bench);
criterion_main!(benches);
