//! `spawn_external` and `spawn_internal`: the cost of spawning a task from outside the pool
//! and from one of its tasks, beside tokio and rayon.

use super::*;

pub(super) fn spawn_external_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let latch = Latch::leak(cfg.n);
    let start = Instant::now();
    for _ in 0..cfg.n {
        drop(rt.spawn(async move { latch.count_down() }));
    }
    latch.wait();
    Sample::per_op(start.elapsed(), cfg.n)
}

pub(super) fn spawn_external_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let latch = Latch::leak(cfg.n);
    let start = Instant::now();
    for _ in 0..cfg.n {
        drop(rt.spawn(async move { latch.count_down() }));
    }
    latch.wait();
    Sample::per_op(start.elapsed(), cfg.n)
}

pub(super) fn spawn_external_rayon(cfg: &RunConfig) -> Sample {
    let pool = rayon_pool(cfg);
    let latch = Latch::leak(cfg.n);
    let start = Instant::now();
    for _ in 0..cfg.n {
        pool.spawn(move || latch.count_down());
    }
    latch.wait();
    Sample::per_op(start.elapsed(), cfg.n)
}

pub(super) fn spawn_internal_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let latch = Latch::leak(cfg.n);
    let n = cfg.n;
    let start = Instant::now();
    drop(rt.spawn(async move {
        let h = Handle::current();
        for _ in 0..n {
            drop(h.spawn(async move { latch.count_down() }));
        }
    }));
    latch.wait();
    Sample::per_op(start.elapsed(), cfg.n)
}

pub(super) fn spawn_internal_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let latch = Latch::leak(cfg.n);
    let n = cfg.n;
    let start = Instant::now();
    drop(rt.spawn(async move {
        for _ in 0..n {
            drop(tokio::spawn(async move { latch.count_down() }));
        }
    }));
    latch.wait();
    Sample::per_op(start.elapsed(), cfg.n)
}

pub(super) fn spawn_internal_rayon(cfg: &RunConfig) -> Sample {
    let pool = rayon_pool(cfg);
    let latch = Latch::leak(cfg.n);
    let n = cfg.n;
    let start = Instant::now();
    pool.spawn(move || {
        for _ in 0..n {
            rayon::spawn(move || latch.count_down());
        }
    });
    latch.wait();
    Sample::per_op(start.elapsed(), cfg.n)
}
