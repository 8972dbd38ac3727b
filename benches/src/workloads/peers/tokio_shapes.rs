//! tokio's own scheduler benchmarks, rewritten on our API beside tokio itself:
//!
//! * `benches/rt_multi_threaded.rs` (tokio-rs/tokio): `spawn_many_local`,
//!   `spawn_many_remote_idle`, `spawn_many_remote_busy1`, `spawn_many_remote_busy2`,
//!   `yield_many`, `ping_pong`, `chained_spawn`, with its sizes: 10,000 spawns a batch (1,000
//!   for busy2), 200 tasks x 1,000 yields, 1,000 pings (a spawned pair of oneshots each), a
//!   chain of 1,000 spawns; the busy variants keep the workers busy with tasks that stall for
//!   10 us (spinning on `thread::yield_now`) between yields (busy1: 2 per worker) or between
//!   spawning their successor (busy2: 1 per worker).
//! * `benches/spawn.rs`: `threaded_scheduler_spawn` / `spawn10` (`block_on` a spawn of 1 or
//!   10 tasks that yield once and return 2).
//!
//! tokio's file uses 4 workers (1 in `spawn.rs`); here both runtimes get `--workers` (2 by
//! default). The batch sizes are tokio's; `n` is the number of batches, timed together, and
//! the figure is ns per task (per yield for `yield_many`, per ping for `ping_pong`). Our
//! oneshot is a [`Deferred`]: fired once from one task, awaited by another. Written from the
//! shapes, not from tokio's code.

use crate::{RunConfig, Sample};
use scheduler_core::{Handle, Runtime};
use scheduler_deferred::Deferred;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Tasks per `spawn_many_*` batch (tokio's `NUM_SPAWN`).
pub(super) const NUM_SPAWN: u64 = 10_000;
/// Tasks per `spawn_many_remote_busy2` batch.
pub(super) const NUM_SPAWN_BUSY2: u64 = 1_000;
/// `yield_many`: tasks, and yields per task.
pub(super) const YIELD_TASKS: u64 = 200;
pub(super) const NUM_YIELD: u64 = 1_000;
/// `ping_pong`: pings per batch.
pub(super) const NUM_PINGS: u64 = 1_000;
/// `chained_spawn`: spawns per chain.
pub(super) const CHAIN: u64 = 1_000;
/// How long a busy task stalls (tokio's `STALL_DUR`).
const STALL: Duration = Duration::from_micros(10);

fn ours(cfg: &RunConfig) -> Runtime {
    Runtime::builder().worker_threads(cfg.workers).build().expect("runtime")
}

fn tokio_rt(cfg: &RunConfig) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.workers)
        .build()
        .expect("tokio runtime")
}

/// Spins for [`STALL`], yielding the OS thread between looks at the clock (tokio's `stall`).
fn stall() {
    let start = Instant::now();
    while start.elapsed() < STALL {
        std::thread::yield_now();
    }
}

fn per_task(start: Instant, cfg: &RunConfig, per_batch: u64) -> Sample {
    Sample::per_op(start.elapsed(), cfg.n.max(1) * per_batch)
}

// ---- spawn_many_local -----------------------------------------------------------------------

pub(super) fn spawn_many_local_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let (tx, rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    for _ in 0..cfg.n.max(1) {
        rem.store(NUM_SPAWN as usize, Relaxed);
        rt.block_on(async {
            let h = Handle::current();
            for _ in 0..NUM_SPAWN {
                let (tx, rem) = (tx.clone(), rem.clone());
                drop(h.spawn(async move {
                    if 1 == rem.fetch_sub(1, Relaxed) {
                        tx.send(()).expect("receiver lives");
                    }
                }));
            }
            rx.recv().expect("last task signals");
        });
    }
    per_task(start, cfg, NUM_SPAWN)
}

pub(super) fn spawn_many_local_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let (tx, rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    for _ in 0..cfg.n.max(1) {
        rem.store(NUM_SPAWN as usize, Relaxed);
        rt.block_on(async {
            for _ in 0..NUM_SPAWN {
                let (tx, rem) = (tx.clone(), rem.clone());
                drop(tokio::spawn(async move {
                    if 1 == rem.fetch_sub(1, Relaxed) {
                        tx.send(()).expect("receiver lives");
                    }
                }));
            }
            rx.recv().expect("last task signals");
        });
    }
    per_task(start, cfg, NUM_SPAWN)
}

// ---- spawn_many_remote_{idle,busy1,busy2} -----------------------------------------------------

/// `batch` empty tasks spawned from this (non-worker) thread, then awaited in order.
fn remote_batches_ours(rt: &Runtime, cfg: &RunConfig, batch: u64) -> Sample {
    let mut handles = Vec::with_capacity(batch as usize);
    let start = Instant::now();
    for _ in 0..cfg.n.max(1) {
        for _ in 0..batch {
            handles.push(rt.spawn(async {}));
        }
        rt.block_on(async {
            for handle in handles.drain(..) {
                handle.await.expect("no panic");
            }
        });
    }
    per_task(start, cfg, batch)
}

fn remote_batches_tokio(rt: &tokio::runtime::Runtime, cfg: &RunConfig, batch: u64) -> Sample {
    let mut handles = Vec::with_capacity(batch as usize);
    let start = Instant::now();
    for _ in 0..cfg.n.max(1) {
        for _ in 0..batch {
            handles.push(rt.spawn(async {}));
        }
        rt.block_on(async {
            for handle in handles.drain(..) {
                handle.await.expect("no panic");
            }
        });
    }
    per_task(start, cfg, batch)
}

pub(super) fn spawn_many_remote_idle_ours(cfg: &RunConfig) -> Sample {
    remote_batches_ours(&ours(cfg), cfg, NUM_SPAWN)
}

pub(super) fn spawn_many_remote_idle_tokio(cfg: &RunConfig) -> Sample {
    remote_batches_tokio(&tokio_rt(cfg), cfg, NUM_SPAWN)
}

pub(super) fn spawn_many_remote_busy1_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let flag = Arc::new(AtomicBool::new(true));
    for _ in 0..2 * cfg.workers {
        let flag = flag.clone();
        drop(rt.spawn(async move {
            while flag.load(Relaxed) {
                scheduler_core::yield_now().await;
                stall();
            }
        }));
    }
    let sample = remote_batches_ours(&rt, cfg, NUM_SPAWN);
    flag.store(false, Relaxed);
    sample
}

pub(super) fn spawn_many_remote_busy1_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let flag = Arc::new(AtomicBool::new(true));
    for _ in 0..2 * cfg.workers {
        let flag = flag.clone();
        drop(rt.spawn(async move {
            while flag.load(Relaxed) {
                tokio::task::yield_now().await;
                stall();
            }
        }));
    }
    let sample = remote_batches_tokio(&rt, cfg, NUM_SPAWN);
    flag.store(false, Relaxed);
    sample
}

fn busy_chain_ours(h: Handle, flag: Arc<AtomicBool>) {
    let next = h.clone();
    drop(h.spawn(async move {
        if flag.load(Relaxed) {
            stall();
            busy_chain_ours(next, flag);
        }
    }));
}

fn busy_chain_tokio(flag: Arc<AtomicBool>) {
    drop(tokio::spawn(async move {
        if flag.load(Relaxed) {
            stall();
            busy_chain_tokio(flag);
        }
    }));
}

pub(super) fn spawn_many_remote_busy2_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let flag = Arc::new(AtomicBool::new(true));
    for _ in 0..cfg.workers {
        let (flag, h) = (flag.clone(), rt.handle().clone());
        drop(rt.spawn(async move { busy_chain_ours(h, flag) }));
    }
    let sample = remote_batches_ours(&rt, cfg, NUM_SPAWN_BUSY2);
    flag.store(false, Relaxed);
    sample
}

pub(super) fn spawn_many_remote_busy2_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let flag = Arc::new(AtomicBool::new(true));
    for _ in 0..cfg.workers {
        let flag = flag.clone();
        drop(rt.spawn(async move { busy_chain_tokio(flag) }));
    }
    let sample = remote_batches_tokio(&rt, cfg, NUM_SPAWN_BUSY2);
    flag.store(false, Relaxed);
    sample
}

// ---- yield_many -----------------------------------------------------------------------------

pub(super) fn yield_many_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let (tx, rx) = mpsc::sync_channel(YIELD_TASKS as usize);
    let start = Instant::now();
    for _ in 0..cfg.n.max(1) {
        for _ in 0..YIELD_TASKS {
            let tx = tx.clone();
            drop(rt.spawn(async move {
                for _ in 0..NUM_YIELD {
                    scheduler_core::yield_now().await;
                }
                tx.send(()).expect("receiver lives");
            }));
        }
        for _ in 0..YIELD_TASKS {
            rx.recv().expect("every task signals");
        }
    }
    per_task(start, cfg, YIELD_TASKS * NUM_YIELD)
}

pub(super) fn yield_many_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let (tx, rx) = mpsc::sync_channel(YIELD_TASKS as usize);
    let start = Instant::now();
    for _ in 0..cfg.n.max(1) {
        for _ in 0..YIELD_TASKS {
            let tx = tx.clone();
            drop(rt.spawn(async move {
                for _ in 0..NUM_YIELD {
                    tokio::task::yield_now().await;
                }
                tx.send(()).expect("receiver lives");
            }));
        }
        for _ in 0..YIELD_TASKS {
            rx.recv().expect("every task signals");
        }
    }
    per_task(start, cfg, YIELD_TASKS * NUM_YIELD)
}

// ---- ping_pong ------------------------------------------------------------------------------

pub(super) fn ping_pong_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    for _ in 0..cfg.n.max(1) {
        rem.store(NUM_PINGS as usize, Relaxed);
        let (done_tx, rem) = (done_tx.clone(), rem.clone());
        rt.block_on(async {
            let h = Handle::current();
            drop(h.clone().spawn(async move {
                for _ in 0..NUM_PINGS {
                    let (rem, done_tx, inner) = (rem.clone(), done_tx.clone(), h.clone());
                    drop(h.spawn(async move {
                        let (ping, pong) = (Deferred::<()>::new(), Deferred::<()>::new());
                        let (ping2, pong2) = (ping.clone(), pong.clone());
                        drop(inner.spawn(async move {
                            ping2.await.expect("pinged");
                            pong2.callback(()).expect("first");
                        }));
                        ping.callback(()).expect("first");
                        pong.await.expect("ponged");
                        if 1 == rem.fetch_sub(1, Relaxed) {
                            done_tx.send(()).expect("receiver lives");
                        }
                    }));
                }
            }));
            done_rx.recv().expect("last ping signals");
        });
    }
    per_task(start, cfg, NUM_PINGS)
}

pub(super) fn ping_pong_tokio(cfg: &RunConfig) -> Sample {
    use tokio::sync::oneshot;
    let rt = tokio_rt(cfg);
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    for _ in 0..cfg.n.max(1) {
        rem.store(NUM_PINGS as usize, Relaxed);
        let (done_tx, rem) = (done_tx.clone(), rem.clone());
        rt.block_on(async {
            drop(tokio::spawn(async move {
                for _ in 0..NUM_PINGS {
                    let (rem, done_tx) = (rem.clone(), done_tx.clone());
                    drop(tokio::spawn(async move {
                        let (tx1, rx1) = oneshot::channel::<()>();
                        let (tx2, rx2) = oneshot::channel::<()>();
                        drop(tokio::spawn(async move {
                            rx1.await.expect("pinged");
                            tx2.send(()).expect("pong receiver lives");
                        }));
                        tx1.send(()).expect("ping receiver lives");
                        rx2.await.expect("ponged");
                        if 1 == rem.fetch_sub(1, Relaxed) {
                            done_tx.send(()).expect("receiver lives");
                        }
                    }));
                }
            }));
            done_rx.recv().expect("last ping signals");
        });
    }
    per_task(start, cfg, NUM_PINGS)
}

// ---- chained_spawn --------------------------------------------------------------------------

fn chain_ours(h: Handle, done: mpsc::SyncSender<()>, n: u64) {
    if n == 0 {
        done.send(()).expect("receiver lives");
    } else {
        let next = h.clone();
        drop(h.spawn(async move { chain_ours(next, done, n - 1) }));
    }
}

fn chain_tokio(done: mpsc::SyncSender<()>, n: u64) {
    if n == 0 {
        done.send(()).expect("receiver lives");
    } else {
        drop(tokio::spawn(async move { chain_tokio(done, n - 1) }));
    }
}

pub(super) fn chained_spawn_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    let start = Instant::now();
    for _ in 0..cfg.n.max(1) {
        let done_tx = done_tx.clone();
        rt.block_on(async {
            let h = Handle::current();
            let first = h.clone();
            drop(h.spawn(async move { chain_ours(first, done_tx, CHAIN) }));
            done_rx.recv().expect("chain ends");
        });
    }
    per_task(start, cfg, CHAIN)
}

pub(super) fn chained_spawn_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    let start = Instant::now();
    for _ in 0..cfg.n.max(1) {
        let done_tx = done_tx.clone();
        rt.block_on(async {
            drop(tokio::spawn(async move { chain_tokio(done_tx, CHAIN) }));
            done_rx.recv().expect("chain ends");
        });
    }
    per_task(start, cfg, CHAIN)
}

// ---- spawn.rs: threaded_scheduler_spawn / spawn10 -------------------------------------------

async fn work_ours() -> usize {
    let val = std::hint::black_box(1 + 1);
    scheduler_core::yield_now().await;
    val
}

async fn work_tokio() -> usize {
    let val = std::hint::black_box(1 + 1);
    tokio::task::yield_now().await;
    val
}

fn spawn_k_ours(cfg: &RunConfig, k: usize) -> Sample {
    let rt = ours(cfg);
    let mut handles = Vec::with_capacity(k);
    let start = Instant::now();
    for _ in 0..cfg.n.max(1) {
        rt.block_on(async {
            let h = Handle::current();
            handles.extend((0..k).map(|_| h.spawn(work_ours())));
            for handle in handles.drain(..) {
                assert_eq!(handle.await.expect("no panic"), 2);
            }
        });
    }
    per_task(start, cfg, k as u64)
}

fn spawn_k_tokio(cfg: &RunConfig, k: usize) -> Sample {
    let rt = tokio_rt(cfg);
    let mut handles = Vec::with_capacity(k);
    let start = Instant::now();
    for _ in 0..cfg.n.max(1) {
        rt.block_on(async {
            handles.extend((0..k).map(|_| tokio::spawn(work_tokio())));
            for handle in handles.drain(..) {
                assert_eq!(handle.await.expect("no panic"), 2);
            }
        });
    }
    per_task(start, cfg, k as u64)
}

pub(super) fn spawn1_ours(cfg: &RunConfig) -> Sample {
    spawn_k_ours(cfg, 1)
}

pub(super) fn spawn1_tokio(cfg: &RunConfig) -> Sample {
    spawn_k_tokio(cfg, 1)
}

pub(super) fn spawn10_ours(cfg: &RunConfig) -> Sample {
    spawn_k_ours(cfg, 10)
}

pub(super) fn spawn10_tokio(cfg: &RunConfig) -> Sample {
    spawn_k_tokio(cfg, 10)
}
