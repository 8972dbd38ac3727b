//! `yield_many` (tasks that yield in a loop) and `ping_pong` (round trips between two
//! tasks over our DeferredQueue and tokio's mpsc).

use super::*;

const YIELD_TASKS: u64 = 1_000;

pub(super) fn yield_many_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let per_task = (cfg.n / YIELD_TASKS).max(1);
    let latch = Latch::leak(YIELD_TASKS);
    let start = Instant::now();
    for _ in 0..YIELD_TASKS {
        drop(rt.spawn(async move {
            for _ in 0..per_task {
                scheduler_core::yield_now().await;
            }
            latch.count_down();
        }));
    }
    latch.wait();
    Sample::per_op(start.elapsed(), per_task * YIELD_TASKS)
}

pub(super) fn yield_many_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let per_task = (cfg.n / YIELD_TASKS).max(1);
    let latch = Latch::leak(YIELD_TASKS);
    let start = Instant::now();
    for _ in 0..YIELD_TASKS {
        drop(rt.spawn(async move {
            for _ in 0..per_task {
                tokio::task::yield_now().await;
            }
            latch.count_down();
        }));
    }
    latch.wait();
    Sample::per_op(start.elapsed(), per_task * YIELD_TASKS)
}

/// `ours`: the channels are [`DeferredQueue`](scheduler_deferred::DeferredQueue)s received
/// through [`DeferredQueue::stream`](scheduler_deferred::DeferredQueue::stream) (the receive
/// path that keeps the task's waker registered across receives; `get`, Twisted's, makes a
/// Deferred per value), beside tokio's unbounded mpsc channels, each between two tasks
/// spawned on its runtime.
pub(super) fn ping_pong_ours(cfg: &RunConfig) -> Sample {
    use scheduler_deferred::DeferredQueue;
    let rt = ours(cfg);
    let n = cfg.n;
    let elapsed = rt
        .block_on(rt.spawn(async move {
            let ping = DeferredQueue::<u64>::new();
            let pong = DeferredQueue::<u64>::new();
            let (mut pings, po) = (ping.stream(), pong.clone());
            let mut pongs = pong.stream();
            let ponger = Handle::current().spawn(async move {
                for _ in 0..n {
                    let v = pings.recv().await;
                    po.put(v + 1).expect("no size limit");
                }
            });
            let start = Instant::now();
            for i in 0..n {
                ping.put(i).expect("no size limit");
                let v = pongs.recv().await;
                debug_assert_eq!(v, i + 1);
            }
            let elapsed = start.elapsed();
            ponger.await.expect("ponger");
            elapsed
        }))
        .expect("driver");
    Sample::per_op(elapsed, n)
}

pub(super) fn ping_pong_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let n = cfg.n;
    let elapsed = rt
        .block_on(rt.spawn(async move {
            let (ping_tx, mut ping_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
            let (pong_tx, mut pong_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
            let ponger = tokio::spawn(async move {
                while let Some(v) = ping_rx.recv().await {
                    if pong_tx.send(v + 1).is_err() {
                        break;
                    }
                }
            });
            let start = Instant::now();
            for i in 0..n {
                ping_tx.send(i).expect("ping");
                let v = pong_rx.recv().await.expect("pong");
                debug_assert_eq!(v, i + 1);
            }
            let elapsed = start.elapsed();
            drop(ping_tx);
            ponger.await.expect("ponger");
            elapsed
        }))
        .expect("driver");
    Sample::per_op(elapsed, n)
}
